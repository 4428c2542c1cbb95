package webapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// This file is a matrix of bad requests. Each one must get a 4xx with
// Dataverse's error body {"error":{"code":"0x…","message":"…"}}, never a
// 5xx, and must leave the data exactly as it was: no record created,
// changed or deleted.

// badCase is one bad request and the error Dataverse gives for it.
type badCase struct {
	name    string
	method  string
	path    string
	body    any // string: sent as is; nil: no body; other: sent as JSON
	headers []string
	status  int
	code    string // "" where Dataverse documents no code
	msg     string // a fragment of the message
}

// badDataSnapshot is what a bad request must not change: the number of
// records of each set and the full representation of some records.
type badDataSnapshot struct {
	counts  map[string]int
	records map[string]string
}

func (s *testServer) badSnapshot(records ...string) badDataSnapshot {
	s.tb.Helper()
	snap := badDataSnapshot{counts: map[string]int{}, records: map[string]string{}}
	for _, set := range []string{"accounts", "contacts", "new_orders"} {
		snap.counts[set] = s.count(set, "")
	}
	for _, path := range records {
		snap.records[path] = string(s.must(http.StatusOK, "GET", path, nil).Body)
	}
	return snap
}

func (d badDataSnapshot) diff(tb testing.TB, after badDataSnapshot) {
	tb.Helper()
	for set, n := range d.counts {
		if after.counts[set] != n {
			tb.Errorf("partial write: %s went from %d to %d records", set, n, after.counts[set])
		}
	}
	for path, body := range d.records {
		if after.records[path] != body {
			tb.Errorf("partial write: %s changed\nbefore: %s\nafter:  %s", path, body, after.records[path])
		}
	}
}

// withTB returns the server reporting to tb, so that a failed request
// stops the subtest that sent it rather than its parent.
func (s *testServer) withTB(tb testing.TB) *testServer {
	c := *s
	c.tb = tb
	return &c
}

// runBadCases sends each case and checks its error and that nothing was
// written.
func (s *testServer) runBadCases(t *testing.T, records []string, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.withTB(t)
			before := s.badSnapshot(records...)
			r := s.do(c.method, c.path, c.body, c.headers...)
			if r.Status >= 500 {
				return // s.do reported it
			}
			expectError(t, r, c.status, c.code, c.msg)
			if r.Status >= 400 && r.Status < 500 {
				checkDataverseErrorBody(t, r)
			}
			before.diff(t, s.badSnapshot(records...))
		})
	}
}

// checkDataverseErrorBody checks the shape of an error body: a hex code and a
// non-empty message.
func checkDataverseErrorBody(tb testing.TB, r *response) {
	tb.Helper()
	code, msg := r.ErrorCode(tb)
	if !strings.HasPrefix(code, "0x") || len(code) < 3 {
		tb.Errorf("error code %q is not a hex code", code)
	}
	if msg == "" {
		tb.Errorf("error message is empty: %s", r.Body)
	}
	// ODataLib names the position once: "... at position 7 in 'name eq'."
	if strings.Count(msg, " at position ") > 1 {
		tb.Errorf("error message gives its position more than once: %q", msg)
	}
}

// Codes Dataverse documents (docs/dataverse-webapi.md §6).
const (
	badCodeSegment  = "0x8006088a" // Resource not found for the segment
	badCodeNoProp   = "0x0"        // Could not find a property named ...
	badCodePayload  = "0x80048d19" // Error identified in Payload provided by the user
	badCodeRange    = "0x8004431a" // value outside the valid range
	badCodeLength   = "0x80044331" // length exceeded
	badCodeNotFound = "0x80040217" // ObjectDoesNotExist
	badCodeRequest  = "0x80060888" // malformed URL, key, option or filter
)

func badNoProperty(name, table string) string {
	return fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, table)
}

func badCannotConvert(literal, edm string) string {
	return fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal, edm)
}

func badq(s string) string { return urlEscape(s) }

func TestBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "Fixture", "accountnumber": "BAD-1", "revenue": 100, "numberofemployees": 5})
		s.create("accounts", map[string]any{"name": "Fixture 2", "accountnumber": "BAD-2"})
		s.create("accounts", map[string]any{"name": "Fixture 3", "accountnumber": "BAD-3"})
		con := s.create("contacts", map[string]any{"firstname": "Joe", "lastname": "Smith", "emailaddress1": "joe@example.com", "parentcustomerid_account@odata.bind": "/accounts(" + acct + ")"})
		ord := s.create("new_orders", map[string]any{"new_name": "O1", "new_ordernumber": "ORD-1", "new_quantity": 3, "new_customer@odata.bind": "/accounts(" + acct + ")"})
		acctURL, conURL, ordURL := "accounts("+acct+")", "contacts("+con+")", "new_orders("+ord+")"
		records := []string{acctURL, conURL, ordURL}
		missing := "00000000-0000-0000-0000-00000000abcd"

		t.Run("Routing", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"EntitySetWrongCase", "GET", "Account", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'Account'."},
				{"EntitySetWrongCaseWithKey", "GET", "Account(" + acct + ")", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'Account'."},
				{"PostWrongCaseSet", "POST", "Accounts", map[string]any{"name": "x"}, nil, 404, badCodeSegment, "Resource not found for the segment 'Accounts'."},
				{"PatchWrongCaseSet", "PATCH", "Accounts(" + missing + ")", map[string]any{"name": "x"}, nil, 404, badCodeSegment, "Resource not found for the segment 'Accounts'."},
				{"UnknownSet", "GET", "nosuchthings", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'nosuchthings'."},
				{"UnknownSegmentAfterKey", "GET", acctURL + "/nosuchproperty", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'nosuchproperty'."},
				{"PropertyWrongCaseAfterKey", "GET", acctURL + "/Name", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'Name'."},
				{"PatchUnknownSegmentAfterKey", "PATCH", acctURL + "/nosuchproperty", map[string]any{"name": "changed"}, nil, 404, badCodeSegment, "Resource not found for the segment 'nosuchproperty'."},
				{"PutUnknownSegmentAfterKey", "PUT", acctURL + "/nosuchproperty", map[string]any{"value": "changed"}, nil, 404, badCodeSegment, "Resource not found for the segment 'nosuchproperty'."},
				{"UnknownSegmentAfterCollection", "GET", "accounts/nosuch", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'nosuch'."},
			})
		})

		// Unclean paths are answered where they are sent: never a
		// redirect, which a client follows with a GET (net/http's ServeMux
		// answered them with a 301 and a POST became a read).
		t.Run("UncleanPath", func(t *testing.T) {
			root := strings.TrimSuffix(s.URL, "/api/data/v9.2/")
			empty := "The resource path has an empty segment."
			body := map[string]any{"name": "changed"}
			s.runBadCases(t, records, []badCase{
				{"DoubleSlashGet", "GET", "/accounts", nil, nil, 400, badCodeRequest, empty},
				{"DoubleSlashPost", "POST", "/accounts", body, nil, 400, badCodeRequest, empty},
				{"DoubleSlashPatch", "PATCH", "/" + acctURL, body, nil, 400, badCodeRequest, empty},
				{"DoubleSlashUpsert", "PATCH", "/accounts(accountnumber='NEW-SL')", body, nil, 400, badCodeRequest, empty},
				{"DoubleSlashDelete", "DELETE", "/" + acctURL, nil, nil, 400, badCodeRequest, empty},
				{"DoubleSlashInside", "PUT", acctURL + "//name", map[string]any{"value": "changed"}, nil, 400, badCodeRequest, empty},
				{"DoubleSlashServiceRoot", "GET", "/", nil, nil, 400, badCodeRequest, empty},
				{"DotSegment", "POST", "./accounts", body, nil, 404, badCodeSegment, "Resource not found for the segment '.'."},
				{"DotDotSegment", "DELETE", "../v9.2/" + acctURL, nil, nil, 404, badCodeSegment, "Resource not found for the segment '..'."},
				{"RootDoubleSlash", "POST", root + "//accounts", body, nil, 404, badCodeSegment, "No HTTP resource was found that matches the request URI"},
				{"RootDoubleSlashAPI", "POST", root + "//api/data/v9.2/accounts", body, nil, 404, badCodeSegment, "No HTTP resource was found"},
				{"DoubleSlashBeforeVersion", "PATCH", root + "/api/data//v9.2/" + acctURL, body, nil, 404, badCodeSegment, "No HTTP resource was found"},
				{"NoSlashAfterData", "GET", root + "/api/data", nil, nil, 404, badCodeSegment, "No HTTP resource was found"},
				{"HealthzPost", "POST", root + "/healthz", "{}", nil, 404, badCodeSegment, "No HTTP resource was found"},
			})
		})

		t.Run("UnknownProperty", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"Select", "GET", "accounts?$select=Name", nil, nil, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"SelectSecondItem", "GET", "accounts?$select=name,nosuch", nil, nil, 400, badCodeNoProp, badNoProperty("nosuch", "account")},
				{"SelectSingleRecord", "GET", acctURL + "?$select=Name", nil, nil, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"SelectLookupName", "GET", "accounts?$select=primarycontactid_value", nil, nil, 400, badCodeNoProp, badNoProperty("primarycontactid_value", "account")},
				{"Filter", "GET", "accounts?$filter=" + badq("Name eq 'x'"), nil, nil, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"FilterRelated", "GET", "accounts?$filter=" + badq("primarycontactid/Fullname eq 'x'"), nil, nil, 400, badCodeNoProp, badNoProperty("Fullname", "contact")},
				{"FilterUnknownNavigation", "GET", "accounts?$filter=" + badq("nosuchnav/fullname eq 'x'"), nil, nil, 400, badCodeNoProp, badNoProperty("nosuchnav", "account")},
				{"FilterCount", "GET", "accounts/$count?$filter=" + badq("Name eq 'x'"), nil, nil, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"OrderBy", "GET", "accounts?$orderby=Name", nil, nil, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"OrderBySecondItem", "GET", "accounts?$orderby=" + badq("name desc,Revenue asc"), nil, nil, 400, badCodeNoProp, badNoProperty("Revenue", "account")},
				{"Expand", "GET", "accounts?$expand=PrimaryContactId", nil, nil, 400, badCodeNoProp, badNoProperty("PrimaryContactId", "account")},
				{"ExpandNestedSelect", "GET", "accounts?$expand=" + badq("primarycontactid($select=Fullname)"), nil, nil, 400, badCodeNoProp, badNoProperty("Fullname", "contact")},
				{"ExpandNestedFilter", "GET", "accounts?$expand=" + badq("contact_customer_accounts($filter=Lastname eq 'x')"), nil, nil, 400, badCodeNoProp, badNoProperty("Lastname", "contact")},
				// With return=representation the $select is checked before
				// anything is written.
				{"CreateSelect", "POST", "accounts?$select=Name", map[string]any{"name": "not created"}, []string{"Prefer", "return=representation"}, 400, badCodeNoProp, badNoProperty("Name", "account")},
				{"CreateExpand", "POST", "accounts?$expand=Nope", map[string]any{"name": "not created"}, []string{"Prefer", "return=representation"}, 400, badCodeNoProp, badNoProperty("Nope", "account")},
				{"UpdateSelect", "PATCH", acctURL + "?$select=Name", map[string]any{"name": "changed"}, []string{"Prefer", "return=representation"}, 400, badCodeNoProp, badNoProperty("Name", "account")},
			})
		})

		t.Run("MalformedJSON", func(t *testing.T) {
			payload := "Error identified in Payload provided by the user for Entity :'accounts'"
			var cases []badCase
			bodies := []struct{ name, body string }{
				{"Truncated", `{"name":"x"`},
				{"TruncatedString", `{"name":"x`},
				{"TrailingGarbage", `{"name":"x"} junk`},
				{"TwoObjects", `{"name":"x"}{"name":"y"}`},
				{"Array", `[{"name":"x"}]`},
				{"String", `"x"`},
				{"Number", `5`},
				{"Null", `null`},
				{"Empty", ``},
				{"Whitespace", "  \r\n\t"},
				{"NonUTF8Value", "{\"name\":\"caf\xe9\"}"},
				{"NonUTF8Name", "{\"na\xffme\":\"x\"}"},
				{"SingleQuotes", `{'name':'x'}`},
				{"TrailingComma", `{"name":"x",}`},
				{"Comment", `{"name":"x" /* comment */}`},
				{"NaN", `{"numberofemployees":NaN}`},
				{"BareWord", `{"name":x}`},
				{"Deep", `{"name":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`},
			}
			for _, b := range bodies {
				cases = append(cases,
					badCase{"Create" + b.name, "POST", "accounts", b.body, nil, 400, badCodePayload, payload},
					badCase{"Update" + b.name, "PATCH", acctURL, b.body, nil, 400, badCodePayload, payload},
					badCase{"Upsert" + b.name, "PATCH", "accounts(accountnumber='NEW-1')", b.body, nil, 400, badCodePayload, payload})
			}
			cases = append(cases,
				badCase{"PutPropertyTruncated", "PUT", acctURL + "/name", `{"value":"x"`, nil, 400, badCodePayload, payload},
				badCase{"PutPropertyNoValue", "PUT", acctURL + "/name", `{"val":"x"}`, nil, 400, badCodePayload, payload},
				badCase{"PutPropertyExtraMember", "PUT", acctURL + "/name", `{"value":"x","other":1}`, nil, 400, badCodePayload, payload},
				badCase{"PutPropertyEmpty", "PUT", acctURL + "/name", ``, nil, 400, badCodePayload, payload},
				// [inferred] OData JSON does not allow a property twice in
				// an object; ODataLib rejects it rather than keeping one.
				badCase{"DuplicateProperty", "POST", "accounts", `{"name":"a","name":"b"}`, nil, 400, badCodePayload, "name"},
			)
			s.runBadCases(t, records, cases)
		})

		t.Run("UnknownColumn", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"Create", "POST", "accounts", map[string]any{"name": "x", "x": 1}, nil, 400, badCodePayload, "Invalid property 'x' was found in entity 'Microsoft.Dynamics.CRM.account'"},
				{"CreateWrongCase", "POST", "accounts", map[string]any{"Name": "x"}, nil, 400, badCodePayload, "Invalid property 'Name' was found in entity 'Microsoft.Dynamics.CRM.account'"},
				{"Update", "PATCH", acctURL, map[string]any{"name": "changed", "x": 1}, nil, 400, badCodePayload, "Invalid property 'x' was found in entity 'Microsoft.Dynamics.CRM.account'"},
				{"Upsert", "PATCH", "accounts(" + missing + ")", map[string]any{"name": "new", "x": 1}, nil, 400, badCodePayload, "Invalid property 'x' was found in entity 'Microsoft.Dynamics.CRM.account'"},
				{"DeepInsertChild", "POST", "accounts", map[string]any{"name": "x", "primarycontactid": map[string]any{"lastname": "y", "x": 1}}, nil, 400, badCodePayload, "Invalid property 'x' was found in entity 'Microsoft.Dynamics.CRM.contact'"},
				{"Contact", "POST", "contacts", map[string]any{"lastname": "y", "LastName": "z"}, nil, 400, badCodePayload, "Invalid property 'LastName' was found in entity 'Microsoft.Dynamics.CRM.contact'"},
			})
		})

		t.Run("LookupValueProperty", func(t *testing.T) {
			msg := "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead."
			s.runBadCases(t, records, []badCase{
				{"Create", "POST", "accounts", map[string]any{"name": "x", "_primarycontactid_value": con}, nil, 400, "", msg},
				{"Update", "PATCH", acctURL, map[string]any{"name": "changed", "_primarycontactid_value": con}, nil, 400, "", msg},
				{"UpdateNull", "PATCH", conURL, map[string]any{"_parentcustomerid_value": nil}, nil, 400, "", msg},
				{"Order", "POST", "new_orders", map[string]any{"new_name": "x", "_new_customer_value": acct}, nil, 400, "", msg},
				{"PutProperty", "PUT", acctURL + "/_primarycontactid_value", map[string]any{"value": con}, nil, 400, "", msg},
			})
		})

		t.Run("WrongJSONType", func(t *testing.T) {
			type tc struct {
				name, set, column string
				value             any
				msg               string
			}
			tcs := []tc{
				{"StringForInteger", "accounts", "numberofemployees", "5", badCannotConvert("5", "Edm.Int32")},
				{"FloatForInteger", "new_orders", "new_quantity", 1.5, badCannotConvert("1.5", "Edm.Int32")},
				{"BoolForInteger", "new_orders", "new_quantity", true, "to the expected type 'Edm.Int32'"},
				{"NumberForString", "accounts", "name", 5, badCannotConvert("5", "Edm.String")},
				{"BoolForString", "accounts", "name", false, "to the expected type 'Edm.String'"},
				{"ObjectForString", "accounts", "name", map[string]any{"a": 1}, "to the expected type 'Edm.String'"},
				{"ArrayForString", "accounts", "name", []any{"x"}, "to the expected type 'Edm.String'"},
				{"NumberForMemo", "accounts", "description", 1, badCannotConvert("1", "Edm.String")},
				{"BoolForMoney", "accounts", "revenue", true, "to the expected type 'Edm.Decimal'"},
				{"TextForMoney", "accounts", "revenue", "lots", badCannotConvert("lots", "Edm.Decimal")},
				{"FractionForDecimal", "new_orders", "new_unitprice", "1/2", badCannotConvert("1/2", "Edm.Decimal")},
				{"StringForDouble", "new_orders", "new_weight", "heavy", badCannotConvert("heavy", "Edm.Double")},
				{"StringForBigInt", "new_orders", "new_sequence", "many", badCannotConvert("many", "Edm.Int64")},
				{"FloatForBigInt", "new_orders", "new_sequence", 1.5, badCannotConvert("1.5", "Edm.Int64")},
				{"OverflowBigInt", "new_orders", "new_sequence", json9223372036854775808{}, badCannotConvert("9223372036854775808", "Edm.Int64")},
				{"StringForBoolean", "new_orders", "new_shipped", "true", badCannotConvert("true", "Edm.Boolean")},
				{"NumberForBoolean", "accounts", "creditonhold", 1, badCannotConvert("1", "Edm.Boolean")},
				{"StringForChoice", "new_orders", "new_stage", "Shipped", badCannotConvert("Shipped", "Edm.Int32")},
				{"BadDateTime", "new_orders", "new_orderdate", "yesterday", badCannotConvert("yesterday", "Edm.DateTimeOffset")},
				{"ImpossibleDate", "new_orders", "new_orderdate", "2023-02-30T00:00:00Z", badCannotConvert("2023-02-30T00:00:00Z", "Edm.DateTimeOffset")},
				{"NumberForDateTime", "new_orders", "new_orderdate", 20240101, badCannotConvert("20240101", "Edm.DateTimeOffset")},
				{"BadDateOnly", "contacts", "birthdate", "1990-13-01", badCannotConvert("1990-13-01", "Edm.Date")},
				{"BadGUID", "new_orders", "new_externalid", "not-a-guid", badCannotConvert("not-a-guid", "Edm.Guid")},
				{"NumberForGUID", "new_orders", "new_externalid", 42, badCannotConvert("42", "Edm.Guid")},
			}
			var cases []badCase
			for _, c := range tcs {
				body := map[string]any{c.column: c.value}
				cases = append(cases, badCase{"Create" + c.name, "POST", c.set, body, nil, 400, badCodePayload, c.msg})
			}
			// On an update the record keeps its values; a valid column
			// next to the bad one is not written either.
			cases = append(cases,
				badCase{"UpdateStringForInteger", "PATCH", acctURL, map[string]any{"name": "changed", "numberofemployees": "6"}, nil, 400, badCodePayload, badCannotConvert("6", "Edm.Int32")},
				badCase{"UpdateFloatForInteger", "PATCH", ordURL, map[string]any{"new_name": "changed", "new_quantity": 2.5}, nil, 400, badCodePayload, badCannotConvert("2.5", "Edm.Int32")},
				badCase{"UpdateBadGUID", "PATCH", ordURL, map[string]any{"new_name": "changed", "new_externalid": "{nope}"}, nil, 400, badCodePayload, "Edm.Guid"},
				badCase{"PutPropertyWrongType", "PUT", acctURL + "/numberofemployees", map[string]any{"value": "7"}, nil, 400, badCodePayload, badCannotConvert("7", "Edm.Int32")},
			)
			s.runBadCases(t, records, cases)
		})

		t.Run("ValueOutOfRange", func(t *testing.T) {
			long := strings.Repeat("x", 161)
			s.runBadCases(t, records, []badCase{
				{"IntegerAboveInt32", "POST", "accounts", `{"name":"x","numberofemployees":2147483648}`, nil, 400, "", "2147483648"},
				{"IntegerBelowInt32", "POST", "accounts", `{"name":"x","numberofemployees":-2147483649}`, nil, 400, "", "-2147483649"},
				{"UpdateIntegerAboveInt32", "PATCH", acctURL, `{"name":"changed","numberofemployees":99999999999}`, nil, 400, "", "99999999999"},
				{"Choice", "POST", "accounts", map[string]any{"name": "x", "accountcategorycode": 99}, nil, 400, badCodeRange, "outside the valid range"},
				{"ChoiceNegative", "POST", "new_orders", map[string]any{"new_name": "x", "new_stage": -1}, nil, 400, badCodeRange, "outside the valid range"},
				{"UpdateChoice", "PATCH", acctURL, map[string]any{"name": "changed", "accountcategorycode": 3}, nil, 400, badCodeRange, "outside the valid range"},
				{"PutChoice", "PUT", acctURL + "/accountcategorycode", map[string]any{"value": 3}, nil, 400, badCodeRange, "outside the valid range"},
				{"StringTooLong", "POST", "accounts", map[string]any{"name": long}, nil, 400, badCodeLength,
					"The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."},
				{"KeyTooLong", "POST", "accounts", map[string]any{"name": "x", "accountnumber": strings.Repeat("1", 21)}, nil, 400, badCodeLength,
					"The length of the 'accountnumber' attribute of the 'account' entity exceeded the maximum allowed length of '20'."},
				{"UpdateStringTooLong", "PATCH", acctURL, map[string]any{"name": long, "numberofemployees": 6}, nil, 400, badCodeLength,
					"The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."},
				{"UpsertStringTooLong", "PATCH", "accounts(accountnumber='NEW-2')", map[string]any{"name": long}, nil, 400, badCodeLength,
					"The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."},
				{"PutStringTooLong", "PUT", conURL + "/lastname", map[string]any{"value": strings.Repeat("y", 51)}, nil, 400, badCodeLength,
					"The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'."},
				{"DateBefore1753", "POST", "new_orders", map[string]any{"new_name": "x", "new_orderdate": "1700-01-01T00:00:00Z"}, nil, 400, "", "1700-01-01"},
			})
		})

		t.Run("KeySegment", func(t *testing.T) {
			syntax := "Bad Request - Error in query syntax"
			invalidKey := "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.account'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.account'."
			s.runBadCases(t, records, []badCase{
				{"NotAGUID", "GET", "accounts(not-a-guid)", nil, nil, 400, "", syntax},
				{"Braces", "GET", "accounts({" + acct + "})", nil, nil, 400, "", syntax},
				{"BracesEscaped", "GET", "accounts(%7B" + acct + "%7D)", nil, nil, 400, "", syntax},
				{"ShortGUID", "GET", "accounts(" + acct[:35] + ")", nil, nil, 400, "", syntax},
				{"Empty", "GET", "accounts()", nil, nil, 400, "", syntax},
				{"NumberKey", "GET", "accounts(42)", nil, nil, 400, "", syntax},
				{"NamedPrimaryKeyNotAGUID", "GET", "accounts(accountid=not-a-guid)", nil, nil, 400, "", syntax},
				{"Unbalanced", "GET", "accounts(" + acct, nil, nil, 400, "", syntax},
				{"UnterminatedKeyLiteral", "GET", "accounts(accountnumber='BAD-1)", nil, nil, 400, "", syntax},
				{"KeyNumberForString", "GET", "accounts(accountnumber=5)", nil, nil, 400, "", syntax},
				{"PatchNotAGUID", "PATCH", "accounts(not-a-guid)", map[string]any{"name": "new"}, nil, 400, "", syntax},
				{"PatchBraces", "PATCH", "accounts({" + missing + "})", map[string]any{"name": "new"}, nil, 400, "", syntax},
				{"DeleteBraces", "DELETE", "accounts({" + acct + "})", nil, nil, 400, "", syntax},
				{"NonKeyColumn", "GET", "accounts(name='Fixture')", nil, nil, 400, "", invalidKey},
				{"UnknownColumn", "GET", "accounts(nosuch='x')", nil, nil, 400, "", invalidKey},
				{"KeyPlusOtherColumn", "GET", "accounts(accountnumber='BAD-1',name='Fixture')", nil, nil, 400, "", invalidKey},
				{"RepeatedKeyColumn", "GET", "accounts(accountnumber='BAD-1',accountnumber='BAD-1')", nil, nil, 400, "", invalidKey},
				{"PartialCompositeKey", "GET", "contacts(firstname='Joe')", nil, nil, 400, "", "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.contact'."},
				{"PatchNonKeyColumn", "PATCH", "accounts(name='Fixture')", map[string]any{"name": "changed"}, nil, 400, "", invalidKey},
				{"DeleteNonKeyColumn", "DELETE", "accounts(name='Fixture')", nil, nil, 400, "", invalidKey},
				{"KeyOnSingleValuedNavigation", "GET", acctURL + "/primarycontactid(" + con + ")", nil, nil, 400, "", syntax},
			})
		})

		t.Run("FilterSyntax", func(t *testing.T) {
			deep := strings.Repeat("(", 200) + "name eq 'x'" + strings.Repeat(")", 200)
			deepNot := strings.Repeat("not ", 200) + "creditonhold"
			s.runBadCases(t, records, []badCase{
				// The example of docs/dataverse-webapi.md §1 (QFIL), word for word.
				{"UnterminatedLiteralDocExample", "GET", "contacts?$filter=" + badq("lastname eq 'O'Bryan'"), nil, nil, 400, "",
					"There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."},
				// The position is the end of the text, as in the example
				// (ODataLib reports where the lexer stopped).
				{"UnterminatedLiteral", "GET", "accounts?$filter=" + badq("name eq 'x"), nil, nil, 400, "", "There is an unterminated literal at position 10 in 'name eq 'x'."},
				{"UnknownFunction", "GET", "accounts?$filter=" + badq("foo(name,'x')"), nil, nil, 400, "", "An unknown function with name 'foo' was found."},
				{"UnknownQueryFunction", "GET", "accounts?$filter=" + badq("Microsoft.Dynamics.CRM.NoSuchFunction(PropertyName='name',PropertyValue='x')"), nil, nil, 400, "",
					"An unknown function with name 'Microsoft.Dynamics.CRM.NoSuchFunction' was found."},
				{"StringEqNumber", "GET", "accounts?$filter=" + badq("name eq 5"), nil, nil, 400, "",
					"A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
				{"MoneyEqString", "GET", "accounts?$filter=" + badq("revenue eq 'x'"), nil, nil, 400, "",
					"A binary operator with incompatible types was detected. Found operand types 'Edm.Decimal' and 'Edm.String' for operator kind 'Equal'."},
				{"IntegerGtString", "GET", "accounts?$filter=" + badq("numberofemployees gt 'x'"), nil, nil, 400, "",
					"Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'GreaterThan'."},
				{"ColumnsOfDifferentTypes", "GET", "accounts?$filter=" + badq("name eq revenue"), nil, nil, 400, "",
					"Found operand types 'Edm.String' and 'Edm.Decimal' for operator kind 'Equal'."},
				{"ContainsOnMoney", "GET", "accounts?$filter=" + badq("contains(revenue,'1')"), nil, nil, 400, "", "No function signature for the function with name 'contains'"},
				{"DateFunctionNullValue", "GET", "accounts?$filter=" + badq("Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue=null)"), nil, nil, 400, "", "Microsoft.Dynamics.CRM.On"},
				{"NotQueryFunction", "GET", "accounts?$filter=" + badq("not Microsoft.Dynamics.CRM.Null(PropertyName='name')"), nil, nil, 400, "",
					"Not operator along with the Custom Named Condition operators is not allowed"},
				{"MissingOperand", "GET", "accounts?$filter=" + badq("name eq"), nil, nil, 400, "", "name eq"},
				{"DanglingAnd", "GET", "accounts?$filter=" + badq("name eq 'x' and"), nil, nil, 400, "", "name eq 'x' and"},
				{"UnbalancedParen", "GET", "accounts?$filter=" + badq("(name eq 'x'"), nil, nil, 400, "", "(name eq 'x'"},
				{"NotBoolean", "GET", "accounts?$filter=name", nil, nil, 400, "", "boolean"},
				{"UnknownOperator", "GET", "accounts?$filter=" + badq("name like 'x'"), nil, nil, 400, "", "like"},
				{"DeeplyNested", "GET", "accounts?$filter=" + badq(deep), nil, nil, 400, "", "depth"},
				{"DeeplyNestedNot", "GET", "accounts?$filter=" + badq(deepNot), nil, nil, 400, "", "depth"},
				{"DeeplyNestedCount", "GET", "accounts/$count?$filter=" + badq(deep), nil, nil, 400, "", "depth"},
			})
		})

		t.Run("QueryOptions", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"Skip", "GET", "accounts?$skip=1", nil, nil, 400, "", "Skip Clause is not supported in CRM"},
				{"SkipWithTop", "GET", "accounts?$top=1&$skip=1", nil, nil, 400, "", "Skip Clause is not supported in CRM"},
				{"TopNegative", "GET", "accounts?$top=-1", nil, nil, 400, "", "Invalid value '-1' for $top query option found."},
				{"TopNotANumber", "GET", "accounts?$top=abc", nil, nil, 400, "", "Invalid value 'abc' for $top query option found."},
				{"TopOverflow", "GET", "accounts?$top=99999999999999999999", nil, nil, 400, "", "Invalid value '99999999999999999999' for $top"},
				{"UnknownOption", "GET", "accounts?$foo=1", nil, nil, 400, "", "The query parameter '$foo' is not supported."},
				{"OptionWrongCase", "GET", "accounts?$Select=name", nil, nil, 400, "", "The query parameter '$Select' is not supported."},
				{"Search", "GET", "accounts?$search=x", nil, nil, 400, "", "$search"},
				{"Format", "GET", "accounts?$format=json", nil, nil, 400, "", "$format"},
				{"DuplicateSelect", "GET", "accounts?$select=name&$select=name", nil, nil, 400, "",
					"Query option '$select' was specified more than once, but it must be specified at most once."},
				{"DuplicateTop", "GET", "accounts?$top=1&$top=2", nil, nil, 400, "",
					"Query option '$top' was specified more than once, but it must be specified at most once."},
				{"DuplicateFilterEscaped", "GET", "accounts?$filter=" + badq("name eq 'a'") + "&%24filter=" + badq("name eq 'b'"), nil, nil, 400, "",
					"Query option '$filter' was specified more than once"},
				{"CountNotBoolean", "GET", "accounts?$count=yes", nil, nil, 400, "", "'yes' is not a valid count option."},
				{"OrderByBadDirection", "GET", "accounts?$orderby=" + badq("name sideways"), nil, nil, 400, "", "sideways"},
				{"ExpandUnknownOption", "GET", "accounts?$expand=" + badq("primarycontactid($foo=1)"), nil, nil, 400, "", "$foo"},
				{"FilterOnSingleRecord", "GET", acctURL + "?$filter=" + badq("name eq 'x'"), nil, nil, 400, "", "$filter"},
				{"TopOnSingleRecord", "GET", acctURL + "?$top=1", nil, nil, 400, "", "$top"},
				{"FilterOnCreate", "POST", "accounts?$filter=" + badq("name eq 'x'"), map[string]any{"name": "x"}, nil, 400, "", "$select"},
				{"FilterOnUpdate", "PATCH", acctURL + "?$filter=" + badq("name eq 'x'"), map[string]any{"name": "changed"}, nil, 400, "", "$select"},
				{"SkipOnCreate", "POST", "accounts?$skip=1", map[string]any{"name": "x"}, nil, 400, "", "$select"},
				{"CountOnCreate", "POST", "accounts?$count=true", map[string]any{"name": "x"}, nil, 400, "", "$select"},
				{"ApplyOnCreate", "POST", "accounts?$apply=" + badq("groupby((name))"), map[string]any{"name": "x"}, nil, 400, "", "$select"},
				{"FetchXMLOnCreate", "POST", "accounts?fetchXml=" + badq("<fetch/>"), map[string]any{"name": "x"}, nil, 400, "", "$select"},
				{"SkipOnUpdate", "PATCH", acctURL + "?$skip=1", map[string]any{"name": "changed"}, nil, 400, "", "$select"},
				{"CountOnUpdate", "PATCH", acctURL + "?$count=true", map[string]any{"name": "changed"}, nil, 400, "", "$select"},
				{"DeltaTokenOnUpdate", "PATCH", acctURL + "?$deltatoken=1", map[string]any{"name": "changed"}, nil, 400, "", "$select"},
			})
		})

		t.Run("Methods", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"PatchCollection", "PATCH", "accounts", map[string]any{"name": "x"}, nil, 405, "", "does not support http method 'PATCH'"},
				{"DeleteCollection", "DELETE", "accounts", nil, nil, 405, "", "does not support http method 'DELETE'"},
				{"PutCollection", "PUT", "accounts", map[string]any{"name": "x"}, nil, 405, "", "does not support http method 'PUT'"},
				{"PostEntity", "POST", acctURL, map[string]any{"name": "x"}, nil, 405, "", "does not support http method 'POST'"},
				{"PostEntityByKey", "POST", "accounts(accountnumber='BAD-1')", map[string]any{"name": "x"}, nil, 405, "", "does not support http method 'POST'"},
				{"PutEntity", "PUT", acctURL, map[string]any{"name": "x"}, nil, 405, "", "does not support http method 'PUT'"},
				{"PostProperty", "POST", acctURL + "/name", map[string]any{"value": "x"}, nil, 405, "", "does not support http method 'POST'"},
				{"PatchProperty", "PATCH", acctURL + "/name", map[string]any{"value": "x"}, nil, 405, "", "does not support http method 'PATCH'"},
				{"DeleteCount", "DELETE", "accounts/$count", nil, nil, 405, "", "does not support http method 'DELETE'"},
				{"PostMetadata", "POST", "$metadata", "{}", nil, 405, "", "does not support http method 'POST'"},
				{"PostServiceDocument", "POST", "", "{}", nil, 405, "", "does not support http method 'POST'"},
				{"PostWhoAmI", "POST", "WhoAmI", "{}", nil, 404, "", "No HTTP resource was found that matches the request URI"},
				{"PostWhoAmIParens", "POST", "WhoAmI()", "{}", nil, 404, "", "No HTTP resource was found that matches the request URI"},
				{"PatchWhoAmI", "PATCH", "WhoAmI", "{}", nil, 404, "", "No HTTP resource was found that matches the request URI"},
				{"WhoAmIUnknownParameter", "GET", "WhoAmI(x=1)", nil, nil, 400, badCodeRequest, "The function 'WhoAmI' does not have a parameter named 'x'."},
				{"WhoAmIUnnamedParameter", "GET", "WhoAmI('x')", nil, nil, 400, badCodeRequest, "does not take parameters"},
				{"WhoAmIPath", "GET", "WhoAmI/UserId", nil, nil, 404, badCodeSegment, "No HTTP resource was found"},
			})
		})

		t.Run("Headers", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"IfMatchGarbagePatch", "PATCH", acctURL, map[string]any{"name": "changed"}, []string{"If-Match", "garbage"}, 400, "", "If-Match"},
				{"IfMatchUnquotedPatch", "PATCH", acctURL, map[string]any{"name": "changed"}, []string{"If-Match", "12345"}, 400, "", "If-Match"},
				{"IfMatchGarbageUpsert", "PATCH", "accounts(" + missing + ")", map[string]any{"name": "new"}, []string{"If-Match", `W/"abc"`}, 400, "", "If-Match"},
				{"IfMatchGarbageDelete", "DELETE", acctURL, nil, []string{"If-Match", "garbage"}, 400, "", "If-Match"},
				{"IfMatchGarbagePut", "PUT", acctURL + "/name", map[string]any{"value": "changed"}, []string{"If-Match", "garbage"}, 400, "", "If-Match"},
				{"IfNoneMatchGarbagePatch", "PATCH", "accounts(" + missing + ")", map[string]any{"name": "new"}, []string{"If-None-Match", "garbage"}, 400, "", "If-None-Match"},
				{"IfMatchAndIfNoneMatch", "PATCH", acctURL, map[string]any{"name": "changed"}, []string{"If-Match", "*", "If-None-Match", "*"}, 400, "", "If-None-Match"},
			})
		})

		t.Run("Bind", func(t *testing.T) {
			s.runBadCases(t, records, []badCase{
				{"WrongTable", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/accounts(" + acct + ")"}, nil, 400, "", "cannot be bound"},
				{"WrongTableByKey", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/accounts(accountnumber='BAD-1')"}, nil, 400, "", "cannot be bound"},
				{"WrongTablePolymorphic", "POST", "contacts", map[string]any{"lastname": "x", "parentcustomerid_account@odata.bind": "/contacts(" + con + ")"}, nil, 400, "", "cannot be bound"},
				{"WrongTableCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts@odata.bind": []any{"/accounts(" + acct + ")"}}, nil, 400, "", "cannot be bound"},
				{"WrongTableUpdate", "PATCH", ordURL, map[string]any{"new_name": "changed", "new_customer@odata.bind": "/contacts(" + con + ")"}, nil, 400, "", "cannot be bound"},
				{"NumberValue", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": 5}, nil, 400, badCodePayload, "primarycontactid@odata.bind"},
				{"BoolValue", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": true}, nil, 400, badCodePayload, "primarycontactid@odata.bind"},
				{"ObjectValue", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": map[string]any{"@odata.id": "/contacts(" + con + ")"}}, nil, 400, badCodePayload, "primarycontactid@odata.bind"},
				{"ArrayForSingleValued", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": []any{"/contacts(" + con + ")"}}, nil, 400, badCodePayload, "primarycontactid@odata.bind"},
				{"StringForCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts@odata.bind": "/contacts(" + con + ")"}, nil, 400, badCodePayload, "contact_customer_accounts@odata.bind"},
				{"NumberInCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts@odata.bind": []any{5}}, nil, 400, badCodePayload, "contact_customer_accounts@odata.bind"},
				{"NumberValueUpdate", "PATCH", ordURL, map[string]any{"new_name": "changed", "new_customer@odata.bind": 5}, nil, 400, badCodePayload, "new_customer@odata.bind"},
				{"UndeclaredNavigation", "POST", "accounts", map[string]any{"name": "x", "nosuch@odata.bind": "/contacts(" + con + ")"}, nil, 400, badCodePayload, "An undeclared property 'nosuch'"},
				{"BadURL", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/contacts(not-a-guid)"}, nil, 400, "", ""},
				{"URLWithProperty", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/contacts(" + con + ")/fullname"}, nil, 400, "", "is not a valid entity reference URL"},
				{"CollectionURL", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/contacts"}, nil, 400, "", "is not a valid entity reference URL"},
				{"EmptyURL", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": ""}, nil, 400, "", "is not a valid entity reference URL"},
				{"BoundTwice", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/contacts(" + con + ")", "primarycontactid": map[string]any{"lastname": "y"}}, nil, 400, "", "more than once"},
				{"MissingRecord", "POST", "accounts", map[string]any{"name": "x", "primarycontactid@odata.bind": "/contacts(" + missing + ")"}, nil, 404, badCodeNotFound, "contact With Id = " + missing + " Does Not Exist"},
				{"MissingRecordUpdate", "PATCH", acctURL, map[string]any{"name": "changed", "primarycontactid@odata.bind": "/contacts(" + missing + ")"}, nil, 404, badCodeNotFound, "Does Not Exist"},
			})
		})

		t.Run("DeepInsert", func(t *testing.T) {
			// parentaccountid nested 20 levels: beyond the deep insert limit.
			nested := map[string]any{"name": "leaf"}
			for i := range 20 {
				nested = map[string]any{"name": fmt.Sprint("level ", i), "parentaccountid": nested}
			}
			wide := map[string]any{"name": "kids"}
			kids := []any{}
			for range 3 {
				kids = append(kids, map[string]any{"lastname": "ok"})
			}
			kids = append(kids, map[string]any{"lastname": strings.Repeat("z", 51)})
			wide["contact_customer_accounts"] = kids
			s.runBadCases(t, records, []badCase{
				{"TooDeep", "POST", "accounts", nested, nil, 400, badCodePayload, "nested"},
				{"TooDeepUpdate", "PATCH", acctURL, map[string]any{"name": "changed", "parentaccountid": nested}, nil, 400, badCodePayload, "nested"},
				{"StringForSingleValued", "POST", "accounts", map[string]any{"name": "x", "primarycontactid": "Joe"}, nil, 400, badCodePayload, "primarycontactid"},
				{"ArrayForSingleValued", "POST", "accounts", map[string]any{"name": "x", "primarycontactid": []any{map[string]any{"lastname": "y"}}}, nil, 400, badCodePayload, "primarycontactid"},
				{"ObjectForCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts": map[string]any{"lastname": "y"}}, nil, 400, badCodePayload, "contact_customer_accounts"},
				{"NumberInCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts": []any{5}}, nil, 400, badCodePayload, "contact_customer_accounts"},
				{"LastChildInvalid", "POST", "accounts", wide, nil, 400, badCodeLength, "The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'."},
				{"WrongTypeInChild", "POST", "contacts", map[string]any{"lastname": "x", "parentcustomerid_account": map[string]any{"name": "p", "numberofemployees": "many"}}, nil, 400, badCodePayload, badCannotConvert("many", "Edm.Int32")},
				{"ODataTypeMismatch", "POST", "accounts", map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.contact", "name": "x"}, nil, 400, badCodePayload, "Microsoft.Dynamics.CRM.contact"},
			})
		})

		t.Run("SkipToken", func(t *testing.T) {
			s := s.withTB(t)
			r := s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name", nil, "Prefer", "odata.maxpagesize=1")
			next := str(r.JSON(t), "@odata.nextLink")
			u, err := url.Parse(next)
			if err != nil || next == "" {
				t.Fatalf("nextLink %q: %v", next, err)
			}
			token := u.Query().Get("$skiptoken")
			if !strings.Contains(token, "pagingcookie") {
				t.Fatalf("$skiptoken %q has no paging cookie", token)
			}
			// The token must work unchanged before its edits can fail.
			s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name&$skiptoken="+url.QueryEscape(token), nil, "Prefer", "odata.maxpagesize=1")
			i := strings.Index(token, "pagingcookie=\"") + len("pagingcookie=\"")
			j := strings.Index(token[i:], "\"") + i
			cookie, err := url.PathUnescape(token[i:j])
			if err != nil {
				t.Fatal(err)
			}
			withCookie := func(c string) string { return token[:i] + url.PathEscape(c) + token[j:] }
			guidStart := strings.LastIndex(cookie, `last="{`) + len(`last="{`)
			edits := map[string]string{
				"Garbage":         "garbage",
				"Empty":           "",
				"Truncated":       token[:len(token)/2],
				"PageNumberOne":   strings.Replace(token, `pagenumber="2"`, `pagenumber="1"`, 1),
				"PageNumberText":  strings.Replace(token, `pagenumber="2"`, `pagenumber="two"`, 1),
				"CookieNotXML":    withCookie("<cookie page=\"1\"><name last=\"x\""),
				"CookieGUIDBroke": withCookie(cookie[:guidStart] + "NOT-A-GUID" + cookie[guidStart+36:]),
				"CookieWrongRoot": withCookie(strings.Replace(strings.Replace(cookie, "<cookie", "<biscuit", 1), "</cookie>", "</biscuit>", 1)),
				"CookieNoColumn":  withCookie(strings.Replace(cookie, "<name ", "<nosuch ", 1)),
			}
			var cases []badCase
			for name, tok := range edits {
				cases = append(cases, badCase{name, "GET", "accounts?$select=name&$orderby=name&$skiptoken=" + url.QueryEscape(tok), nil,
					[]string{"Prefer", "odata.maxpagesize=1"}, 400, "", "$skiptoken"})
			}
			// A token is only valid for the query that issued it.
			cases = append(cases,
				badCase{"OtherOrderBy", "GET", "accounts?$select=name&$orderby=revenue&$skiptoken=" + url.QueryEscape(token), nil,
					[]string{"Prefer", "odata.maxpagesize=1"}, 400, "", "$skiptoken"},
				badCase{"OtherTable", "GET", "contacts?$orderby=lastname&$skiptoken=" + url.QueryEscape(token), nil,
					[]string{"Prefer", "odata.maxpagesize=1"}, 400, "", "$skiptoken"},
				badCase{"SingleRecord", "GET", acctURL + "?$skiptoken=" + url.QueryEscape(token), nil, nil, 400, "", "$skiptoken"},
			)
			s.runBadCases(t, records, cases)
		})

		// NUL and invalid UTF-8 decoded from a URL, in keys, $filter
		// literals, aliases, tokens and bind URLs, are refused before the
		// store sees them: PostgreSQL rejects NUL in text (SQLSTATE 22021,
		// a 500) and SQLite's C strings end at it (contains(name,'%00')
		// matched every row).
		t.Run("NULAndInvalidUTF8", func(t *testing.T) {
			msg := "contains a NUL character or invalid UTF-8"
			bindMsg := "is not a valid entity reference URL"
			s.runBadCases(t, records, []badCase{
				{"KeyNUL", "GET", "accounts(accountnumber='BAD-1%00')", nil, nil, 400, badCodeRequest, msg},
				{"KeyNULMiddle", "GET", "accounts(accountnumber='a%00b')", nil, nil, 400, badCodeRequest, msg},
				{"KeyInvalidUTF8", "GET", "accounts(accountnumber='x%FFy')", nil, nil, 400, badCodeRequest, msg},
				{"KeyOverlongUTF8", "GET", "accounts(accountnumber='%C0%AF')", nil, nil, 400, badCodeRequest, msg},
				{"CompositeKeyNUL", "GET", "contacts(firstname='Joe%00',emailaddress1='joe@example.com')", nil, nil, 400, badCodeRequest, msg},
				{"UpsertKeyNUL", "PATCH", "accounts(accountnumber='NEW%00')", map[string]any{"name": "x"}, nil, 400, badCodeRequest, msg},
				{"UpsertKeyInvalidUTF8", "PATCH", "accounts(accountnumber='NEW%FF')", map[string]any{"name": "x"}, nil, 400, badCodeRequest, msg},
				{"DeleteKeyNUL", "DELETE", "accounts(accountnumber='BAD-1%00')", nil, nil, 400, badCodeRequest, msg},
				{"PutPropertyKeyNUL", "PUT", "accounts(accountnumber='BAD-1%00')/name", map[string]any{"value": "x"}, nil, 400, badCodeRequest, msg},
				{"SegmentNUL", "GET", "acc%00ounts", nil, nil, 400, badCodeRequest, msg},
				{"FilterContainsNUL", "GET", "accounts?$filter=contains(name,%27%00%27)", nil, nil, 400, badCodeRequest, msg},
				{"FilterEqNUL", "GET", "accounts?$filter=" + badq("name eq 'Fixture") + "%00'", nil, nil, 400, badCodeRequest, msg},
				{"FilterInvalidUTF8", "GET", "accounts?$filter=" + badq("name eq 'x") + "%FF'", nil, nil, 400, badCodeRequest, msg},
				{"FilterCountNUL", "GET", "accounts/$count?$filter=contains(name,%27%00%27)", nil, nil, 400, badCodeRequest, msg},
				{"FilterJSONEscapeNUL", "GET", "accounts?$filter=" + badq(`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["\u0000"])`), nil, nil, 400, badCodeRequest, msg},
				{"FilterRelatedNUL", "GET", "accounts?$filter=" + badq("primarycontactid/fullname eq '") + "%00'", nil, nil, 400, badCodeRequest, msg},
				{"AliasNUL", "GET", "accounts?$filter=" + badq("name eq @p1") + "&@p1=%27%00%27", nil, nil, 400, badCodeRequest, msg},
				{"KeyAliasNUL", "GET", "accounts(accountnumber=@k)?@k=%27BAD-1%00%27", nil, nil, 400, badCodeRequest, msg},
				{"SkipTokenNUL", "GET", "accounts?$skiptoken=%00", nil, []string{"Prefer", "odata.maxpagesize=1"}, 400, badCodeRequest, msg},
				{"ExpandFilterNUL", "GET", "accounts?$expand=" + badq("contact_customer_accounts($filter=lastname eq '") + "%00')", nil, nil, 400, badCodeRequest, msg},
				{"BindNUL", "POST", "accounts", map[string]any{"name": "x", "parentaccountid@odata.bind": "/accounts(accountnumber='x%00')"}, nil, 400, badCodeRequest, bindMsg},
				{"BindRawNUL", "POST", "accounts", map[string]any{"name": "x", "parentaccountid@odata.bind": "/accounts(accountnumber='x\u0000')"}, nil, 400, badCodeRequest, bindMsg},
				{"BindInvalidUTF8", "POST", "accounts", map[string]any{"name": "x", "parentaccountid@odata.bind": "/accounts(accountnumber='x%FFy')"}, nil, 400, badCodeRequest, bindMsg},
				{"BindUpdateNUL", "PATCH", acctURL, map[string]any{"name": "changed", "parentaccountid@odata.bind": "accounts(accountnumber='BAD-2%00')"}, nil, 400, badCodeRequest, bindMsg},
				{"BindCollectionNUL", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts@odata.bind": []any{"/contacts(firstname='Joe%00',emailaddress1='joe@example.com')"}}, nil, 400, badCodeRequest, bindMsg},
				{"BindDeepInsertNUL", "POST", "contacts", map[string]any{"lastname": "x", "parentcustomerid_account": map[string]any{"name": "p", "parentaccountid@odata.bind": "/accounts(accountnumber='%00')"}}, nil, 400, badCodeRequest, bindMsg},
				{"RefNUL", "PUT", acctURL + "/primarycontactid/$ref", map[string]any{"@odata.id": "contacts(firstname='Joe%00',emailaddress1='joe@example.com')"}, nil, 400, badCodeRequest, bindMsg},
			})
		})

		// compose-http-requests-handle-errors.md: a JSON body must come
		// with Content-Type: application/json.
		t.Run("ContentType", func(t *testing.T) {
			unsupported := "is not supported for this resource"
			noType := "The request contains an entity body but no Content-Type header."
			ct := func(v string) []string { return []string{"Content-Type", v} }
			body := map[string]any{"name": "changed"}
			s.runBadCases(t, records, []badCase{
				{"CreateTextPlain", "POST", "accounts", body, ct("text/plain"), 415, badCodePayload, "The request entity's media type 'text/plain' is not supported for this resource."},
				{"CreateTextPlainUTF8", "POST", "accounts", body, ct("text/plain; charset=utf-8"), 415, badCodePayload, "'text/plain'"},
				{"CreateGarbage", "POST", "accounts", body, ct("garbage"), 415, badCodePayload, "The request entity's media type 'garbage' is not supported for this resource."},
				{"CreateXML", "POST", "accounts", "<account><name>x</name></account>", ct("application/xml"), 415, badCodePayload, unsupported},
				{"CreateForm", "POST", "accounts", "name=x", ct("application/x-www-form-urlencoded"), 415, badCodePayload, unsupported},
				{"CreateLatin1", "POST", "accounts", body, ct("application/json; charset=iso-8859-1"), 415, badCodePayload, "charset 'iso-8859-1'"},
				{"CreateNoContentType", "POST", "accounts", body, ct(""), 415, badCodePayload, noType},
				{"UpdateTextPlain", "PATCH", acctURL, body, ct("text/plain"), 415, badCodePayload, unsupported},
				{"UpdateNoContentType", "PATCH", acctURL, body, ct(""), 415, badCodePayload, noType},
				{"UpsertTextPlain", "PATCH", "accounts(accountnumber='NEW-CT')", body, ct("text/plain"), 415, badCodePayload, unsupported},
				{"UpsertNoContentType", "PATCH", "accounts(" + missing + ")", body, ct(""), 415, badCodePayload, noType},
				{"PutPropertyTextPlain", "PUT", acctURL + "/name", map[string]any{"value": "changed"}, ct("text/plain"), 415, badCodePayload, unsupported},
				{"SetReferenceTextPlain", "PUT", acctURL + "/primarycontactid/$ref", map[string]any{"@odata.id": conURL}, ct("text/plain"), 415, badCodePayload, unsupported},
				{"AddReferenceNoContentType", "POST", acctURL + "/contact_customer_accounts/$ref", map[string]any{"@odata.id": conURL}, ct(""), 415, badCodePayload, noType},
				{"CreateRelatedTextPlain", "POST", acctURL + "/contact_customer_accounts", map[string]any{"lastname": "x"}, ct("text/plain"), 415, badCodePayload, unsupported},
				{"CreateMultipleTextPlain", "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
					map[string]any{"Targets": []any{map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "x"}}}, ct("text/plain"), 415, badCodePayload, unsupported},
			})
		})

		// Metadata errors carry the message and code ODataLib gives for
		// the type in question; 0x0 only where Dataverse documents it.
		t.Run("Metadata", func(t *testing.T) {
			const account = "EntityDefinitions(LogicalName='account')"
			noProp := func(name, typ string) string {
				return fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, typ)
			}
			notRelated := "is neither a base type nor a sub-type of the previously-specified type"
			s.runBadCases(t, records, []badCase{
				{"UnknownCastType", "GET", account + "/Attributes/Microsoft.Dynamics.CRM.NoSuchMetadata", nil, nil, 404, badCodeSegment, "Resource not found for the segment 'Microsoft.Dynamics.CRM.NoSuchMetadata'."},
				{"UnknownCastTypeKeys", "GET", account + "/Keys/Microsoft.Dynamics.CRM.NoSuchMetadata", nil, nil, 404, badCodeSegment, "Microsoft.Dynamics.CRM.NoSuchMetadata"},
				{"UnknownCastTypeSingle", "GET", account + "/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.NoSuchMetadata", nil, nil, 404, badCodeSegment, "Microsoft.Dynamics.CRM.NoSuchMetadata"},
				{"CastToEntityType", "GET", account + "/Attributes/Microsoft.Dynamics.CRM.account", nil, nil, 404, badCodeSegment, "Microsoft.Dynamics.CRM.account"},
				{"CastAttributesToKey", "GET", account + "/Attributes/Microsoft.Dynamics.CRM.EntityKeyMetadata", nil, nil, 400, badCodeRequest, notRelated},
				{"CastKeysToAttribute", "GET", account + "/Keys/Microsoft.Dynamics.CRM.StringAttributeMetadata", nil, nil, 400, badCodeRequest, notRelated},
				{"CastRelationshipsToEntity", "GET", account + "/ManyToOneRelationships/Microsoft.Dynamics.CRM.EntityMetadata", nil, nil, 400, badCodeRequest, notRelated},
				{"SelectUnknownOnAttribute", "GET", account + "/Attributes(LogicalName='name')?$select=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "AttributeMetadata")},
				{"SelectUnknownOnCastAttribute", "GET", account + "/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "StringAttributeMetadata")},
				{"SelectDerivedPropertyWithoutCast", "GET", account + "/Attributes?$select=MaxLength", nil, nil, 400, badCodeNoProp, noProp("MaxLength", "AttributeMetadata")},
				{"SelectUnknownOnEntity", "GET", account + "?$select=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "EntityMetadata")},
				{"SelectUnknownOnEntities", "GET", "EntityDefinitions?$select=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "EntityMetadata")},
				{"SelectUnknownOnKey", "GET", account + "/Keys?$select=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "EntityKeyMetadata")},
				{"ExpandUnknown", "GET", account + "?$expand=NoSuch", nil, nil, 400, badCodeNoProp, noProp("NoSuch", "EntityMetadata")},
				{"ExpandSelectUnknown", "GET", account + "?$expand=" + badq("Attributes($select=NoSuch)"), nil, nil, 400, badCodeNoProp, noProp("NoSuch", "AttributeMetadata")},
				{"FilterUnknown", "GET", account + "/Attributes?$filter=" + badq("NoSuch eq 'x'"), nil, nil, 400, badCodeNoProp, noProp("NoSuch", "AttributeMetadata")},
				{"FilterUnknownOnRelationship", "GET", account + "/OneToManyRelationships?$filter=" + badq("NoSuch eq 'x'"), nil, nil, 400, badCodeNoProp, noProp("NoSuch", "OneToManyRelationshipMetadata")},
			})
		})

		t.Run("Limits", func(t *testing.T) {
			t.Run("BodyTooLarge", func(t *testing.T) {
				s := s.withTB(t)
				old := s.Server.MaxBodyBytes
				s.Server.MaxBodyBytes = 1024
				defer func() { s.Server.MaxBodyBytes = old }()
				big := map[string]any{"name": "x", "description": strings.Repeat("d", 4096)}
				s.runBadCases(t, records, []badCase{
					{"Create", "POST", "accounts", big, nil, 413, "", "limit"},
					{"Update", "PATCH", acctURL, big, nil, 413, "", "limit"},
					{"Upsert", "PATCH", "accounts(accountnumber='NEW-3')", big, nil, 413, "", "limit"},
					{"PutProperty", "PUT", acctURL + "/description", map[string]any{"value": strings.Repeat("d", 4096)}, nil, 413, "", "limit"},
				})
				// A chunked body gives no Content-Length: the limit applies
				// while reading.
				t.Run("Chunked", func(t *testing.T) {
					s := s.withTB(t)
					before := s.badSnapshot(records...)
					data := `{"name":"x","description":"` + strings.Repeat("d", 4096) + `"}`
					req, err := http.NewRequest("POST", s.URL+"accounts", io.MultiReader(strings.NewReader(data)))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					resp, err := s.client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if req.ContentLength != 0 {
						t.Fatalf("request was not chunked")
					}
					r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
					expectError(t, r, 413, "", "limit")
					before.diff(t, s.badSnapshot(records...))
				})
			})
			t.Run("URLTooLong", func(t *testing.T) {
				s := s.withTB(t)
				filter := "name eq '" + strings.Repeat("a", 33*1024) + "'"
				s.runBadCases(t, records, []badCase{
					{"Default", "GET", "accounts?$filter=" + badq(filter), nil, nil, 414, "", "too long"},
					{"DefaultPatch", "PATCH", "accounts(accountnumber='" + strings.Repeat("b", 33*1024) + "')", map[string]any{"name": "x"}, nil, 414, "", "too long"},
				})
				old := s.Server.MaxURLLength
				s.Server.MaxURLLength = 2048
				defer func() { s.Server.MaxURLLength = old }()
				s.runBadCases(t, records, []badCase{
					{"Configured", "GET", "accounts?$filter=" + badq("name eq '"+strings.Repeat("a", 4096)+"'"), nil, nil, 414, "", "too long"},
				})
			})
		})
	})
}

// json9223372036854775808 marshals as a number one above the largest Int64.
type json9223372036854775808 struct{}

func (json9223372036854775808) MarshalJSON() ([]byte, error) {
	return []byte("9223372036854775808"), nil
}
