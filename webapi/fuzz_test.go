package webapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testhttp"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/webapi"
)

// Fuzz targets drive the real Web API handler in-process. Their common
// properties: no input gets a 5xx, every 4xx carries Dataverse's error
// body, and a request that fails writes nothing.
//
//	go test ./webapi -run '^$' -fuzz FuzzCreateBody -fuzztime 30s

// Fixed ids, so that seeds naming records mean the same in every fuzz
// worker.
const (
	fuzzAccount  = "11111111-1111-4111-8111-111111111111"
	fuzzAccount2 = "22222222-2222-4222-8222-222222222222"
	fuzzContact  = "33333333-3333-4333-8333-333333333333"
	fuzzOrder    = "44444444-4444-4444-8444-444444444444"
	fuzzBase     = "http://example.com/api/data/v9.2/"
)

// fuzzServer is a server with fixture records, called without a network.
type fuzzServer struct {
	handler http.Handler
	store   eventual.Store
	schema  *eventual.Schema
	logs    *lockedBuffer
}

// lockedBuffer collects the server's log, to explain a 5xx.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fuzzStoreEnv selects the store the fuzz targets run on: "sqlite" (the
// default) or "postgres" (EVENTUAL_TEST_POSTGRES names the server). CI runs
// the seed corpus on both and fuzzes on SQLite.
const fuzzStoreEnv = "EVENTUAL_FUZZ_STORE"

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	schema := metadata.Builtin()
	var db eventual.Store
	switch kind := os.Getenv(fuzzStoreEnv); kind {
	case "", "sqlite":
		var err error
		if db, err = sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), schema, sqlite.Options{}); err != nil {
			f.Fatalf("open sqlite: %v", err)
		}
	case "postgres":
		db = teststore.Postgres.Open(f, schema)
	default:
		f.Fatalf("%s=%q: want sqlite or postgres", fuzzStoreEnv, kind)
	}
	f.Cleanup(func() {
		if err := db.Close(); err != nil {
			f.Errorf("close store: %v", err)
		}
	})
	in := instance.New(db, schema)
	srv := webapi.NewServer(in, in.Schema, db.Meta())
	logs := &lockedBuffer{}
	srv.Logger = slog.New(slog.NewTextHandler(logs, nil))
	fs := &fuzzServer{handler: srv.Handler(), store: db, schema: schema, logs: logs}
	fixtures := []struct{ path, body string }{
		{"accounts(" + fuzzAccount + ")", `{"name":"Fuzz Account","accountnumber":"FZ-1","revenue":1000,"numberofemployees":10,"accountcategorycode":1,"creditonhold":false,"description":"first"}`},
		{"accounts(" + fuzzAccount2 + ")", `{"name":"Second Account","accountnumber":"FZ-2","parentaccountid@odata.bind":"/accounts(` + fuzzAccount + `)"}`},
		{"contacts(" + fuzzContact + ")", `{"firstname":"Joe","lastname":"Smith","emailaddress1":"abc@example.com","birthdate":"1980-05-06","parentcustomerid_account@odata.bind":"/accounts(` + fuzzAccount + `)"}`},
		{"new_orders(" + fuzzOrder + ")", `{"new_name":"Order 1","new_ordernumber":"FZO-1","new_customer@odata.bind":"/accounts(` + fuzzAccount + `)","new_amount":12.5,"new_quantity":7,"new_unitprice":"0.1234","new_weight":1.5,"new_sequence":"9007199254740993","new_orderdate":"2024-02-29T13:14:15Z","new_shipped":true,"new_externalid":"55555555-5555-4555-8555-555555555555","new_notes":"multi\nline","new_stage":100000001}`},
	}
	for _, fx := range fixtures {
		if rec := fs.serve(f, "PATCH", fx.path, []byte(fx.body)); rec.Code != http.StatusNoContent {
			f.Fatalf("fixture %s: %d %s", fx.path, rec.Code, rec.Body)
		}
	}
	if rec := fs.serve(f, "PATCH", "accounts("+fuzzAccount+")", []byte(`{"primarycontactid@odata.bind":"/contacts(`+fuzzContact+`)"}`)); rec.Code != http.StatusNoContent {
		f.Fatalf("fixture primary contact: %d %s", rec.Code, rec.Body)
	}
	return fs
}

// serve sends a request to the handler. path is relative to the service
// root and must be a valid request target.
func (fs *fuzzServer) serve(tb testing.TB, method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, fuzzBase+path, bytes.NewReader(body))
	contentType := "application/json; charset=utf-8"
	if body == nil {
		contentType = ""
	}
	testhttp.SetODataHeaders(req, contentType)
	testhttp.SetPairs(req.Header, headers...)
	return fs.serveRequest(tb, req)
}

// serveRequest runs the handler. A panic fails the test with its stack
// (net/http would recover it and drop the connection, which the client
// sees as a failed request), so that the other tests still run.
func (fs *fuzzServer) serveRequest(tb testing.TB, req *http.Request) (rec *httptest.ResponseRecorder) {
	tb.Helper()
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			tb.Fatalf("%s %s: handler panicked: %v\n%s", req.Method, req.URL, p, debug.Stack())
		}
	}()
	fs.handler.ServeHTTP(rec, req)
	return rec
}

// counts returns the number of records of every table, read from the
// store (the Web API's $count stops at 5000).
func (fs *fuzzServer) counts(tb testing.TB) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	ctx := context.Background()
	err := fs.store.View(ctx, func(tx eventual.ReadTx) error {
		for _, name := range []string{"account", "contact", "new_order"} {
			n, err := tx.Count(ctx, fs.schema.Table(name), nil, math.MaxInt32)
			if err != nil {
				return err
			}
			out[name] = n
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("count: %v", err)
	}
	return out
}

func sameCounts(a, b map[string]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// checkFuzzError checks that a 4xx has Dataverse's error body:
// {"error":{"code":"0x…","message":"…"}}.
func checkFuzzError(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %q", what, rec.Code, ct, rec.Body)
	}
	var body struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil || body.Error.Code == nil || body.Error.Message == nil {
		t.Fatalf("%s: %d body is not a Dataverse error body (%v): %q", what, rec.Code, err, rec.Body)
	}
	if code := *body.Error.Code; len(code) < 3 || !strings.HasPrefix(code, "0x") {
		t.Fatalf("%s: error code %q is not a hex code: %q", what, code, rec.Body)
	}
	if *body.Error.Message == "" {
		t.Fatalf("%s: empty error message: %q", what, rec.Body)
	}
}

// checkFuzzHeaders checks that every response header is a valid field
// value: a NUL or control character that reached a header (an
// OData-EntityId echoing a key) breaks the client's connection instead of
// giving it an answer.
func checkFuzzHeaders(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	for k, vs := range rec.Header() {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
					t.Fatalf("%s: header %s has control character %#x: %q", what, k, c, v)
				}
			}
		}
	}
}

// notImplemented reports a deliberate 501 of a feature the server does
// not have yet ($batch, change tracking), with a Dataverse error body.
func notImplemented(rec *httptest.ResponseRecorder) bool {
	return rec.Code == http.StatusNotImplemented && strings.Contains(rec.Body.String(), "is not implemented by this server yet")
}

func FuzzCreateBody(f *testing.F) {
	fs := newFuzzServer(f)
	sets := []string{"accounts", "contacts", "new_orders"}
	seeds := []struct {
		set  uint8
		body string
	}{
		{0, `{"name":"Sample Account","creditonhold":false,"revenue":5000000,"accountcategorycode":1}`},
		{0, `{"name":"Keyed","accountnumber":"FZ-1"}`}, // duplicate key
		{0, `{"accountid":"` + fuzzAccount + `","name":"Duplicate id"}`},
		{0, `{"name":"Bound","primarycontactid@odata.bind":"/contacts(` + fuzzContact + `)","parentaccountid@odata.bind":"accounts(accountnumber='FZ-2')"}`},
		{0, `{"name":"Deep","primarycontactid":{"firstname":"Pat","lastname":"Primary"},"contact_customer_accounts":[{"lastname":"One"},{"lastname":"Two","contact_customer_contacts":[{"lastname":"Grandchild"}]}]}`},
		{0, `{"name":"Deep fails","contact_customer_accounts":[{"lastname":"ok"},{"lastname":"` + strings.Repeat("x", 51) + `"}]}`},
		{0, `{"name":"Bind missing","primarycontactid@odata.bind":"/contacts(00000000-0000-0000-0000-000000000001)"}`},
		{0, `{"name":"x","_primarycontactid_value":"` + fuzzContact + `"}`},
		{0, `{"name":"x","Name":"y"}`},
		{0, `{"name":5}`},
		{0, `{"numberofemployees":2147483648}`},
		{0, `{"accountcategorycode":99}`},
		{0, `{"revenue":"1e400"}`},
		{0, `{"revenue":-922337203685477.5808}`},
		{0, `{"name":"x"`},
		{0, `[{"name":"x"}]`},
		{0, ``},
		{0, "{\"name\":\"caf\xe9\"}"},
		{0, `{"@odata.type":"#Microsoft.Dynamics.CRM.account","name":"typed","name@OData.Community.Display.V1.FormattedValue":"ignored"}`},
		{1, `{"firstname":"Joe","lastname":"Smith","emailaddress1":"abc@example.com","parentcustomerid_account@odata.bind":"/accounts(` + fuzzAccount + `)"}`},
		{1, `{"lastname":"X","parentcustomerid@odata.bind":"/accounts(` + fuzzAccount + `)"}`},
		{1, `{"lastname":"X","parentcustomerid_contact@odata.bind":"/contacts(firstname='Joe',emailaddress1='abc@example.com')"}`},
		{1, `{"lastname":"X","birthdate":"2024-02-30"}`},
		{1, `{"lastname":"X","parentcustomerid_account":{"name":"Deep parent","accountnumber":"FZ-1"}}`},
		{2, `{"new_name":"Order","new_ordernumber":"FZO-2","new_customer@odata.bind":"/accounts(` + fuzzAccount + `)","new_amount":12.3456,"new_quantity":7,"new_unitprice":"0.12345","new_weight":1.5,"new_sequence":"9007199254740993","new_orderdate":"2024-02-29T13:14:15+01:00","new_shipped":true,"new_externalid":"66666666-6666-4666-8666-666666666666","new_notes":"multi\nline","new_stage":100000001}`},
		{2, `{"new_quantity":1.5,"new_weight":"heavy","new_sequence":9223372036854775808}`},
		{2, `{"new_orderdate":"1700-01-01T00:00:00Z"}`},
		{2, `{"new_weight":1e308,"new_unitprice":1e30}`},
		{2, `{"new_externalid":"{66666666-6666-4666-8666-666666666666}"}`},
		{2, `{"new_customer":{"name":"Deep customer"},"new_stage":100000000}`},
		// NUL and invalid UTF-8 on every string path of a body: values,
		// property and annotation names, bind URLs (escaped and raw, by
		// key and by id, single and collection), deep inserts, and the
		// strings that carry dates, decimals, Int64 and GUIDs.
		{0, `{"name":"a\u0000b"}`},
		{0, "{\"name\":\"x\xffy\"}"},
		{0, `{"na\u0000me":"x"}`},
		{0, "{\"na\xffme\":\"x\"}"},
		{0, `{"name":"x","name@OData.Community.Display.V1.FormattedValue\u0000":"y"}`},
		{0, `{"@odata.type":"#Microsoft.Dynamics.CRM.account\u0000","name":"x"}`},
		{0, `{"name":"x","parentaccountid@odata.bind":"/accounts(accountnumber='FZ-1%00')"}`},
		{0, `{"name":"x","parentaccountid@odata.bind":"/accounts(accountnumber='FZ-1\u0000')"}`},
		{0, `{"name":"x","parentaccountid@odata.bind":"/accounts(accountnumber='x%FFy')"}`},
		{0, "{\"name\":\"x\",\"parentaccountid@odata.bind\":\"/accounts(accountnumber='\xff')\"}"},
		{0, `{"name":"x","primarycontactid@odata.bind":"/contacts(%00)"}`},
		{0, `{"name":"x","primarycontactid@odata.bind":"/contacts(firstname='Joe%00',emailaddress1='abc@example.com')"}`},
		{0, `{"name":"x","pa\u0000rentaccountid@odata.bind":"/accounts(` + fuzzAccount + `)"}`},
		{0, `{"name":"x","contact_customer_accounts@odata.bind":["/contacts(firstname='Joe%00',emailaddress1='abc@example.com')"]}`},
		{0, `{"name":"x","primarycontactid":{"lastname":"\u0000","parentcustomerid_account@odata.bind":"/accounts(accountnumber='%00')"}}`},
		{0, `{"name":"x","contact_customer_accounts":[{"lastname":"ok"},{"lastname":"a\u0000"}]}`},
		{0, `{"name":"x","revenue":"1\u0000"}`},
		{1, `{"lastname":"X","birthdate":"1980-05-06\u0000"}`},
		{1, `{"lastname":"X","parentcustomerid_contact@odata.bind":"/contacts(firstname='Joe',emailaddress1='abc%40example.com%00')"}`},
		{2, `{"new_name":"\u0000","new_ordernumber":"FZO-\u0000","new_unitprice":"0.1\u0000","new_sequence":"9\u0000"}`},
		{2, `{"new_name":"x","new_externalid":"55555555-5555-4555-8555-55555555555\u0000","new_orderdate":"2024-02-29T13:14:15Z\u0000"}`},
		{2, `{"new_name":"x","new_customer@odata.bind":"/accounts(accountnumber='FZ-1%FF')"}`},
	}
	for _, s := range seeds {
		f.Add(s.set, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		set := sets[int(which)%len(sets)]
		fs.logs.Reset()
		before := fs.counts(t)
		rec := fs.serve(t, "POST", set, body)
		after := fs.counts(t)
		what := "POST " + set + " " + string(body)
		checkFuzzHeaders(t, rec, what)
		switch {
		case rec.Code == http.StatusNoContent:
			if !strings.HasPrefix(rec.Header().Get("OData-EntityId"), fuzzBase+set+"(") {
				t.Fatalf("%s: 204 with OData-EntityId %q", what, rec.Header().Get("OData-EntityId"))
			}
			// The new record can be read at the URL given.
			if got := fs.serve(t, "GET", strings.TrimPrefix(rec.Header().Get("OData-EntityId"), fuzzBase), nil); got.Code != http.StatusOK {
				t.Fatalf("%s: created record cannot be read: %d %s", what, got.Code, got.Body)
			}
			table := map[string]string{"accounts": "account", "contacts": "contact", "new_orders": "new_order"}[set]
			if after[table] <= before[table] {
				t.Fatalf("%s: 204 but %s count went from %d to %d", what, table, before[table], after[table])
			}
			for k, v := range before {
				if after[k] < v {
					t.Fatalf("%s: a create removed %s records (%d to %d)", what, k, v, after[k])
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			checkFuzzError(t, rec, what)
			if !sameCounts(before, after) {
				t.Fatalf("%s: %d but records were written: %v → %v\n%s", what, rec.Code, before, after, rec.Body)
			}
		default:
			t.Fatalf("%s: status %d, want 204 or 4xx: %s\nlog: %s", what, rec.Code, rec.Body, fs.logs.String())
		}
	})
}

func FuzzRequestURL(f *testing.F) {
	fs := newFuzzServer(f)
	// A real paging token, so that mutations of one are tried.
	rec := fs.serve(f, "GET", "accounts?$select=name&$orderby=name", nil, "Prefer", "odata.maxpagesize=1")
	var page struct {
		NextLink string `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || !strings.HasPrefix(page.NextLink, fuzzBase) {
		f.Fatalf("no nextLink: %d %s", rec.Code, rec.Body)
	}
	seeds := []string{
		"",
		"$metadata",
		"WhoAmI()",
		"WhoAmI",
		"EntityDefinitions",
		"EntityDefinitions(LogicalName='account')",
		"accounts",
		"Account",
		"accounts/$count",
		"accounts?$select=name,revenue&$orderby=name%20desc&$top=1",
		"accounts?$select=name&$filter=contains(name,'fuzz')%20and%20revenue%20gt%20100&$count=true",
		"accounts?$filter=name%20eq%20'O''Bryan'%20or%20(numberofemployees%20ge%205%20and%20not%20creditonhold)",
		"accounts?$filter=primarycontactid/fullname%20eq%20'Joe%20Smith'",
		"accounts?$filter=contact_customer_accounts/any(c:c/lastname%20eq%20'Smith')",
		"accounts?$filter=contact_customer_accounts/all(c:startswith(c/firstname,'J'))",
		"accounts?$filter=_primarycontactid_value%20eq%20" + fuzzContact,
		"accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[%22Fuzz%20Account%22,%22x%22])",
		"accounts?$filter=Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[%225%22,%2220%22])",
		"accounts?$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
		"contacts?$apply=" + url.QueryEscape("groupby((parentcustomerid_account/name,jobtitle),aggregate($count as n))"),
		"accounts?$apply=" + url.QueryEscape("filter(revenue gt 1)/groupby((creditonhold,_primarycontactid_value),aggregate(revenue with sum as total,revenue with average as a,$count as n))") + "&$orderby=creditonhold%20desc&$top=3",
		"accounts?fetchXml=" + url.QueryEscape(`<fetch aggregate="true" aggregatelimit="10"><entity name="account"><attribute name="createdon" groupby="true" dategrouping="week" alias="w"/><attribute name="revenue" aggregate="avg" alias="a"/><attribute name="name" aggregate="countcolumn" distinct="true" alias="d"/><order alias="a" descending="true"/></entity></fetch>`),
		"accounts?fetchXml=" + url.QueryEscape(`<fetch count="1" page="2"><entity name="account"><attribute name="name"/><order attribute="name"/><filter type="or"><condition attribute="revenue" operator="gt" value="100"/><condition attribute="createdon" operator="last-x-days" value="3"/></filter></entity></fetch>`),
		"accounts?fetchXml=" + url.QueryEscape(`<fetch distinct="true"><entity name="account"><attribute name="name"/><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"><attribute name="lastname"/><filter><condition attribute="lastname" operator="like" value="%a%"/></filter></link-entity><link-entity name="contact" from="contactid" to="primarycontactid" alias="p"><all-attributes/></link-entity></entity></fetch>`),
		"contacts?fetchXml=" + url.QueryEscape(`<fetch count="2"><entity name="contact"><attribute name="fullname"/><order entityname="a" attribute="revenue"/><filter type="or"><condition entityname="a" attribute="name" operator="null"/><condition attribute="fullname" operator="eq" valueof="a.name"/><link-entity name="account" from="primarycontactid" to="contactid" link-type="all"><filter><condition attribute="accountid" operator="under" value="`+fuzzContact+`"/></filter></link-entity></filter><link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="a"><order attribute="name" descending="true"/></link-entity></entity></fetch>`),
		"accounts?fetchXml=" + url.QueryEscape(`<fetch><entity name="account"><attribute name="accountnumber"/><link-entity name="contact" from="fullname" to="name" link-type="matchfirstrowusingcrossapply" alias="c"><attribute name="jobtitle"/><filter><condition attribute="lastname" operator="like" value="[a-c]%"/></filter></link-entity><filter type="or"><link-entity name="contact" from="emailaddress1" to="telephone1" link-type="not any"/><condition attribute="accountcategorycode" operator="eq" value="1"/></filter><order attribute="accountcategorycode"/></entity></fetch>`),
		"accounts?$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM.NotUnder(PropertyName='accountid',PropertyValue='"+fuzzContact+"') or Microsoft.Dynamics.CRM.AboveOrEqual(PropertyName='accountid',PropertyValue='"+fuzzContact+"')"),
		"contacts?fetchXml=" + url.QueryEscape(`<fetch count="2" page="2" paging-cookie="&lt;cookie page=&quot;1&quot;&gt;&lt;contactid last=&quot;{`+fuzzContact+`}&quot; first=&quot;{`+fuzzContact+`}&quot; /&gt;&lt;/cookie&gt;" returntotalrecordcount="true"><entity name="contact"><attribute name="fullname"/><attribute name="parentcustomerid" alias="pc"/></entity></fetch>`) + "&$count=true",
		"accounts?$filter=Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-01')",
		"new_orders?$filter=Microsoft.Dynamics.CRM.OnOrAfter(PropertyName='new_orderdate',PropertyValue=2024-01-01)",
		"accounts?$filter=Microsoft.Dynamics.CRM.On(PropertyName=@p1,PropertyValue=@p2)&@p1='createdon'&@p2=2024-01-01",
		"accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='name'&@p2=[%22a%22,%22b%22]",
		"accounts?$filter=@p1%20eq%20name&@p1='Fuzz%20Account'",
		"accounts?$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$orderby=fullname;$top=2;$filter=lastname%20ne%20null)",
		"accounts?$expand=primarycontactid/$ref",
		"accounts?$expand=parentaccountid($expand=primarycontactid($select=fullname))",
		"accounts?$top=0&$count=true",
		"accounts?$skip=1",
		"accounts?$select=Name",
		"accounts?$filter=name%20eq%20'x",
		strings.TrimPrefix(page.NextLink, fuzzBase),
		"accounts(" + fuzzAccount + ")",
		"accounts(" + fuzzAccount + ")?$select=name,revenue&$expand=primarycontactid($select=fullname)",
		"accounts(accountid=" + fuzzAccount + ")",
		"accounts(accountnumber='FZ-1')",
		"accounts(accountnumber=%27FZ-1%27)/name",
		"accounts(" + fuzzAccount + ")/name/$value",
		"accounts(" + fuzzAccount + ")/revenue",
		"accounts(" + fuzzAccount + ")/telephone1",
		"accounts(" + fuzzAccount + ")/primarycontactid",
		"accounts(" + fuzzAccount + ")/primarycontactid/$ref",
		"accounts(" + fuzzAccount + ")/contact_customer_accounts?$select=fullname",
		"accounts(" + fuzzAccount + ")/contact_customer_accounts/$count",
		"accounts(" + fuzzAccount + ")/contact_customer_accounts/$ref",
		"accounts({" + fuzzAccount + "})",
		"accounts(name='x')",
		"contacts(firstname='Joe',emailaddress1='abc%40example.com')",
		"contacts?$filter=birthdate%20lt%202000-01-01&$orderby=birthdate",
		"new_orders(new_ordernumber='FZO-1')",
		"new_orders?$filter=new_orderdate%20gt%202024-01-01T00:00:00Z%20and%20new_externalid%20eq%2055555555-5555-4555-8555-555555555555",
		"new_orders?$filter=new_amount%20ge%2012.5%20and%20new_weight%20lt%201e3%20and%20new_sequence%20eq%209007199254740993",
		"new_orders?$orderby=new_stage,new_orderdate%20desc&$select=new_name,new_stage",
		"new_orders(" + fuzzOrder + ")/new_customer?$select=name",
		"accounts?$filter=name%20eq%20'%ff%fe'",
		"accounts(accountnumber='%ff')",
		"accounts?$select=name%00",
		"accounts(%27)",
		"accounts?$orderby=name%20desc,,revenue",
		"accounts?$expand=contact_customer_accounts($expand=contact_customer_contacts)",
		"accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E",
		// NUL and invalid UTF-8 on every string path of a URL: keys
		// (single, composite, aliased, named primary), segments, $filter
		// literals of every form, aliases, $select, $orderby, $expand and
		// its options, tokens, $id, other parameters, function arguments
		// and metadata keys, filters and casts. Raw NUL cannot be on a
		// request line; raw 0xFF can.
		"accounts(accountnumber='FZ-1%00')",
		"accounts(accountnumber='x%FFy')",
		"accounts(accountnumber='\xff')",
		"accounts(accountnumber='%C0%AF')",
		"accounts(accountnumber=@k)?@k='FZ-1%00'",
		"accounts(accountid=%00)",
		"accounts(%00)",
		"contacts(firstname='Joe%00',emailaddress1='abc%40example.com')",
		"new_orders(new_ordernumber='FZO-1%FF')/new_customer",
		"acc%00ounts",
		"acc%FFounts",
		"accounts(" + fuzzAccount + ")/na%00me",
		"accounts(" + fuzzAccount + ")/contact_customer_accounts(%00)/$ref",
		"accounts(" + fuzzAccount + ")/contact_customer_accounts/$ref?$id=contacts(%00)",
		"accounts?$filter=contains(name,'%00')",
		"accounts?$filter=name%20eq%20'FZ%00'",
		"accounts?$filter=startswith(name,'\xff')",
		"accounts/$count?$filter=contains(name,'%00')",
		"accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[%22\\u0000%22])",
		"accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='na%00me',PropertyValues=[%22x%22])",
		"accounts?$filter=primarycontactid/fullname%20eq%20'%FF'",
		"accounts?$filter=contact_customer_accounts/any(c:c/lastname%20eq%20'%00')",
		"accounts?$filter=name%20eq%20@p1&@p1='%00'",
		"accounts?$filter=name%20eq%20@p1&@p%00=1",
		"accounts?$select=na%00me",
		"accounts?$orderby=name%00",
		"accounts?$expand=primarycontactid($select=fullname%00)",
		"accounts?$expand=contact_customer_accounts($filter=lastname%20eq%20'%00')",
		"accounts?$skiptoken=%00",
		"accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%00%22%20/%3E",
		"accounts?$deltatoken=%FF",
		"accounts?x=%00",
		"accounts?%FF=1",
		"WhoAmI(x='%00')",
		"WhoAmI%00",
		"EntityDefinitions(LogicalName='acc%00ount')",
		"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='na%FFme')",
		"EntityDefinitions?$filter=LogicalName%20eq%20'%00'",
		"EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.%00",
		"EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.NoSuchMetadata",
		// Unclean paths, answered in place, never redirected.
		"/accounts",
		"./accounts",
		"../v9.2/accounts",
		"accounts//name",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		target := "/api/data/v9.2/" + s
		raw := "GET " + target + " HTTP/1.1\r\nHost: example.com\r\nAccept: application/json\r\nOData-Version: 4.0\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || req.Method != "GET" {
			t.Skip("not a request line net/http accepts")
		}
		fs.logs.Reset()
		rec := fs.serveRequest(t, req)
		what := "GET " + target
		checkFuzzHeaders(t, rec, what)
		switch {
		case rec.Code == http.StatusOK || rec.Code == http.StatusNoContent:
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: 200 with invalid JSON: %q", what, rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			checkFuzzError(t, rec, what)
		case notImplemented(rec):
			checkFuzzError(t, rec, what)
		default:
			t.Fatalf("%s: status %d: %s\nlog: %s", what, rec.Code, rec.Body, fs.logs.String())
		}
	})
}

func FuzzPatchBody(f *testing.F) {
	fs := newFuzzServer(f)
	const byKey = "accounts(accountnumber='FZ-1')"
	seeds := []string{
		`{"name":"Updated Sample Account","creditonhold":true}`,
		`{"name":"kept","accountnumber":"FZ-9"}`,
		`{"accountnumber":"FZ-2"}`,
		`{"accountid":"` + fuzzAccount + `","name":"same id"}`,
		`{"accountid":"` + fuzzAccount2 + `","name":"other id"}`,
		`{"revenue":null,"description":null,"numberofemployees":0}`,
		`{"primarycontactid@odata.bind":null}`,
		`{"primarycontactid@odata.bind":"/contacts(` + fuzzContact + `)"}`,
		`{"parentaccountid@odata.bind":"/accounts(` + fuzzAccount + `)"}`,
		`{"parentaccountid@odata.bind":"/accounts(accountnumber='FZ-2')"}`,
		`{"primarycontactid":{"lastname":"New primary"}}`,
		`{"parentaccountid":{"name":"Deep parent","accountnumber":"FZ-2"}}`,
		`{"contact_customer_accounts":[{"lastname":"Kid"}]}`,
		`{"contact_customer_accounts@odata.bind":["/contacts(` + fuzzContact + `)"]}`,
		`{"name":"x","_primarycontactid_value":"` + fuzzContact + `"}`,
		`{"name":"x","numberofemployees":"5"}`,
		`{"name":"` + strings.Repeat("n", 161) + `"}`,
		`{"accountcategorycode":3}`,
		`{"@odata.etag":"W/\"1\"","name":"etag ignored"}`,
		`{"name":"x"`,
		`[]`,
		``,
		// NUL and invalid UTF-8 on the string paths of an update.
		`{"name":"\u0000"}`,
		"{\"description\":\"\xc0\xaf\"}",
		`{"accountnumber":"FZ-1\u0000"}`,
		`{"na\u0000me":"x"}`,
		`{"parentaccountid@odata.bind":"/accounts(accountnumber='FZ-2%00')"}`,
		`{"parentaccountid@odata.bind":"/accounts(accountnumber='FZ-2\u0000')"}`,
		`{"parentaccountid@odata.bind":"accounts(accountnumber='%FF')"}`,
		`{"primarycontactid@odata.bind":"/contacts(firstname='Joe',emailaddress1='abc@example.com%00')"}`,
		`{"contact_customer_accounts@odata.bind":["/contacts(%00)"]}`,
		`{"parentaccountid":{"name":"\u0000","accountnumber":"FZ-\u0000"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	get := func(t *testing.T) string {
		rec := fs.serve(t, "GET", byKey, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", byKey, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fs.logs.Reset()
		before, beforeCounts := get(t), fs.counts(t)
		rec := fs.serve(t, "PATCH", byKey, body)
		what := "PATCH " + byKey + " " + string(body)
		checkFuzzHeaders(t, rec, what)
		switch {
		case rec.Code == http.StatusNoContent:
			if got := rec.Header().Get("OData-EntityId"); got != fuzzBase+byKey {
				t.Fatalf("%s: OData-EntityId %q", what, got)
			}
			// The update went to the record that has the key, whose
			// primary key did not change, and the key still names
			// exactly one record.
			var updated struct {
				ID string `json:"accountid"`
			}
			if err := json.Unmarshal([]byte(get(t)), &updated); err != nil || updated.ID != fuzzAccount {
				t.Fatalf("%s: the record with the key now has accountid %q (%v)", what, updated.ID, err)
			}
			n := fs.serve(t, "GET", "accounts/$count?$filter="+url.PathEscape("accountnumber eq 'FZ-1'"), nil)
			if strings.TrimSpace(n.Body.String()) != "1" {
				t.Fatalf("%s: %s accounts have the key FZ-1 after the update", what, n.Body)
			}
			if after := fs.counts(t); after["account"] < beforeCounts["account"] {
				t.Fatalf("%s: an update removed accounts: %v → %v", what, beforeCounts, after)
			}
		case rec.Code >= 400 && rec.Code < 500:
			checkFuzzError(t, rec, what)
			if after := get(t); after != before {
				t.Fatalf("%s: %d but the record changed:\nbefore: %s\nafter:  %s\nerror: %s", what, rec.Code, before, after, rec.Body)
			}
			if after := fs.counts(t); !sameCounts(beforeCounts, after) {
				t.Fatalf("%s: %d but records were written: %v → %v", what, rec.Code, beforeCounts, after)
			}
		default:
			t.Fatalf("%s: status %d, want 204 or 4xx: %s\nlog: %s", what, rec.Code, rec.Body, fs.logs.String())
		}
	})
}
