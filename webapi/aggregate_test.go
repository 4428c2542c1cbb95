package webapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rowsText renders rows as "k=v k=v; …" over the keys asked for, in
// order, leaving out keys a row lacks.
func rowsText(rows []map[string]any, keys ...string) string {
	var out []string
	for _, r := range rows {
		var parts []string
		for _, k := range keys {
			if v, ok := r[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, "; ")
}

// TestApply: $apply's aggregate, groupby with aggregate, filter, the
// order by a grouped property and $top, through HTTP on both stores.
func TestApply(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		get := func(q string) []map[string]any {
			t.Helper()
			return s.must(http.StatusOK, "GET", "accounts?$apply="+url.QueryEscape(q), nil).Value(t)
		}
		if got := rowsText(get("aggregate(revenue with sum as total,revenue with average as avg,revenue with min as lo,revenue with max as hi,numberofemployees with average as staff,$count as n)"),
			"total", "avg", "lo", "hi", "staff", "n"); got != "total=1500.00 avg=300.00 lo=100.00 hi=500.00 staff=3 n=5" {
			t.Errorf("aggregate: %s", got)
		}
		if got := rowsText(get("filter(revenue gt 150)/groupby((creditonhold),aggregate(revenue with sum as total,$count as n))"), "creditonhold", "total", "n"); got != "creditonhold=false total=800.00 n=2; creditonhold=true total=600.00 n=2" {
			t.Errorf("filter/groupby: %s", got)
		}
		body := s.must(http.StatusOK, "GET", "contacts?$apply="+url.QueryEscape("groupby((_parentcustomerid_value),aggregate($count as n))")+"&$orderby=_parentcustomerid_value", nil,
			"Prefer", `odata.include-annotations="*"`).JSON(t)
		rows := body["value"].([]any)
		first := rows[0].(map[string]any)
		if len(rows) != 4 || first["@odata.etag"] != nil || fmt.Sprint(first["n"]) != "1" || first["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" {
			t.Errorf("groupby a lookup: %v", body)
		}
		if first["n@OData.Community.Display.V1.FormattedValue"] != "1" {
			t.Errorf("a count's formatted value: %v", first)
		}
		sums := s.must(http.StatusOK, "GET", "accounts?$apply="+url.QueryEscape("aggregate(revenue with sum as total,createdon with max as last,$count as n)"), nil,
			"Prefer", `odata.include-annotations="*"`).Value(t)
		if len(sums) != 1 || sums[0]["total@OData.Community.Display.V1.FormattedValue"] != "$1,500.00" || sums[0]["n@OData.Community.Display.V1.FormattedValue"] != "5" ||
			!strings.HasSuffix(fmt.Sprint(sums[0]["last@OData.Community.Display.V1.FormattedValue"]), "M") {
			t.Errorf("aggregates' formatted values: %v", sums)
		}
		if !strings.HasSuffix(fmt.Sprint(body["@odata.context"]), "$metadata#contacts") {
			t.Errorf("context: %v", body["@odata.context"])
		}
		if got := rowsText(s.must(http.StatusOK, "GET", "accounts?$apply="+url.QueryEscape("groupby((telephone1),aggregate($count as n))")+"&$top=2", nil).Value(t), "telephone1", "n"); got != "n=1; telephone1=555-1 n=1" {
			t.Errorf("a null group first, its key left out; $top: %s", got)
		}
		if got := rowsText(s.must(http.StatusOK, "GET", "accounts("+ids["A1"]+")/contact_customer_accounts?$apply="+url.QueryEscape("aggregate($count as n)"), nil).Value(t), "n"); got != "n=1" {
			t.Errorf("on a related collection: %s", got)
		}
		// Through a lookup: the related record's column, as <table>_<column>.
		if got := rowsText(s.must(http.StatusOK, "GET", "contacts?$apply="+url.QueryEscape("groupby((parentcustomerid_account/creditonhold),aggregate($count as n))"), nil).Value(t), "account_creditonhold", "n"); got != "account_creditonhold=false n=2; account_creditonhold=true n=2" {
			t.Errorf("groupby through a customer lookup (Ann 1–4's accounts A1–A4, on hold when even): %s", got)
		}
		if got := rowsText(s.must(http.StatusOK, "GET", "accounts?$apply="+url.QueryEscape("groupby((primarycontactid/lastname),aggregate(revenue with sum as total))"), nil).Value(t), "contact_lastname", "total"); got != "total=1400.00; contact_lastname=1 total=100.00" {
			t.Errorf("groupby through a lookup (A1's primary contact is Ann 1; the other four have none): %s", got)
		}
		for _, tc := range []struct{ q, extra, part string }{
			{"aggregate(name with sum as s)", "", "not supported for attribute of type string"},
			{"groupby((createdon))", "", "groupby with datetime values is not supported."},
			{"aggregate($count as n)", "&$orderby=n", "SingleValueOpenPropertyAccess"},
			{"aggregate(revenue with median as m)", "", "median"},
			{"compute(revenue mul 2 as x)", "", "compute"},
			{"groupby((nosuch))", "", "nosuch"},
			{"aggregate($count as n", "", "unbalanced"},
			{"aggregate($count as n)", "&$select=name", "$select"},
		} {
			r := s.do("GET", "accounts?$apply="+url.QueryEscape(tc.q)+tc.extra, nil)
			if _, msg := r.ErrorCode(t); r.Status != http.StatusBadRequest || !strings.Contains(msg, tc.part) {
				t.Errorf("%s%s: %d %s", tc.q, tc.extra, r.Status, msg)
			}
		}
	})
}

// TestAggregateOverflow: a sum beyond 64 bits is the same 400 on both
// stores (SQLite's SUM fails, PostgreSQL's numeric sum would wrap when
// read), in $apply and in FetchXML, for a sum and for an average.
func TestAggregateOverflow(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for _, n := range []string{"9000000000000000000", "9000000000000000000", "5"} {
			s.create("new_orders", map[string]any{"new_name": "BIG", "new_sequence": json.Number(n)})
		}
		for _, q := range []string{
			"new_orders?$apply=" + url.QueryEscape("aggregate(new_sequence with sum as s)"),
			"new_orders?$apply=" + url.QueryEscape("filter(new_name eq 'BIG')/aggregate(new_sequence with average as a)"),
			fetchURL("new_orders", `<fetch aggregate="true"><entity name="new_order"><attribute name="new_sequence" aggregate="sum" alias="s"/></entity></fetch>`),
		} {
			expectError(t, s.do("GET", q, nil), http.StatusBadRequest, "0x8004431a", "arithmetic overflow")
		}
		// Within range the sum is exact.
		s.create("new_orders", map[string]any{"new_name": "SMALL", "new_sequence": json.Number("4611686018427387904")})
		s.create("new_orders", map[string]any{"new_name": "SMALL", "new_sequence": json.Number("4611686018427387903")})
		got := rowsText(s.must(http.StatusOK, "GET", "new_orders?$apply="+url.QueryEscape("filter(new_name eq 'SMALL')/aggregate(new_sequence with sum as s)"), nil).Value(t), "s")
		if got != "s=9223372036854775807" {
			t.Errorf("the largest sum: %s", got)
		}
	})
}

// TestFetchXMLAggregate: aggregate="true": count, countcolumn (distinct
// too), sum, avg, min and max under their aliases, group by with date
// grouping, order by alias, and the aggregatelimit.
func TestFetchXMLAggregate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		fetchSeed(t, s)
		run := func(xml string) []map[string]any {
			t.Helper()
			return s.must(http.StatusOK, "GET", fetchURL(tableSet(xml), xml), nil).Value(t)
		}
		if got := rowsText(run(`<fetch aggregate="true"><entity name="account"><attribute name="accountid" aggregate="count" alias="n"/><attribute name="telephone1" aggregate="countcolumn" alias="phones"/>`+
			`<attribute name="creditonhold" aggregate="countcolumn" distinct="true" alias="kinds"/><attribute name="revenue" aggregate="sum" alias="total"/><attribute name="revenue" aggregate="avg" alias="avg"/>`+
			`<attribute name="numberofemployees" aggregate="max" alias="most"/></entity></fetch>`), "n", "phones", "kinds", "total", "avg", "most"); got != "n=5 phones=4 kinds=2 total=1500.00 avg=300.00 most=5" {
			t.Errorf("aggregates: %s", got)
		}
		if got := rowsText(run(`<fetch aggregate="true"><entity name="account"><attribute name="creditonhold" groupby="true" alias="hold"/><attribute name="revenue" aggregate="sum" alias="total"/>`+
			`<order alias="total" descending="true"/><filter><condition attribute="revenue" operator="ge" value="200"/></filter></entity></fetch>`), "hold", "total"); got != "hold=false total=800.00; hold=true total=600.00" {
			t.Errorf("groupby, order by alias descending (A3+A5 = 800, A2+A4 = 600): %s", got)
		}
		if got := rowsText(run(`<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count" alias="n"/>`+
			`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"><attribute name="creditonhold" groupby="true" alias="hold"/></link-entity></entity></fetch>`), "hold", "n"); got != "hold=false n=2; hold=true n=2" {
			t.Errorf("groupby a link-entity's column: %s", got)
		}
		year := fmt.Sprint(s.Instance.Time().UTC().Year())
		if got := rowsText(run(`<fetch aggregate="true"><entity name="contact"><attribute name="createdon" groupby="true" dategrouping="year" alias="y"/><attribute name="contactid" aggregate="count" alias="n"/></entity></fetch>`), "y", "n"); got != "y="+year+" n=4" {
			t.Errorf("dategrouping year: %s", got)
		}
		r := s.do("GET", fetchURL("accounts", `<fetch aggregate="true" aggregatelimit="3"><entity name="account"><attribute name="accountid" aggregate="count" alias="n"/></entity></fetch>`), nil)
		if code, msg := r.ErrorCode(t); r.Status != http.StatusBadRequest || code != "0x8004E023" || !strings.Contains(msg, "AggregateQueryRecordLimit exceeded") {
			t.Errorf("over the aggregatelimit: %d %s %s", r.Status, code, msg)
		}
	})
}

// TestAggregateThroughLinks: aggregates of the rows of a join, as
// Dataverse's SQL makes them: a one-to-many link-entity (inner, outer,
// with its filter) gives a row per related record; many-to-one links'
// columns, at any depth, group and aggregate per row; $apply groups
// through two lookups.
func TestAggregateThroughLinks(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		for _, last := range []string{"Z", "B"} {
			s.create("contacts", map[string]any{"firstname": "Bob", "lastname": last, "parentcustomerid_account@odata.bind": "/accounts(" + ids["A1"] + ")"})
		}
		run := func(xml string) []map[string]any {
			t.Helper()
			return s.must(http.StatusOK, "GET", fetchURL(tableSet(xml), xml), nil).Value(t)
		}
		for _, tc := range []struct{ name, xml, want string }{
			{"count of a one-to-many link's rows", `<fetch aggregate="true"><entity name="account"><attribute name="name" groupby="true" alias="acct"/><order alias="acct"/>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><attribute name="contactid" aggregate="count" alias="n"/></link-entity></entity></fetch>`,
				"acct=A1 n=3; acct=A2 n=1; acct=A3 n=1; acct=A4 n=1"},
			{"outer: a record without related rows counts none", `<fetch aggregate="true"><entity name="account"><attribute name="name" groupby="true" alias="acct"/><order alias="acct"/><filter><condition attribute="revenue" operator="ge" value="400"/></filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"><attribute name="contactid" aggregate="countcolumn" alias="n"/></link-entity></entity></fetch>`,
				"acct=A4 n=1; acct=A5 n=0"},
			{"the link's filter joins only its rows", `<fetch aggregate="true"><entity name="account"><attribute name="name" groupby="true" alias="acct"/><order alias="acct"/><filter><condition attribute="name" operator="eq" value="A1"/></filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><attribute name="lastname" aggregate="countcolumn" alias="n"/><filter><condition attribute="lastname" operator="ne" value="Z"/></filter></link-entity></entity></fetch>`,
				"acct=A1 n=2"},
			{"the root's columns per joined row", `<fetch aggregate="true"><entity name="account"><attribute name="revenue" aggregate="sum" alias="n"/>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid"><attribute name="firstname" groupby="true" alias="acct"/></link-entity></entity></fetch>`,
				"acct=Ann n=1000.00; acct=Bob n=200.00"},
			{"a sum of a many-to-one link's column", `<fetch aggregate="true"><entity name="contact"><attribute name="firstname" groupby="true" alias="acct"/>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid"><attribute name="revenue" aggregate="sum" alias="n"/></link-entity></entity></fetch>`,
				"acct=Ann n=1000.00; acct=Bob n=200.00"},
			{"a group two links away", `<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count" alias="n"/>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer"><link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer"><attribute name="lastname" groupby="true" alias="acct"/></link-entity></link-entity></entity></fetch>`,
				"n=3; acct=1 n=3"},
		} {
			if got := rowsText(run(tc.xml), "acct", "n"); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		if got := rowsText(s.must(http.StatusOK, "GET", "contacts?$apply="+url.QueryEscape("groupby((parentcustomerid_account/primarycontactid/lastname),aggregate($count as n))"), nil).Value(t), "contact_lastname", "n"); got != "n=3; contact_lastname=1 n=3" {
			t.Errorf("$apply through two lookups: %s", got)
		}
		if got := rowsText(s.must(http.StatusOK, "GET", "contacts?$apply="+url.QueryEscape("groupby((parentcustomerid_account/primarycontactid/lastname),aggregate($count as n))")+"&$orderby="+url.QueryEscape("parentcustomerid_account/primarycontactid/lastname desc"), nil).Value(t), "contact_lastname", "n"); got != "contact_lastname=1 n=3; n=3" {
			t.Errorf("$orderby a path grouped by: %s", got)
		}
		xml := `<fetch aggregate="true"><entity name="account"><attribute name="accountid" aggregate="count" alias="n"/>` +
			`<link-entity name="contact" from="parentcustomerid" to="accountid"><attribute name="contactid" aggregate="count" alias="a"/></link-entity>` +
			`<link-entity name="new_order" from="new_customer" to="accountid"><attribute name="new_orderid" aggregate="count" alias="b"/></link-entity></entity></fetch>`
		if r := s.do("GET", fetchURL("accounts", xml), nil); r.Status/100 != 4 {
			t.Errorf("two joins: %d %s", r.Status, r.Body)
		}
	})
}
