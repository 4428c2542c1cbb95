package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/eventual-pp/eventual/webhook"
	"github.com/google/uuid"
)

// update rewrites the golden files: go test ./webhook -args -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testTimeout bounds every webhook call the tests make, so that a mistake
// never waits for webhook.DefaultTimeout.
const testTimeout = 5 * time.Second

// organization is the environment domain the tests send.
const organization = "contoso.crm.dynamics.com"

// call is one request an endpoint received.
type call struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// endpoint is a webhook receiver on a loopback port. It records every
// request, then answers with respond (200 when respond is nil).
type endpoint struct {
	*httptest.Server
	// release unblocks handlers that hang, when the test ends.
	release chan struct{}

	mu      sync.Mutex
	calls   []call
	respond func(n int, w http.ResponseWriter, r *http.Request) // n counts calls from 1
}

// newEndpoint starts a receiver; it is closed when the test ends.
func newEndpoint(tb testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	tb.Helper()
	e := &endpoint{release: make(chan struct{}), respond: respond}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	tb.Cleanup(e.Close)
	// Cleanups run last-in first-out: hanging handlers return before Close.
	tb.Cleanup(func() { close(e.release) })
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.calls = append(e.calls, call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	n, respond := len(e.calls), e.respond
	e.mu.Unlock()
	if respond == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	respond(n, w, r)
}

// Calls returns the requests received so far.
func (e *endpoint) Calls() []call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// setRespond replaces the responder.
func (e *endpoint) setRespond(respond func(n int, w http.ResponseWriter, r *http.Request)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.respond = respond
}

// hang blocks until the caller gives up or the test ends.
func (e *endpoint) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-e.release:
	}
}

// statuses answers the nth call with codes[n-1], and the last code after.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes))-1])
	}
}

// plugin returns a webhook posting to the endpoint's /hook path.
func (e *endpoint) plugin() *webhook.Plugin {
	return &webhook.Plugin{URL: e.URL + "/hook", Timeout: testTimeout, Organization: organization, Client: e.Client()}
}

// mustOpenInstance opens an instance over a new SQLite store.
func mustOpenInstance(tb testing.TB, schema *eventual.Schema) *instance.Instance {
	tb.Helper()
	db := teststore.SQLite.Open(tb, schema)
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	in := instance.New(db, schema)
	in.Logger = slog.New(slog.DiscardHandler)
	return in
}

func mustRegister(tb testing.TB, in *instance.Instance, s eventual.Step) {
	tb.Helper()
	if err := in.Pipeline.Register(s); err != nil {
		tb.Fatalf("register step %q: %v", s.Name, err)
	}
}

// countRecords returns the number of records of a table.
func countRecords(tb testing.TB, in *instance.Instance, table string) int64 {
	tb.Helper()
	n, err := in.Count(context.Background(), in.Schema.Table(table), nil)
	if err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// records returns every record of a table.
func records(tb testing.TB, in *instance.Instance, table string) []*eventual.Record {
	tb.Helper()
	var recs []*eventual.Record
	err := in.Store.View(context.Background(), func(tx eventual.ReadTx) error {
		var err error
		recs, err = tx.Query(context.Background(), &eventual.Query{Table: in.Schema.Table(table)})
		return err
	})
	if err != nil {
		tb.Fatalf("read %s: %v", table, err)
	}
	return recs
}

// The RemoteExecutionContext as Dataverse serializes it. Decoding is
// strict (unknown fields fail), so these types also pin the payload shape.

// param is a key/value pair of a data-contract collection.
type param struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type params []param

// Get returns the value of a key.
func (ps params) Get(key string) (json.RawMessage, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// Keys returns the keys, in order.
func (ps params) Keys() []string {
	keys := []string{}
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	return keys
}

// recordIDJSON holds the fields that identify a record, which the
// contract's Entity, EntityReference and OwningExtension all carry.
type recordIDJSON struct {
	ID            uuid.UUID `json:"Id"`
	KeyAttributes params    `json:"KeyAttributes"`
	LogicalName   string    `json:"LogicalName"`
	RowVersion    *string   `json:"RowVersion"`
}

type entityJSON struct {
	recordIDJSON
	Type            string `json:"__type"`
	Attributes      params `json:"Attributes"`
	EntityState     *int   `json:"EntityState"`
	FormattedValues params `json:"FormattedValues"`
	RelatedEntities params `json:"RelatedEntities"`
}

type entityReferenceJSON struct {
	recordIDJSON
	Type string  `json:"__type"`
	Name *string `json:"Name"`
}

type moneyJSON struct {
	Type  string      `json:"__type"`
	Value json.Number `json:"Value"`
}

type owningExtensionJSON struct {
	recordIDJSON
	Name string `json:"Name"`
}

type remoteContext struct {
	BusinessUnitID            uuid.UUID            `json:"BusinessUnitId"`
	CorrelationID             uuid.UUID            `json:"CorrelationId"`
	Depth                     int                  `json:"Depth"`
	InitiatingUserAADObjectID uuid.UUID            `json:"InitiatingUserAzureActiveDirectoryObjectId"`
	InitiatingUserID          uuid.UUID            `json:"InitiatingUserId"`
	InputParameters           params               `json:"InputParameters"`
	IsExecutingOffline        bool                 `json:"IsExecutingOffline"`
	IsInTransaction           bool                 `json:"IsInTransaction"`
	IsOfflinePlayback         bool                 `json:"IsOfflinePlayback"`
	IsolationMode             int                  `json:"IsolationMode"`
	MessageName               string               `json:"MessageName"`
	Mode                      int                  `json:"Mode"`
	OperationCreatedOn        string               `json:"OperationCreatedOn"`
	OperationID               uuid.UUID            `json:"OperationId"`
	OrganizationID            uuid.UUID            `json:"OrganizationId"`
	OrganizationName          string               `json:"OrganizationName"`
	OutputParameters          params               `json:"OutputParameters"`
	OwningExtension           *owningExtensionJSON `json:"OwningExtension"`
	ParentContext             *remoteContext       `json:"ParentContext"`
	PostEntityImages          params               `json:"PostEntityImages"`
	PreEntityImages           params               `json:"PreEntityImages"`
	PrimaryEntityID           uuid.UUID            `json:"PrimaryEntityId"`
	PrimaryEntityName         string               `json:"PrimaryEntityName"`
	RequestID                 uuid.UUID            `json:"RequestId"`
	SecondaryEntityName       string               `json:"SecondaryEntityName"`
	SharedVariables           params               `json:"SharedVariables"`
	Stage                     int                  `json:"Stage"`
	UserAADObjectID           uuid.UUID            `json:"UserAzureActiveDirectoryObjectId"`
	UserID                    uuid.UUID            `json:"UserId"`
}

// sampleKeys are the top-level members of the RemoteExecutionContext in the
// sample of Microsoft's use-webhooks.md; every payload must have them.
var sampleKeys = []string{
	"BusinessUnitId", "CorrelationId", "Depth", "InitiatingUserId", "InputParameters", "IsExecutingOffline",
	"IsInTransaction", "IsOfflinePlayback", "IsolationMode", "MessageName", "Mode", "OperationCreatedOn", "OperationId",
	"OrganizationId", "OrganizationName", "OutputParameters", "OwningExtension", "ParentContext", "PostEntityImages",
	"PreEntityImages", "PrimaryEntityId", "PrimaryEntityName", "RequestId", "SecondaryEntityName", "SharedVariables",
	"Stage", "UserId",
}

const contracts = ":http://schemas.microsoft.com/xrm/2011/Contracts"

// decodeStrict decodes JSON into v, failing on unknown fields.
func decodeStrict(tb testing.TB, data []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decode %T: %v\n%.2000s", v, err, data)
	}
}

// decodeContext decodes a payload and checks it has the sample's members.
func decodeContext(tb testing.TB, body []byte) *remoteContext {
	tb.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		tb.Fatalf("payload is not a JSON object: %v", err)
	}
	for _, k := range sampleKeys {
		if _, ok := top[k]; !ok {
			tb.Errorf("payload has no %s member", k)
		}
	}
	rc := &remoteContext{}
	decodeStrict(tb, body, rc)
	return rc
}

func decodeEntity(tb testing.TB, raw json.RawMessage) *entityJSON {
	tb.Helper()
	e := &entityJSON{}
	decodeStrict(tb, raw, e)
	if e.Type != "Entity"+contracts {
		tb.Errorf("entity __type %q, want %q", e.Type, "Entity"+contracts)
	}
	return e
}

// str decodes a JSON string.
func str(tb testing.TB, raw json.RawMessage) string {
	tb.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.Fatalf("%s is not a string: %v", raw, err)
	}
	return s
}

// checkAttr checks that a collection has a key with the JSON value want.
func checkAttr(tb testing.TB, ps params, key, want string) {
	tb.Helper()
	got, ok := ps.Get(key)
	if !ok {
		tb.Errorf("no %q in %v", key, ps.Keys())
		return
	}
	if string(got) != want {
		tb.Errorf("%s = %s, want %s", key, got, want)
	}
}

func quote(v any) string { return strconv.Quote(fmt.Sprint(v)) }

var datePattern = regexp.MustCompile(`^/Date\((-?\d+)\)/$`)

// wcfDate parses a data-contract date ("/Date(ms)/" once decoded).
func wcfDate(tb testing.TB, s string) time.Time {
	tb.Helper()
	m := datePattern.FindStringSubmatch(s)
	if m == nil {
		tb.Fatalf("%q is not a /Date(ms)/ date", s)
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	return time.UnixMilli(ms).UTC()
}

// checkHeaders checks the x-ms-dynamics-* headers of a call.
func checkHeaders(tb testing.TB, c call, entity, message string, correlation uuid.UUID) {
	tb.Helper()
	if c.Method != http.MethodPost {
		tb.Errorf("method %s, want POST", c.Method)
	}
	want := map[string]string{
		"Content-Type":                "application/json",
		"x-ms-dynamics-organization":  organization,
		"x-ms-dynamics-entity-name":   entity,
		"x-ms-dynamics-request-name":  message,
		"x-ms-correlation-request-id": correlation.String(),
	}
	for k, v := range want {
		if got := c.Header.Get(k); got != v {
			tb.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestSyncWebhookPostOperationCreate(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, nil)
	wh := ep.plugin()
	wh.Headers = map[string]string{"X-Api-Key": "header-secret"}
	wh.Query = map[string]string{"code": "webhook-key"}
	mustRegister(t, in, eventual.Step{Name: "set shared", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PreValidation,
		Plugin: eventual.PluginFunc(func(_ context.Context, ec *eventual.ExecutionContext) error {
			ec.SharedVariables["origin"] = "prevalidation"
			return nil
		})})
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation,
		Images: []eventual.Image{{Alias: "post", Kind: eventual.PostImage}}, Plugin: wh})

	account := in.Schema.Table("account")
	revenue, err := eventual.ParseDecimal("1234.5", 2)
	if err != nil {
		t.Fatal(err)
	}
	corr := uuid.New()
	before := time.Now().Add(-time.Second)
	id, err := in.Create(eventual.WithCorrelationID(context.Background(), corr), &eventual.Entity{Table: account, Values: eventual.Values{
		"name": "Contoso", "numberofemployees": int64(42), "creditonhold": true, "revenue": revenue,
	}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := countRecords(t, in, "account"); got != 1 {
		t.Fatalf("%d accounts after the create, want 1", got)
	}

	calls := ep.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d webhook calls, want 1", len(calls))
	}
	c := calls[0]
	checkHeaders(t, c, "account", "Create", corr)
	if c.Header.Get("x-ms-dynamics-msg-size-exceeded") != "" {
		t.Errorf("x-ms-dynamics-msg-size-exceeded sent for a small payload")
	}
	if got := c.Header.Get("X-Api-Key"); got != "header-secret" {
		t.Errorf("HttpHeader authentication: X-Api-Key = %q", got)
	}
	if c.Path != "/hook" || c.Query.Get("code") != "webhook-key" {
		t.Errorf("request path %q query %v, want /hook?code=webhook-key", c.Path, c.Query)
	}

	rc := decodeContext(t, c.Body)
	meta := in.Store.Meta()
	if rc.MessageName != "Create" || rc.PrimaryEntityName != "account" || rc.PrimaryEntityID != id {
		t.Errorf("message %s %s(%s), want Create account(%s)", rc.MessageName, rc.PrimaryEntityName, rc.PrimaryEntityID, id)
	}
	if rc.Stage != 40 || rc.Mode != 0 || rc.Depth != 1 || !rc.IsInTransaction {
		t.Errorf("Stage %d Mode %d Depth %d IsInTransaction %v, want 40 0 1 true", rc.Stage, rc.Mode, rc.Depth, rc.IsInTransaction)
	}
	if rc.CorrelationID != corr {
		t.Errorf("CorrelationId %s, want %s", rc.CorrelationID, corr)
	}
	if rc.OrganizationID != meta.OrganizationID || rc.BusinessUnitID != meta.BusinessUnitID || rc.UserID != meta.UserID || rc.InitiatingUserID != meta.UserID {
		t.Errorf("identity %s %s %s %s does not match the store's %+v", rc.OrganizationID, rc.BusinessUnitID, rc.UserID, rc.InitiatingUserID, meta)
	}
	if rc.OperationID == uuid.Nil || rc.RequestID == uuid.Nil {
		t.Errorf("OperationId %s RequestId %s, want both set", rc.OperationID, rc.RequestID)
	}
	if rc.SecondaryEntityName != "none" || rc.IsolationMode != 1 || rc.IsExecutingOffline || rc.IsOfflinePlayback {
		t.Errorf("SecondaryEntityName %q IsolationMode %d offline %v/%v", rc.SecondaryEntityName, rc.IsolationMode, rc.IsExecutingOffline, rc.IsOfflinePlayback)
	}
	if at := wcfDate(t, rc.OperationCreatedOn); at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("OperationCreatedOn %s is not about now", at)
	}
	if rc.ParentContext != nil {
		t.Errorf("a top-level Create has a ParentContext: %+v", rc.ParentContext)
	}
	if oe := rc.OwningExtension; oe == nil || oe.LogicalName != "sdkmessageprocessingstep" || oe.Name != "notify" || oe.ID != eventual.MetadataIDFor("step", "notify") {
		t.Errorf("OwningExtension %+v, want the sdkmessageprocessingstep of step notify", oe)
	}

	// InputParameters: the Target entity with the values written.
	if got := rc.InputParameters.Keys(); !slices.Equal(got, []string{"Target"}) {
		t.Errorf("InputParameters keys %v, want [Target]", got)
	}
	if raw, ok := rc.InputParameters.Get("Target"); ok {
		target := decodeEntity(t, raw)
		if target.LogicalName != "account" {
			t.Errorf("Target.LogicalName %q", target.LogicalName)
		}
		checkAttr(t, target.Attributes, "name", `"Contoso"`)
		checkAttr(t, target.Attributes, "numberofemployees", `42`)
		checkAttr(t, target.Attributes, "creditonhold", `true`)
		if raw, ok := target.Attributes.Get("revenue"); !ok {
			t.Errorf("Target has no revenue")
		} else {
			var m moneyJSON
			decodeStrict(t, raw, &m)
			if f, _ := m.Value.Float64(); m.Type != "Money"+contracts || f != 1234.5 {
				t.Errorf("revenue %s, want Money 1234.5", raw)
			}
		}
	}

	// OutputParameters: the id of the new record.
	if got := rc.OutputParameters.Keys(); !slices.Equal(got, []string{"id"}) {
		t.Errorf("OutputParameters keys %v, want [id]", got)
	}
	checkAttr(t, rc.OutputParameters, "id", quote(id))

	// Images: the post-image under its alias, with the primary key.
	if len(rc.PreEntityImages) != 0 {
		t.Errorf("PreEntityImages %v, want none", rc.PreEntityImages.Keys())
	}
	if raw, ok := rc.PostEntityImages.Get("post"); !ok {
		t.Errorf("PostEntityImages %v, want post", rc.PostEntityImages.Keys())
	} else {
		img := decodeEntity(t, raw)
		if img.ID != id || img.LogicalName != "account" {
			t.Errorf("post image %s(%s), want account(%s)", img.LogicalName, img.ID, id)
		}
		checkAttr(t, img.Attributes, "accountid", quote(id))
		checkAttr(t, img.Attributes, "name", `"Contoso"`)
	}

	// SharedVariables: what an earlier step of the operation set.
	checkAttr(t, rc.SharedVariables, "origin", `"prevalidation"`)
}

func TestSyncWebhookStages(t *testing.T) {
	for _, tc := range []struct {
		stage         eventual.Stage
		inTransaction bool
		outputs       []string
	}{
		{eventual.PreValidation, false, []string{}},
		{eventual.PreOperation, true, []string{}},
		{eventual.PostOperation, true, []string{"id"}},
	} {
		t.Run(tc.stage.String(), func(t *testing.T) {
			in := mustOpenInstance(t, metadata.Builtin())
			ep := newEndpoint(t, nil)
			mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: tc.stage, Plugin: ep.plugin()})

			// With a client-chosen id, every stage knows the record's id.
			id := uuid.New()
			corr := uuid.New()
			ctx := eventual.WithCorrelationID(context.Background(), corr)
			if _, err := in.Create(ctx, &eventual.Entity{Table: in.Schema.Table("account"), ID: id, Values: eventual.Values{"name": "Fabrikam"}}); err != nil {
				t.Fatalf("create: %v", err)
			}
			calls := ep.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d webhook calls, want 1", len(calls))
			}
			checkHeaders(t, calls[0], "account", "Create", corr)
			rc := decodeContext(t, calls[0].Body)
			if rc.Stage != int(tc.stage) || rc.Mode != 0 || rc.IsInTransaction != tc.inTransaction {
				t.Errorf("Stage %d Mode %d IsInTransaction %v, want %d 0 %v", rc.Stage, rc.Mode, rc.IsInTransaction, tc.stage, tc.inTransaction)
			}
			if rc.PrimaryEntityID != id {
				t.Errorf("PrimaryEntityId %s, want %s", rc.PrimaryEntityID, id)
			}
			if got := rc.OutputParameters.Keys(); !slices.Equal(got, tc.outputs) {
				t.Errorf("OutputParameters %v, want %v (results exist after the main operation only)", got, tc.outputs)
			}
			raw, ok := rc.InputParameters.Get("Target")
			if !ok {
				t.Fatalf("no Target in InputParameters")
			}
			target := decodeEntity(t, raw)
			checkAttr(t, target.Attributes, "name", `"Fabrikam"`)
			if target.ID != id {
				t.Errorf("Target.Id %s, want %s", target.ID, id)
			}
			if got := countRecords(t, in, "account"); got != 1 {
				t.Errorf("%d accounts, want 1", got)
			}
		})
	}
}

// TestSyncWebhookPostOperationTargetID: after the main operation of a
// Create, Dataverse's Target carries the new record's id (Target.Id and its
// primary key attribute), as PrimaryEntityId and OutputParameters["id"] do.
func TestSyncWebhookPostOperationTargetID(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, nil)
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation, Plugin: ep.plugin()})
	id, err := in.Create(context.Background(), &eventual.Entity{Table: in.Schema.Table("account"), Values: eventual.Values{"name": "Contoso"}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	rc := decodeContext(t, ep.Calls()[0].Body)
	raw, _ := rc.InputParameters.Get("Target")
	target := decodeEntity(t, raw)
	if target.ID != id {
		t.Errorf("PostOperation Target.Id %s, want the new id %s", target.ID, id)
	}
	checkAttr(t, target.Attributes, "accountid", quote(id))
}

// noop is a step that does nothing; registering it on Upsert makes the
// Upsert run through the pipeline, so the Create inside it has a parent.
var noop = eventual.PluginFunc(func(context.Context, *eventual.ExecutionContext) error { return nil })

func TestSyncWebhookParentContext(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, nil)
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation, Plugin: ep.plugin()})
	mustRegister(t, in, eventual.Step{Name: "upsert noop", Message: eventual.MessageUpsert, Table: "account", Stage: eventual.PreOperation, Plugin: noop})

	// An Upsert that creates runs a Create inside it: the Create's context
	// has the Upsert's as ParentContext, at the same depth.
	account := in.Schema.Table("account")
	id := uuid.New()
	created, _, err := in.Upsert(context.Background(), eventual.Ref(account, id), &eventual.Entity{Table: account, ID: id, Values: eventual.Values{"name": "Upserted"}}, eventual.Condition{})
	if err != nil || !created {
		t.Fatalf("upsert: created %v, %v", created, err)
	}
	calls := ep.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d webhook calls, want 1", len(calls))
	}
	rc := decodeContext(t, calls[0].Body)
	if rc.MessageName != "Create" {
		t.Errorf("MessageName %q, want Create", rc.MessageName)
	}
	p := rc.ParentContext
	if p == nil {
		t.Fatalf("no ParentContext")
	}
	if p.MessageName != "Upsert" || p.PrimaryEntityName != "account" || p.CorrelationID != rc.CorrelationID || p.Depth != rc.Depth {
		t.Errorf("ParentContext %s %s corr %s depth %d, want Upsert account corr %s depth %d",
			p.MessageName, p.PrimaryEntityName, p.CorrelationID, p.Depth, rc.CorrelationID, rc.Depth)
	}
	if _, ok := p.InputParameters.Get("Target"); !ok {
		t.Errorf("ParentContext has no Target")
	}
	if p.ParentContext != nil {
		t.Errorf("the Upsert has a ParentContext")
	}
}

func TestSyncWebhookFailureRollsBack(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	var status atomic.Int64
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) })
	account := in.Schema.Table("account")
	for _, stage := range []eventual.Stage{eventual.PreOperation, eventual.PostOperation} {
		name := "notify " + stage.String()
		mustRegister(t, in, eventual.Step{Name: name, Message: eventual.MessageCreate, Table: "account", Stage: stage, Plugin: ep.plugin()})
		for _, code := range []int{400, 401, 404, 409, 429, 500} {
			t.Run(fmt.Sprintf("%s/%d", stage, code), func(t *testing.T) {
				status.Store(int64(code))
				n := len(ep.Calls())
				_, err := in.Create(context.Background(), &eventual.Entity{Table: account, Values: eventual.Values{"name": "Rejected"}})
				if err == nil {
					t.Fatalf("create succeeded with a webhook answering %d", code)
				}
				if eventual.ErrorKind(err) != eventual.KindInvalid || eventual.ErrorCode(err) != eventual.CodePluginFailed {
					t.Errorf("error kind %v code %s, want the plug-in error (KindInvalid, %s): %v", eventual.ErrorKind(err), eventual.ErrorCode(err), eventual.CodePluginFailed, err)
				}
				if msg := eventual.ErrorMessage(err); !strings.Contains(msg, strconv.Itoa(code)) {
					t.Errorf("message %q does not name the status %d", msg, code)
				}
				if pe, ok := errors.AsType[*eventual.PluginError](err); !ok || pe.Message != eventual.ErrorMessage(err) {
					t.Errorf("error %v does not wrap the webhook's PluginError", err)
				}
				if got := len(ep.Calls()) - n; got != 1 {
					t.Errorf("%d calls for status %d, want 1 (no retry)", got, code)
				}
				if got := countRecords(t, in, "account"); got != 0 {
					t.Errorf("%d accounts after a failed sync webhook, want 0 (rolled back)", got)
				}
			})
		}
		in.Pipeline.Unregister(name)
	}
}

func TestSyncWebhookFailureRollsBackUpdate(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, statuses(http.StatusInternalServerError))
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageUpdate, Table: "account", Stage: eventual.PostOperation, Plugin: ep.plugin()})
	account := in.Schema.Table("account")
	id, err := in.Create(context.Background(), &eventual.Entity{Table: account, Values: eventual.Values{"name": "Before"}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	before, err := in.Retrieve(context.Background(), eventual.Ref(account, id), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Update(context.Background(), eventual.Ref(account, id), eventual.Values{"name": "After"}, eventual.Condition{})
	if eventual.ErrorCode(err) != eventual.CodePluginFailed {
		t.Fatalf("update: %v, want the plug-in error", err)
	}
	after, err := in.Retrieve(context.Background(), eventual.Ref(account, id), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Values["name"] != "Before" || after.Version != before.Version {
		t.Errorf("after a failed update: name %v version %d, want Before %d", after.Values["name"], after.Version, before.Version)
	}
	if len(ep.Calls()) != 1 {
		t.Fatalf("%d calls, want 1", len(ep.Calls()))
	}
	rc := decodeContext(t, ep.Calls()[0].Body)
	if rc.MessageName != "Update" || rc.PrimaryEntityID != id {
		t.Errorf("payload %s(%s), want Update(%s)", rc.MessageName, rc.PrimaryEntityID, id)
	}
}

func TestSyncWebhookTimeoutRollsBack(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, nil)
	ep.setRespond(func(_ int, w http.ResponseWriter, r *http.Request) { ep.hang(w, r) })
	wh := ep.plugin()
	wh.Timeout = 200 * time.Millisecond
	mustRegister(t, in, eventual.Step{Name: "slow", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation, Plugin: wh})

	start := time.Now()
	_, err := in.Create(context.Background(), &eventual.Entity{Table: in.Schema.Table("account"), Values: eventual.Values{"name": "Slow"}})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("create succeeded past the webhook's timeout")
	}
	if eventual.ErrorCode(err) != eventual.CodePluginFailed || !strings.Contains(eventual.ErrorMessage(err), "could not be reached") {
		t.Errorf("error %v, want the plug-in error saying the webhook could not be reached", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("the create took %s with a 200ms webhook timeout", elapsed)
	}
	if got := len(ep.Calls()); got != 1 {
		t.Errorf("%d calls, want 1 (a timeout is not retried)", got)
	}
	if got := countRecords(t, in, "account"); got != 0 {
		t.Errorf("%d accounts after a timed-out sync webhook, want 0 (rolled back)", got)
	}
}

// TestWebhookErrorHidesKey: the WebhookKey and HttpQueryString values are
// secrets ("can't be read back"); a caller must not read them in the error
// of a failed call, nor anyone in the system job's message.
func TestWebhookErrorHidesKey(t *testing.T) {
	ep := newEndpoint(t, nil)
	ep.setRespond(func(_ int, w http.ResponseWriter, r *http.Request) { ep.hang(w, r) })
	wh := ep.plugin()
	wh.Timeout = 100 * time.Millisecond
	wh.Query = map[string]string{"code": "s3cr3t-key"}
	err := wh.Execute(context.Background(), minimalContext())
	if err == nil {
		t.Fatalf("execute succeeded against a hanging endpoint")
	}
	if strings.Contains(err.Error(), "s3cr3t-key") {
		t.Errorf("the error shows the webhook key: %v", err)
	}
}

// minimalContext is a context for calling a plugin directly.
func minimalContext() *eventual.ExecutionContext {
	return &eventual.ExecutionContext{MessageName: "Create", PrimaryEntityName: "account", PrimaryEntityID: uuid.New(),
		Stage: eventual.PostOperation, Depth: 1, CorrelationID: uuid.New(), OperationCreatedOn: time.Now()}
}

func TestWebhookRetry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []int
		calls   int
		fails   string // part of the error message; "" for success
	}{
		{"200", []int{200}, 1, ""},
		{"204", []int{204}, 1, ""},
		{"502 then 200", []int{502, 200}, 2, ""},
		{"503 then 200", []int{503, 200}, 2, ""},
		{"504 then 200", []int{504, 200}, 2, ""},
		{"502 twice", []int{502, 502, 200}, 2, "502 Bad Gateway"},
		{"503 twice", []int{503, 503, 200}, 2, "503 Service Unavailable"},
		{"504 then 500", []int{504, 500, 200}, 2, "500 Internal Server Error"},
		{"500", []int{500, 200}, 1, "500 Internal Server Error"},
		{"429", []int{429, 200}, 1, "429 Too Many Requests"},
		{"408", []int{408, 200}, 1, "408"},
		{"400", []int{400, 200}, 1, "400 Bad Request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newEndpoint(t, statuses(tc.answers...))
			ec := minimalContext()
			err := ep.plugin().Execute(context.Background(), ec)
			calls := ep.Calls()
			if len(calls) != tc.calls {
				t.Errorf("%d calls, want %d", len(calls), tc.calls)
			}
			if tc.fails == "" {
				if err != nil {
					t.Errorf("execute: %v", err)
				}
			} else {
				pe, ok := errors.AsType[*eventual.PluginError](err)
				if !ok {
					t.Fatalf("error %v (%T), want a *eventual.PluginError", err, err)
				}
				if !strings.Contains(pe.Message, tc.fails) {
					t.Errorf("message %q does not contain %q", pe.Message, tc.fails)
				}
			}
			// A retry sends the same request again.
			for _, c := range calls[1:] {
				if !bytes.Equal(c.Body, calls[0].Body) {
					t.Errorf("the retry's body differs from the first attempt's")
				}
				checkHeaders(t, c, "account", "Create", ec.CorrelationID)
			}
		})
	}
}

func TestWebhookUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	wh := &webhook.Plugin{URL: "http://" + addr + "/hook", Timeout: testTimeout}
	err = wh.Execute(context.Background(), minimalContext())
	if pe, ok := errors.AsType[*eventual.PluginError](err); !ok || !strings.Contains(pe.Message, "could not be reached") {
		t.Errorf("error %v, want a PluginError saying the webhook could not be reached", err)
	}

	wh = &webhook.Plugin{URL: "http://[::1", Timeout: testTimeout}
	if err := wh.Execute(context.Background(), minimalContext()); err == nil || !strings.Contains(err.Error(), "bad URL") {
		t.Errorf("error %v for a malformed URL, want bad URL", err)
	}
}

func TestWebhookCanceledContext(t *testing.T) {
	ep := newEndpoint(t, nil)
	ep.setRespond(func(_ int, w http.ResponseWriter, r *http.Request) { ep.hang(w, r) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := ep.plugin().Execute(ctx, minimalContext()); err == nil {
		t.Errorf("execute succeeded after its context ended")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("execute took %s after its context ended", d)
	}
}

// fakeClock is an instance clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(in *instance.Instance) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	in.Now = c.Now
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Add(d time.Duration)     { c.ns.Add(int64(d)) }
func (c *fakeClock) Since(t time.Time) int64 { return int64(c.Now().Sub(t) / time.Second) }

// job returns the only system job.
func job(tb testing.TB, in *instance.Instance) *eventual.Record {
	tb.Helper()
	recs := records(tb, in, "asyncoperation")
	if len(recs) != 1 {
		tb.Fatalf("%d system jobs, want 1", len(recs))
	}
	return recs[0]
}

// runJobs runs the due jobs and checks how many ran.
func runJobs(tb testing.TB, in *instance.Instance, want int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := in.RunJobs(ctx); got != want {
		tb.Fatalf("RunJobs ran %d jobs, want %d", got, want)
	}
}

func checkJob(tb testing.TB, j *eventual.Record, status, state, retries int64) {
	tb.Helper()
	if j.Values["statuscode"] != status || j.Values["statecode"] != state || j.Values["retrycount"] != retries {
		tb.Errorf("job statuscode %v statecode %v retrycount %v, want %d %d %d (message %v)",
			j.Values["statuscode"], j.Values["statecode"], j.Values["retrycount"], status, state, retries, j.Values["message"])
	}
}

func TestAsyncWebhookRetriedUntilSuccess(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	clock := newFakeClock(in)
	ep := newEndpoint(t, statuses(500, 500, 200))
	mustRegister(t, in, eventual.Step{Name: "notify later", Message: eventual.MessageCreate, Table: "account",
		Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Plugin: ep.plugin()})

	corr := uuid.New()
	id, err := in.Create(eventual.WithCorrelationID(context.Background(), corr), &eventual.Entity{Table: in.Schema.Table("account"), Values: eventual.Values{"name": "Later"}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if n := len(ep.Calls()); n != 0 {
		t.Fatalf("an asynchronous webhook was called %d times during the operation", n)
	}
	j := job(t, in)
	checkJob(t, j, instance.JobWaiting, instance.JobReady, 0)
	if j.Values["eventual_stepname"] != "notify later" || j.Values["messagename"] != "Create" || j.Values["primaryentitytype"] != "account" {
		t.Errorf("job %v", j.Values)
	}

	// First attempt: 500. The job waits 2s before the next.
	runJobs(t, in, 1)
	j = job(t, in)
	checkJob(t, j, instance.JobWaiting, instance.JobReady, 1)
	if msg, _ := j.Values["message"].(string); !strings.Contains(msg, "answered 500") {
		t.Errorf("job message %q, want the webhook's failure", msg)
	}
	if pu, ok := j.Values["postponeuntil"].(time.Time); !ok || clock.Since(pu) != -2 {
		t.Errorf("postponeuntil %v, want now+2s (%s)", j.Values["postponeuntil"], clock.Now())
	}
	runJobs(t, in, 0) // postponed
	clock.Add(2 * time.Second)

	// Second attempt: 500 again; then a 4s pause.
	runJobs(t, in, 1)
	checkJob(t, job(t, in), instance.JobWaiting, instance.JobReady, 2)
	clock.Add(3 * time.Second)
	runJobs(t, in, 0)
	clock.Add(time.Second)

	// Third attempt: the endpoint recovered.
	runJobs(t, in, 1)
	j = job(t, in)
	checkJob(t, j, instance.JobSucceeded, instance.JobCompleted, 2)
	if _, ok := j.Values["completedon"].(time.Time); !ok {
		t.Errorf("completedon %v, want a time", j.Values["completedon"])
	}
	clock.Add(time.Hour)
	runJobs(t, in, 0)

	calls := ep.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	var operation uuid.UUID
	for i, c := range calls {
		checkHeaders(t, c, "account", "Create", corr)
		rc := decodeContext(t, c.Body)
		if rc.Stage != 40 || rc.Mode != 1 || rc.IsInTransaction || rc.Depth != 1 {
			t.Errorf("call %d: Stage %d Mode %d IsInTransaction %v Depth %d, want 40 1 false 1", i, rc.Stage, rc.Mode, rc.IsInTransaction, rc.Depth)
		}
		if rc.PrimaryEntityID != id || rc.CorrelationID != corr {
			t.Errorf("call %d: record %s correlation %s, want %s %s", i, rc.PrimaryEntityID, rc.CorrelationID, id, corr)
		}
		checkAttr(t, rc.OutputParameters, "id", quote(id))
		if raw, ok := rc.InputParameters.Get("Target"); !ok {
			t.Errorf("call %d: no Target", i)
		} else {
			checkAttr(t, decodeEntity(t, raw).Attributes, "name", `"Later"`)
		}
		if i == 0 {
			operation = rc.OperationID
		} else if rc.OperationID != operation {
			t.Errorf("call %d: OperationId %s, want the first attempt's %s", i, rc.OperationID, operation)
		}
	}
}

func TestAsyncWebhookFails(t *testing.T) {
	for _, tc := range []struct {
		status int
		calls  int
	}{
		// Each attempt of the job is one call, or two for the statuses the
		// webhook itself retries once.
		{http.StatusInternalServerError, instance.MaxJobAttempts},
		{http.StatusServiceUnavailable, 2 * instance.MaxJobAttempts},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			in := mustOpenInstance(t, metadata.Builtin())
			clock := newFakeClock(in)
			ep := newEndpoint(t, statuses(tc.status))
			mustRegister(t, in, eventual.Step{Name: "notify later", Message: eventual.MessageCreate, Table: "account",
				Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Plugin: ep.plugin()})
			if _, err := in.Create(context.Background(), &eventual.Entity{Table: in.Schema.Table("account"), Values: eventual.Values{"name": "Never"}}); err != nil {
				t.Fatalf("create: %v (an asynchronous step cannot fail the operation)", err)
			}
			if got := countRecords(t, in, "account"); got != 1 {
				t.Errorf("%d accounts, want 1", got)
			}
			for attempt := 1; attempt <= instance.MaxJobAttempts; attempt++ {
				runJobs(t, in, 1)
				clock.Add(time.Minute)
			}
			runJobs(t, in, 0)
			j := job(t, in)
			checkJob(t, j, instance.JobFailed, instance.JobCompleted, instance.MaxJobAttempts)
			want := fmt.Sprintf("answered %d", tc.status)
			for _, col := range []string{"message", "friendlymessage"} {
				if msg, _ := j.Values[col].(string); !strings.Contains(msg, want) {
					t.Errorf("job %s %q does not contain %q", col, msg, want)
				}
			}
			if got := len(ep.Calls()); got != tc.calls {
				t.Errorf("%d calls, want %d", got, tc.calls)
			}
		})
	}
}

// bigDescriptionSchema is the built-in schema with an account description
// long enough for payloads over 256 KB.
func bigDescriptionSchema(tb testing.TB) *eventual.Schema {
	tb.Helper()
	defs := metadata.BuiltinTables()
	for i := range defs {
		if defs[i].LogicalName != "account" {
			continue
		}
		for j := range defs[i].Columns {
			if defs[i].Columns[j].LogicalName == "description" {
				defs[i].Columns[j].MaxLength = eventual.MaxMemoLen
			}
		}
	}
	s, err := eventual.NewSchema(append(defs, metadata.SystemTables()...))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSyncWebhookLargePayload(t *testing.T) {
	in := mustOpenInstance(t, bigDescriptionSchema(t))
	ep := newEndpoint(t, nil)
	mustRegister(t, in, eventual.Step{Name: "set shared", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PreValidation,
		Plugin: eventual.PluginFunc(func(_ context.Context, ec *eventual.ExecutionContext) error {
			ec.SharedVariables["kept"] = "yes"
			return nil
		})})
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation,
		Images: []eventual.Image{{Alias: "post", Kind: eventual.PostImage}}, Plugin: ep.plugin()})
	mustRegister(t, in, eventual.Step{Name: "upsert noop", Message: eventual.MessageUpsert, Table: "account", Stage: eventual.PreOperation, Plugin: noop})
	account := in.Schema.Table("account")

	for _, tc := range []struct {
		name    string
		size    int
		trimmed bool
	}{
		{"small", 1000, false},
		{"over 256KB", 300 * 1024, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(ep.Calls())
			id := uuid.New()
			// Through Upsert, so that the Create has a ParentContext.
			_, _, err := in.Upsert(context.Background(), eventual.Ref(account, id), &eventual.Entity{Table: account, ID: id, Values: eventual.Values{
				"name": tc.name, "description": strings.Repeat("x", tc.size)}}, eventual.Condition{})
			if err != nil {
				t.Fatalf("upsert: %v", err)
			}
			calls := ep.Calls()[n:]
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1", len(calls))
			}
			c := calls[0]
			if got, want := c.Header.Get("x-ms-dynamics-msg-size-exceeded") != "", tc.trimmed; got != want {
				t.Errorf("x-ms-dynamics-msg-size-exceeded sent: %v, want %v (body %d bytes)", got, want, len(c.Body))
			}
			if len(c.Body) > webhook.MaxPayload {
				t.Errorf("body of %d bytes, over the %d byte limit", len(c.Body), webhook.MaxPayload)
			}
			rc := decodeContext(t, c.Body)
			// What the trimming keeps.
			if rc.MessageName != "Create" || rc.PrimaryEntityID != id || rc.Stage != 40 {
				t.Errorf("%s %s stage %d, want Create %s stage 40", rc.MessageName, rc.PrimaryEntityID, rc.Stage, id)
			}
			checkAttr(t, rc.OutputParameters, "id", quote(id))
			checkAttr(t, rc.SharedVariables, "kept", `"yes"`)
			// What it removes: ParentContext, InputParameters and the images.
			if got := rc.ParentContext == nil; got != tc.trimmed {
				t.Errorf("ParentContext removed: %v, want %v", got, tc.trimmed)
			}
			if got := len(rc.InputParameters) == 0; got != tc.trimmed {
				t.Errorf("InputParameters removed: %v, want %v (%v)", got, tc.trimmed, rc.InputParameters.Keys())
			}
			if got := len(rc.PostEntityImages) == 0; got != tc.trimmed {
				t.Errorf("PostEntityImages removed: %v, want %v", got, tc.trimmed)
			}
			if len(rc.PreEntityImages) != 0 {
				t.Errorf("PreEntityImages %v on a Create", rc.PreEntityImages.Keys())
			}
		})
	}
	if got := countRecords(t, in, "account"); got != 2 {
		t.Errorf("%d accounts, want 2", got)
	}
}

// TestPayloadLimit checks the boundary: a payload of exactly MaxPayload
// bytes is sent whole, one byte more is trimmed.
func TestPayloadLimit(t *testing.T) {
	schema := bigDescriptionSchema(t)
	account := schema.Table("account")
	fixed := minimalContext()
	ec := func(n int) *eventual.ExecutionContext {
		ec := *fixed
		ec.OperationCreatedOn = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		ec.InputParameters = map[string]any{"Target": &eventual.Entity{Table: account, ID: ec.PrimaryEntityID,
			Values: eventual.Values{"description": strings.Repeat("x", n)}}}
		ec.OutputParameters = map[string]any{"id": ec.PrimaryEntityID}
		ec.ParentContext = &eventual.ExecutionContext{MessageName: "Upsert", PrimaryEntityName: "account"}
		return &ec
	}
	base, trimmed, err := webhook.Payload(ec(0))
	if err != nil || trimmed {
		t.Fatalf("payload: trimmed %v, %v", trimmed, err)
	}
	n := webhook.MaxPayload - len(base)
	at, trimmed, err := webhook.Payload(ec(n))
	if err != nil {
		t.Fatal(err)
	}
	if len(at) != webhook.MaxPayload || trimmed {
		t.Errorf("payload of %d bytes trimmed %v, want %d bytes untrimmed", len(at), trimmed, webhook.MaxPayload)
	}
	over, trimmed, err := webhook.Payload(ec(n + 1))
	if err != nil {
		t.Fatal(err)
	}
	if !trimmed || len(over) >= len(base) {
		t.Errorf("payload over the limit: trimmed %v, %d bytes; want trimmed below the %d bytes of the empty one", trimmed, len(over), len(base))
	}
	rc := decodeContext(t, over)
	if len(rc.InputParameters) != 0 || rc.ParentContext != nil || len(rc.PreEntityImages) != 0 || len(rc.PostEntityImages) != 0 {
		t.Errorf("trimmed payload keeps InputParameters %v ParentContext %v", rc.InputParameters.Keys(), rc.ParentContext != nil)
	}
	checkAttr(t, rc.OutputParameters, "id", quote(fixed.PrimaryEntityID))
}

// goldenContext is a fixed context with every kind of value: an Update of
// an order at PostOperation, inside an Upsert, with both images.
func goldenContext(tb testing.TB) *eventual.ExecutionContext {
	tb.Helper()
	schema := metadata.Builtin()
	order, account := schema.Table("new_order"), schema.Table("account")
	id := uuid.MustParse("6d81597f-0f9f-e711-8122-000d3aa2331c")
	amount, _ := eventual.ParseDecimal("1250.75", 4)
	price, _ := eventual.ParseDecimal("12.5", 4)
	at := time.Date(2017, 9, 26, 0, 4, 7, 0, time.UTC)
	values := eventual.Values{
		"new_name": "Order 42", "new_quantity": int64(7), "new_amount": amount, "new_unitprice": price, "new_weight": 2.5,
		"new_shipped": true, "new_orderdate": at, "new_stage": int64(100000001), "new_notes": nil,
		"new_externalid": uuid.MustParse("b374239d-4233-41a9-8b17-a86cb4f737b5"),
		"new_customer":   eventual.Ref(account, uuid.MustParse("75c2dd85-e89e-e711-8122-000d3aa2331c")),
	}
	pre := &eventual.Record{Table: order, ID: id, Version: 41, Values: eventual.Values{"new_name": "Order 41", "new_quantity": int64(6)}}
	post := &eventual.Record{Table: order, ID: id, Version: 42, Values: values}
	step := &eventual.Step{Name: "order webhook", Message: eventual.MessageUpdate, Table: "new_order", Stage: eventual.PostOperation}
	parent := &eventual.ExecutionContext{
		MessageName: "Upsert", PrimaryEntityName: "new_order", PrimaryEntityID: id, Stage: eventual.PreOperation, Depth: 1,
		CorrelationID: uuid.MustParse("11111111-1111-1111-1111-111111111111"), OperationID: uuid.MustParse("22222222-2222-2222-2222-222222222222"),
		RequestID: uuid.MustParse("33333333-3333-3333-3333-333333333333"), OperationCreatedOn: at, IsInTransaction: true,
		UserID: uuid.MustParse("44444444-4444-4444-4444-444444444444"), InitiatingUserID: uuid.MustParse("44444444-4444-4444-4444-444444444444"),
		BusinessUnitID: uuid.MustParse("55555555-5555-5555-5555-555555555555"), OrganizationID: uuid.MustParse("66666666-6666-6666-6666-666666666666"),
		InputParameters:  map[string]any{"Target": &eventual.Entity{Table: order, ID: id, Values: eventual.Values{"new_name": "Order 42"}}},
		OutputParameters: map[string]any{}, SharedVariables: map[string]any{"tag": "sync"},
	}
	return &eventual.ExecutionContext{
		MessageName: "Update", PrimaryEntityName: "new_order", PrimaryEntityID: id, Stage: eventual.PostOperation, Mode: eventual.Synchronous, Depth: 1,
		CorrelationID: parent.CorrelationID, OperationID: uuid.MustParse("77777777-7777-7777-7777-777777777777"), RequestID: parent.RequestID,
		OperationCreatedOn: at, UserID: parent.UserID, InitiatingUserID: parent.InitiatingUserID, BusinessUnitID: parent.BusinessUnitID,
		OrganizationID: parent.OrganizationID, IsInTransaction: true,
		InputParameters:  map[string]any{"Target": &eventual.Entity{Table: order, ID: id, Values: values}},
		OutputParameters: map[string]any{},
		SharedVariables:  map[string]any{"count": int64(3), "flag": true, "when": at},
		ParentContext:    parent,
		PreEntityImages:  map[string]*eventual.Record{"pre": pre},
		PostEntityImages: map[string]*eventual.Record{"post": post},
		Step:             step,
	}
}

func TestPayloadGolden(t *testing.T) {
	body, trimmed, err := webhook.Payload(goldenContext(t))
	if err != nil || trimmed {
		t.Fatalf("payload: trimmed %v, %v", trimmed, err)
	}
	again, _, _ := webhook.Payload(goldenContext(t))
	if !bytes.Equal(body, again) {
		t.Fatalf("two payloads of one context differ")
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, body, "", "  "); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	indented.WriteByte('\n')
	golden := filepath.Join("testdata", "payload_update.golden.json")
	if *update {
		if err := os.WriteFile(golden, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (go test -run TestPayloadGolden -update writes it): %v", err)
	}
	if !bytes.Equal(indented.Bytes(), want) {
		t.Errorf("payload differs from %s (rerun with -update after checking the change):\n%s", golden, indented.Bytes())
	}

	// And the golden payload decodes to the context's values.
	rc := decodeContext(t, body)
	if rc.MessageName != "Update" || rc.Stage != 40 || rc.OperationCreatedOn != "/Date(1506384247000)/" {
		t.Errorf("MessageName %s Stage %d OperationCreatedOn %s", rc.MessageName, rc.Stage, rc.OperationCreatedOn)
	}
	if rc.ParentContext == nil || rc.ParentContext.MessageName != "Upsert" || rc.ParentContext.Stage != 20 {
		t.Errorf("ParentContext %+v, want the Upsert at stage 20", rc.ParentContext)
	}
	if got := rc.PreEntityImages.Keys(); !slices.Equal(got, []string{"pre"}) {
		t.Errorf("PreEntityImages %v", got)
	}
	if got := rc.SharedVariables.Keys(); !slices.Equal(got, []string{"count", "flag", "when"}) {
		t.Errorf("SharedVariables %v, want sorted keys", got)
	}
	raw, _ := rc.InputParameters.Get("Target")
	target := decodeEntity(t, raw)
	checkAttr(t, target.Attributes, "new_orderdate", `"\/Date(1506384247000)\/"`)
	checkAttr(t, target.Attributes, "new_externalid", `"b374239d-4233-41a9-8b17-a86cb4f737b5"`)
	checkAttr(t, target.Attributes, "new_notes", `null`)
	if raw, ok := target.Attributes.Get("new_customer"); ok {
		var ref entityReferenceJSON
		decodeStrict(t, raw, &ref)
		if ref.Type != "EntityReference"+contracts || ref.LogicalName != "account" || ref.ID.String() != "75c2dd85-e89e-e711-8122-000d3aa2331c" {
			t.Errorf("new_customer %s", raw)
		}
	}
	if keys := target.Attributes.Keys(); !slices.IsSorted(keys) {
		t.Errorf("Attributes not in a stable order: %v", keys)
	}
}

// TestPayloadTypeHintFirst: WCF's DataContractJsonSerializer (the
// serializer of RemoteExecutionContext, and the way .NET receivers read
// it) only honours a "__type" hint that is the first member of its object;
// Microsoft's sample payload has it first everywhere. Without it, a .NET
// receiver cannot tell the Target Entity, EntityReference and Money values
// from plain objects.
func TestPayloadTypeHintFirst(t *testing.T) {
	body, _, err := webhook.Payload(goldenContext(t))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := walkTypeHints(t, dec, "$"); err != nil {
		t.Fatal(err)
	}
}

// walkTypeHints reads one JSON value and reports every object whose
// "__type" member is not its first.
func walkTypeHints(t *testing.T, dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for i := 0; dec.More(); i++ {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			if key == "__type" && i > 0 {
				t.Errorf("%s: \"__type\" is member %d of its object, want the first", path, i+1)
			}
			if err := walkTypeHints(t, dec, fmt.Sprintf("%s.%v", path, key)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkTypeHints(t, dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	return err
}

// TestPayloadEscapedDates: the docs (and Microsoft's sample) show dates as
// "\/Date(...)\/", the form WCF writes and the only one that JSON readers
// of the WCF/ASP.NET AJAX family turn back into dates.
func TestPayloadEscapedDates(t *testing.T) {
	body, _, err := webhook.Payload(goldenContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"\/Date(1506384247000)\/"`)) {
		t.Errorf("no escaped \\/Date(...)\\/ in the payload")
	}
}

// TestPayloadColumnTypes: Dataverse writes a column's value by its type:
// Money only for currency columns, a plain number for decimal ones, and an
// OptionSetValue for choice columns (as real payloads show).
func TestPayloadColumnTypes(t *testing.T) {
	body, _, err := webhook.Payload(goldenContext(t))
	if err != nil {
		t.Fatal(err)
	}
	rc := decodeContext(t, body)
	raw, _ := rc.InputParameters.Get("Target")
	target := decodeEntity(t, raw)
	if raw, ok := target.Attributes.Get("new_unitprice"); ok {
		var n json.Number
		err := json.Unmarshal(raw, &n)
		if f, _ := n.Float64(); err != nil || f != 12.5 {
			t.Errorf("new_unitprice %s, want the number 12.5", raw)
		}
	}
	if raw, ok := target.Attributes.Get("new_stage"); ok {
		var o moneyJSON // same shape: {"__type", "Value"}
		if err := json.Unmarshal(raw, &o); err != nil || o.Type != "OptionSetValue"+contracts || o.Value != "100000001" {
			t.Errorf("new_stage %s, want an OptionSetValue of 100000001", raw)
		}
	}
}

func TestPayloadNil(t *testing.T) {
	body, trimmed, err := webhook.Payload(nil)
	if err != nil || trimmed || string(body) != "null" {
		t.Errorf("Payload(nil) = %s, %v, %v; want null", body, trimmed, err)
	}
}

// TestWebAPISyncWebhook runs a sync webhook behind the Web API: the
// caller's correlation id reaches the endpoint, and a failing endpoint
// gives the caller Dataverse's plug-in error (400, 0x80040265).
func TestWebAPISyncWebhook(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	var status atomic.Int64
	status.Store(http.StatusOK)
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) })
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation, Plugin: ep.plugin()})
	srv := webapi.NewServer(in, in.Schema, in.Store.Meta())
	srv.Logger = slog.New(slog.DiscardHandler)
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)

	post := func(corr uuid.UUID) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, api.URL+"/api/data/v9.2/accounts", strings.NewReader(`{"name":"Via API"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("x-ms-correlation-request-id", corr.String())
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	corr := uuid.New()
	resp, body := post(corr)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST accounts: %d %s", resp.StatusCode, body)
	}
	calls := ep.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	checkHeaders(t, calls[0], "account", "Create", corr)
	if rc := decodeContext(t, calls[0].Body); rc.CorrelationID != corr {
		t.Errorf("CorrelationId %s, want the request's %s", rc.CorrelationID, corr)
	}

	status.Store(http.StatusInternalServerError)
	resp, body = post(uuid.New())
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST accounts with a failing webhook: %d %s, want 400", resp.StatusCode, body)
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Error.Code != eventual.CodePluginFailed || !strings.Contains(e.Error.Message, "500") {
		t.Errorf("error %+v, want code %s and a message naming the 500", e.Error, eventual.CodePluginFailed)
	}
	if got := countRecords(t, in, "account"); got != 1 {
		t.Errorf("%d accounts, want 1 (the failed create rolled back)", got)
	}
}

// TestSyncWebhookReceiverWrites: a receiver of a sync webhook that writes
// an unrelated record back to the instance (a common pattern) must not
// stall the operation that called it. In Dataverse only the rows the
// operation locked are held.
// A sync step runs inside the write's transaction, and SQLite has one
// writer: a webhook receiver that writes back to the same SQLite instance
// waits for the operation that called it, which fails when the webhook
// times out. This pins that documented limitation (PostgreSQL locks rows
// instead, see the README).
func TestSyncWebhookReceiverWritesSQLite(t *testing.T) {
	in := mustOpenInstance(t, metadata.Builtin())
	ep := newEndpoint(t, nil)
	ep.setRespond(func(_ int, w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if _, err := in.Create(ctx, &eventual.Entity{Table: in.Schema.Table("contact"), Values: eventual.Values{"lastname": "Receiver"}}); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	wh := ep.plugin()
	wh.Timeout = 300 * time.Millisecond
	mustRegister(t, in, eventual.Step{Name: "notify", Message: eventual.MessageCreate, Table: "account", Stage: eventual.PostOperation, Plugin: wh})
	start := time.Now()
	_, err := in.Create(context.Background(), &eventual.Entity{Table: in.Schema.Table("account"), Values: eventual.Values{"name": "Caller"}})
	var ee *eventual.Error
	if !errors.As(err, &ee) || ee.Code != eventual.CodePluginFailed || !strings.Contains(ee.Message, "did not answer in time") {
		t.Fatalf("create with a receiver writing back = %v, want the webhook's timeout as a plug-in error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the operation took %v, want about the webhook's timeout", d)
	}
	if got := countRecords(t, in, "account"); got != 0 {
		t.Errorf("%d accounts after the failed create, want 0", got)
	}
}
