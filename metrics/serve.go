package metrics

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// ServeSource answers, at scrape time, the gauges that live in the
// database.
type ServeSource interface {
	// Placeholders returns the placeholders of every table that has any,
	// pending or hydrated (tables without are left out).
	Placeholders(ctx context.Context) ([]TablePlaceholders, error)
	// QueuedJobs returns how many async jobs wait to run.
	QueuedJobs(ctx context.Context) (int64, error)
	// HeadVersion returns the change-tracking head version; ok is false
	// when the store's change token is no version number.
	HeadVersion(ctx context.Context) (version int64, ok bool, err error)
}

// TablePlaceholders are a table's placeholders.
type TablePlaceholders struct {
	Table    string
	Pending  int64     // waiting for their real data
	Hydrated int64     // placeholders that received it
	Oldest   time.Time // when the oldest pending one was made
}

// ScrapeTimeout bounds the database reads of one scrape.
const ScrapeTimeout = 5 * time.Second

// Serve holds the metrics of eventual serve.
type Serve struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	commitWrites  prometheus.Histogram
	commitSeconds prometheus.Histogram
	created       *prometheus.CounterVec
	hydrated      *prometheus.CounterVec
	toHydrate     *prometheus.HistogramVec
	jobs          *prometheus.CounterVec

	src ServeSource
	now func() time.Time
	// observers caches the request metrics' children by route, method
	// and status, so that a request looks them up in one map read.
	observers sync.Map // requestLabels → *requestObservers

	pendingDesc, oldestDesc, queuedDesc, headDesc, scrapeErrDesc *prometheus.Desc
}

// NewServe registers the metrics of eventual serve on reg; src answers
// the gauges at scrape time, now is the clock of ages (nil: time.Now).
func NewServe(reg prometheus.Registerer, src ServeSource, now func() time.Time) (*Serve, error) {
	if now == nil {
		now = time.Now
	}
	m := &Serve{
		src: src, now: now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_http_requests_total", Help: "Web API requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eventual_http_request_duration_seconds", Help: "Time to answer a Web API request, by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		commitWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eventual_store_commit_writes", Help: "Writes committed together by one commit of the store (SQLite's group commit; 1 on PostgreSQL).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eventual_store_commit_duration_seconds", Help: "Time from BEGIN to the end of COMMIT of the store's write transactions.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_placeholders_created_total", Help: "Placeholders made for lookups to missing records, by table.",
		}, []string{"table"}),
		hydrated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_placeholders_hydrated_total", Help: "Placeholders that received their real data, by table.",
		}, []string{"table"}),
		toHydrate: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eventual_placeholder_time_to_hydrate_seconds", Help: "Time from a placeholder's creation to its hydration, by table.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}, []string{"table"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_async_jobs_total", Help: "Async jobs run, by outcome: succeeded, retried (failed, runs again later) or failed (for good).",
		}, []string{"outcome"}),
		pendingDesc: prometheus.NewDesc("eventual_placeholders", "Records made as placeholders, by table and state: pending (waiting for their real data) or hydrated.", []string{"table", "state"}, nil),
		oldestDesc:  prometheus.NewDesc("eventual_placeholder_oldest_age_seconds", "Age of the oldest pending placeholder, by table.", []string{"table"}, nil),
		queuedDesc:  prometheus.NewDesc("eventual_async_jobs_queued", "Async jobs waiting to run.", nil, nil),
		headDesc:    prometheus.NewDesc("eventual_change_tracking_version", "The change-tracking head version of the store (SQLite).", nil, nil),
		scrapeErrDesc: prometheus.NewDesc("eventual_scrape_errors", "1 when the last scrape could not read a gauge from the database, by gauge.",
			[]string{"gauge"}, nil),
	}
	for _, o := range []prometheus.Collector{m.requests, m.duration, m.commitWrites, m.commitSeconds, m.created, m.hydrated, m.toHydrate, m.jobs, (*serveGauges)(m)} {
		if err := reg.Register(o); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	for _, o := range []string{"succeeded", "retried", "failed"} {
		m.jobs.WithLabelValues(o)
	}
	return m, nil
}

// PlaceholderCreated counts a placeholder made (instance.Observer).
func (m *Serve) PlaceholderCreated(table string, _ uuid.UUID, _ time.Time) {
	m.created.WithLabelValues(table).Inc()
}

// PlaceholderHydrated counts a hydration and its time to hydrate
// (instance.Observer).
func (m *Serve) PlaceholderHydrated(table string, _ uuid.UUID, since, at time.Time) {
	m.hydrated.WithLabelValues(table).Inc()
	if !since.IsZero() && !at.Before(since) {
		m.toHydrate.WithLabelValues(table).Observe(at.Sub(since).Seconds())
	}
}

// JobDone counts an async job's run by outcome (instance.Observer).
func (m *Serve) JobDone(outcome string) { m.jobs.WithLabelValues(outcome).Inc() }

// Commit records a commit of the store (sqlite.Options.OnCommit,
// postgres.Options.OnCommit).
func (m *Serve) Commit(writes int, took time.Duration) {
	m.commitWrites.Observe(float64(writes))
	m.commitSeconds.Observe(took.Seconds())
}

// serveGauges collects the gauges read from the database at scrape time.
type serveGauges Serve

func (g *serveGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.pendingDesc, g.oldestDesc, g.queuedDesc, g.headDesc, g.scrapeErrDesc} {
		ch <- d
	}
}

func (g *serveGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	failed := func(gauge string, err error) {
		v := 0.0
		if err != nil {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(g.scrapeErrDesc, prometheus.GaugeValue, v, gauge)
	}
	ps, err := g.src.Placeholders(ctx)
	failed("placeholders", err)
	now := g.now()
	for _, p := range ps {
		ch <- prometheus.MustNewConstMetric(g.pendingDesc, prometheus.GaugeValue, float64(p.Pending), p.Table, "pending")
		ch <- prometheus.MustNewConstMetric(g.pendingDesc, prometheus.GaugeValue, float64(p.Hydrated), p.Table, "hydrated")
		if !p.Oldest.IsZero() {
			ch <- prometheus.MustNewConstMetric(g.oldestDesc, prometheus.GaugeValue, max(now.Sub(p.Oldest).Seconds(), 0), p.Table)
		}
	}
	n, err := g.src.QueuedJobs(ctx)
	failed("jobs", err)
	if err == nil {
		ch <- prometheus.MustNewConstMetric(g.queuedDesc, prometheus.GaugeValue, float64(n))
	}
	v, ok, err := g.src.HeadVersion(ctx)
	failed("version", err)
	if err == nil && ok {
		ch <- prometheus.MustNewConstMetric(g.headDesc, prometheus.GaugeValue, float64(v))
	}
}
