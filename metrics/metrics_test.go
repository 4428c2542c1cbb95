package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/metrics"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeServe answers the scrape-time gauges.
type fakeServe struct {
	placeholders []metrics.TablePlaceholders
	jobs         int64
	version      int64
	err          error
}

func (f *fakeServe) Placeholders(context.Context) ([]metrics.TablePlaceholders, error) {
	return f.placeholders, f.err
}
func (f *fakeServe) QueuedJobs(context.Context) (int64, error) { return f.jobs, f.err }
func (f *fakeServe) HeadVersion(context.Context) (int64, bool, error) {
	return f.version, true, f.err
}

func TestServeCountsAndGauges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	src := &fakeServe{placeholders: []metrics.TablePlaceholders{{Table: "account", Pending: 3, Hydrated: 5, Oldest: now.Add(-90 * time.Second)}}, jobs: 2, version: 41}
	m, err := metrics.NewServe(reg, src, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	m.PlaceholderCreated("account", uuid.New(), now)
	m.PlaceholderCreated("account", uuid.New(), now)
	m.PlaceholderHydrated("account", uuid.New(), now.Add(-4*time.Second), now)
	m.PlaceholderHydrated("contact", uuid.New(), time.Time{}, now) // since unknown: counted, not timed
	m.JobDone("retried")
	m.Commit(3, 2*time.Millisecond)

	want := `
# HELP eventual_placeholders Records made as placeholders, by table and state: pending (waiting for their real data) or hydrated.
# TYPE eventual_placeholders gauge
eventual_placeholders{state="hydrated",table="account"} 5
eventual_placeholders{state="pending",table="account"} 3
# HELP eventual_placeholder_oldest_age_seconds Age of the oldest pending placeholder, by table.
# TYPE eventual_placeholder_oldest_age_seconds gauge
eventual_placeholder_oldest_age_seconds{table="account"} 90
# HELP eventual_async_jobs_queued Async jobs waiting to run.
# TYPE eventual_async_jobs_queued gauge
eventual_async_jobs_queued 2
# HELP eventual_change_tracking_version The change-tracking head version of the store (SQLite).
# TYPE eventual_change_tracking_version gauge
eventual_change_tracking_version 41
# HELP eventual_placeholders_created_total Placeholders made for lookups to missing records, by table.
# TYPE eventual_placeholders_created_total counter
eventual_placeholders_created_total{table="account"} 2
# HELP eventual_placeholders_hydrated_total Placeholders that received their real data, by table.
# TYPE eventual_placeholders_hydrated_total counter
eventual_placeholders_hydrated_total{table="account"} 1
eventual_placeholders_hydrated_total{table="contact"} 1
# HELP eventual_async_jobs_total Async jobs run, by outcome: succeeded, retried (failed, runs again later) or failed (for good).
# TYPE eventual_async_jobs_total counter
eventual_async_jobs_total{outcome="failed"} 0
eventual_async_jobs_total{outcome="retried"} 1
eventual_async_jobs_total{outcome="succeeded"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"eventual_placeholders", "eventual_placeholder_oldest_age_seconds", "eventual_async_jobs_queued",
		"eventual_change_tracking_version", "eventual_placeholders_created_total", "eventual_placeholders_hydrated_total",
		"eventual_async_jobs_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "eventual_placeholder_time_to_hydrate_seconds"); n != 1 {
		t.Errorf("%d time-to-hydrate series, want 1 (contact's hydration had no creation time)", n)
	}
	if got, err := testutil.GatherAndCount(reg, "eventual_store_commit_writes"); err != nil || got != 1 {
		t.Errorf("commit writes series %d (%v), want 1", got, err)
	}

	// A database that cannot be read: the gauges are left out and the
	// scrape says so, the scrape itself does not fail.
	src.err = errors.New("database is locked")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP eventual_scrape_errors 1 when the last scrape could not read a gauge from the database, by gauge.
# TYPE eventual_scrape_errors gauge
eventual_scrape_errors{gauge="jobs"} 1
eventual_scrape_errors{gauge="placeholders"} 1
eventual_scrape_errors{gauge="version"} 1
`), "eventual_scrape_errors", "eventual_async_jobs_queued"); err != nil {
		t.Error(err)
	}
}

// TestMiddlewareLabelsAreBounded: requests to a thousand different
// records make one series per route, method and status, never one per
// record; a method outside HTTP's is "other"; a request that matched no
// route is "unmatched".
func TestMiddlewareLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.NewServe(reg, &fakeServe{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "missing") {
			w.WriteHeader(http.StatusNotFound)
		}
		w.Write([]byte("{}"))
	}))
	for i := range 1000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/api/data/v9.2/accounts(%s)", uuid.New()), nil))
		if i%100 == 0 {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/data/v9.2/missing"+fmt.Sprint(i), nil))
		}
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/api/data/v9.2/", nil))
	want := `
# HELP eventual_http_requests_total Web API requests answered, by route template, method and status code.
# TYPE eventual_http_requests_total counter
eventual_http_requests_total{code="200",method="GET",route="unmatched"} 1000
eventual_http_requests_total{code="200",method="other",route="unmatched"} 1
eventual_http_requests_total{code="404",method="GET",route="unmatched"} 10
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "eventual_http_requests_total"); err != nil {
		t.Error(err)
	}
}

type fakeSync struct{ tables []metrics.SyncTable }

func (f *fakeSync) Tables(context.Context) ([]metrics.SyncTable, error) { return f.tables, nil }

func TestSyncMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	src := &fakeSync{tables: []metrics.SyncTable{
		{Table: "account", Lag: 1500 * time.Millisecond, LagKnown: true, Backlog: 12, Applied: 340, DeadLetters: 1},
		{Table: "contact", Backlog: -1}, // no cycle yet: no lag, no backlog
	}}
	m, err := metrics.NewSync(reg, src, "source", "target")
	if err != nil {
		t.Fatal(err)
	}
	m.BreakerChanged("target", "open")
	m.BreakerChanged("target", "half-open")
	m.BreakerChanged("target", "open")
	m.Retry("target", 0, "")
	m.Retry("target", 429, "0x80072322")
	m.Retry("target", 429, "0x80072322")
	m.Retry("target", 429, "0x80072321")
	m.Retry("source", 503, "")
	m.Retry("source", 429, strings.Repeat("x", 500)) // a hostile code stays one label value
	m.Cycle("account", 30*time.Millisecond)
	want := `
# HELP eventual_sync_breaker_state 1 for each endpoint's current circuit-breaker state (closed, half-open, open), 0 for the others.
# TYPE eventual_sync_breaker_state gauge
eventual_sync_breaker_state{endpoint="source",state="closed"} 1
eventual_sync_breaker_state{endpoint="source",state="half-open"} 0
eventual_sync_breaker_state{endpoint="source",state="open"} 0
eventual_sync_breaker_state{endpoint="target",state="closed"} 0
eventual_sync_breaker_state{endpoint="target",state="half-open"} 0
eventual_sync_breaker_state{endpoint="target",state="open"} 1
# HELP eventual_sync_retries_total Requests the sync sent again, by endpoint and reason: transport (no response), throttled (429), server (5xx), other.
# TYPE eventual_sync_retries_total counter
eventual_sync_retries_total{endpoint="source",reason="server"} 1
eventual_sync_retries_total{endpoint="source",reason="throttled"} 1
eventual_sync_retries_total{endpoint="target",reason="throttled"} 3
eventual_sync_retries_total{endpoint="target",reason="transport"} 1
# HELP eventual_sync_throttled_total 429 answers the sync got, by endpoint and Dataverse service-protection error code.
# TYPE eventual_sync_throttled_total counter
eventual_sync_throttled_total{code="0x80072321",endpoint="target"} 1
eventual_sync_throttled_total{code="0x80072322",endpoint="target"} 2
eventual_sync_throttled_total{code="other",endpoint="source"} 1
# HELP eventual_sync_lag_seconds Age of the oldest change not applied to the target (or its bound), by table.
# TYPE eventual_sync_lag_seconds gauge
eventual_sync_lag_seconds{table="account"} 1.5
# HELP eventual_sync_backlog Changes waiting on the source, as last counted, by table.
# TYPE eventual_sync_backlog gauge
eventual_sync_backlog{table="account"} 12
# HELP eventual_sync_applied_total Records applied to the target since the sync's state was made, by table.
# TYPE eventual_sync_applied_total counter
eventual_sync_applied_total{table="account"} 340
eventual_sync_applied_total{table="contact"} 0
# HELP eventual_sync_dead_letters Records the target refused for good, kept as dead letters, by table.
# TYPE eventual_sync_dead_letters gauge
eventual_sync_dead_letters{table="account"} 1
eventual_sync_dead_letters{table="contact"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "eventual_sync_breaker_state", "eventual_sync_retries_total",
		"eventual_sync_throttled_total", "eventual_sync_lag_seconds", "eventual_sync_backlog", "eventual_sync_applied_total", "eventual_sync_dead_letters"); err != nil {
		t.Error(err)
	}
}
