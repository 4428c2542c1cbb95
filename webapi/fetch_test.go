package webapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// fetchSeed creates accounts A1…A5 (revenue 100…500, A5 without phone), a
// contact per account but A5 (Ann1…Ann4, parentcustomerid), and A1's
// primary contact Ann1. It returns the accounts' ids by name.
func fetchSeed(t *testing.T, s *testServer) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for i := 1; i <= 5; i++ {
		body := map[string]any{"name": fmt.Sprint("A", i), "accountnumber": fmt.Sprint("N-", i), "revenue": 100 * i, "numberofemployees": i, "creditonhold": i%2 == 0}
		if i < 5 {
			body["telephone1"] = fmt.Sprint("555-", i)
		}
		ids[fmt.Sprint("A", i)] = s.create("accounts", body)
	}
	for i := 1; i <= 4; i++ {
		ids[fmt.Sprint("Ann", i)] = s.create("contacts", map[string]any{"firstname": "Ann", "lastname": fmt.Sprint(i), "emailaddress1": fmt.Sprintf("ann%d@example.com", i),
			"parentcustomerid_account@odata.bind": "/accounts(" + ids[fmt.Sprint("A", i)] + ")"})
	}
	s.must(http.StatusNoContent, "PATCH", "accounts("+ids["A1"]+")", map[string]any{"primarycontactid@odata.bind": "/contacts(" + ids["Ann1"] + ")"})
	return ids
}

func fetchURL(set, xml string) string { return set + "?fetchXml=" + url.QueryEscape(xml) }

// names returns the values of one property of each row, in order.
func column(rows []map[string]any, prop string) string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[prop]))
	}
	return strings.Join(out, ",")
}

// TestFetchXMLQueries: the elements of a FetchXML query through the Web
// API: attributes, filters with nested or, the operators, order, top, and
// link-entities (many-to-one and one-to-many, inner and outer) whose
// columns come back as alias.column.
func TestFetchXMLQueries(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		for _, tc := range []struct {
			name, xml, prop, want string
		}{
			{"attributes and order", `<fetch><entity name="account"><attribute name="name"/><order attribute="revenue" descending="true"/></entity></fetch>`, "name", "A5,A4,A3,A2,A1"},
			{"top", `<fetch top="2"><entity name="account"><attribute name="name"/><order attribute="name"/></entity></fetch>`, "name", "A1,A2"},
			{"eq and gt", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="revenue" operator="gt" value="200"/><condition attribute="creditonhold" operator="eq" value="1"/></filter></entity></fetch>`, "name", "A4"},
			{"nested or", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter type="or"><condition attribute="name" operator="eq" value="a1"/><filter><condition attribute="numberofemployees" operator="ge" value="4"/><condition attribute="telephone1" operator="null"/></filter></filter></entity></fetch>`, "name", "A1,A5"},
			{"in with values", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="accountnumber" operator="in"><value>N-2</value><value>N-3</value></condition></filter></entity></fetch>`, "name", "A2,A3"},
			{"between", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="revenue" operator="between"><value>150</value><value>350</value></condition></filter></entity></fetch>`, "name", "A2,A3"},
			{"like", `<fetch><entity name="contact"><attribute name="emailaddress1"/><order attribute="emailaddress1"/><filter><condition attribute="emailaddress1" operator="like" value="%3@%"/></filter></entity></fetch>`, "emailaddress1", "ann3@example.com"},
			{"not-begin-with", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="telephone1" operator="not-begin-with" value="555-1"/><condition attribute="telephone1" operator="not-null"/></filter></entity></fetch>`, "name", "A2,A3,A4"},
			{"today", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="createdon" operator="today"/></filter></entity></fetch>`, "name", "A1,A2,A3,A4,A5"},
			{"olderthan-x-days", `<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="createdon" operator="olderthan-x-days" value="1"/></filter></entity></fetch>`, "name", ""},
			{"lookup eq, GUID in braces", `<fetch><entity name="contact"><attribute name="lastname"/><filter><condition attribute="parentcustomerid" operator="eq" value="{` + strings.ToUpper(ids["A2"]) + `}"/></filter></entity></fetch>`, "lastname", "2"},
			{"eq-userid", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="ownerid" operator="eq-userid"/><condition attribute="revenue" operator="le" value="200"/></filter></entity></fetch>`, "name", "A1,A2"},
			{"many-to-one link, columns", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/><link-entity name="account" from="accountid" to="parentcustomerid" alias="acc"><attribute name="name"/><filter><condition attribute="revenue" operator="ge" value="300"/></filter></link-entity></entity></fetch>`, "acc.name", "A3,A4"},
			{"outer link keeps rows", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="pc"><attribute name="lastname"/></link-entity></entity></fetch>`, "pc.lastname", "1,<nil>,<nil>,<nil>,<nil>"},
			{"one-to-many link, a row per child", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><attribute name="emailaddress1"/></link-entity></entity></fetch>`, "c.emailaddress1", "ann1@example.com,ann2@example.com,ann3@example.com,ann4@example.com"},
			{"one-to-many outer", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="revenue" operator="ge" value="400"/></filter><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"><attribute name="lastname"/></link-entity></entity></fetch>`, "name", "A4,A5"},
			{"not any", `<fetch><entity name="account"><attribute name="name"/><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="not any"/></entity></fetch>`, "name", "A5"},
			{"exists with a condition", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="exists"><filter><condition attribute="lastname" operator="in"><value>2</value><value>4</value></condition></filter></link-entity></entity></fetch>`, "name", "A2,A4"},
			{"generated alias", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/><filter><condition attribute="lastname" operator="eq" value="1"/></filter><link-entity name="account" from="accountid" to="parentcustomerid"><attribute name="accountnumber"/></link-entity></entity></fetch>`, "account1.accountnumber", "N-1"},
		} {
			rows := s.must(http.StatusOK, "GET", fetchURL(tableSet(tc.xml), tc.xml), nil).Value(t)
			if got := column(rows, tc.prop); got != tc.want {
				t.Errorf("%s: %s = %q, want %q", tc.name, tc.prop, got, tc.want)
			}
		}
	})
}

// tableSet is the entity set of the query's entity (account or contact).
func tableSet(xml string) string {
	if strings.Contains(xml, `<entity name="contact"`) {
		return "contacts"
	}
	return "accounts"
}

// TestFetchXMLRows: the shape of a row: @odata.etag, the primary key even
// when not asked for, lookups as _x_value with their annotations, linked
// columns as alias.column with theirs.
func TestFetchXMLRows(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		xml := `<fetch><entity name="contact"><attribute name="lastname"/><attribute name="parentcustomerid"/><filter><condition attribute="lastname" operator="eq" value="1"/></filter>` +
			`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"><attribute name="name"/><attribute name="primarycontactid"/></link-entity></entity></fetch>`
		rows := s.must(http.StatusOK, "GET", fetchURL("contacts", xml), nil, "Prefer", `odata.include-annotations="*"`).Value(t)
		if len(rows) != 1 {
			t.Fatalf("rows: %v", rows)
		}
		r := rows[0]
		if r["contactid"] != ids["Ann1"] || r["_parentcustomerid_value"] != ids["A1"] || r["@odata.etag"] == nil || r["lastname"] != "1" {
			t.Errorf("root columns: %v", r)
		}
		if r["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" || r["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] != "A1" {
			t.Errorf("root lookup annotations: %v", r)
		}
		if r["a.name"] != "A1" || r["a.primarycontactid"] != ids["Ann1"] || r["a.primarycontactid@OData.Community.Display.V1.FormattedValue"] != "Ann 1" {
			t.Errorf("linked columns: %v", r)
		}
		if _, ok := r["firstname"]; ok {
			t.Errorf("a column not asked for: %v", r)
		}
		// Null values are left out; an aliased column comes under its
		// alias, a lookup as a plain GUID; $count counts the rows.
		xml = `<fetch><entity name="account"><attribute name="telephone1"/><attribute name="name"/><attribute name="primarycontactid" alias="pc"/><order attribute="name"/></entity></fetch>`
		body := s.must(http.StatusOK, "GET", fetchURL("accounts", xml)+"&$count=true", nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
		rows = s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil, "Prefer", `odata.include-annotations="*"`).Value(t)
		if fmt.Sprint(body["@odata.count"]) != "5" || len(rows) != 5 {
			t.Errorf("$count: %v", body["@odata.count"])
		}
		// returntotalrecordcount is $count: @odata.count, and the
		// totalrecordcount annotations when Prefer asks for them.
		xml2 := `<fetch returntotalrecordcount="true" count="2"><entity name="account"><attribute name="name"/></entity></fetch>`
		plain := s.must(http.StatusOK, "GET", fetchURL("accounts", xml2), nil).JSON(t)
		if fmt.Sprint(plain["@odata.count"]) != "5" || plain["@Microsoft.Dynamics.CRM.totalrecordcount"] != nil {
			t.Errorf("returntotalrecordcount without Prefer: %v", plain)
		}
		annotated := s.must(http.StatusOK, "GET", fetchURL("accounts", xml2), nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
		if fmt.Sprint(annotated["@odata.count"]) != "5" || fmt.Sprint(annotated["@Microsoft.Dynamics.CRM.totalrecordcount"]) != "5" || annotated["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != false {
			t.Errorf("returntotalrecordcount with Prefer: %v", annotated)
		}
		if _, ok := rows[4]["telephone1"]; ok || rows[4]["name"] != "A5" {
			t.Errorf("A5 without a phone: %v", rows[4])
		}
		if rows[0]["pc"] != ids["Ann1"] || rows[0]["pc@OData.Community.Display.V1.AttributeName"] != "primarycontactid" || rows[0]["_primarycontactid_value"] != nil {
			t.Errorf("an aliased lookup: %v", rows[0])
		}
		if _, ok := rows[1]["pc"]; ok {
			t.Errorf("an aliased null: %v", rows[1])
		}
	})
}

// TestFetchXMLPaging: count and page, with the paging cookie Dataverse
// hands out and without it, reach every record once; morerecords says
// when to stop.
func TestFetchXMLPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		fetchSeed(t, s)
		page := func(n int, cookie string) ([]map[string]any, map[string]any) {
			attrs := fmt.Sprintf(`count="2" page="%d"`, n)
			if cookie != "" {
				attrs += ` paging-cookie="` + xmlEscape(cookie) + `"`
			}
			xml := `<fetch ` + attrs + `><entity name="account"><attribute name="name"/><order attribute="name"/></entity></fetch>`
			r := s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil, "Prefer", `odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords"`)
			return r.Value(t), r.JSON(t)
		}
		// With the cookie.
		var got []string
		cookie := ""
		for n := 1; n <= 4; n++ {
			rows, body := page(n, cookie)
			got = append(got, column(rows, "name"))
			more, _ := body["@Microsoft.Dynamics.CRM.morerecords"].(bool)
			if !more {
				if _, ok := body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]; ok {
					t.Errorf("page %d: a cookie on the last page", n)
				}
				break
			}
			outer, _ := body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
			if !strings.HasPrefix(outer, fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="`, n+1)) {
				t.Fatalf("page %d: cookie %q", n, outer)
			}
			cookie = pagingCookieOf(t, outer)
		}
		if strings.Join(got, "|") != "A1,A2|A3,A4|A5" {
			t.Errorf("pages with the cookie: %v", got)
		}
		// Without: simple paging.
		got = nil
		for n := 1; n <= 3; n++ {
			rows, _ := page(n, "")
			got = append(got, column(rows, "name"))
		}
		if strings.Join(got, "|") != "A1,A2|A3,A4|A5" {
			t.Errorf("simple paging: %v", got)
		}
		if rows, body := page(4, ""); len(rows) != 0 || body["@Microsoft.Dynamics.CRM.morerecords"] != nil {
			t.Errorf("past the last page: %v %v", rows, body)
		}
	})
}

// xmlEscape escapes text for an XML attribute.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// pagingCookieOf returns the inner cookie of a page's paging-cookie
// annotation, which the next page's fetch element takes.
func pagingCookieOf(t *testing.T, outer string) string {
	t.Helper()
	inner := outer[strings.Index(outer, `pagingcookie="`)+len(`pagingcookie="`):]
	inner = inner[:strings.Index(inner, `"`)]
	for range 2 { // Dataverse escapes the inner cookie twice
		var err error
		if inner, err = url.QueryUnescape(inner); err != nil {
			t.Fatal(err)
		}
	}
	return inner
}

// TestFetchXMLErrors: malformed FetchXML gets a 4xx with Dataverse's
// error body, never a 5xx.
func TestFetchXMLErrors(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for _, tc := range []struct {
			name, set, xml string
			status         int
			code           string
		}{
			{"not XML", "accounts", `<fetch><entity name="account">`, 400, "0x80040201"},
			{"not fetch", "accounts", `<query/>`, 400, "0x8004111c"},
			{"unknown entity", "accounts", `<fetch><entity name="nosuch"/></fetch>`, 400, "0x80041102"},
			{"other entity than the set", "accounts", `<fetch><entity name="contact"/></fetch>`, 400, "0x80041128"},
			{"unknown attribute", "accounts", `<fetch><entity name="account"><attribute name="nosuch"/></entity></fetch>`, 400, "0x80041103"},
			{"unknown operator", "accounts", `<fetch><entity name="account"><filter><condition attribute="name" operator="sounds-like" value="x"/></filter></entity></fetch>`, 400, "0x80041120"},
			{"bad number", "accounts", `<fetch><entity name="account"><filter><condition attribute="revenue" operator="gt" value="lots"/></filter></entity></fetch>`, 400, "0x80041108"},
			{"missing value", "accounts", `<fetch><entity name="account"><filter><condition attribute="name" operator="eq"/></filter></entity></fetch>`, 400, "0x80041120"},
			{"top with page", "accounts", `<fetch top="5" page="2"><entity name="account"/></fetch>`, 400, "0x8004111c"},
			{"a join on columns below a link", "accounts", `<fetch><entity name="account"><link-entity name="contact" from="contactid" to="primarycontactid"><link-entity name="account" from="name" to="lastname"/></link-entity></entity></fetch>`, 405, "0x8004023b"},
			{"doctype", "accounts", `<!DOCTYPE x [<!ENTITY a "b">]><fetch><entity name="account"/></fetch>`, 400, "0x80040201"},
			{"with $select", "accounts", `<fetch><entity name="account"/></fetch>&$select=name`, 400, "0x80060888"},
		} {
			path := fetchURL(tc.set, tc.xml)
			if strings.Contains(tc.xml, "&$select") {
				path = fetchURL(tc.set, strings.TrimSuffix(tc.xml, "&$select=name")) + "&$select=name"
			}
			r := s.do("GET", path, nil)
			code, msg := r.ErrorCode(t)
			if r.Status != tc.status || code != tc.code {
				t.Errorf("%s: %d %s %q, want %d %s", tc.name, r.Status, code, msg, tc.status, tc.code)
			}
		}
	})
}

// TestFetchXMLLinkedConditionsAndOrders: what names a link-entity from
// outside it: orders on its columns (after the entity's, or first with
// entityname), conditions with entityname applied after the join (the
// outer-join pattern of "accounts without contacts"), valueof of a linked
// column, link-entities inside filters with the filter link types any,
// not any, all and not all, and matchfirstrowusingcrossapply.
func TestFetchXMLLinkedConditionsAndOrders(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		for _, last := range []string{"Z", "B"} {
			s.create("contacts", map[string]any{"firstname": "Bob", "lastname": last, "parentcustomerid_account@odata.bind": "/accounts(" + ids["A1"] + ")"})
		}
		// Kid's customer is a contact, not an account.
		s.create("contacts", map[string]any{"firstname": "Kid", "lastname": "K", "parentcustomerid_contact@odata.bind": "/contacts(" + ids["Ann1"] + ")"})
		anns := `<filter><condition attribute="firstname" operator="eq" value="Ann"/></filter>`
		for _, tc := range []struct {
			name, xml, prop, want string
		}{
			{"a link's order comes after the entity's", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="firstname"/>` + anns +
				`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"><order attribute="revenue" descending="true"/></link-entity></entity></fetch>`, "lastname", "4,3,2,1"},
			{"…after all of the entity's", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` + anns +
				`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"><order attribute="revenue" descending="true"/></link-entity></entity></fetch>`, "lastname", "1,2,3,4"},
			{"entityname puts it first", `<fetch><entity name="contact"><attribute name="lastname"/><order entityname="a" attribute="revenue" descending="true"/><order attribute="lastname"/>` + anns +
				`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"/></entity></fetch>`, "lastname", "4,3,2,1"},
			{"a one-to-many link's order sorts its rows", `<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="name" operator="eq" value="A1"/></filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><attribute name="lastname"/><order attribute="lastname" descending="true"/></link-entity></entity></fetch>`, "c.lastname", "Z,B,1"},
			{"entityname condition on a many-to-one link", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` +
				`<filter><condition entityname="acc" attribute="revenue" operator="ge" value="300"/></filter><link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="acc"/></entity></fetch>`, "lastname", "3,4"},
			{"entityname in an or, by table name", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` +
				`<filter type="or"><condition entityname="account" attribute="name" operator="eq" value="A2"/><condition attribute="lastname" operator="eq" value="4"/></filter><link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer"/></entity></fetch>`, "lastname", "2,4"},
			{"null after an outer join whose filter fails", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` + `<filter><condition attribute="firstname" operator="eq" value="Ann"/><condition entityname="acc" attribute="accountid" operator="null"/></filter>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="acc"><filter><condition attribute="revenue" operator="ge" value="300"/></filter></link-entity></entity></fetch>`, "lastname", "1,2"},
			{"accounts without contacts: outer join, key null", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` +
				`<filter><condition entityname="c" attribute="contactid" operator="null"/></filter><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"/></entity></fetch>`, "name", "A5"},
			{"valueof a linked column", `<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="name" operator="ne" valueof="pc.fullname"/></filter>` +
				`<link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="pc"/></entity></fetch>`, "name", "A1"},
			{"any inside an or", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter type="or">` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="any"><filter><condition attribute="lastname" operator="eq" value="2"/></filter></link-entity>` +
				`<condition attribute="name" operator="eq" value="A5"/></filter></entity></fetch>`, "name", "A2,A5"},
			{"not any inside a filter", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="not any"><filter><condition attribute="lastname" operator="in"><value>1</value><value>2</value></condition></filter></link-entity>` +
				`</filter></entity></fetch>`, "name", "A3,A4,A5"},
			// filter-rows.md, with its SQL: all is "related rows exist and
			// none matches", not all is any.
			{"all: related rows, none matching", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="all"><filter><condition attribute="firstname" operator="eq" value="Bob"/></filter></link-entity>` +
				`</filter></entity></fetch>`, "name", "A2,A3,A4"},
			{"not all is any", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="not all"><filter><condition attribute="firstname" operator="eq" value="Bob"/></filter></link-entity>` +
				`</filter></entity></fetch>`, "name", "A1"},
			{"all of a many-to-one link", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/><filter>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="all"><filter><condition attribute="revenue" operator="ge" value="300"/></filter></link-entity>` +
				`</filter></entity></fetch>`, "lastname", "1,2,B,Z"},
			{"valueof with entityname, between two links", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` +
				`<filter><condition entityname="a" attribute="accountnumber" operator="eq" valueof="b.accountnumber"/></filter>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="a"/>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="b"><filter><condition attribute="revenue" operator="le" value="200"/></filter></link-entity></entity></fetch>`, "lastname", "1,2,B,Z"},
			{"entityname naming the entity itself", `<fetch><entity name="contact"><attribute name="lastname"/><filter><condition entityname="contact" attribute="lastname" operator="eq" value="2"/></filter></entity></fetch>`, "lastname", "2"},
			{"a customer lookup's link tests its table: a contact customer", `<fetch><entity name="contact"><attribute name="lastname"/>` +
				`<link-entity name="contact" from="contactid" to="parentcustomerid" alias="pc"/></entity></fetch>`, "lastname", "K"},
			{"…any account customer", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/><filter>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="any"/></filter></entity></fetch>`, "lastname", "1,2,3,4,B,Z"},
			{"…not any", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/><filter>` +
				`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="not any"/></filter></entity></fetch>`, "lastname", "K"},
			{"matchfirstrowusingcrossapply: one row per parent with a match, schema names", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="matchfirstrowusingcrossapply"><attribute name="lastname"/><order attribute="lastname"/></link-entity></entity></fetch>`, "LastName", "1,2,3,4"},
			{"the docs' records not in a set: entityname on the link's lookup", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` +
				`<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="contact"/><filter type="and"><condition entityname="contact" attribute="parentcustomerid" operator="null"/></filter></entity></fetch>`, "name", "A5"},
			{"from left out: the one relationship to fits", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` + anns +
				`<link-entity name="account" to="parentcustomerid" alias="a"><attribute name="accountnumber"/><filter><condition attribute="revenue" operator="le" value="200"/></filter></link-entity></entity></fetch>`, "a.accountnumber", "N-1,N-2"},
			{"a column with and without an alias", `<fetch><entity name="account"><attribute name="name"/><attribute name="name" alias="n2"/><order attribute="name"/><filter><condition attribute="name" operator="eq" value="A1"/></filter></entity></fetch>`, "name", "A1"},
			{"…both come back", `<fetch><entity name="account"><attribute name="name"/><attribute name="name" alias="n2"/><order attribute="name"/><filter><condition attribute="name" operator="eq" value="A1"/></filter></entity></fetch>`, "n2", "A1"},
			{"an attribute may share its link's alias (order-rows.md)", `<fetch><entity name="contact"><attribute name="lastname"/><order attribute="lastname"/>` + anns +
				`<link-entity name="account" from="accountid" to="parentcustomerid" alias="parentaccount"><attribute name="name" alias="parentaccount"/><filter><condition attribute="revenue" operator="ge" value="400"/></filter></link-entity></entity></fetch>`, "parentaccount", "A4"},
		} {
			rows := s.must(http.StatusOK, "GET", fetchURL(tableSet(tc.xml), tc.xml), nil).Value(t)
			if got := column(rows, tc.prop); got != tc.want {
				t.Errorf("%s: %s = %q, want %q", tc.name, tc.prop, got, tc.want)
			}
		}
		// A link's order pages with the cookie: every row once, in order.
		var got []string
		cookie := ""
		for page := 1; page < 10; page++ {
			xml := fmt.Sprintf(`<fetch count="2" page="%d" paging-cookie="%s"><entity name="contact"><attribute name="lastname"/>`+anns+
				`<link-entity name="account" from="accountid" to="parentcustomerid" alias="a"><order attribute="revenue" descending="true"/></link-entity></entity></fetch>`, page, xmlEscape(cookie))
			body := s.must(http.StatusOK, "GET", fetchURL("contacts", xml), nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
			for _, r := range body["value"].([]any) {
				got = append(got, fmt.Sprint(r.(map[string]any)["lastname"]))
			}
			c, _ := body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
			if c == "" {
				break
			}
			cookie = pagingCookieOf(t, c)
		}
		if strings.Join(got, ",") != "4,3,2,1" {
			t.Errorf("pages of a link's order: %v", got)
		}
		for _, tc := range []struct {
			name, xml string
			status    int
			code      string
		}{
			{"entityname of no link", `<fetch><entity name="account"><filter><condition entityname="x" attribute="name" operator="eq" value="A"/></filter></entity></fetch>`, 400, "0x80041102"},
			{"inner link inside a filter", `<fetch><entity name="account"><filter><link-entity name="contact" from="parentcustomerid" to="accountid"/></filter></entity></fetch>`, 400, "0x8004111c"},
			{"entityname of a one-to-many link", `<fetch><entity name="account"><filter><condition entityname="c" attribute="lastname" operator="eq" value="1"/></filter><link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"/></entity></fetch>`, 405, "0x8004023b"},
			{"fiscal operator", `<fetch><entity name="account"><filter><condition attribute="createdon" operator="this-fiscal-year"/></filter></entity></fetch>`, 405, "0x8004023b"},
		} {
			r := s.do("GET", fetchURL("accounts", tc.xml), nil)
			if code, msg := r.ErrorCode(t); r.Status != tc.status || code != tc.code {
				t.Errorf("%s: %d %s %q, want %d %s", tc.name, r.Status, code, msg, tc.status, tc.code)
			}
		}
	})
}

// TestHierarchyQueries: the hierarchy operators on account's
// parentaccountid, in FetchXML (under, eq-or-under, not-under, above,
// eq-or-above) and as the Web API's query functions.
func TestHierarchyQueries(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		for child, parent := range map[string]string{"A2": "A1", "A3": "A2", "A4": "A1"} {
			s.must(http.StatusNoContent, "PATCH", "accounts("+ids[child]+")", map[string]any{"parentaccountid@odata.bind": "/accounts(" + ids[parent] + ")"})
		}
		for _, tc := range []struct{ op, of, want string }{
			{"under", "A1", "A2,A3,A4"}, {"eq-or-under", "A2", "A2,A3"}, {"not-under", "A1", "A1,A5"},
			{"above", "A3", "A1,A2"}, {"eq-or-above", "A3", "A1,A2,A3"}, {"under", "A5", ""},
		} {
			xml := `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="accountid" operator="` + tc.op + `" value="{` + ids[tc.of] + `}"/></filter></entity></fetch>`
			if got := column(s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t), "name"); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.op, tc.of, got, tc.want)
			}
		}
		for _, tc := range []struct{ fn, of, want string }{
			{"Under", "A1", "A2,A3,A4"}, {"UnderOrEqual", "A2", "A2,A3"}, {"NotUnder", "A2", "A1,A2,A4,A5"}, {"Above", "A3", "A1,A2"}, {"AboveOrEqual", "A4", "A1,A4"},
		} {
			q := "accounts?$select=name&$orderby=name&$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM."+tc.fn+"(PropertyName='accountid',PropertyValue='"+ids[tc.of]+"')")
			if got := column(s.must(http.StatusOK, "GET", q, nil).Value(t), "name"); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.fn, tc.of, got, tc.want)
			}
		}
		// rowaggregate CountChildren: each row's children.
		xml := `<fetch><entity name="account"><attribute name="name"/><attribute name="accountid" rowaggregate="CountChildren" alias="kids"/><order attribute="name"/></entity></fetch>`
		if got := column(s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t), "kids"); got != "2,1,0,0,0" { // A1: A2 and A4; A2: A3
			t.Errorf("CountChildren: %q", got)
		}
		// A cycle ends: the walk is bounded.
		s.must(http.StatusNoContent, "PATCH", "accounts("+ids["A1"]+")", map[string]any{"parentaccountid@odata.bind": "/accounts(" + ids["A3"] + ")"})
		xml = `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="accountid" operator="under" value="` + ids["A1"] + `"/></filter></entity></fetch>`
		if got := column(s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t), "name"); got != "A1,A2,A3,A4" {
			t.Errorf("under in a cycle: %q", got)
		}
		for _, q := range []string{
			"accounts?$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM.Under(PropertyName='name',PropertyValue='"+ids["A1"]+"')"),
			"contacts?$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM.Under(PropertyName='contactid',PropertyValue='"+ids["A1"]+"')"),
			"accounts?$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='nope')"),
			fetchURL("contacts", `<fetch><entity name="contact"><filter><condition attribute="contactid" operator="under" value="`+ids["A1"]+`"/></filter></entity></fetch>`),
		} {
			if r := s.do("GET", q, nil); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d %s", q, r.Status, r.Body)
			}
		}
	})
}

// TestFetchXMLChoiceOrder: FetchXML sorts a choice by its labels unless
// useraworderby is set, and pages in that order with the cookie; the Web
// API's $orderby sorts by value (order-rows.md of both).
func TestFetchXMLChoiceOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for i, stage := range []int{100000000, 100000001, 100000002, 100000000} {
			s.create("new_orders", map[string]any{"new_name": fmt.Sprint("O", i), "new_ordernumber": fmt.Sprint("ORD-", i), "new_stage": stage})
		}
		q := func(attrs string) string {
			xml := `<fetch` + attrs + `><entity name="new_order"><attribute name="new_name"/><order attribute="new_stage"/><order attribute="new_name"/></entity></fetch>`
			return column(s.must(http.StatusOK, "GET", fetchURL("new_orders", xml), nil).Value(t), "new_name")
		}
		// Invoiced (O2), Received (O0, O3), Shipped (O1).
		if got := q(""); got != "O2,O0,O3,O1" {
			t.Errorf("by label: %s", got)
		}
		if got := q(` useraworderby="true"`); got != "O0,O3,O1,O2" {
			t.Errorf("useraworderby: %s", got)
		}
		if got := column(s.must(http.StatusOK, "GET", "new_orders?$select=new_name&$orderby=new_stage,new_name", nil).Value(t), "new_name"); got != "O0,O3,O1,O2" {
			t.Errorf("$orderby by value: %s", got)
		}
		var got []string
		cookie := ""
		for page := 1; page < 10; page++ {
			xml := fmt.Sprintf(`<fetch count="1" page="%d" paging-cookie="%s"><entity name="new_order"><attribute name="new_name"/><order attribute="new_stage" descending="true"/></entity></fetch>`, page, xmlEscape(cookie))
			body := s.must(http.StatusOK, "GET", fetchURL("new_orders", xml), nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
			for _, r := range body["value"].([]any) {
				got = append(got, fmt.Sprint(r.(map[string]any)["new_name"]))
			}
			c, _ := body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
			if c == "" {
				break
			}
			cookie = pagingCookieOf(t, c)
		}
		if g := strings.Join(got, ","); g != "O1,O0,O3,O2" && g != "O1,O3,O0,O2" {
			t.Errorf("pages by label, descending: %s", g)
		}
	})
}

// TestWildcardSets: the wildcard characters of text conditions
// (wildcard-characters.md): [set], [^set] and a wildcard in brackets for
// itself, in FetchXML and the Web API's functions, on both stores.
func TestWildcardSets(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		fetchSeed(t, s)
		s.create("accounts", map[string]any{"name": "100% Pure_Co"})
		s.create("accounts", map[string]any{"name": "Star*Fish?"})
		fx := func(op, value string) string {
			xml := `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="name" operator="` + op + `" value="` + value + `"/></filter></entity></fetch>`
			return column(s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t), "name")
		}
		api := func(filter string) string {
			return column(s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name&$filter="+url.QueryEscape(filter), nil).Value(t), "name")
		}
		for _, tc := range []struct{ name, got, want string }{
			{"like a set", fx("like", "a[1-2]"), "A1,A2"},
			{"like a negated set, any case", fx("like", "A[^1-3]"), "A4,A5"},
			{"a literal percent", fx("like", "%[%]%"), "100% Pure_Co"},
			{"a literal underscore", fx("like", "%[_]co"), "100% Pure_Co"},
			{"an underscore is a wildcard", fx("like", "a_"), "A1,A2,A3,A4,A5"},
			{"begins-with a set", fx("begins-with", "[1s]"), "100% Pure_Co,Star*Fish?"},
			{"GLOB's characters are literal", fx("like", "%*fish?"), "Star*Fish?"},
			{"not-like a set", fx("not-like", "[a1]%"), "Star*Fish?"},
			{"contains a bracketed percent", api("contains(name,'[%]')"), "100% Pure_Co"},
			{"startswith a set", api("startswith(name,'a[45]')"), "A4,A5"},
			{"Like with a set", api("Microsoft.Dynamics.CRM.Like(PropertyName='name',PropertyValue='%[*]%')"), "Star*Fish?"},
			{"a lone bracket is literal", api("contains(name,'[')"), ""},
			{"a reversed range matches nothing", api("contains(name,'[z-a]')"), ""},
			{"not ]: every name", api("startswith(name,'[^]]')"), "100% Pure_Co,A1,A2,A3,A4,A5,Star*Fish?"},
			{"[^] is literal", fx("like", "%[^]%"), ""},
			{"a set of one special character", api("contains(name,'[*]')"), "Star*Fish?"},
			{"regular expression characters in a set", api("contains(name,'[.$(|]')"), ""},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
			}
		}
	})
}

// TestFetchXMLColumnJoin: a link-entity whose from and to follow no
// relationship joins on the columns' values (join-tables.md, No
// relationship), text ignoring case.
func TestFetchXMLColumnJoin(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		fetchSeed(t, s)
		s.create("contacts", map[string]any{"lastname": "a1"})
		s.create("contacts", map[string]any{"lastname": "A3", "jobtitle": "Buyer"})
		link := func(typ, inner string) string {
			return `<link-entity name="contact" from="fullname" to="name" link-type="` + typ + `" alias="contact">` + inner + `</link-entity>`
		}
		q := func(xml string) []map[string]any {
			return s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t)
		}
		rows := q(`<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` + link("inner", `<attribute name="fullname"/>`) + `</entity></fetch>`)
		if got := column(rows, "name") + " " + column(rows, "contact.fullname"); got != "A1,A3 a1,A3" {
			t.Errorf("the docs' example, inner: %s", got)
		}
		rows = q(`<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` + link("outer", `<attribute name="jobtitle"/>`) + `</entity></fetch>`)
		if got := column(rows, "contact.jobtitle"); got != "<nil>,<nil>,Buyer,<nil>,<nil>" {
			t.Errorf("outer: %s", got)
		}
		rows = q(`<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><filter>` + link("not any", "") + `</filter></entity></fetch>`)
		if got := column(rows, "name"); got != "A2,A4,A5" {
			t.Errorf("not any: %s", got)
		}
		rows = q(`<fetch><entity name="account"><attribute name="accountnumber"/><order attribute="accountnumber"/>` + link("inner", `<attribute name="jobtitle"/><filter><condition attribute="jobtitle" operator="not-null"/></filter>`) + `</entity></fetch>`)
		if len(rows) != 1 || rows[0]["accountnumber"] != "N-3" || rows[0]["contact.jobtitle"] != "Buyer" {
			t.Errorf("the joined column read, not returned; the link's filter: %v", rows)
		}
		if _, ok := rows[0]["name"]; ok && len(rows) == 1 {
			t.Errorf("to came back unasked: %v", rows[0])
		}
		r := s.do("GET", fetchURL("accounts", `<fetch><entity name="account">`+`<link-entity name="contact" from="fullname" to="revenue"/></entity></fetch>`), nil)
		if code, _ := r.ErrorCode(t); r.Status != http.StatusBadRequest || code != "0x80041108" {
			t.Errorf("columns of two types: %d %s", r.Status, r.Body)
		}
	})
}

// TestFetchXMLLinkOrderNulls: pages ordered by a link's column reach every
// row once when the column is null (a record without the related one) at
// a page's end, ascending and descending, with and without the cookie.
func TestFetchXMLLinkOrderNulls(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := map[int]string{}
		for i := 1; i <= 3; i++ {
			acct[i] = s.create("accounts", map[string]any{"name": fmt.Sprint("Acc", i)})
		}
		for i := 1; i <= 7; i++ {
			body := map[string]any{"new_name": fmt.Sprint("O", i), "new_ordernumber": fmt.Sprint("ON-", i)}
			if i%3 != 0 {
				body["new_customer@odata.bind"] = "/accounts(" + acct[1+i%3] + ")"
			}
			s.create("new_orders", body)
		}
		for _, first := range []string{"new_stage", "new_name"} {
			for _, desc := range []string{"true", "false"} {
				for _, size := range []int{1, 2, 3} {
					all := func(cookies bool) []string {
						var got []string
						cookie := ""
						for page := 1; page < 20; page++ {
							attrs := fmt.Sprintf(`count="%d" page="%d"`, size, page)
							if cookies && cookie != "" {
								attrs += ` paging-cookie="` + xmlEscape(cookie) + `"`
							}
							xml := `<fetch ` + attrs + `><entity name="new_order"><attribute name="new_name"/><order attribute="` + first + `" descending="` + desc + `"/>` +
								`<link-entity name="account" from="accountid" to="new_customer" link-type="outer" alias="a"><attribute name="name"/><order attribute="name" descending="` + desc + `"/></link-entity></entity></fetch>`
							body := s.must(http.StatusOK, "GET", fetchURL("new_orders", xml), nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
							rows := body["value"].([]any)
							for _, r := range rows {
								got = append(got, fmt.Sprint(r.(map[string]any)["new_name"]))
							}
							more, _ := body["@Microsoft.Dynamics.CRM.morerecords"].(bool)
							if !more || len(rows) == 0 {
								break
							}
							c, _ := body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
							cookie = pagingCookieOf(t, c)
						}
						sort.Strings(got)
						return got
					}
					for _, cookies := range []bool{true, false} {
						if got := strings.Join(all(cookies), ","); got != "O1,O2,O3,O4,O5,O6,O7" {
							t.Errorf("by %s, descending %s, pages of %d, cookies %v: %s", first, desc, size, cookies, got)
						}
					}
				}
			}
		}
		// The same through $orderby and nextLink: a null sort key at a
		// page's end, descending, before another term.
		for _, size := range []int{1, 2, 3} {
			var got []string
			for _, page := range follow(t, s, "new_orders?$select=new_name&$orderby=new_stage%20desc,new_ordernumber%20desc", size, nil) {
				for _, r := range page {
					got = append(got, fmt.Sprint(r["new_name"]))
				}
			}
			if strings.Join(got, ",") != "O7,O6,O5,O4,O3,O2,O1" {
				t.Errorf("$orderby with a null descending key, pages of %d: %v", size, got)
			}
		}
	})
}
