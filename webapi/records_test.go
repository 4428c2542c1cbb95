package webapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var etagRE = regexp.MustCompile(`^W/"\d+"$`)

func TestCreate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		t.Run("NoContentWithEntityId", func(t *testing.T) {
			r := s.must(http.StatusNoContent, "POST", "accounts", map[string]any{"name": "Sample Account", "creditonhold": false, "revenue": 5000000, "accountcategorycode": 1})
			if len(r.Body) != 0 {
				t.Errorf("204 has a body: %s", r.Body)
			}
			loc := r.Header.Get("OData-EntityId")
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(s.URL) + `accounts\([0-9a-f-]{36}\)$`).MatchString(loc) {
				t.Errorf("OData-EntityId = %q", loc)
			}
			if r.Header.Get("OData-Version") != "4.0" {
				t.Errorf("OData-Version = %q", r.Header.Get("OData-Version"))
			}
		})
		t.Run("ReturnRepresentation", func(t *testing.T) {
			r := s.must(http.StatusCreated, "POST", "accounts?$select=name,revenue,createdon", map[string]any{"name": "Rep", "revenue": 5000000},
				"Prefer", "return=representation")
			if got := r.Header.Get("Preference-Applied"); got != "return=representation" {
				t.Errorf("Preference-Applied = %q", got)
			}
			if r.Header.Get("OData-EntityId") != "" {
				t.Errorf("OData-EntityId returned with return=representation")
			}
			m := r.JSON(t)
			if got, want := str(m, "@odata.context"), s.URL+"$metadata#accounts(name,revenue,createdon)/$entity"; got != want {
				t.Errorf("@odata.context = %q, want %q", got, want)
			}
			if !etagRE.MatchString(str(m, "@odata.etag")) {
				t.Errorf("@odata.etag = %q", m["@odata.etag"])
			}
			if _, err := uuid.Parse(str(m, "accountid")); err != nil {
				t.Errorf("accountid = %v", m["accountid"])
			}
			if m["name"] != "Rep" || m["revenue"].(json.Number).String() != "5000000.00" {
				t.Errorf("body = %s", r.Body)
			}
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(str(m, "createdon")) {
				t.Errorf("createdon = %v", m["createdon"])
			}
			if _, ok := m["telephone1"]; ok {
				t.Errorf("unselected column returned")
			}
		})
		t.Run("ClientPrimaryKeyKept", func(t *testing.T) {
			id := uuid.NewString()
			got := s.create("accounts", map[string]any{"accountid": id, "name": "Mine"})
			if got != id {
				t.Errorf("created id %s, want %s", got, id)
			}
			r := s.do("POST", "accounts", map[string]any{"accountid": id, "name": "Again"})
			expectError(t, r, http.StatusPreconditionFailed, "0x80040237", "")
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name", nil).JSON(t)
			if m["name"] != "Mine" {
				t.Errorf("duplicate create changed the record: %v", m["name"])
			}
		})
		t.Run("DuplicateAlternateKey", func(t *testing.T) {
			s.create("accounts", map[string]any{"name": "K", "accountnumber": "DUP-1"})
			r := s.do("POST", "accounts", map[string]any{"name": "K2", "accountnumber": "dup-1"})
			expectError(t, r, http.StatusPreconditionFailed, "0x80060892", "accountnumber_key")
			if n := s.count("accounts", "accountnumber eq 'DUP-1'"); n != 1 {
				t.Errorf("%d records with the key, want 1", n)
			}
		})
		t.Run("BindByIDAndKey", func(t *testing.T) {
			acct := s.create("accounts", map[string]any{"name": "Parent", "accountnumber": "BIND-1"})
			c1 := s.create("contacts", map[string]any{"lastname": "ById", "parentcustomerid_account@odata.bind": "/accounts(" + acct + ")"})
			c2 := s.create("contacts", map[string]any{"lastname": "ByKey", "parentcustomerid_account@odata.bind": "accounts(accountnumber='BIND-1')"})
			c3 := s.create("contacts", map[string]any{"lastname": "Absolute", "parentcustomerid_account@odata.bind": s.URL + "accounts(" + acct + ")"})
			for _, c := range []string{c1, c2, c3} {
				m := s.must(http.StatusOK, "GET", "contacts("+c+")?$select=_parentcustomerid_value", nil,
					"Prefer", `odata.include-annotations="*"`).JSON(t)
				if str(m, "_parentcustomerid_value") != acct {
					t.Errorf("contact %s parent = %v, want %s", c, m["_parentcustomerid_value"], acct)
				}
				if str(m, "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname") != "account" ||
					str(m, "_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty") != "parentcustomerid_account" ||
					str(m, "_parentcustomerid_value@OData.Community.Display.V1.FormattedValue") != "Parent" {
					t.Errorf("lookup annotations missing: %v", m)
				}
			}
			// A contact as parent of a contact.
			c4 := s.create("contacts", map[string]any{"lastname": "Child", "parentcustomerid_contact@odata.bind": "/contacts(" + c1 + ")"})
			m := s.must(http.StatusOK, "GET", "contacts("+c4+")?$select=_parentcustomerid_value", nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
			if str(m, "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname") != "contact" {
				t.Errorf("customer lookup to contact: %v", m)
			}
		})
		t.Run("BindErrors", func(t *testing.T) {
			before := s.count("contacts", "")
			missing := uuid.NewString()
			r := s.do("POST", "contacts", map[string]any{"lastname": "X", "parentcustomerid@odata.bind": "accounts(" + missing + ")"})
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "An undeclared property 'parentcustomerid'")
			r = s.do("POST", "contacts", map[string]any{"lastname": "X", "parentcustomerid_account@odata.bind": "/accounts(" + missing + ")"})
			expectError(t, r, http.StatusNotFound, "0x80040217", "account With Id = "+missing+" Does Not Exist")
			r = s.do("POST", "contacts", map[string]any{"lastname": "X", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='NOPE')"})
			expectError(t, r, http.StatusNotFound, "0x80060891", "A record with the specified key values does not exist in account entity")
			r = s.do("POST", "accounts", map[string]any{"name": "X", "primarycontactid@odata.bind": "/accounts(" + missing + ")"})
			expectError(t, r, http.StatusBadRequest, "", "cannot be bound")
			r = s.do("POST", "accounts", map[string]any{"name": "X", "primarycontactid@odata.bind": "not a url"})
			expectError(t, r, http.StatusBadRequest, "", "")
			if after := s.count("contacts", ""); after != before {
				t.Errorf("failed creates left %d contacts behind", after-before)
			}
		})
		t.Run("DeepInsert", func(t *testing.T) {
			r := s.must(http.StatusNoContent, "POST", "accounts", map[string]any{
				"name":             "Deep",
				"primarycontactid": map[string]any{"firstname": "Pat", "lastname": "Primary"},
				"contact_customer_accounts": []any{
					map[string]any{"firstname": "A", "lastname": "One"},
					map[string]any{"firstname": "B", "lastname": "Two"},
				},
			})
			loc := r.Header.Get("OData-EntityId")
			id := loc[strings.LastIndexByte(loc, '(')+1 : len(loc)-1]
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name&$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$orderby=fullname)", nil).JSON(t)
			pc := m["primarycontactid"].(map[string]any)
			if pc["fullname"] != "Pat Primary" {
				t.Errorf("deep-inserted primary contact: %v", pc)
			}
			kids := m["contact_customer_accounts"].([]any)
			if len(kids) != 2 || kids[0].(map[string]any)["fullname"] != "A One" {
				t.Errorf("deep-inserted children: %v", kids)
			}
			// A failing nested record rolls the whole insert back.
			before := s.count("accounts", "")
			r = s.do("POST", "accounts", map[string]any{"name": "Deep2", "primarycontactid": map[string]any{"lastname": strings.Repeat("x", 60)}})
			expectError(t, r, http.StatusBadRequest, "0x80044331", "The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'")
			if s.count("accounts", "") != before {
				t.Error("failed deep insert left the parent behind")
			}
		})
		t.Run("AllTypes", func(t *testing.T) {
			acct := s.create("accounts", map[string]any{"name": "Types"})
			ext := uuid.NewString()
			body := map[string]any{
				"new_name": "Order 1", "new_ordernumber": "T-1", "new_customer@odata.bind": "/accounts(" + acct + ")",
				"new_amount": 12.3456, "new_quantity": 7, "new_unitprice": "0.12345", "new_weight": 1.5,
				"new_sequence": "9007199254740993", "new_orderdate": "2024-02-29T13:14:15+01:00", "new_shipped": true,
				"new_externalid": ext, "new_notes": "multi\nline", "new_stage": 100000001,
			}
			id := s.create("new_orders", body)
			m := s.must(http.StatusOK, "GET", "new_orders("+id+")", nil, "Prefer", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`).JSON(t)
			checks := map[string]string{
				"new_amount": "12.3456", "new_quantity": "7", "new_unitprice": "0.1235", "new_weight": "1.5",
				"new_sequence": "9007199254740993", "new_stage": "100000001",
			}
			for k, want := range checks {
				if got := fmt.Sprint(m[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			if m["new_orderdate"] != "2024-02-29T12:14:15Z" || m["new_shipped"] != true || m["new_externalid"] != ext || m["new_notes"] != "multi\nline" {
				t.Errorf("values: %v", m)
			}
			if str(m, "new_stage@OData.Community.Display.V1.FormattedValue") != "Shipped" ||
				str(m, "new_shipped@OData.Community.Display.V1.FormattedValue") != "Yes" ||
				str(m, "new_amount@OData.Community.Display.V1.FormattedValue") != "$12.35" {
				t.Errorf("formatted values: %v", m)
			}
		})
	})
}

func TestRetrieve(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		id := s.create("accounts", map[string]any{"name": "A. Datum", "accountnumber": "R-1", "revenue": 10000})
		joe := s.create("contacts", map[string]any{"firstname": "Joe", "lastname": "Smith", "emailaddress1": "abc@example.com"})
		for _, path := range []string{
			"accounts(" + id + ")", "accounts(accountid=" + id + ")", "accounts(accountnumber='R-1')", "accounts(accountnumber=%27R-1%27)",
		} {
			r := s.must(http.StatusOK, "GET", path+"?$select=name,revenue", nil)
			m := r.JSON(t)
			if str(m, "accountid") != id || m["name"] != "A. Datum" {
				t.Errorf("GET %s = %s", path, r.Body)
			}
			if str(m, "@odata.context") != s.URL+"$metadata#accounts(name,revenue)/$entity" {
				t.Errorf("context = %v", m["@odata.context"])
			}
			if r.Header.Get("ETag") != str(m, "@odata.etag") || !etagRE.MatchString(r.Header.Get("ETag")) {
				t.Errorf("ETag header %q, @odata.etag %q", r.Header.Get("ETag"), m["@odata.etag"])
			}
		}
		m := s.must(http.StatusOK, "GET", "contacts(firstname='Joe',emailaddress1='abc%40example.com')", nil).JSON(t)
		if str(m, "contactid") != joe || m["fullname"] != "Joe Smith" {
			t.Errorf("composite key retrieve: %v", m)
		}
		// No $select: every column, nulls included.
		m = s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata#accounts/$entity" {
			t.Errorf("context = %v", m["@odata.context"])
		}
		for _, k := range []string{"telephone1", "_primarycontactid_value", "createdon", "modifiedon", "versionnumber", "statecode", "statuscode"} {
			if _, ok := m[k]; !ok {
				t.Errorf("column %s missing without $select", k)
			}
		}
		// Conditional GET.
		etag := str(m, "@odata.etag")
		r := s.do("GET", "accounts("+id+")", nil, "If-None-Match", etag)
		if r.Status != http.StatusNotModified || len(r.Body) != 0 {
			t.Errorf("If-None-Match current etag: %d %s", r.Status, r.Body)
		}
		s.must(http.StatusOK, "GET", "accounts("+id+")", nil, "If-None-Match", etag, "Prefer", `odata.include-annotations="*"`)
		s.must(http.StatusOK, "GET", "accounts("+id+")?$expand=primarycontactid", nil, "If-None-Match", etag)
		s.must(http.StatusOK, "GET", "accounts("+id+")", nil, "If-None-Match", "null")
		s.must(http.StatusOK, "GET", "accounts("+id+")", nil, "If-None-Match", `W/"999999"`)
		// Missing record.
		missing := uuid.NewString()
		expectError(t, s.do("GET", "accounts("+missing+")", nil), http.StatusNotFound, "0x80040217", "account With Id = "+missing+" Does Not Exist")
		expectError(t, s.do("GET", "accounts(accountnumber='none')", nil), http.StatusNotFound, "0x80060891", "")
		// Single property.
		r = s.must(http.StatusOK, "GET", "accounts("+id+")/name", nil)
		pm := r.JSON(t)
		if pm["value"] != "A. Datum" || str(pm, "@odata.context") != s.URL+"$metadata#accounts("+id+")/name" {
			t.Errorf("single property: %s", r.Body)
		}
		r = s.must(http.StatusOK, "GET", "accounts("+id+")/name/$value", nil)
		if string(r.Body) != "A. Datum" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("$value: %q %q", r.Body, r.Header.Get("Content-Type"))
		}
		s.must(http.StatusNoContent, "GET", "accounts("+id+")/telephone1", nil)
	})
}

func TestUpsertAndUpdate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		t.Run("PatchCreatesWithClientID", func(t *testing.T) {
			id := uuid.NewString()
			r := s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Upserted"})
			if r.Header.Get("OData-EntityId") != s.URL+"accounts("+id+")" {
				t.Errorf("OData-EntityId = %q", r.Header.Get("OData-EntityId"))
			}
			if m := s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t); m["name"] != "Upserted" {
				t.Errorf("name = %v", m["name"])
			}
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Again"})
			if m := s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t); m["name"] != "Again" {
				t.Errorf("name = %v", m["name"])
			}
		})
		t.Run("IfMatchStarOnlyUpdates", func(t *testing.T) {
			id := uuid.NewString()
			r := s.do("PATCH", "accounts("+id+")", map[string]any{"name": "x"}, "If-Match", "*")
			expectError(t, r, http.StatusNotFound, "0x80040217", "Does Not Exist")
			s.must(http.StatusNotFound, "GET", "accounts("+id+")", nil)
			r = s.do("PATCH", "accounts(accountnumber='IFM-1')", map[string]any{"name": "x"}, "If-Match", "*")
			expectError(t, r, http.StatusNotFound, "0x80060891", "")
			if s.count("accounts", "accountnumber eq 'IFM-1'") != 0 {
				t.Error("If-Match: * created a record")
			}
		})
		t.Run("IfNoneMatchStarOnlyCreates", func(t *testing.T) {
			id := s.create("accounts", map[string]any{"name": "exists"})
			r := s.do("PATCH", "accounts("+id+")", map[string]any{"name": "changed"}, "If-None-Match", "*")
			expectError(t, r, http.StatusPreconditionFailed, "0x80040237", "A record with matching key values already exists.")
			if m := s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t); m["name"] != "exists" {
				t.Errorf("If-None-Match: * updated the record")
			}
			nid := uuid.NewString()
			s.must(http.StatusNoContent, "PATCH", "accounts("+nid+")", map[string]any{"name": "new"}, "If-None-Match", "*")
		})
		t.Run("ETags", func(t *testing.T) {
			id := s.create("accounts", map[string]any{"name": "v1"})
			etag := str(s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t), "@odata.etag")
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "v2"}, "If-Match", etag)
			r := s.do("PATCH", "accounts("+id+")", map[string]any{"name": "v3"}, "If-Match", etag)
			expectError(t, r, http.StatusPreconditionFailed, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
			r = s.do("DELETE", "accounts("+id+")", nil, "If-Match", etag)
			expectError(t, r, http.StatusPreconditionFailed, "0x80060882", "")
			if m := s.must(http.StatusOK, "GET", "accounts("+id+")", nil).JSON(t); m["name"] != "v2" {
				t.Errorf("name = %v, want v2", m["name"])
			}
			expectError(t, s.do("PATCH", "accounts("+id+")", map[string]any{"name": "x"}, "If-Match", "garbage"), http.StatusBadRequest, "", "If-Match")
		})
		t.Run("AlternateKeyUpsert", func(t *testing.T) {
			for i := range 2 {
				r := s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='AK-1')", map[string]any{"name": fmt.Sprint("round ", i)})
				if r.Header.Get("OData-EntityId") != s.URL+"accounts(accountnumber='AK-1')" {
					t.Errorf("OData-EntityId = %q", r.Header.Get("OData-EntityId"))
				}
			}
			// A key no URL path holds as it is: the header is a URL that
			// names the same record.
			for _, key := range []string{"Zoë #?", "a\r\nX", "O'Brien/100%", `q"<>\^{|}`} {
				r := s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber="+url.PathEscape("'"+strings.ReplaceAll(key, "'", "''")+"'")+")", map[string]any{"name": "odd key"})
				eid := r.Header.Get("OData-EntityId")
				if strings.ContainsAny(eid, " #?\r\n\"<>\\^{|}") || strings.ContainsFunc(eid, func(c rune) bool { return c > 0x7e }) {
					t.Errorf("key %q: OData-EntityId %q is not a URL", key, eid)
				}
				got := s.must(http.StatusOK, "GET", eid+"?$select=accountnumber", nil).JSON(t)
				if got["accountnumber"] != key {
					t.Errorf("key %q: OData-EntityId %q names %v", key, eid, got["accountnumber"])
				}
			}
			recs := s.must(http.StatusOK, "GET", "accounts?$filter=accountnumber%20eq%20'AK-1'&$select=name,accountnumber", nil).Value(t)
			if len(recs) != 1 || recs[0]["name"] != "round 1" || recs[0]["accountnumber"] != "AK-1" {
				t.Errorf("records = %v", recs)
			}
			// The body cannot change the key of an existing record.
			s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='AK-1')", map[string]any{"name": "kept", "accountnumber": "AK-2"})
			if s.count("accounts", "accountnumber eq 'AK-1'") != 1 || s.count("accounts", "accountnumber eq 'AK-2'") != 0 {
				t.Error("the body changed the alternate key")
			}
			// Return representation: 201 then 200, with an ETag header.
			r := s.must(http.StatusCreated, "PATCH", "accounts(accountnumber='AK-3')?$select=accountid,accountnumber", map[string]any{"name": "rep"}, "Prefer", "return=representation")
			if !etagRE.MatchString(r.Header.Get("ETag")) || r.Header.Get("Preference-Applied") != "return=representation" || r.JSON(t)["accountnumber"] != "AK-3" {
				t.Errorf("upsert create representation: %v %s", r.Header, r.Body)
			}
			r = s.must(http.StatusOK, "PATCH", "accounts(accountnumber='AK-3')?$select=accountid", map[string]any{"name": "rep2"}, "Prefer", "return=representation")
			if !etagRE.MatchString(r.Header.Get("ETag")) {
				t.Errorf("upsert update representation ETag %q", r.Header.Get("ETag"))
			}
			// Composite key upsert.
			s.must(http.StatusNoContent, "PATCH", "contacts(firstname='Ann',emailaddress1='ann%40example.com')", map[string]any{"lastname": "Lee"})
			s.must(http.StatusNoContent, "PATCH", "contacts(firstname='Ann',emailaddress1='ann%40example.com')", map[string]any{"lastname": "Leigh"})
			recs = s.must(http.StatusOK, "GET", "contacts?$filter=emailaddress1%20eq%20'ann@example.com'", nil).Value(t)
			if len(recs) != 1 || recs[0]["fullname"] != "Ann Leigh" {
				t.Errorf("composite upsert: %v", recs)
			}
		})
		t.Run("SingleProperty", func(t *testing.T) {
			id := s.create("accounts", map[string]any{"name": "prop", "description": "text"})
			s.must(http.StatusNoContent, "PUT", "accounts("+id+")/name", map[string]any{"value": "Updated Sample Account Name"})
			s.must(http.StatusNoContent, "DELETE", "accounts("+id+")/description", nil)
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name,description", nil).JSON(t)
			if m["name"] != "Updated Sample Account Name" || m["description"] != nil {
				t.Errorf("after PUT/DELETE property: %v", m)
			}
			expectError(t, s.do("PUT", "accounts("+id+")/name", map[string]any{"value": 5}), http.StatusBadRequest, "0x80048d19", "Edm.String")
			expectError(t, s.do("PUT", "accounts("+id+")/_primarycontactid_value", map[string]any{"value": uuid.NewString()}), http.StatusBadRequest, "", "Navigation properties")
			// If-None-Match: * forbids the update, as on PATCH: 412 and
			// nothing written; 404 without the record.
			expectError(t, s.do("PUT", "accounts("+id+")/name", map[string]any{"value": "overwritten"}, "If-None-Match", "*"), http.StatusPreconditionFailed, "0x80040237", "")
			expectError(t, s.do("DELETE", "accounts("+id+")/name", nil, "If-None-Match", "*"), http.StatusPreconditionFailed, "0x80040237", "")
			if m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name", nil).JSON(t); m["name"] != "Updated Sample Account Name" {
				t.Errorf("after a refused PUT/DELETE property: %v", m)
			}
			expectError(t, s.do("PUT", "accounts("+uuid.NewString()+")/name", map[string]any{"value": "x"}, "If-None-Match", "*"), http.StatusNotFound, "0x80040217", "")
		})
	})
}

func TestDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "gone", "accountnumber": "DEL-1"})
		kid := s.create("contacts", map[string]any{"lastname": "kid", "parentcustomerid_account@odata.bind": "/accounts(" + acct + ")"})
		s.must(http.StatusNoContent, "DELETE", "accounts("+acct+")", nil)
		expectError(t, s.do("DELETE", "accounts("+acct+")", nil), http.StatusNotFound, "0x80040217", "Does Not Exist")
		m := s.must(http.StatusOK, "GET", "contacts("+kid+")?$select=_parentcustomerid_value", nil).JSON(t)
		if m["_parentcustomerid_value"] != nil {
			t.Errorf("lookup to a deleted record dangles: %v", m)
		}
		s.create("accounts", map[string]any{"name": "bykey", "accountnumber": "DEL-2"})
		s.must(http.StatusNoContent, "DELETE", "accounts(accountnumber='DEL-2')", nil)
		expectError(t, s.do("DELETE", "accounts(accountnumber='DEL-2')", nil), http.StatusNotFound, "0x80060891", "")
	})
}
