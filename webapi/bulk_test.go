package webapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

const (
	accountType = "Microsoft.Dynamics.CRM.account"
	contactType = "Microsoft.Dynamics.CRM.contact"
)

// target returns a bulk target of a type with the given name, value pairs.
func target(typ string, kv ...any) map[string]any {
	m := map[string]any{"@odata.type": typ}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// targets wraps records as a bulk message body.
func targets(ts ...map[string]any) map[string]any {
	arr := make([]any, len(ts))
	for i, t := range ts {
		arr[i] = t
	}
	return map[string]any{"Targets": arr}
}

// accountName returns the name of an account, or "" if it does not exist.
func (s *testServer) accountName(id string) string {
	s.tb.Helper()
	r := s.do("GET", "accounts("+id+")?$select=name", nil)
	if r.Status == http.StatusNotFound {
		return ""
	}
	if r.Status != http.StatusOK {
		s.tb.Fatalf("GET accounts(%s): %d %s", id, r.Status, r.Body)
	}
	return str(r.JSON(s.tb), "name")
}

func TestCreateMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		t.Run("ReturnsIds", func(t *testing.T) {
			own := uuid.NewString()
			r := s.must(http.StatusOK, "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "CM one", "accountnumber", "CM-1"),
				target(accountType, "name", "CM two", "accountnumber", "CM-2", "revenue", 1000),
				target(accountType, "name", "CM three", "accountid", own),
			))
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			m := r.JSON(t)
			ctx := str(m, "@odata.context")
			if !strings.HasSuffix(ctx, "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse") {
				t.Errorf("@odata.context = %q", ctx)
			}
			if ctx != s.URL+"$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse" {
				t.Errorf("@odata.context = %q, want it under the service root %s", ctx, s.URL)
			}
			raw, ok := m["Ids"].([]any)
			if !ok || len(raw) != 3 {
				t.Fatalf("Ids = %v, want 3 ids", m["Ids"])
			}
			for i, want := range []string{"CM one", "CM two", "CM three"} {
				id, _ := raw[i].(string)
				if _, err := uuid.Parse(id); err != nil {
					t.Fatalf("Ids[%d] = %v", i, raw[i])
				}
				if got := s.accountName(id); got != want {
					t.Errorf("Ids[%d] names %q, want %q", i, got, want)
				}
			}
			if raw[2] != own {
				t.Errorf("Ids[2] = %v, want the client's primary key %s", raw[2], own)
			}
			a := s.must(http.StatusOK, "GET", fmt.Sprintf("accounts(%s)?$select=accountnumber,revenue", raw[1]), nil).JSON(t)
			if a["accountnumber"] != "CM-2" || a["revenue"] == nil {
				t.Errorf("record = %v", a)
			}
		})
		t.Run("AlternateKeyInODataID", func(t *testing.T) {
			// The record is created with the key its @odata.id names;
			// the body's own value wins; an existing key is a conflict.
			r := s.must(http.StatusOK, "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "@odata.id", "accounts(accountnumber='CMK-1')", "name", "CMK one"),
				target(accountType, "@odata.id", "accounts(accountnumber='CMK-2')", "name", "CMK two", "accountnumber", "CMK-2b"),
			))
			ids, _ := r.JSON(t)["Ids"].([]any)
			for i, want := range []string{"CMK-1", "CMK-2b"} {
				if len(ids) != 2 {
					t.Fatalf("Ids = %v", ids)
				}
				if got := str(s.must(http.StatusOK, "GET", "accounts("+fmt.Sprint(ids[i])+")?$select=accountnumber", nil).JSON(t), "accountnumber"); got != want {
					t.Errorf("target %d: accountnumber %q, want %q", i, got, want)
				}
			}
			expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "@odata.id", "accounts(accountnumber='CMK-1')", "name", "CMK again"))), http.StatusPreconditionFailed, "0x80060892", "")
			expectCount(t, s, "accounts", "name eq 'CMK again'", 0, "a second record with the key")
		})
		t.Run("ODataBindInTargets", func(t *testing.T) {
			aid := s.create("accounts", map[string]any{"name": "Bulk parent", "accountnumber": "CMB-P"})
			r := s.must(http.StatusOK, "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(contactType, "lastname", "Bound by id", "parentcustomerid_account@odata.bind", "accounts("+aid+")"),
				target(contactType, "lastname", "Bound by key", "parentcustomerid_account@odata.bind", "/accounts(accountnumber='CMB-P')"),
				target(contactType, "lastname", "Bound absolute", "parentcustomerid_account@odata.bind", s.URL+"accounts("+aid+")"),
			))
			for i, id := range r.JSON(t)["Ids"].([]any) {
				c := s.must(http.StatusOK, "GET", fmt.Sprintf("contacts(%s)?$select=_parentcustomerid_value", id), nil).JSON(t)
				if c["_parentcustomerid_value"] != aid {
					t.Errorf("contact %d: _parentcustomerid_value = %v, want %s", i, c["_parentcustomerid_value"], aid)
				}
			}
			r = s.do("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(contactType, "lastname", "CMB ok"),
				target(contactType, "lastname", "CMB dangling", "parentcustomerid_account@odata.bind", "accounts("+uuid.NewString()+")"),
			))
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("binding a missing record: status %d, want 4xx: %s", r.Status, r.Body)
			}
			expectCount(t, s, "contacts", "startswith(lastname,'CMB ')", 0, "created by a failed CreateMultiple")
		})
		t.Run("MissingODataType", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{
				target(accountType, "name", "typed", "accountnumber", "CMT-1"),
				map[string]any{"name": "untyped", "accountnumber": "CMT-2"},
			}})
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "@odata.type")
			r = s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(target(contactType, "lastname", "wrong type")))
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "")
			expectCount(t, s, "accounts", "startswith(accountnumber,'CMT-')", 0, "created")
		})
		t.Run("OneInvalidTargetWritesNothing", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "fine", "accountnumber", "CMI-1"),
				target(accountType, "name", "fine too", "accountnumber", "CMI-2"),
				target(accountType, "name", strings.Repeat("n", 161), "accountnumber", "CMI-3"),
			))
			expectError(t, r, http.StatusBadRequest, "0x80044331", "exceeded the maximum allowed length")
			r = s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "fine", "accountnumber", "CMI-4"),
				target(accountType, "name", "no such column", "accountnumber", "CMI-5", "nosuchcolumn", 1),
			))
			expectError(t, r, http.StatusBadRequest, "", "nosuchcolumn")
			expectCount(t, s, "accounts", "startswith(accountnumber,'CMI-')", 0, "created by failed CreateMultiple requests")
		})
		t.Run("DuplicateKeyWritesNothing", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "first", "accountnumber", "CMD-1"),
				target(accountType, "name", "second", "accountnumber", "CMD-1"),
			))
			expectError(t, r, http.StatusPreconditionFailed, "0x80060892", "")
			expectCount(t, s, "accounts", "accountnumber eq 'CMD-1'", 0, "created")
		})
		t.Run("BadBodies", func(t *testing.T) {
			for _, c := range []struct {
				name string
				body any
			}{
				{"EmptyTargets", map[string]any{"Targets": []any{}}},
				{"TargetsObject", map[string]any{"Targets": map[string]any{"@odata.type": accountType, "name": "x"}}},
				{"TargetsString", map[string]any{"Targets": "x"}},
				{"TargetsNull", map[string]any{"Targets": nil}},
				{"NoTargets", map[string]any{}},
				{"ExtraMember", map[string]any{"Targets": []any{target(accountType, "name", "x")}, "Other": 1}},
				{"TargetNotObject", map[string]any{"Targets": []any{"accounts"}}},
				{"BodyArray", []any{target(accountType, "name", "x")}},
				{"NotJSON", "Targets="},
			} {
				t.Run(c.name, func(t *testing.T) {
					expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", c.body), http.StatusBadRequest, "", "")
				})
			}
		})
		t.Run("MethodNotAllowed", func(t *testing.T) {
			for _, m := range []string{"GET", "PATCH", "DELETE"} {
				for _, action := range []string{"CreateMultiple", "UpdateMultiple", "UpsertMultiple", "DeleteMultiple"} {
					r := s.do(m, "accounts/Microsoft.Dynamics.CRM."+action, nil)
					expectError(t, r, http.StatusMethodNotAllowed, "", "")
				}
			}
		})
	})
}

func TestUpsertMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		upsert := func(body any) *response {
			t.Helper()
			r := s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", body)
			if len(r.Body) != 0 {
				t.Errorf("UpsertMultiple answered with a body: %s", r.Body)
			}
			return r
		}
		t.Run("DuplicateTargets", func(t *testing.T) {
			// bulk-operations.md: two targets naming one record are an
			// error, and nothing is written.
			dupID := uuid.NewString()
			for name, body := range map[string]map[string]any{
				"same key": targets(
					target(accountType, "@odata.id", "accounts(accountnumber='UMD-1')", "name", "first"),
					target(accountType, "@odata.id", "accounts(accountnumber='UMD-1')", "name", "second")),
				"same key, other case": targets(
					target(accountType, "@odata.id", "accounts(accountnumber='UMD-2')", "name", "first"),
					target(accountType, "@odata.id", "accounts(accountnumber='umd-2')", "name", "second")),
				"same id": targets(
					target(accountType, "accountid", dupID, "name", "first"),
					target(accountType, "accountid", dupID, "name", "second")),
			} {
				expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", body), http.StatusBadRequest, "0x80060888", "same record")
				expectCount(t, s, "accounts", "name eq 'first' or name eq 'second'", 0, name)
			}
		})
		t.Run("AlternateKeyTargets", func(t *testing.T) {
			for round := range 2 {
				upsert(targets(
					target(accountType, "@odata.id", "accounts(accountnumber='UMK-1')", "name", fmt.Sprint("key one ", round)),
					target(accountType, "@odata.id", "accounts(accountnumber='UMK-2')", "name", fmt.Sprint("key two ", round)),
				))
				for _, k := range []string{"UMK-1", "UMK-2"} {
					recs := s.must(http.StatusOK, "GET", "accounts?$select=name,accountnumber&$filter="+urlEscape("accountnumber eq '"+k+"'"), nil).Value(t)
					if len(recs) != 1 {
						t.Fatalf("round %d: %d records with key %s, want 1", round, len(recs), k)
					}
					if !strings.HasSuffix(str(recs[0], "name"), fmt.Sprint(round)) || recs[0]["accountnumber"] != k {
						t.Errorf("round %d: record %v", round, recs[0])
					}
				}
			}
		})
		t.Run("PrimaryKeyTargets", func(t *testing.T) {
			byURL, byBody := uuid.NewString(), uuid.NewString()
			for round := range 2 {
				upsert(targets(
					target(accountType, "@odata.id", "accounts("+byURL+")", "name", fmt.Sprint("by url ", round)),
					target(accountType, "accountid", byBody, "name", fmt.Sprint("by body ", round)),
				))
				if got, want := s.accountName(byURL), fmt.Sprint("by url ", round); got != want {
					t.Errorf("round %d: name %q, want %q", round, got, want)
				}
				if got, want := s.accountName(byBody), fmt.Sprint("by body ", round); got != want {
					t.Errorf("round %d: name %q, want %q", round, got, want)
				}
			}
			expectCount(t, s, "accounts", "startswith(name,'by url ') or startswith(name,'by body ')", 2, "matched")
		})
		t.Run("NoKeyCreates", func(t *testing.T) {
			for range 2 {
				upsert(targets(target(accountType, "name", "UMN keyless")))
			}
			expectCount(t, s, "accounts", "name eq 'UMN keyless'", 2, "matched (a target without a key creates)")
		})
		t.Run("UpdatesKeepOtherColumns", func(t *testing.T) {
			id := s.create("accounts", map[string]any{"name": "UMU", "accountnumber": "UMU-1", "telephone1": "555"})
			upsert(targets(target(accountType, "@odata.id", "accounts(accountnumber='UMU-1')", "emailaddress1", "u@example.com")))
			a := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name,telephone1,emailaddress1", nil).JSON(t)
			if a["name"] != "UMU" || a["telephone1"] != "555" || a["emailaddress1"] != "u@example.com" {
				t.Errorf("record = %v", a)
			}
		})
		t.Run("ODataBindInTargets", func(t *testing.T) {
			aid := s.create("accounts", map[string]any{"name": "UMB parent", "accountnumber": "UMB-P"})
			upsert(targets(
				target(accountType, "@odata.id", "accounts(accountnumber='UMB-C')", "name", "UMB child", "parentaccountid@odata.bind", "accounts(accountnumber='UMB-P')"),
			))
			recs := s.must(http.StatusOK, "GET", "accounts?$select=_parentaccountid_value&$filter="+urlEscape("accountnumber eq 'UMB-C'"), nil).Value(t)
			if len(recs) != 1 || recs[0]["_parentaccountid_value"] != aid {
				t.Errorf("records = %v, want one bound to %s", recs, aid)
			}
		})
		t.Run("OneInvalidTargetWritesNothing", func(t *testing.T) {
			id := s.create("accounts", map[string]any{"name": "UMI before", "accountnumber": "UMI-1"})
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", "accounts(accountnumber='UMI-1')", "name", "UMI after"),
				target(accountType, "@odata.id", "accounts(accountnumber='UMI-2')", "name", "UMI new"),
				target(accountType, "name", "UMI keyless"),
				target(accountType, "@odata.id", "accounts(accountnumber='UMI-3')", "name", strings.Repeat("n", 161)),
			))
			expectError(t, r, http.StatusBadRequest, "0x80044331", "")
			if got := s.accountName(id); got != "UMI before" {
				t.Errorf("name %q: the update of a failed UpsertMultiple persisted", got)
			}
			expectCount(t, s, "accounts", "startswith(accountnumber,'UMI-') or name eq 'UMI keyless'", 1, "matched (only the one created before)")
		})
		t.Run("ExistingTargetsNeedNoRequiredColumns", func(t *testing.T) {
			// A target that would fail as a create (required columns
			// missing) updates the record it names; a new one fails in
			// its place, and nothing of the request persists.
			chf := s.create("transactioncurrencies", map[string]any{"currencyname": "Franc", "isocurrencycode": "CHF", "currencysymbol": "Fr", "exchangerate": 0.9, "currencyprecision": 2})
			s.must(http.StatusNoContent, "POST", "transactioncurrencies/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.transactioncurrency", "@odata.id", "transactioncurrencies("+chf+")", "currencyname", "Swiss franc"),
			))
			c := s.must(http.StatusOK, "GET", "transactioncurrencies("+chf+")?$select=currencyname,isocurrencycode", nil).JSON(t)
			if c["currencyname"] != "Swiss franc" || c["isocurrencycode"] != "CHF" {
				t.Errorf("currency = %v", c)
			}
			missing := uuid.NewString()
			r := s.do("POST", "transactioncurrencies/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.transactioncurrency", "@odata.id", "transactioncurrencies("+chf+")", "currencyname", "Franc again"),
				target("Microsoft.Dynamics.CRM.transactioncurrency", "@odata.id", "transactioncurrencies("+missing+")", "currencyname", "No code"),
			))
			if r.Status != http.StatusBadRequest {
				t.Fatalf("UpsertMultiple creating a currency without its required columns: %d %s", r.Status, r.Body)
			}
			if !strings.Contains(string(r.Body), "isocurrencycode") && !strings.Contains(string(r.Body), "currencysymbol") && !strings.Contains(string(r.Body), "exchangerate") {
				t.Errorf("error names no missing column: %s", r.Body)
			}
			c = s.must(http.StatusOK, "GET", "transactioncurrencies("+chf+")?$select=currencyname", nil).JSON(t)
			if c["currencyname"] != "Swiss franc" {
				t.Errorf("the update of a failed UpsertMultiple persisted: %v", c)
			}
			expectError(t, s.do("GET", "transactioncurrencies("+missing+")", nil), http.StatusNotFound, "", "")
		})
		t.Run("BadTargets", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(map[string]any{"@odata.id": "accounts(accountnumber='UMX-1')", "name": "x"}))
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "")
			r = s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(target(accountType, "@odata.id", "contacts("+uuid.NewString()+")", "name", "x")))
			expectError(t, r, http.StatusBadRequest, "", "")
			r = s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(target(accountType, "@odata.id", "not a url", "name", "x")))
			expectError(t, r, http.StatusBadRequest, "", "")
			expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{}}), http.StatusBadRequest, "", "")
			expectCount(t, s, "accounts", "name eq 'x'", 0, "created")
		})
	})
}

func TestUpdateMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := make([]string, 3)
		for i := range ids {
			ids[i] = s.create("accounts", map[string]any{"name": fmt.Sprint("UPM ", i), "telephone1": "000"})
		}
		t.Run("UpdatesByPrimaryKey", func(t *testing.T) {
			r := s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", ids[0], "name", "UPM 0 updated"),
				target(accountType, "accountid", ids[1], "name", "UPM 1 updated"),
			))
			if len(r.Body) != 0 {
				t.Errorf("body = %s", r.Body)
			}
			for i, want := range []string{"UPM 0 updated", "UPM 1 updated", "UPM 2"} {
				if got := s.accountName(ids[i]); got != want {
					t.Errorf("record %d: name %q, want %q", i, got, want)
				}
			}
			a := s.must(http.StatusOK, "GET", "accounts("+ids[0]+")?$select=telephone1", nil).JSON(t)
			if a["telephone1"] != "000" {
				t.Errorf("telephone1 = %v, want untouched", a["telephone1"])
			}
		})
		t.Run("DuplicateTargetsFirstWins", func(t *testing.T) {
			// bulk-operations.md: only the first record is updated; later
			// ones with the same key are ignored.
			id := s.create("accounts", map[string]any{"name": "UPM dup", "telephone1": "000"})
			s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", id, "name", "UPM dup first"),
				target(accountType, "accountid", id, "name", "UPM dup second", "telephone1", "999"),
			))
			a := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name,telephone1", nil).JSON(t)
			if a["name"] != "UPM dup first" || a["telephone1"] != "000" {
				t.Errorf("after duplicate targets: %v, want the first target's write only", a)
			}
		})
		t.Run("ODataBindInTargets", func(t *testing.T) {
			parent := s.create("accounts", map[string]any{"name": "UPM parent"})
			s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", ids[2], "parentaccountid@odata.bind", "accounts("+parent+")"),
			))
			a := s.must(http.StatusOK, "GET", "accounts("+ids[2]+")?$select=_parentaccountid_value", nil).JSON(t)
			if a["_parentaccountid_value"] != parent {
				t.Errorf("_parentaccountid_value = %v, want %s", a["_parentaccountid_value"], parent)
			}
		})
		t.Run("RequiresPrimaryKey", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", ids[0], "name", "UPM should not change"),
				target(accountType, "name", "UPM keyless"),
			))
			expectError(t, r, http.StatusBadRequest, "", "accountid")
			if got := s.accountName(ids[0]); got != "UPM 0 updated" {
				t.Errorf("name %q after a rejected UpdateMultiple", got)
			}
			expectCount(t, s, "accounts", "name eq 'UPM keyless'", 0, "created by UpdateMultiple")
		})
		t.Run("MissingRecordChangesNothing", func(t *testing.T) {
			missing := uuid.NewString()
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", ids[0], "name", "UPM should not change"),
				target(accountType, "accountid", missing, "name", "UPM missing"),
				target(accountType, "accountid", ids[1], "name", "UPM should not change"),
			))
			expectError(t, r, http.StatusNotFound, "0x80040217", "")
			for i, want := range []string{"UPM 0 updated", "UPM 1 updated"} {
				if got := s.accountName(ids[i]); got != want {
					t.Errorf("record %d: name %q, want %q (all-or-nothing)", i, got, want)
				}
			}
			if got := s.accountName(missing); got != "" {
				t.Errorf("UpdateMultiple created the missing record")
			}
		})
		t.Run("OneInvalidTargetWritesNothing", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", ids[0], "name", "UPM should not change"),
				target(accountType, "accountid", ids[1], "telephone1", strings.Repeat("5", 51)),
			))
			expectError(t, r, http.StatusBadRequest, "0x80044331", "")
			if got := s.accountName(ids[0]); got != "UPM 0 updated" {
				t.Errorf("name %q after a failed UpdateMultiple", got)
			}
		})
		t.Run("MissingODataType", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{
				map[string]any{"accountid": ids[0], "name": "UPM untyped"},
			}})
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "")
			if got := s.accountName(ids[0]); got != "UPM 0 updated" {
				t.Errorf("name %q after a rejected UpdateMultiple", got)
			}
		})
	})
}

func TestDeleteMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := make([]string, 4)
		for i := range ids {
			ids[i] = s.create("accounts", map[string]any{"name": fmt.Sprint("DM ", i)})
		}
		t.Run("Deletes", func(t *testing.T) {
			s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", targets(
				target(accountType, "accountid", ids[0]),
				target(accountType, "@odata.id", "accounts("+ids[1]+")"),
			))
			s.must(http.StatusNotFound, "GET", "accounts("+ids[0]+")", nil)
			s.must(http.StatusNotFound, "GET", "accounts("+ids[1]+")", nil)
			s.must(http.StatusOK, "GET", "accounts("+ids[2]+")", nil)
		})
		t.Run("MissingRecordDeletesNothing", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", targets(
				target(accountType, "accountid", ids[2]),
				target(accountType, "accountid", uuid.NewString()),
			))
			expectError(t, r, http.StatusNotFound, "0x80040217", "")
			s.must(http.StatusOK, "GET", "accounts("+ids[2]+")", nil)
		})
		t.Run("RequiresKeyAndType", func(t *testing.T) {
			r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", targets(target(accountType, "name", "DM 3")))
			expectError(t, r, http.StatusBadRequest, "", "")
			r = s.do("POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", map[string]any{"Targets": []any{map[string]any{"accountid": ids[3]}}})
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "")
			expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", map[string]any{"Targets": []any{}}), http.StatusBadRequest, "", "")
			s.must(http.StatusOK, "GET", "accounts("+ids[3]+")", nil)
		})
	})
}

// expectCount checks that filter matches want records of set; what says
// how they came to be.
func expectCount(t *testing.T, s *testServer, set, filter string, want int, what string) {
	t.Helper()
	if n := s.count(set, filter); n != want {
		t.Errorf("%d %s %s, want %d", n, set, what, want)
	}
}
