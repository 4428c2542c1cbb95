package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/metrics"
	"github.com/eventual-pp/eventual/replication"
	"github.com/eventual-pp/eventual/replication/state"
	"github.com/eventual-pp/eventual/status"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SyncCommand replicates tables from one Web API endpoint to another:
// "eventual sync --source URL --target URL --tables account,contact".
// "eventual sync status" and "eventual sync deadletters" read its state.
type SyncCommand struct {
	Stdout io.Writer
	Stderr io.Writer
}

const syncUsage = `Usage: eventual sync --source URL --target URL --tables account,contact [flags]
       eventual sync status [--state FILE]
       eventual sync deadletters list|drop|retry [flags]

Replicates tables from the source (Instance A) to the target (Instance B):
the initial load, then change tracking, writing with the bulk messages and
hydrating the target's placeholders. Progress is kept in --state and
advances only after the target acknowledged, so the sync may be killed at
any moment. Without --once it runs until SIGINT/SIGTERM and never exits
because a peer is down.

URL is an instance's base URL (http://127.0.0.1:8765) or its Web API root
(…/api/data/v9.2).

Flags:
`

const syncExamples = `
Examples:
  eventual sync --source http://127.0.0.1:8765 --target http://127.0.0.1:8766 --tables account,contact --state sync.db
  eventual sync --config sync.yaml --once        # catch up, then exit 0 (non-zero if anything is left undone)
  eventual sync status --state sync.db
  eventual sync deadletters list --state sync.db
`

// Run runs the command.
func (c *SyncCommand) Run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return c.status(ctx, args[1:])
		case "deadletters":
			return c.deadLetters(ctx, args[1:])
		}
	}
	cfg, once, err := c.config("eventual sync", args)
	if err != nil {
		return err
	}
	logger := c.logger(cfg)
	obs := newSyncObservers(cfg)
	if cfg.Listen != "" {
		// Listening comes first: /metrics and /status answer while the
		// sync waits for a peer that is down.
		hist := status.NewHistory(syncStatus(obs, "eventual sync — "+redactURL(cfg.Source.URL)+" → "+redactURL(cfg.Target.URL)), statusEvery, time.Hour)
		hctx, stopHistory := context.WithCancel(ctx)
		defer stopHistory()
		go hist.Run(hctx)
		stop, err := listenSync(cfg.Listen, obs, hist, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	s, st, err := c.syncer(ctx, cfg, logger, obs)
	if err != nil {
		return err
	}
	defer st.Close()
	logger.Info("sync: replicating", "source", redactURL(cfg.Source.URL), "target", redactURL(cfg.Target.URL), "tables", strings.Join(s.Tables(), ","), "state", redactDSN(cfg.State))
	if once {
		if err := s.CatchUp(ctx); err != nil {
			return fmt.Errorf("sync: not caught up: %w", err)
		}
		// A dead letter is a record the target has not got: left undone.
		dead, err := st.DeadLetters(ctx, "")
		if err != nil {
			return err
		}
		n := 0
		for _, d := range dead {
			if slices.Contains(s.Tables(), d.Pair) {
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("sync: caught up, but the target refused %d records for good; see eventual sync deadletters list --state %s", n, redactDSN(cfg.State))
		}
		logger.Info("sync: caught up")
		return nil
	}
	return s.Run(ctx)
}

// logger writes the sync's structured logs to stderr.
// logger is the logger cfg.Log asks for (validated with the
// configuration).
func (c *SyncCommand) logger(cfg SyncConfig) *slog.Logger {
	l, err := cfg.Log.logger(c.Stderr)
	if err != nil {
		return slog.New(slog.NewTextHandler(c.Stderr, nil))
	}
	return l
}

// config reads the flags over the configuration file over the defaults.
func (c *SyncCommand) config(name string, args []string) (SyncConfig, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	source := fs.String("source", "", "the source endpoint's URL (Instance A)")
	target := fs.String("target", "", "the target endpoint's URL (Instance B)")
	tables := fs.String("tables", "", "tables to replicate, comma-separated logical names")
	statePath := fs.String("state", DefaultSyncState, "the state: a SQLite file, or postgres://… shared by several sync processes")
	interval := fs.String("interval", "250ms", "pause between polls of the source")
	batch := fs.Int("batch", 500, "records per page and per bulk write")
	once := fs.Bool("once", false, "catch up, then exit (0 when nothing is left undone)")
	lease := fs.String("lease", "5s", "how long a table's lease lasts without renewal: a killed sync's tables wait this long before another sync (or a restart) takes them")
	listen := fs.String("listen", "", "accept webhook calls that start a cycle at once (host:port, e.g. 127.0.0.1:8770)")
	configPath := fs.String("config", "", "YAML configuration file (endpoints with auth, tables and columns, …)")
	applyLog := logFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), syncUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), syncExamples)
	}
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return SyncConfig{}, false, err
	}
	if fs.NArg() > 0 {
		return SyncConfig{}, false, &usageError{fmt.Sprintf("sync: unexpected argument %q (eventual sync -h lists the flags)", fs.Arg(0))}
	}
	cfg := DefaultSyncConfig()
	if *configPath != "" {
		data, err := readConfig(*configPath)
		if err != nil {
			return cfg, false, &configError{fmt.Errorf("read sync config: %w", err)}
		}
		if cfg, err = ParseSyncConfig(data); err != nil {
			return cfg, false, &configError{err}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	applyLog(&cfg.Log, func(n string) bool { return set[n] })
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "source":
			cfg.Source.URL = *source
		case "target":
			cfg.Target.URL = *target
		case "tables":
			// The flag picks the tables; what the file says of one of them
			// (columns, key) still holds.
			fromFile := map[string]SyncTableConfig{}
			for _, t := range cfg.Tables {
				fromFile[t.Name] = t
			}
			cfg.Tables = nil
			for _, t := range strings.Split(*tables, ",") {
				if t = strings.TrimSpace(t); t != "" {
					tc, ok := fromFile[t]
					if !ok {
						tc = SyncTableConfig{Name: t}
					}
					cfg.Tables = append(cfg.Tables, tc)
				}
			}
		case "state":
			cfg.State = *statePath
		case "interval":
			cfg.Interval = *interval
		case "batch":
			cfg.Batch = *batch
		case "listen":
			cfg.Listen = *listen
		case "lease":
			cfg.Lease = *lease
		}
	})
	if err := cfg.Validate(); err != nil {
		return cfg, *once, &configError{err}
	}
	return cfg, *once, nil
}

// syncer builds the clients, discovers both ends' schemas (waiting for a
// peer that is down), opens the state and returns the syncer.
func (c *SyncCommand) syncer(ctx context.Context, cfg SyncConfig, logger *slog.Logger, obs *syncObservers) (*replication.Syncer, replication.State, error) {
	if obs == nil {
		obs = newSyncObservers(cfg)
	}
	names, gauges := obs.gauges.tables, obs.gauges
	m, err := metrics.NewSync(obs.reg, gauges, "source", "target")
	if err != nil {
		return nil, nil, err
	}
	obs.metrics = m
	src, err := endpoint(cfg, cfg.Source, "source", logger, obs)
	if err != nil {
		return nil, nil, err
	}
	dst, err := endpoint(cfg, cfg.Target, "target", logger, obs)
	if err != nil {
		return nil, nil, err
	}
	srcSchema, err := discover(ctx, src, "source", names, logger)
	if err != nil {
		return nil, nil, err
	}
	dstSchema, err := discover(ctx, dst, "target", names, logger)
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Open(ctx, cfg.State)
	if err != nil {
		return nil, nil, err
	}
	gauges.setState(st)
	interval, _ := cfg.IntervalDuration()
	lease, _ := cfg.LeaseDuration()
	opts := replication.Options{
		Source: client.NewRecords(src, srcSchema), Target: client.NewRecords(dst, dstSchema),
		SourceSchema: srcSchema, TargetSchema: dstSchema, State: st,
		Batch: cfg.Batch, Interval: interval, LeaseTTL: lease, Adopt: cfg.Adopt == nil || *cfg.Adopt,
		PlaceholderColumn: cfg.Placeholders.Column, PlaceholderValue: cfg.Placeholders.Value,
		Logger:   logger,
		Progress: terminalProgress(c.Stderr),
		Breakers: func() string { return "source " + src.State().String() + ", target " + dst.State().String() },
		OnCycle:  func(r replication.TableReport) { m.Cycle(r.Table, r.Ended.Sub(r.Started)) },
	}
	for _, t := range cfg.Tables {
		opts.Tables = append(opts.Tables, replication.Table{Name: t.Name, Columns: t.Columns, Key: t.Key})
	}
	s, err := replication.New(opts)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	obs.syncer.Store(s)
	return s, st, nil
}

// endpoint is the client of one end, its breaker logged, and its closing
// waking the syncer (pull-through as soon as the peer is back).
func endpoint(cfg SyncConfig, e EndpointConfig, name string, logger *slog.Logger, obs *syncObservers) (*client.Client, error) {
	opts, err := e.options()
	if err != nil {
		return nil, err
	}
	open, max, _ := cfg.Breaker.durations()
	opts.Breaker = client.BreakerOptions{Failures: cfg.Breaker.Failures, OpenFor: open, MaxOpenFor: max}
	opts.Logger = logger.With("endpoint", name)
	opts.OnStateChange = func(from, to client.State) {
		obs.metrics.BreakerChanged(name, to.String())
		if to == client.StateClosed {
			obs.wake()
		}
	}
	opts.OnRetry = func(status int, code string) { obs.metrics.Retry(name, status, code) }
	c, err := client.New(e.URL, opts)
	if err == nil {
		obs.setClient(name, c)
	}
	return c, err
}

// discover reads the tables' definitions from an endpoint, trying again
// every second while it is down or unreachable (the sync never exits
// because a peer is down); an answer that the table does not exist is
// final.
func discover(ctx context.Context, c *client.Client, name string, tables []string, logger *slog.Logger) (*eventual.Schema, error) {
	attempt := 0
	return backoff.Retry(ctx, func() (*eventual.Schema, error) {
		attempt++
		s, err := client.DiscoverSchema(ctx, c, tables...)
		if err == nil {
			return s, nil
		}
		var ce *client.Error
		if errors.As(err, &ce) && !ce.Retryable || !errors.As(err, &ce) && eventual.ErrorKind(err) != eventual.KindInternal {
			return nil, backoff.Permanent(fmt.Errorf("sync: the %s's tables: %w", name, err))
		}
		if attempt == 1 || attempt%30 == 0 {
			logger.Warn("sync: waiting for the "+name+" to answer", "err", err)
		}
		return nil, err
	}, backoff.WithBackOff(backoff.NewConstantBackOff(time.Second)), backoff.WithMaxElapsedTime(0))
}

// syncObservers is what the sync's metrics, wake-ups and status page
// reach: the registry, the metrics (set once the syncer is built) and
// the syncer (set once it runs; wake-ups before that are dropped).
type syncObservers struct {
	reg     *prometheus.Registry
	gauges  *syncGauges
	metrics *metrics.Sync
	syncer  atomic.Pointer[replication.Syncer]

	mu      sync.Mutex
	clients map[string]*client.Client // by endpoint name, once made
}

// newSyncObservers returns the observers of a sync of tables.
func newSyncObservers(cfg SyncConfig) *syncObservers {
	var names []string
	for _, t := range cfg.Tables {
		names = append(names, t.Name)
	}
	return &syncObservers{reg: newRegistry(), gauges: &syncGauges{tables: names, now: time.Now}}
}

// client returns the endpoint's client, nil before it is made.
func (o *syncObservers) client(name string) *client.Client {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.clients[name]
}

func (o *syncObservers) setClient(name string, c *client.Client) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.clients == nil {
		o.clients = map[string]*client.Client{}
	}
	o.clients[name] = c
}

// wake starts a cycle at once, if the syncer runs.
func (o *syncObservers) wake() {
	if s := o.syncer.Load(); s != nil {
		s.Wake()
	}
}

// listenSync serves the sync's --listen address: GET /metrics, and
// webhook calls (the RemoteExecutionContext that eventual's and
// Dataverse's webhook steps POST, to any other path), each of which starts
// a cycle at once. Polling stays the source of truth, so the body is not
// read.
func listenSync(addr string, obs *syncObservers, hist *status.History, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sync: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(obs.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	page := status.Handler(hist)
	mux.Handle("/status", page)
	mux.Handle("/status/", page)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST a webhook call here (GET /metrics for the metrics)", http.StatusMethodNotAllowed)
			return
		}
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		obs.wake()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, Handler: mux}
	go srv.Serve(ln)
	logger.Info("sync: accepting webhook wake-ups", "url", "http://"+ln.Addr().String()+"/", "metrics", "http://"+ln.Addr().String()+"/metrics",
		"status", "http://"+ln.Addr().String()+"/status")
	return func() { srv.Close() }, nil
}
