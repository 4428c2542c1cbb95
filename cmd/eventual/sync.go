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
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/replication"
	"github.com/eventual-pp/eventual/replication/state"
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
	logger := c.logger()
	s, st, err := c.syncer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.Listen != "" {
		stop, err := listenWakeups(cfg.Listen, s, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	logger.Info("sync: replicating", "source", cfg.Source.URL, "target", cfg.Target.URL, "tables", strings.Join(s.Tables(), ","), "state", redactDSN(cfg.State))
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
func (c *SyncCommand) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
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
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return cfg, false, &configError{fmt.Errorf("read sync config: %w", err)}
		}
		if cfg, err = ParseSyncConfig(data); err != nil {
			return cfg, false, &configError{err}
		}
	}
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
func (c *SyncCommand) syncer(ctx context.Context, cfg SyncConfig, logger *slog.Logger) (*replication.Syncer, replication.State, error) {
	var s *replication.Syncer
	wake := func() {
		if s != nil {
			s.Wake()
		}
	}
	src, err := endpoint(cfg, cfg.Source, "source", logger, wake)
	if err != nil {
		return nil, nil, err
	}
	dst, err := endpoint(cfg, cfg.Target, "target", logger, wake)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, t := range cfg.Tables {
		names = append(names, t.Name)
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
	}
	for _, t := range cfg.Tables {
		opts.Tables = append(opts.Tables, replication.Table{Name: t.Name, Columns: t.Columns, Key: t.Key})
	}
	if s, err = replication.New(opts); err != nil {
		st.Close()
		return nil, nil, err
	}
	return s, st, nil
}

// endpoint is the client of one end, its breaker logged, and its closing
// waking the syncer (pull-through as soon as the peer is back).
func endpoint(cfg SyncConfig, e EndpointConfig, name string, logger *slog.Logger, wake func()) (*client.Client, error) {
	opts, err := e.options()
	if err != nil {
		return nil, err
	}
	open, max, _ := cfg.Breaker.durations()
	opts.Breaker = client.BreakerOptions{Failures: cfg.Breaker.Failures, OpenFor: open, MaxOpenFor: max}
	opts.Logger = logger.With("endpoint", name)
	opts.OnStateChange = func(from, to client.State) {
		if to == client.StateClosed {
			wake()
		}
	}
	return client.New(e.URL, opts)
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

// listenWakeups serves webhook calls (the RemoteExecutionContext that
// eventual's and Dataverse's webhook steps POST): each starts a cycle at
// once. Polling stays the source of truth, so the body is not read.
func listenWakeups(addr string, s *replication.Syncer, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sync: listen %s: %w", addr, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST a webhook call here", http.StatusMethodNotAllowed)
			return
		}
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		s.Wake()
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	logger.Info("sync: accepting webhook wake-ups", "url", "http://"+ln.Addr().String()+"/")
	return func() { srv.Close() }, nil
}
