package webapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/internal/testrun"
	"github.com/google/uuid"
)

// names returns the names of the records of a collection response.
func names(recs []map[string]any, prop string) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprint(r[prop]))
	}
	return out
}

func TestQueryFilter(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for _, c := range []map[string]any{
			{"firstname": "Ann", "lastname": "O'Bryan", "emailaddress1": "ann@example.com"},
			{"firstname": "Bob", "lastname": "OBrian", "jobtitle": "Sample Manager"},
			{"firstname": "Cy", "lastname": "Smith", "jobtitle": "sample lead", "birthdate": "1990-05-01"},
			{"firstname": "Di", "lastname": "Jones", "birthdate": "1985-01-20"},
		} {
			s.create("contacts", c)
		}
		for _, a := range []map[string]any{
			{"name": "Alpha", "revenue": 100, "numberofemployees": 5, "creditonhold": true},
			{"name": "Beta", "revenue": 2000.5, "numberofemployees": 50},
			{"name": "Gamma", "numberofemployees": 500, "accountcategorycode": 2},
		} {
			s.create("accounts", a)
		}
		for _, tc := range []struct {
			set, filter, want string
		}{
			{"contacts", "lastname eq 'O''Bryan'", "Ann"},
			{"contacts", "contains(jobtitle,'SAMPLE')", "Bob,Cy"},
			{"contacts", "startswith(lastname,'o') and not endswith(lastname,'n')", ""},
			{"contacts", "startswith(lastname,'o') and not contains(lastname,'''')", "Bob"},
			{"contacts", `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrian","O'Bryan"])`, "Ann,Bob"},
			{"contacts", `Microsoft.Dynamics.CRM.NotIn(PropertyName='lastname',PropertyValues=["OBrian","O'Bryan"])`, "Cy,Di"},
			{"contacts", "jobtitle eq null", "Ann,Di"},
			{"contacts", "jobtitle ne null", "Bob,Cy"},
			{"contacts", "jobtitle ne 'sample lead'", "Ann,Bob,Di"},
			{"contacts", "birthdate gt 1989-01-01", "Cy"},
			{"contacts", "Microsoft.Dynamics.CRM.OnOrAfter(PropertyName='birthdate',PropertyValue='1986-01-01')", "Cy"},
			{"contacts", "firstname eq lastname", ""},
			{"contacts", "(firstname eq 'Ann' or firstname eq 'Bob') and emailaddress1 ne null", "Ann"},
			{"accounts", "revenue ne null", "Alpha,Beta"},
			{"accounts", "revenue gt 150.25", "Beta"},
			{"accounts", "numberofemployees ge 50 and numberofemployees le 500", "Beta,Gamma"},
			{"accounts", `Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=["5","50"])`, "Alpha,Beta"},
			{"accounts", "creditonhold eq true", "Alpha"},
			{"accounts", "creditonhold", "Alpha"},
			{"accounts", "accountcategorycode eq 2", "Gamma"},
			{"accounts", "not (name eq 'Alpha')", "Beta,Gamma"},
			{"accounts", "Microsoft.Dynamics.CRM.Null(PropertyName='revenue')", "Gamma"},
			// Beyond a whole number's Int32 range: settled alike on both
			// stores (PostgreSQL's integer cannot bind such a parameter).
			{"accounts", "numberofemployees eq 2147483648", ""},
			{"accounts", "numberofemployees ne 2147483648", "Alpha,Beta,Gamma"},
			{"accounts", "numberofemployees lt 2147483648", "Alpha,Beta,Gamma"},
			{"accounts", "numberofemployees le -2147483649", ""},
			{"accounts", "numberofemployees gt -2147483649", "Alpha,Beta,Gamma"},
			{"accounts", "numberofemployees ge 99999999999", ""},
			{"accounts", "accountcategorycode eq 4294967298", ""},
			{"accounts", `Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=["2147483648","5"])`, "Alpha"},
			{"accounts", `Microsoft.Dynamics.CRM.NotIn(PropertyName='numberofemployees',PropertyValues=["2147483648"])`, "Alpha,Beta,Gamma"},
			{"accounts", `Microsoft.Dynamics.CRM.GreaterThan(PropertyName='numberofemployees',PropertyValue='2147483648')`, ""},
		} {
			prop := "firstname"
			if tc.set == "accounts" {
				prop = "name"
			}
			r := s.must(http.StatusOK, "GET", tc.set+"?$select="+prop+"&$filter="+urlEscape(tc.filter), nil)
			got := names(r.Value(t), prop)
			sort.Strings(got)
			if strings.Join(got, ",") != tc.want {
				t.Errorf("$filter=%s: got %v, want %s", tc.filter, got, tc.want)
			}
		}
		// Parameter aliases.
		r := s.must(http.StatusOK, "GET", "contacts?$select=firstname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='firstname'&@p2="+urlEscape(`["Ann","Di"]`), nil)
		if got := names(r.Value(t), "firstname"); strings.Join(got, ",") != "Ann,Di" && strings.Join(got, ",") != "Di,Ann" {
			t.Errorf("aliased In: %v", got)
		}
		// query-data-web-api.md's example: aliases of properties in
		// $orderby and $filter, and an alias without a value is null.
		r = s.must(http.StatusOK, "GET", "accounts?$select=name,revenue&$orderby=@p1%20asc,@p2%20desc&$filter=@p1%20ne%20@p3&@p1=revenue&@p2=name", nil)
		if got := names(r.Value(t), "name"); strings.Join(got, ",") != "Alpha,Beta" {
			t.Errorf("aliases of properties in $orderby and $filter: %v", got)
		}
		r = s.must(http.StatusOK, "GET", "accounts?$select=name&$filter=@p1&@p1=creditonhold", nil)
		if got := names(r.Value(t), "name"); strings.Join(got, ",") != "Alpha" {
			t.Errorf("an alias of a Boolean column as the filter: %v", got)
		}
		for _, bad := range []string{
			"accounts?$orderby=@p9%20asc",           // no value
			"accounts?$orderby=@p1&@p1='revenue'",   // a literal, not a property
			"accounts?$filter=@p1%20eq%201&@p1=@p2", // an alias of an alias
		} {
			expectError(t, s.do("GET", bad, nil), http.StatusBadRequest, "", "")
		}
		expectError(t, s.do("GET", "contacts?$filter="+urlEscape("not Microsoft.Dynamics.CRM.Null(PropertyName='jobtitle')"), nil),
			http.StatusBadRequest, "", "Not operator along with the Custom Named Condition operators is not allowed")
	})
}

func TestQueryRelated(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		joe := s.create("contacts", map[string]any{"firstname": "Joe", "lastname": "Smith"})
		a := s.create("accounts", map[string]any{"name": "A", "primarycontactid@odata.bind": "/contacts(" + joe + ")"})
		s.create("accounts", map[string]any{"name": "B"})
		s.create("contacts", map[string]any{"lastname": "k1", "statecode": 1, "parentcustomerid_account@odata.bind": "/accounts(" + a + ")"})
		for _, tc := range []struct{ filter, want string }{
			{"primarycontactid/fullname eq 'Joe Smith'", "A"},
			{"_primarycontactid_value eq " + joe, "A"},
			{"_primarycontactid_value eq '" + joe + "'", "A"},
			{"_primarycontactid_value eq null", "B"},
			{"contact_customer_accounts/any(c:c/statecode eq 1)", "A"},
			{"contact_customer_accounts/any()", "A"},
			{"not contact_customer_accounts/any()", "B"},
			{"contact_customer_accounts/all(c:c/statecode eq 0)", "B"},
		} {
			got := names(s.must(http.StatusOK, "GET", "accounts?$select=name&$filter="+urlEscape(tc.filter), nil).Value(t), "name")
			sort.Strings(got)
			if strings.Join(got, ",") != tc.want {
				t.Errorf("$filter=%s: got %v, want %s", tc.filter, got, tc.want)
			}
		}
	})
}

func TestQueryOrderTopCount(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for i, n := range []string{"delta", "Alpha", "charlie", "Bravo", "echo"} {
			s.create("accounts", map[string]any{"name": n, "numberofemployees": i % 3})
		}
		got := names(s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name", nil).Value(t), "name")
		if strings.Join(got, ",") != "Alpha,Bravo,charlie,delta,echo" {
			t.Errorf("$orderby=name (case-insensitive): %v", got)
		}
		got = names(s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=numberofemployees%20desc,name%20asc&$top=3", nil).Value(t), "name")
		if strings.Join(got, ",") != "charlie,Alpha,echo" {
			t.Errorf("$orderby two terms with $top: %v", got)
		}
		m := s.must(http.StatusOK, "GET", "accounts?$select=name&$count=true&$filter=numberofemployees%20eq%200", nil).JSON(t)
		if fmt.Sprint(m["@odata.count"]) != "2" {
			t.Errorf("@odata.count = %v", m["@odata.count"])
		}
		r := s.must(http.StatusOK, "GET", "accounts/$count", nil)
		if string(r.Body) != "5" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("/$count = %q (%s)", r.Body, r.Header.Get("Content-Type"))
		}
		m = s.must(http.StatusOK, "GET", "accounts?$select=name", nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
		if fmt.Sprint(m["@Microsoft.Dynamics.CRM.totalrecordcount"]) != "-1" || m["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != false {
			t.Errorf("collection annotations: %v", m)
		}
		expectError(t, s.do("GET", "accounts?$skip=1", nil), http.StatusBadRequest, "0x80060888", "Skip Clause is not supported in CRM")
		if n := len(s.must(http.StatusOK, "GET", "accounts?$top=0", nil).Value(t)); n != 0 {
			t.Errorf("$top=0 returned %d rows", n)
		}
	})
}

// follow pages through a collection with odata.maxpagesize, following
// @odata.nextLink exactly as given.
func follow(t *testing.T, s *testServer, path string, size int, between func()) (pages [][]map[string]any) {
	t.Helper()
	next := s.URL + path
	for range 1000 {
		r := s.must(http.StatusOK, "GET", next, nil, "Prefer", fmt.Sprintf("odata.maxpagesize=%d", size))
		if got := r.Header.Get("Preference-Applied"); got != fmt.Sprintf("odata.maxpagesize=%d", size) {
			t.Fatalf("Preference-Applied = %q", got)
		}
		m := r.JSON(t)
		pages = append(pages, r.Value(t))
		link, ok := m["@odata.nextLink"].(string)
		if !ok {
			return pages
		}
		if !strings.HasPrefix(link, s.URL) || !strings.Contains(link, "$skiptoken=") {
			t.Fatalf("nextLink %q is not an absolute link with $skiptoken", link)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		tok := u.Query().Get("$skiptoken")
		if !strings.HasPrefix(tok, `<cookie pagenumber="`) || !strings.Contains(tok, `pagingcookie="`) || !strings.HasSuffix(tok, `istracking="False" />`) {
			t.Fatalf("skiptoken %q does not have Dataverse's cookie shape", tok)
		}
		next = link
		if between != nil {
			between()
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func TestPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for i := range 7 {
			s.create("contacts", map[string]any{"firstname": fmt.Sprint("F", i%3), "lastname": fmt.Sprintf("L%d", i)})
		}
		pages := follow(t, s, "contacts?$select=fullname", 2, nil)
		if len(pages) != 4 || len(pages[0]) != 2 || len(pages[3]) != 1 {
			t.Errorf("page sizes: %d pages", len(pages))
		}
		var all []string
		for _, p := range pages {
			all = append(all, names(p, "fullname")...)
		}
		sorted := slices.Clone(all)
		sort.Strings(sorted)
		if len(slices.Compact(sorted)) != 7 {
			t.Errorf("pages repeat or miss rows: %v", all)
		}
		// Ordered paging with duplicate sort values and a filter.
		pages = follow(t, s, "contacts?$select=firstname,lastname&$orderby=firstname%20desc&$filter=lastname%20ne%20'L0'", 2, nil)
		var got []string
		for _, p := range pages {
			for _, r := range p {
				got = append(got, fmt.Sprint(r["firstname"], r["lastname"]))
			}
		}
		want := names(s.must(http.StatusOK, "GET", "contacts?$select=firstname,lastname&$orderby=firstname%20desc&$filter=lastname%20ne%20'L0'", nil).Value(t), "firstname")
		if len(got) != 6 || len(want) != 6 {
			t.Errorf("ordered paging returned %v", got)
		}
		for i := range got {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("ordered paging order %v differs from the unpaged order %v", got, want)
				break
			}
		}
		// $top is ignored when odata.maxpagesize is sent.
		r := s.must(http.StatusOK, "GET", "contacts?$top=1", nil, "Prefer", "odata.maxpagesize=2")
		if n := len(r.Value(t)); n != 2 {
			t.Errorf("$top with maxpagesize returned %d rows, want 2", n)
		}
		// An edited skiptoken is rejected.
		m := s.must(http.StatusOK, "GET", "contacts?$select=fullname", nil, "Prefer", "odata.maxpagesize=2").JSON(t)
		link := m["@odata.nextLink"].(string)
		bad := strings.Replace(link, "pagenumber", "pagenumbr", 1)
		expectError(t, s.do("GET", bad, nil, "Prefer", "odata.maxpagesize=2"), http.StatusBadRequest, "0x80060888", "$skiptoken")
	})
}

// TestPagingStableUnderInserts pages through a set while another client
// inserts rows before and after the cursor: rows that existed when paging
// started are returned exactly once.
func TestPagingStableUnderInserts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		before := map[string]bool{}
		for i := range 30 {
			before[s.create("accounts", map[string]any{"name": fmt.Sprintf("m%02d", i)})] = true
		}
		stop := testrun.Loop(func(i int) bool {
			s.create("accounts", map[string]any{"name": fmt.Sprintf("a%03d", i)})
			s.create("accounts", map[string]any{"name": fmt.Sprintf("z%03d", i)})
			return true
		})
		pages := follow(t, s, "accounts?$select=name&$orderby=name", 4, nil)
		stop()
		seen := map[string]int{}
		for _, p := range pages {
			for _, r := range p {
				seen[str(r, "accountid")]++
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("row %s seen %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("row %s seen %d times", id, n)
			}
		}
	})
}

func TestExpand(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		joe := s.create("contacts", map[string]any{"firstname": "Joe", "lastname": "Primary", "jobtitle": "CEO"})
		a := s.create("accounts", map[string]any{"name": "Contoso", "primarycontactid@odata.bind": "/contacts(" + joe + ")"})
		s.create("accounts", map[string]any{"name": "Lonely"})
		for i := range 3 {
			s.create("contacts", map[string]any{"lastname": fmt.Sprint("Kid", i), "parentcustomerid_account@odata.bind": "/accounts(" + a + ")"})
		}
		// Single record: nested single-valued record with its etag.
		m := s.must(http.StatusOK, "GET", "accounts("+a+")?$select=name&$expand=primarycontactid($select=fullname,jobtitle)", nil).JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata#accounts(name,primarycontactid(fullname,jobtitle))/$entity" {
			t.Errorf("context = %v", m["@odata.context"])
		}
		pc, ok := m["primarycontactid"].(map[string]any)
		if !ok || pc["fullname"] != "Joe Primary" || str(pc, "contactid") != joe || !etagRE.MatchString(str(pc, "@odata.etag")) {
			t.Errorf("expanded primarycontactid: %v", m["primarycontactid"])
		}
		// Collection-valued with nested options.
		m = s.must(http.StatusOK, "GET", "accounts("+a+")?$select=name&$expand=contact_customer_accounts($select=lastname;$orderby=lastname%20desc;$top=2)", nil).JSON(t)
		kids := m["contact_customer_accounts"].([]any)
		if len(kids) != 2 || kids[0].(map[string]any)["lastname"] != "Kid2" || str(kids[0].(map[string]any), "_parentcustomerid_value") != a {
			t.Errorf("expanded collection: %v", kids)
		}
		// In a set query: nested records without etag, collection nextLink.
		recs := s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name&$expand=primarycontactid($select=fullname),contact_customer_accounts($select=lastname)", nil).Value(t)
		if len(recs) != 2 {
			t.Fatalf("rows = %d", len(recs))
		}
		if recs[1]["primarycontactid"] != nil || len(recs[1]["contact_customer_accounts"].([]any)) != 0 {
			t.Errorf("account without relatives: %v", recs[1])
		}
		if _, ok := recs[0]["primarycontactid"].(map[string]any)["@odata.etag"]; ok {
			t.Errorf("nested record in a set query carries an etag")
		}
		if link := str(recs[0], "contact_customer_accounts@odata.nextLink"); link != s.URL+"accounts("+a+")/contact_customer_accounts?$select=lastname" {
			t.Errorf("collection nextLink = %q", link)
		}
		// The link carries all the expansion's options, and following it
		// returns the same rows (join-tables.md).
		recs = s.must(http.StatusOK, "GET", "accounts?$select=name&$filter=name%20eq%20'Contoso'&$expand=contact_customer_accounts($select=lastname;$filter=lastname%20ne%20'Kid0';$orderby=lastname%20desc;$top=1)", nil).Value(t)
		link := str(recs[0], "contact_customer_accounts@odata.nextLink")
		if want := s.URL + "accounts(" + a + ")/contact_customer_accounts?$select=lastname&$filter=lastname%20ne%20'Kid0'&$orderby=lastname%20desc&$top=1"; link != want {
			t.Errorf("collection nextLink with options = %q, want %q", link, want)
		}
		var expanded []map[string]any
		for _, k := range recs[0]["contact_customer_accounts"].([]any) {
			expanded = append(expanded, k.(map[string]any))
		}
		if got, want := names(s.must(http.StatusOK, "GET", link, nil).Value(t), "lastname"), names(expanded, "lastname"); strings.Join(got, ",") != "Kid2" || strings.Join(want, ",") != "Kid2" {
			t.Errorf("the link's rows %v, the expansion's %v, want Kid2 both", got, want)
		}
		recs = s.must(http.StatusOK, "GET", "accounts?$select=name&$filter=name%20eq%20'Contoso'&$expand=contact_customer_accounts($select=lastname;$expand=parentcustomerid_account($select=name))", nil).Value(t)
		if link := str(recs[0], "contact_customer_accounts@odata.nextLink"); link != s.URL+"accounts("+a+")/contact_customer_accounts?$select=lastname&$expand=parentcustomerid_account($select=name)" {
			t.Errorf("collection nextLink with a nested $expand = %q", link)
		}
		// No $top or $orderby on a collection with a nested $expand.
		expectError(t, s.do("GET", "accounts?$expand=contact_customer_accounts($top=1;$expand=parentcustomerid_account($select=name))", nil), http.StatusBadRequest, "0x80060888",
			"Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.")
		// $ref expansion of a lookup.
		m = s.must(http.StatusOK, "GET", "accounts("+a+")?$select=name&$expand=primarycontactid/$ref", nil).JSON(t)
		if ref, _ := m["primarycontactid"].(map[string]any); str(ref, "@odata.id") != s.URL+"contacts("+joe+")" || str(m, "_primarycontactid_value") != joe {
			t.Errorf("$ref expansion: %v", m)
		}
		expectError(t, s.do("GET", "accounts("+a+")?$expand=contact_customer_accounts/$ref", nil), http.StatusBadRequest, "", "Expand with $ref is only supported on lookup type navigation property.")
		expectError(t, s.do("GET", "accounts("+a+")?$expand=nosuchnav", nil), http.StatusBadRequest, "", "Could not find a property named 'nosuchnav'")
		// Navigation URLs.
		m = s.must(http.StatusOK, "GET", "accounts("+a+")/primarycontactid?$select=fullname", nil).JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata#contacts(fullname)/$entity" || m["fullname"] != "Joe Primary" {
			t.Errorf("single navigation: %v", m)
		}
		r := s.must(http.StatusOK, "GET", "accounts("+a+")/contact_customer_accounts?$select=lastname&$filter=lastname%20ne%20'Kid0'", nil)
		if got := names(r.Value(t), "lastname"); len(got) != 2 || str(r.JSON(t), "@odata.context") != s.URL+"$metadata#contacts(lastname)" {
			t.Errorf("collection navigation: %s", r.Body)
		}
		if body := string(s.must(http.StatusOK, "GET", "accounts("+a+")/contact_customer_accounts/$count", nil).Body); body != "3" {
			t.Errorf("navigation $count = %q", body)
		}
	})
}

func TestReferences(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		a := s.create("accounts", map[string]any{"name": "A"})
		c := s.create("contacts", map[string]any{"lastname": "C"})
		k := s.create("contacts", map[string]any{"lastname": "K"})
		s.must(http.StatusNoContent, "PUT", "accounts("+a+")/primarycontactid/$ref", map[string]any{"@odata.id": "contacts(" + c + ")"})
		m := s.must(http.StatusOK, "GET", "accounts("+a+")/primarycontactid/$ref", nil).JSON(t)
		if str(m, "@odata.id") != s.URL+"contacts("+c+")" {
			t.Errorf("GET single $ref: %v", m)
		}
		s.must(http.StatusNoContent, "DELETE", "accounts("+a+")/primarycontactid/$ref", nil)
		s.must(http.StatusNoContent, "GET", "accounts("+a+")/primarycontactid/$ref", nil)
		// Collection-valued: add by absolute URL, list, remove by key form and by $id.
		s.must(http.StatusNoContent, "POST", "accounts("+a+")/contact_customer_accounts/$ref", map[string]any{"@odata.id": s.URL + "contacts(" + c + ")"})
		s.must(http.StatusNoContent, "POST", "accounts("+a+")/contact_customer_accounts/$ref", map[string]any{"@odata.id": "contacts(" + k + ")"})
		vals := s.must(http.StatusOK, "GET", "accounts("+a+")/contact_customer_accounts/$ref", nil).Value(t)
		if len(vals) != 2 {
			t.Errorf("collection $ref = %v", vals)
		}
		s.must(http.StatusNoContent, "DELETE", "accounts("+a+")/contact_customer_accounts("+c+")/$ref", nil)
		s.must(http.StatusNoContent, "DELETE", "accounts("+a+")/contact_customer_accounts/$ref?$id="+url.QueryEscape(s.URL+"contacts("+k+")"), nil)
		if n := s.count("contacts", "_parentcustomerid_value eq "+a); n != 0 {
			t.Errorf("%d contacts still associated", n)
		}
		expectError(t, s.do("DELETE", "accounts("+a+")/contact_customer_accounts("+c+")/$ref", nil), http.StatusNotFound, "0x80040217", "")
		// PATCH with a null bind disassociates too.
		s.must(http.StatusNoContent, "PATCH", "accounts("+a+")", map[string]any{"primarycontactid@odata.bind": "/contacts(" + c + ")"})
		s.must(http.StatusNoContent, "PATCH", "accounts("+a+")", map[string]any{"primarycontactid@odata.bind": nil})
		if m := s.must(http.StatusOK, "GET", "accounts("+a+")?$select=_primarycontactid_value", nil).JSON(t); m["_primarycontactid_value"] != nil {
			t.Errorf("null bind did not clear the lookup: %v", m)
		}
		// Collection-valued @odata.bind on create associates existing records.
		na := s.create("accounts", map[string]any{"name": "N", "contact_customer_accounts@odata.bind": []string{"/contacts(" + c + ")", "/contacts(" + k + ")"}})
		if n := s.count("contacts", "_parentcustomerid_value eq "+na); n != 2 {
			t.Errorf("collection bind associated %d contacts, want 2", n)
		}
		_ = uuid.Nil
	})
}
