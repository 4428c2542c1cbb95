package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/google/uuid"
)

// Defaults as Dataverse documents them.
const (
	// DefaultTimeout is how long a webhook may take to answer.
	DefaultTimeout = 60 * time.Second
	// MaxPayload is the size above which the context is trimmed
	// (ParentContext, InputParameters and images removed) and the
	// x-ms-dynamics-msg-size-exceeded header set.
	MaxPayload = 256 * 1024
)

// Plugin posts execution contexts to a URL.
type Plugin struct {
	// URL is the endpoint.
	URL string
	// Headers are sent with every call (the HttpHeader authentication).
	Headers map[string]string
	// Query parameters are added to the URL (WebhookKey and
	// HttpQueryString authentication: {"code": "<key>"}).
	Query map[string]string
	// Timeout bounds a call (DefaultTimeout).
	Timeout time.Duration
	// Organization is sent as x-ms-dynamics-organization.
	Organization string
	// Client sends the requests (http.DefaultClient).
	Client *http.Client
}

var _ eventual.Plugin = (*Plugin)(nil)

// Kind is "type: webhook" in a configuration file: a webhook step, at
// PostOperation by default. init registers it in pipeline.DefaultKinds.
var Kind = pipeline.Kind{Name: "webhook", Stage: eventual.PostOperation, New: newPlugin}

func init() { pipeline.RegisterKind(Kind) }

// Config is the configuration of a webhook step.
type Config struct {
	// URL is the endpoint: http or https, with a host.
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	// Timeout is a Go duration ("30s"); empty for DefaultTimeout.
	Timeout string `yaml:"timeout"`
}

// newPlugin checks a webhook step's configuration and returns its plugin.
func newPlugin(spec pipeline.Spec) (eventual.Plugin, error) {
	var c Config
	if err := spec.DecodeSettings(&c); err != nil {
		return nil, err
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a key (user info, ?code=): the message shows
		// its scheme and host only.
		shown := "a URL that does not parse"
		if err == nil {
			shown = fmt.Sprintf("%q", (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String())
		}
		return nil, fmt.Errorf("a webhook step needs an http or https url, not %s", shown)
	}
	var timeout time.Duration
	if c.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(c.Timeout); err != nil {
			return nil, fmt.Errorf("timeout %q: %w", c.Timeout, err)
		}
	}
	return &Plugin{URL: c.URL, Headers: c.Headers, Query: c.Query, Timeout: timeout, Organization: spec.Organization}, nil
}

// Execute posts the context. A 502, 503 or 504 answer is tried once more,
// as Dataverse does.
func (p *Plugin) Execute(ctx context.Context, ec *eventual.ExecutionContext) error {
	body, trimmed, err := Payload(ec)
	if err != nil {
		return err
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return fmt.Errorf("webhook: bad URL %q: %w", p.URL, err)
	}
	// Messages name the endpoint without its query or user info, which
	// may hold the key: callers and job records must not show it.
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if len(p.Query) > 0 {
		q := u.Query()
		for k, v := range p.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	var last error
	for attempt := 0; attempt < 2; attempt++ {
		status, err := p.post(ctx, client, u.String(), body, trimmed, ec, timeout)
		if err == nil && status >= 200 && status < 300 {
			return nil
		}
		if err != nil {
			last = &eventual.PluginError{Message: fmt.Sprintf("The webhook %s could not be reached: %s.", shown, reason(ctx, err))}
			break
		}
		last = &eventual.PluginError{Message: fmt.Sprintf("The webhook %s answered %d %s.", shown, status, http.StatusText(status))}
		if status != http.StatusBadGateway && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
			break
		}
	}
	return last
}

// reason describes why a call failed without the request URL that
// net/http puts in its errors.
func reason(ctx context.Context, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case ctx.Err() != nil:
		return "the operation was canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "it did not answer in time"
	}
	return err.Error()
}

func (p *Plugin) post(ctx context.Context, client *http.Client, u string, body []byte, trimmed bool, ec *eventual.ExecutionContext, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-ms-dynamics-organization", p.Organization)
	req.Header.Set("x-ms-dynamics-entity-name", ec.PrimaryEntityName)
	req.Header.Set("x-ms-dynamics-request-name", ec.MessageName)
	req.Header.Set("x-ms-correlation-request-id", ec.CorrelationID.String())
	if trimmed {
		req.Header.Set("x-ms-dynamics-msg-size-exceeded", "true")
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// Payload serializes a context as Dataverse's RemoteExecutionContext
// (WCF data-contract JSON). Over MaxPayload it drops ParentContext,
// InputParameters and the images and reports that it did.
func Payload(ec *eventual.ExecutionContext) ([]byte, bool, error) {
	body, err := json.Marshal(remote(ec, true))
	if err != nil {
		return nil, false, fmt.Errorf("webhook: serialize context: %w", err)
	}
	if body = escapeDates(body); len(body) <= MaxPayload {
		return body, false, nil
	}
	if body, err = json.Marshal(remote(ec, false)); err != nil {
		return nil, false, fmt.Errorf("webhook: serialize context: %w", err)
	}
	return escapeDates(body), true, nil
}

const contracts = ":http://schemas.microsoft.com/xrm/2011/Contracts"

func date(t time.Time) string {
	return fmt.Sprintf("/Date(%d)/", t.UnixMilli())
}

// escapeDates writes dates as WCF does, "\/Date(ms)\/": the same string
// to a JSON reader, but older WCF and ASP.NET AJAX readers only take a
// date in this form. Go's encoder never escapes "/", so only dates match.
func escapeDates(body []byte) []byte {
	body = bytes.ReplaceAll(body, []byte(`"/Date(`), []byte(`"\/Date(`))
	return bytes.ReplaceAll(body, []byte(`)/"`), []byte(`)\/"`))
}

type kv struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// object is a JSON object that keeps its members in order: WCF's
// data-contract reader needs "__type" first.
type object []member

type member struct {
	name  string
	value any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func collection(m map[string]any, conv func(string, any) any) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{k, conv(k, m[k])})
	}
	return out
}

// remote builds the RemoteExecutionContext of a context.
func remote(ec *eventual.ExecutionContext, full bool) map[string]any {
	if ec == nil {
		return nil
	}
	m := map[string]any{
		"BusinessUnitId": ec.BusinessUnitID, "CorrelationId": ec.CorrelationID, "Depth": ec.Depth,
		"InitiatingUserAzureActiveDirectoryObjectId": uuid.Nil, "InitiatingUserId": ec.InitiatingUserID,
		"InputParameters": []kv{}, "IsExecutingOffline": false, "IsInTransaction": ec.IsInTransaction,
		"IsOfflinePlayback": false, "IsolationMode": 1, "MessageName": ec.MessageName, "Mode": int(ec.Mode),
		"OperationCreatedOn": date(ec.OperationCreatedOn), "OperationId": ec.OperationID, "OrganizationId": ec.OrganizationID,
		"OrganizationName": "", "OutputParameters": collection(ec.OutputParameters, parameter), "OwningExtension": owning(ec.Step),
		"ParentContext": nil, "PostEntityImages": images(ec.PostEntityImages), "PreEntityImages": images(ec.PreEntityImages),
		"PrimaryEntityId": ec.PrimaryEntityID, "PrimaryEntityName": ec.PrimaryEntityName, "RequestId": ec.RequestID,
		"SecondaryEntityName": "none", "SharedVariables": collection(ec.SharedVariables, parameter), "Stage": int(ec.Stage),
		"UserAzureActiveDirectoryObjectId": uuid.Nil, "UserId": ec.UserID,
	}
	if full {
		m["InputParameters"] = collection(ec.InputParameters, parameter)
		if ec.ParentContext != nil {
			m["ParentContext"] = remote(ec.ParentContext, true)
		}
	} else {
		m["PostEntityImages"], m["PreEntityImages"] = []kv{}, []kv{}
	}
	return m
}

func owning(s *eventual.Step) any {
	if s == nil {
		return nil
	}
	return map[string]any{"Id": eventual.MetadataIDFor("step", s.Name), "KeyAttributes": []kv{}, "LogicalName": "sdkmessageprocessingstep",
		"Name": s.Name, "RowVersion": nil}
}

func images(imgs map[string]*eventual.Record) []kv {
	out := []kv{}
	keys := make([]string, 0, len(imgs))
	for k := range imgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, kv{k, entity(imgs[k].Table, imgs[k].ID, imgs[k].Values)})
	}
	return out
}

// entity serializes a record or an entity: its attributes typed by their
// columns, with the primary key among them once it is known.
func entity(t *eventual.Table, id uuid.UUID, values eventual.Values) object {
	vals := make(map[string]any, len(values)+1)
	for k, v := range values {
		vals[k] = v
	}
	if id != uuid.Nil {
		vals[t.PrimaryIDAttribute] = id
	}
	attrs := collection(vals, func(name string, v any) any { return attribute(t.Column(name), v) })
	return object{
		{"__type", "Entity" + contracts}, {"Attributes", attrs}, {"EntityState", nil},
		{"FormattedValues", []kv{}}, {"Id", id}, {"KeyAttributes", []kv{}}, {"LogicalName", t.LogicalName},
		{"RelatedEntities", []kv{}}, {"RowVersion", nil},
	}
}

// attribute serializes a column value as the SDK types it: Money and
// OptionSetValue objects, lookups as EntityReference, decimals as numbers.
func attribute(c *eventual.Column, v any) any {
	if c == nil || v == nil {
		return parameter("", v)
	}
	switch c.Type {
	case eventual.TypeMoney:
		if d, ok := v.(eventual.Decimal); ok {
			return object{{"__type", "Money" + contracts}, {"Value", json.Number(d.String())}}
		}
	case eventual.TypeDecimal:
		if d, ok := v.(eventual.Decimal); ok {
			return json.Number(d.String())
		}
	case eventual.TypeChoice:
		if n, ok := v.(int64); ok {
			return object{{"__type", "OptionSetValue" + contracts}, {"Value", n}}
		}
	}
	return parameter("", v)
}

// parameter serializes a parameter or an untyped value in data-contract
// form.
func parameter(_ string, v any) any {
	switch x := v.(type) {
	case *eventual.Entity:
		return entity(x.Table, x.ID, x.Values)
	case *eventual.Record:
		return entity(x.Table, x.ID, x.Values)
	case []*eventual.Record:
		ents := make([]any, len(x))
		for i, r := range x {
			ents[i] = entity(r.Table, r.ID, r.Values)
		}
		return object{{"__type", "EntityCollection" + contracts}, {"Entities", ents}, {"MoreRecords", false}}
	case eventual.EntityReference:
		name := ""
		if x.Table != nil {
			name = x.Table.LogicalName
		}
		return object{{"__type", "EntityReference" + contracts}, {"Id", x.ID}, {"KeyAttributes", []kv{}}, {"LogicalName", name}, {"Name", nil}, {"RowVersion", nil}}
	case eventual.Decimal:
		return json.Number(x.String())
	case time.Time:
		return date(x)
	case int64:
		return x
	case nil, string, bool, float64, int, uuid.UUID:
		return x
	}
	return strings.TrimSpace(fmt.Sprint(v))
}
