package status_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/status"
)

const hostile = `<script>alert(1)</script>`

// instancePage is a snapshot of serve's page, with a hostile name.
func instancePage() status.Snapshot {
	now := at(100)
	return status.Snapshot{
		Time:  now,
		Title: "eventual serve — Instance B",
		Instance: &status.InstanceSnapshot{
			Tables:  []status.TableCount{{Table: "account", Rows: 12, Placeholders: 1}, {Table: "contact", Rows: 3}},
			Pending: 1,
			Placeholders: []status.Placeholder{{
				Table: "account", ID: "7d5f7c8e-0000-4000-8000-000000000009", Key: "accountnumber=ACC-9",
				Name: hostile, CorrelationID: "corr-42", Since: now.Add(-95 * time.Second),
			}},
			HeadVersion: 1234,
		},
	}
}

// syncPage is a snapshot of the sync's page.
func syncPage() status.Snapshot {
	return status.Snapshot{
		Time:  at(100),
		Title: "eventual sync — A → B",
		Sync: &status.SyncSnapshot{
			Tables: []status.SyncTable{{
				Table: "account", Phase: "incremental", LastCycle: at(98), Lag: 2500 * time.Millisecond,
				Backlog: 4, Applied: 120, DeadLetters: 2, LastError: "PATCH account: 503 " + hostile,
			}},
			Breakers: []status.Breaker{{Endpoint: "http://127.0.0.1:8081", State: "half-open"}},
		},
	}
}

// newHandler returns a mux that serves the status of snaps (one sample
// each), mounted as cmd/eventual mounts it.
func newHandler(t *testing.T, snaps ...status.Snapshot) (*http.ServeMux, *status.History) {
	t.Helper()
	src := &fakeSource{}
	h := status.NewHistory(src.Source, time.Second, time.Hour)
	sampleAll(t, h, src, snaps)
	mux := http.NewServeMux()
	mux.Handle("/status", status.Handler(h))
	mux.Handle("/status/", status.Handler(h))
	return mux, h
}

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPageInstance(t *testing.T) {
	mux, _ := newHandler(t, instancePage())
	r := get(t, mux, "GET", "/status")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s", r.Status)
	}
	if got, want := r.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
	page := body(t, r)
	for _, want := range []string{
		"<title>eventual serve — Instance B</title>",
		"2026-03-01 12:01:40 UTC",
		"accountnumber=ACC-9",
		"7d5f7c8e-0000-4000-8000-000000000009",
		"corr-42",
		"1m35s", // the placeholder's age
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		`<td>contact</td><td class="num">3</td>`,
		`<span id="head-version">1234</span>`,
		"No hydrations yet",
		`<meta name="viewport"`,
		`data-plot="Placeholders pending"`,
		`data-plot="Time to hydrate"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{hostile, `id="sync"`, `<td colspan="6">No placeholders pending</td>`} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %q", bad)
		}
	}
	checkNoInline(t, page)
}

func TestPageSync(t *testing.T) {
	mux, _ := newHandler(t, syncPage())
	page := body(t, get(t, mux, "GET", "/status/"))
	for _, want := range []string{
		"eventual sync — A → B",
		`<td>account</td><td>incremental</td>`,
		"2026-03-01 12:01:38 UTC",
		`<td class="num">2.5s</td><td class="num">4</td><td class="num">120</td><td class="num bad">2</td>`,
		"PATCH account: 503 &lt;script&gt;",
		`<td>http://127.0.0.1:8081</td><td><span class="state state-half-open">half-open</span></td>`,
		`data-plot="Sync lag per table"`,
		`data-plot="Breaker state"`,
		`data-plot="Backlog per table"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{hostile, `id="instance"`} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %q", bad)
		}
	}
	checkNoInline(t, page)
}

func TestPageEmpty(t *testing.T) {
	for _, tc := range []struct {
		name  string
		snaps []status.Snapshot
		want  []string
	}{
		{name: "BeforeTheFirstSample", want: []string{"<title>eventual status</title>", "No data yet", "never"}},
		{
			name:  "EmptyInstance",
			snaps: []status.Snapshot{{Time: at(0), Instance: &status.InstanceSnapshot{}}},
			want:  []string{"No placeholders pending", "No hydrations yet", "No tables"},
		},
		{
			name:  "EmptySync",
			snaps: []status.Snapshot{{Time: at(0), Sync: &status.SyncSnapshot{}}},
			want:  []string{"No tables synced", "No breakers"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux, _ := newHandler(t, tc.snaps...)
			page := body(t, get(t, mux, "GET", "/status"))
			for _, want := range tc.want {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}

// The page says when the source fails.
func TestPageSampleError(t *testing.T) {
	src := &fakeSource{}
	h := status.NewHistory(src.Source, time.Second, time.Hour)
	src.fail(io.ErrUnexpectedEOF)
	if err := h.Sample(t.Context()); err == nil {
		t.Fatal("Sample with a failing source: no error")
	}
	page := body(t, get(t, status.Handler(h), "GET", "/status"))
	if want := `<p id="error" class="error">sample status: unexpected EOF</p>`; !strings.Contains(page, want) {
		t.Errorf("page lacks %q", want)
	}
}

// checkNoInline fails if page has an inline script, style or event
// handler, which the Content-Security-Policy would block.
func checkNoInline(t *testing.T, page string) {
	t.Helper()
	if n, m := strings.Count(page, "<script"), len(regexp.MustCompile(`<script defer src="[^"]+"></script>`).FindAllString(page, -1)); n != m || n == 0 {
		t.Errorf("page has %d scripts, %d of them external with no content", n, m)
	}
	if regexp.MustCompile(`<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("page has an inline style or event handler")
	}
}

func TestData(t *testing.T) {
	later := instancePage()
	later.Time = at(105)
	mux, _ := newHandler(t, instancePage(), later)
	r := get(t, mux, "GET", "/status/data.json")
	if got, want := r.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	if got, want := r.Header.Get("Cache-Control"), "no-store"; got != want {
		t.Errorf("Cache-Control = %q, want %q", got, want)
	}
	var d struct {
		Snapshot struct {
			Time     time.Time
			Title    string
			Instance struct {
				Pending      int64
				HeadVersion  int64
				Placeholders []map[string]any
			}
		}
		Times    []float64
		Pending  []*float64
		Lag      []status.Series
		Backlog  []status.Series
		Breakers []status.Series
		Hydrate  []float64
	}
	raw := body(t, r)
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("decode data.json: %v\n%s", err, raw)
	}
	for _, key := range []string{`"snapshot":`, `"times":`, `"pending":`, `"lag":[]`, `"backlog":[]`, `"breakers":[]`, `"hydrate":[]`, `"headVersion":1234`} {
		if !strings.Contains(raw, key) {
			t.Errorf("data.json lacks %s:\n%s", key, raw)
		}
	}
	if got, want := d.Snapshot.Time, at(105); !got.Equal(want) {
		t.Errorf("snapshot.time = %v, want %v", got, want)
	}
	if got, want := d.Times, []float64{unix(100), unix(105)}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("times = %v, want %v", got, want)
	}
	if len(d.Pending) != 2 || d.Pending[1] == nil || *d.Pending[1] != 1 {
		t.Errorf("pending = %v, want [1 1]", d.Pending)
	}
	if len(d.Snapshot.Instance.Placeholders) != 1 {
		t.Fatalf("placeholders = %v, want one", d.Snapshot.Instance.Placeholders)
	}
	p := d.Snapshot.Instance.Placeholders[0]
	for k, want := range map[string]any{"key": "accountnumber=ACC-9", "name": hostile, "correlationId": "corr-42", "table": "account"} {
		if p[k] != want {
			t.Errorf("placeholder %s = %v, want %v", k, p[k], want)
		}
	}
}

func TestRoutes(t *testing.T) {
	mux, _ := newHandler(t, instancePage())
	stripped := http.StripPrefix("/status", status.Handler(newHistory(t)))
	prefixed := http.NewServeMux()
	prefixed.Handle("/sync/status/", status.Handler(newHistory(t)))
	for _, tc := range []struct {
		handler      http.Handler
		method, path string
		code         int
		ctype        string
		cache        string // a substring of Cache-Control
	}{
		{mux, "GET", "/status", 200, "text/html; charset=utf-8", "no-store"},
		{mux, "GET", "/status/", 200, "text/html; charset=utf-8", "no-store"},
		{mux, "HEAD", "/status", 200, "text/html; charset=utf-8", "no-store"},
		{mux, "GET", "/status/data.json", 200, "application/json", "no-store"},
		{mux, "HEAD", "/status/data.json", 200, "application/json", "no-store"},
		{mux, "GET", "/status/assets/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "immutable"},
		{mux, "GET", "/status/assets/uPlot.min.css", 200, "text/css; charset=utf-8", "immutable"},
		{mux, "GET", "/status/assets/status.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{mux, "GET", "/status/assets/status.css", 200, "text/css; charset=utf-8", "no-cache"},
		{mux, "GET", "/status/assets/favicon.svg", 200, "image/svg+xml", "no-cache"},
		{mux, "GET", "/status/assets/LICENSE", 200, "text/plain; charset=utf-8", "no-cache"},
		{mux, "GET", "/status/assets/", 404, "", ""},
		{mux, "GET", "/status/assets/nope.js", 404, "", ""},
		{mux, "GET", "/status/assets/README.md", 404, "", ""},
		{mux, "GET", "/status/page.html", 404, "", ""},
		{mux, "GET", "/status/data.json/x", 404, "", ""},
		{mux, "GET", "/status/nope", 404, "", ""},
		{mux, "POST", "/status", 405, "", ""},
		{mux, "PUT", "/status/", 405, "", ""},
		{mux, "DELETE", "/status/data.json", 405, "", ""},
		{mux, "POST", "/status/assets/status.js", 405, "", ""},
		{stripped, "GET", "/status", 200, "text/html; charset=utf-8", "no-store"},
		{stripped, "GET", "/status/data.json", 200, "application/json", "no-store"},
		{stripped, "GET", "/status/assets/status.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{prefixed, "GET", "/sync/status/", 200, "text/html; charset=utf-8", "no-store"},
		{prefixed, "GET", "/sync/status/data.json", 200, "application/json", "no-store"},
	} {
		r := get(t, tc.handler, tc.method, tc.path)
		if r.StatusCode != tc.code {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, r.Status, tc.code)
			continue
		}
		if tc.code == http.StatusMethodNotAllowed {
			if got, want := r.Header.Get("Allow"), "GET, HEAD"; got != want {
				t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, got, want)
			}
		}
		if tc.code != http.StatusOK {
			continue
		}
		if got := r.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s %s: Content-Type = %q, want %q", tc.method, tc.path, got, tc.ctype)
		}
		if got := r.Header.Get("Cache-Control"); !strings.Contains(got, tc.cache) {
			t.Errorf("%s %s: Cache-Control = %q, want %q in it", tc.method, tc.path, got, tc.cache)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", tc.method, tc.path, got)
		}
		if b := body(t, r); (tc.method == "HEAD") != (b == "") {
			t.Errorf("%s %s: %d bytes of body", tc.method, tc.path, len(b))
		}
	}
}

func newHistory(t *testing.T) *status.History {
	t.Helper()
	src := &fakeSource{}
	h := status.NewHistory(src.Source, time.Second, time.Hour)
	sampleAll(t, h, src, []status.Snapshot{instancePage()})
	return h
}

// Every URL the page links is served, under each way of mounting it.
func TestPageLinks(t *testing.T) {
	mux, _ := newHandler(t, instancePage())
	prefixed := http.NewServeMux()
	prefixed.Handle("/sync/status/", status.Handler(newHistory(t)))
	stripped := http.NewServeMux()
	stripped.Handle("/status/", http.StripPrefix("/status", status.Handler(newHistory(t))))
	stripped.Handle("/status", http.StripPrefix("/status", status.Handler(newHistory(t))))
	link := regexp.MustCompile(`(?:href|src|data-source)="([^"]+)"`)
	for _, tc := range []struct {
		name    string
		handler http.Handler
		page    string
		base    string
	}{
		{"Mux", mux, "/status", "/status/"},
		{"MuxSlash", mux, "/status/", "/status/"},
		{"Prefixed", prefixed, "/sync/status/", "/sync/status/"},
		{"StripPrefix", stripped, "/status", "/status/"},
		{"StripPrefixSlash", stripped, "/status/", "/status/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := body(t, get(t, tc.handler, "GET", tc.page))
			links := link.FindAllStringSubmatch(page, -1)
			if len(links) != 6 { // icon, 2 styles, 2 scripts, data
				t.Fatalf("page has %d links, want 6: %q", len(links), links)
			}
			for _, l := range links {
				u := strings.ReplaceAll(l[1], "&amp;", "&")
				if !strings.HasPrefix(u, tc.base) {
					t.Errorf("link %q is not under %q", u, tc.base)
				}
				if r := get(t, tc.handler, "GET", u); r.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %s", u, r.Status)
				}
			}
		})
	}
}

// Assets answer a conditional request with 304.
func TestAssetETag(t *testing.T) {
	mux, _ := newHandler(t)
	r := get(t, mux, "GET", "/status/assets/uPlot.iife.min.js")
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if n := len(body(t, r)); n < 40000 {
		t.Errorf("uPlot is %d bytes, want the whole library", n)
	}
	req := httptest.NewRequest("GET", "/status/assets/uPlot.iife.min.js", nil)
	req.Header.Set("If-None-Match", etag)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
}
