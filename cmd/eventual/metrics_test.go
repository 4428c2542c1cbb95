package main_test

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testproc"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a /metrics page and parses it.
func scrape(t testing.TB, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s\n%s", url, r.StatusCode, r.Header.Get("Content-Type"), body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", url, err, body)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// labels ("k=v"); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

var guid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`)

// TestServeMetrics: /metrics on eventual serve counts requests by route
// template (never a key or an id), shows the placeholder a write made as
// pending, then as hydrated with its time to hydrate, and the store's
// commits.
func TestServeMetrics(t *testing.T) {
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "b.db"))
	c := newClient(t, requestTimeout)
	must(t, c, 204, "POST", p.URL+"contacts", map[string]any{"lastname": "Smith", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='ACC-9')"})
	send(c, "GET", p.URL+"accounts(accountnumber='NOPE')", nil)
	fams := scrape(t, c, p.Root+"metrics")
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"eventual_placeholders", []string{"table=account", "state=pending"}, 1},
		{"eventual_placeholders_created_total", []string{"table=account"}, 1},
		{"eventual_http_requests_total", []string{"route=/{set}", "method=POST", "code=204"}, 1},
		{"eventual_http_requests_total", []string{"route=/{set}({key})", "method=GET", "code=404"}, 1},
	} {
		if got, ok := value(fams, tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if n, ok := value(fams, "eventual_store_commit_writes"); !ok || n < 1 {
		t.Errorf("no commit recorded: %v %v", n, ok)
	}
	if _, ok := value(fams, "eventual_placeholder_oldest_age_seconds", "table=account"); !ok {
		t.Error("no age of the oldest placeholder")
	}

	must(t, c, 204, "PATCH", p.URL+"accounts(accountnumber='ACC-9')", map[string]any{"name": "Contoso"})
	fams = scrape(t, c, p.Root+"metrics")
	if v, _ := value(fams, "eventual_placeholders", "table=account", "state=pending"); v != 0 {
		t.Error("the hydrated placeholder is still pending")
	}
	if v, _ := value(fams, "eventual_placeholders", "table=account", "state=hydrated"); v != 1 {
		t.Errorf("%v hydrated placeholders, want 1", v)
	}
	if got, _ := value(fams, "eventual_placeholders_hydrated_total", "table=account"); got != 1 {
		t.Errorf("hydrated %v, want 1", got)
	}
	if got, _ := value(fams, "eventual_placeholder_time_to_hydrate_seconds", "table=account"); got != 1 {
		t.Errorf("%v times to hydrate, want 1", got)
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if guid.MatchString(l.GetValue()) || strings.Contains(l.GetValue(), "ACC-9") {
					t.Errorf("%s has a record's id or key in label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if !strings.Contains(p.Stderr.String(), `msg="placeholder hydrated" table=account`) {
		t.Errorf("the hydration was not logged:\n%s", p.Stderr.String())
	}
}

// TestSyncMetrics: eventual sync --listen serves /metrics: per table
// records applied and lag, each endpoint's breaker, which opens when the
// target is killed.
func TestSyncMetrics(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "one", "accountnumber": "M-1"})
	p := testproc.Spawn(t, binary, "sync", "--source", a.Root, "--target", b.Root, "--tables", "account,contact",
		"--state", filepath.Join(dir, "sync.db"), "--interval", "50ms", "--listen", "127.0.0.1:0")
	p.WaitStderr("accepting webhook wake-ups", 20*time.Second)
	m := regexp.MustCompile(`metrics=(http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("no metrics URL in:\n%s", p.Stderr.String())
	}
	waitFor := func(what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			fams := scrape(t, c, m[1])
			if ok(fams) {
				return fams
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s\n%s", what, p.Stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The cycle's duration is observed when the cycle ends, after it
	// applied the account: wait for both, or a scrape in between sees
	// the one without the other.
	fams := waitFor("the account applied, its cycle ended", func(f map[string]*dto.MetricFamily) bool {
		v, _ := value(f, "eventual_sync_applied_total", "table=account")
		n, _ := value(f, "eventual_sync_cycle_duration_seconds", "table=account")
		return v >= 1 && n >= 1
	})
	if _, ok := value(fams, "eventual_sync_lag_seconds", "table=account"); !ok {
		t.Error("no lag for account")
	}
	for _, e := range []string{"source", "target"} {
		if v, _ := value(fams, "eventual_sync_breaker_state", "endpoint="+e, "state=closed"); v != 1 {
			t.Errorf("%s breaker not closed: %v", e, v)
		}
	}
	b.Cmd.Process.Kill()
	<-b.Exited
	must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "two", "accountnumber": "M-2"})
	fams = waitFor("the target's breaker open", func(f map[string]*dto.MetricFamily) bool {
		v, _ := value(f, "eventual_sync_breaker_state", "endpoint=target", "state=open")
		return v == 1
	})
	if v, _ := value(fams, "eventual_sync_retries_total", "endpoint=target", "reason=transport"); v < 1 {
		t.Errorf("no transport retries counted against the dead target: %v", v)
	}
	if v, _ := value(fams, "eventual_sync_breaker_changes_total", "endpoint=target", "state=open"); v < 1 {
		t.Errorf("breaker changes to open: %v", v)
	}
	p.Stop()
}
