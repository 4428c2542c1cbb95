package metrics

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SyncSource answers, at scrape time, the gauges kept in the sync's
// state.
type SyncSource interface {
	// Tables returns each replicated table's figures.
	Tables(ctx context.Context) ([]SyncTable, error)
}

// SyncTable is one table's replication, as the state holds it.
type SyncTable struct {
	Table string
	// Lag is the age of the oldest change not applied, or its bound
	// when none is known to be waiting (see eventual sync status); Known
	// is false before the first cycle.
	Lag      time.Duration
	LagKnown bool
	// Backlog is the changes waiting on the source, -1 when unknown.
	Backlog     int64
	Applied     int64 // records applied since the state was made
	DeadLetters int   // records the target refused for good
}

// Sync holds the metrics of eventual sync.
type Sync struct {
	cycles   *prometheus.HistogramVec
	breakers *prometheus.GaugeVec
	changes  *prometheus.CounterVec
	retries  *prometheus.CounterVec
	throttle *prometheus.CounterVec

	src SyncSource

	lagDesc, backlogDesc, appliedDesc, deadDesc, scrapeErrDesc *prometheus.Desc
}

// The breaker states, as eventual_sync_breaker_state reports them.
var breakerStates = []string{"closed", "half-open", "open"}

// NewSync registers the metrics of eventual sync on reg; endpoints names
// the endpoints ("source", "target"), whose breakers start closed.
func NewSync(reg prometheus.Registerer, src SyncSource, endpoints ...string) (*Sync, error) {
	m := &Sync{
		src: src,
		cycles: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eventual_sync_cycle_duration_seconds", Help: "Time of one table's sync cycle (read the change feed to its end or to a failure, write, hydrate).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"table"}),
		breakers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventual_sync_breaker_state", Help: "1 for each endpoint's current circuit-breaker state (closed, half-open, open), 0 for the others.",
		}, []string{"endpoint", "state"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_sync_breaker_changes_total", Help: "Circuit-breaker state changes, by endpoint and the state entered.",
		}, []string{"endpoint", "state"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_sync_retries_total", Help: "Requests the sync sent again, by endpoint and reason: transport (no response), throttled (429), server (5xx), other.",
		}, []string{"endpoint", "reason"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventual_sync_throttled_total", Help: "429 answers the sync got, by endpoint and Dataverse service-protection error code.",
		}, []string{"endpoint", "code"}),
		lagDesc:     prometheus.NewDesc("eventual_sync_lag_seconds", "Age of the oldest change not applied to the target (or its bound), by table.", []string{"table"}, nil),
		backlogDesc: prometheus.NewDesc("eventual_sync_backlog", "Changes waiting on the source, as last counted, by table.", []string{"table"}, nil),
		appliedDesc: prometheus.NewDesc("eventual_sync_applied_total", "Records applied to the target since the sync's state was made, by table.", []string{"table"}, nil),
		deadDesc:    prometheus.NewDesc("eventual_sync_dead_letters", "Records the target refused for good, kept as dead letters, by table.", []string{"table"}, nil),
		scrapeErrDesc: prometheus.NewDesc("eventual_scrape_errors", "1 when the last scrape could not read a gauge from the state, by gauge.",
			[]string{"gauge"}, nil),
	}
	for _, o := range []prometheus.Collector{m.cycles, m.breakers, m.changes, m.retries, m.throttle, (*syncGauges)(m)} {
		if err := reg.Register(o); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	for _, e := range endpoints {
		m.Breaker(e, "closed")
	}
	return m, nil
}

// Cycle records one table's cycle.
func (m *Sync) Cycle(table string, took time.Duration) {
	m.cycles.WithLabelValues(table).Observe(took.Seconds())
}

// Breaker records an endpoint's breaker entering state (closed,
// half-open or open; client.Options.OnStateChange).
func (m *Sync) Breaker(endpoint, state string) {
	for _, s := range breakerStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breakers.WithLabelValues(endpoint, s).Set(v)
	}
	m.changes.WithLabelValues(endpoint, state)
}

// BreakerChanged counts a change of an endpoint's breaker and records
// its new state.
func (m *Sync) BreakerChanged(endpoint, state string) {
	m.Breaker(endpoint, state)
	m.changes.WithLabelValues(endpoint, state).Inc()
}

// Retry counts a retry of a request to endpoint after an attempt that
// got status (0: none) and Dataverse error code (client.Options.OnRetry).
func (m *Sync) Retry(endpoint string, status int, code string) {
	reason := "other"
	switch {
	case status == 0:
		reason = "transport"
	case status == 429:
		reason = "throttled"
		if code == "" {
			code = "none"
		}
		if len(code) > 12 { // service-protection codes are 0x8007232N
			code = "other"
		}
		m.throttle.WithLabelValues(endpoint, code).Inc()
	case status >= 500:
		reason = "server"
	default:
		reason = "status_" + strconv.Itoa(status/100) + "xx"
	}
	m.retries.WithLabelValues(endpoint, reason).Inc()
}

// syncGauges collects the gauges read from the state at scrape time.
type syncGauges Sync

func (g *syncGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.lagDesc, g.backlogDesc, g.appliedDesc, g.deadDesc, g.scrapeErrDesc} {
		ch <- d
	}
}

func (g *syncGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	ts, err := g.src.Tables(ctx)
	v := 0.0
	if err != nil {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(g.scrapeErrDesc, prometheus.GaugeValue, v, "tables")
	for _, t := range ts {
		if t.LagKnown {
			ch <- prometheus.MustNewConstMetric(g.lagDesc, prometheus.GaugeValue, max(t.Lag.Seconds(), 0), t.Table)
		}
		if t.Backlog >= 0 {
			ch <- prometheus.MustNewConstMetric(g.backlogDesc, prometheus.GaugeValue, float64(t.Backlog), t.Table)
		}
		ch <- prometheus.MustNewConstMetric(g.appliedDesc, prometheus.CounterValue, float64(t.Applied), t.Table)
		ch <- prometheus.MustNewConstMetric(g.deadDesc, prometheus.GaugeValue, float64(t.DeadLetters), t.Table)
	}
}
