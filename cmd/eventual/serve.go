package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/auth"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/httpserver"
	"github.com/eventual-pp/eventual/metrics"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/status"
	"github.com/eventual-pp/eventual/throttle"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// openStore opens the store --db names: a postgres:// DSN or a SQLite
// file path. now is its clock (nil: time.Now); onCommit, if set, hears of
// each commit (metrics).
func openStore(ctx context.Context, cfg Config, schema *eventual.Schema, now func() time.Time, onCommit func(int, time.Duration)) (eventual.Store, error) {
	if postgres.IsDSN(cfg.DB) {
		return postgres.Open(ctx, cfg.DB, schema, postgres.Options{Now: now, OnCommit: onCommit})
	}
	return sqlite.Open(ctx, cfg.DB, schema, sqlite.Options{Synchronous: cfg.SQLite.Synchronous, Now: now, OnCommit: onCommit})
}

// redactDSN hides the password of a DSN before printing it, in its user
// info and in a password= parameter.
func redactDSN(dsn string) string {
	if !postgres.IsDSN(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// ServeCommand runs an instance: the Dataverse Web API over the embedded
// SQLite store.
type ServeCommand struct {
	Stdout io.Writer
	Stderr io.Writer

	// Ready, if set, receives the base URL once the server accepts
	// connections (tests use it).
	Ready func(baseURL string)
	// Now is the clock of the instance and its store (time.Now).
	Now func() time.Time
}

// ShutdownTimeout bounds how long a stop waits for requests in flight.
const ShutdownTimeout = 30 * time.Second

// Run runs the command until ctx ends (SIGINT or SIGTERM).
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	cfg, err := c.config(args)
	if err != nil {
		return err
	}
	schema, err := cfg.Schema.Schema()
	if err != nil {
		return &configError{err}
	}
	logger, err := cfg.Log.logger(c.Stderr)
	if err != nil {
		return &configError{err}
	}

	reg := newRegistry()
	gauges := &instanceGauges{}
	m, err := metrics.NewServe(reg, gauges, c.Now)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, schema, c.Now, m.Commit)
	if err != nil {
		return err
	}
	in := instance.New(store, schema)
	in.Now = c.Now
	in.Logger = logger
	in.Observer = observers{m, logObserver{logger}}
	gauges.in = in
	if err := registerPipeline(cfg, schema, in.Pipeline, cfg.Listen); err != nil {
		store.Close()
		return &configError{err}
	}
	authn, authURI, err := authenticator(ctx, cfg.Auth)
	if err != nil {
		store.Close()
		return err
	}
	srv := newHTTPServer(cfg, in, store.Meta(), logger, m, authn, authURI)
	srv.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	hist := status.NewHistory(instanceStatus(in, "eventual serve — "+redactDSN(cfg.DB)), statusEvery, time.Hour)
	var page http.Handler = status.Handler(hist)
	if authn != nil {
		// The page shows records' keys and names: with authentication
		// on, it asks for a token as the Web API does.
		page = auth.Middleware(authn, auth.Options{AuthorizationURI: authURI, ResourceID: cfg.Auth.Audience, Logger: logger}, page)
	}
	srv.Handle("/status", page)
	srv.HandlePrefix("/status/", page)
	hctx, stopHistory := context.WithCancel(ctx)
	defer stopHistory()
	go hist.Run(hctx)
	// The instance's background loops: the job runner and the purge of
	// deletions past the retention. From here on, the store closes only
	// after they stop.
	in.ChangeRetention, _ = cfg.Changes.RetentionDuration()
	if err := in.Start(ctx); err != nil {
		store.Close()
		return err
	}
	// The instance's own user, whom WhoAmI names without authentication.
	if err := in.EnsureBaseCurrency(ctx); err != nil {
		return err
	}
	if err := in.EnsureUser(ctx, eventual.Caller{UserID: store.Meta().UserID, Name: "SYSTEM"}); err != nil {
		in.Stop()
		store.Close()
		return err
	}
	root, err := srv.Listen(cfg.Listen)
	if err != nil {
		in.Stop()
		store.Close()
		return err
	}
	base := root + "api/data/v9.2/"
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	fmt.Fprintf(c.Stdout, "eventual: serving the Dataverse Web API at %s (database %s)\n", base, redactDSN(cfg.DB))
	if c.Ready != nil {
		c.Ready(base)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	logger.Info("stopping: finishing requests in flight")
	stopHistory() // it reads the store, which shutdown closes
	if err := shutdown(in, srv, store, ShutdownTimeout); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return serveErr
}

// config reads the flags and the configuration file they name: flags given
// on the command line override the file.
func (c *ServeCommand) config(args []string) (Config, error) {
	fs := flag.NewFlagSet("eventual serve", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	listen := fs.String("listen", DefaultListen, "address to listen on (host:port; 127.0.0.1:0 picks a free loopback port; a host other than loopback exposes the instance to the network)")
	db := fs.String("db", DefaultDB, "SQLite database file, or a PostgreSQL DSN (postgres://user@host:5432/db?search_path=schema)")
	configPath := fs.String("config", "", "YAML configuration file (optional)")
	placeholders := fs.String("placeholders", "on", "placeholder upsert for lookups to missing records: on or off")
	corsOrigins := fs.String("cors-origins", "", "origins browser apps may call the Web API from (CORS), comma-separated, or * for any; default none")
	serviceProtection := fs.String("service-protection", "off", "Dataverse's service-protection limits (429s): off, or dataverse (6000 requests and 1200 s of execution time per 300 s, 52 concurrent, per user)")
	authMode := fs.String("auth", "none", "authentication: none (any bearer token), tokens (auth.tokens in the config) or oidc (auth.issuer and auth.audience)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	applyLog := logFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: eventual serve [flags]\n\nServes the Dataverse Web API at http://<listen>/api/data/v9.2/, with the plugin pipeline and\nthe placeholder upsert, on an embedded SQLite file or a PostgreSQL database.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Examples:
  eventual serve                                       # ./eventual.db on 127.0.0.1:8765
  eventual serve --listen 127.0.0.1:0 --db /tmp/b.db   # a free loopback port; the URL is printed
  eventual serve --db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' --config eventual.yaml
`)
	}
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, &usageError{fmt.Sprintf("serve: unexpected argument %q (eventual serve -h lists the flags)", fs.Arg(0))}
	}
	cfg := DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = ReadConfigFile(*configPath); err != nil {
			return Config{}, &configError{err}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	applyLog(&cfg.Log, func(n string) bool { return set[n] })
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = *listen
		case "db":
			cfg.DB = *db
		case "placeholders":
			cfg.Placeholders = *placeholders
		case "cors-origins":
			cfg.CORS.AllowedOrigins = splitOrigins(*corsOrigins)
		case "auth":
			cfg.Auth.Mode = *authMode
		case "tls-cert":
			cfg.TLS.Cert = *tlsCert
		case "tls-key":
			cfg.TLS.Key = *tlsKey
		case "service-protection":
			cfg.Limits.ServiceProtection = ServiceProtectionConfig{Mode: *serviceProtection}
		}
	})
	if err := cfg.Validate(); err != nil {
		return cfg, &configError{err}
	}
	return cfg, nil
}

// newHTTPServer builds the Web API over the instance and the process's
// HTTP server around it: /healthz, and the Web API for every other path.
// The server reads request heads well past the Web API's limits, so that
// the Web API answers 414 and 431 with Dataverse's body.
func newHTTPServer(cfg Config, in *instance.Instance, meta eventual.Meta, logger *slog.Logger, m *metrics.Serve, authn auth.Authenticator, authURI string) *httpserver.Server {
	api := webapi.NewServer(in, in.Schema, meta)
	api.Now = in.Time
	api.Logger = logger
	api.MaxBodyBytes = cfg.Limits.MaxBodyBytes
	api.MaxURLLength = cfg.Limits.MaxURLLength
	api.CORSOrigins = cfg.CORS.AllowedOrigins
	api.ChangeRetention, _ = cfg.Changes.RetentionDuration()
	h := api.Handler()
	if l, on, _ := cfg.Limits.ServiceProtection.Limits(); on {
		// Inside the metrics, so that they count the 429s, and inside
		// authentication, so that a user is the caller it found.
		// On the monotonic clock: a step of the wall clock must not move
		// the windows.
		h = throttle.New(l, throttle.Options{Identity: callerIdentity}).Handler(h)
		logger.Info("service protection on", "requests", l.Requests, "executionTime", l.ExecutionTime.String(), "concurrent", l.Concurrent, "window", l.Window.String())
	}
	if authn != nil {
		h = recordCallers(in, logger, h)
		h = auth.Middleware(authn, auth.Options{AuthorizationURI: authURI, ResourceID: cfg.Auth.Audience, Logger: logger}, h)
	}
	if m != nil {
		h = m.Middleware(h)
	}
	if authn != nil || cfg.Limits.ServiceProtection.Mode != "" {
		// Refusals (401, 429) answer before the Web API gives the
		// request its correlation id: give it first.
		h = correlate(h)
	}
	h = logRequests(logger, h)
	srv := httpserver.New(h)
	srv.Logger = logger
	srv.MaxHeaderBytes = api.MaxHeadBytes()
	srv.TLSCertFile, srv.TLSKeyFile = cfg.TLS.Cert, cfg.TLS.Key
	return srv
}

// authenticator builds the authentication cfg asks for: nil for none,
// and the authorization URI of the 401 challenge.
func authenticator(ctx context.Context, cfg ServeAuthConfig) (auth.Authenticator, string, error) {
	const entra = "https://login.microsoftonline.com/common/oauth2/authorize"
	switch strings.ToLower(cfg.Mode) {
	case "tokens":
		users, err := cfg.users()
		if err != nil {
			return nil, "", &configError{err}
		}
		return users, entra, nil
	case "oidc":
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		o, err := auth.NewOIDC(dctx, cfg.Issuer, cfg.Audience)
		if err != nil {
			return nil, "", err
		}
		return o, cmp.Or(o.AuthorizationURI(), entra), nil
	}
	return nil, "", nil
}

// recordCallers records each caller authentication found as a systemuser
// the first time it is seen (instance.EnsureUser), so that WhoAmI's
// UserId is a record. A failure to record is logged; the request goes on.
func recordCallers(in *instance.Instance, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := eventual.CallerFrom(r.Context()); ok {
			if err := in.EnsureUser(r.Context(), c); err != nil && r.Context().Err() == nil {
				logger.Warn("auth: could not record the caller as a systemuser", "user", c.UserID, "err", err)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// correlate gives a request its correlation id before the middleware
// that may refuse it: the client's x-ms-correlation-request-id if it is a
// GUID, else a new one, which the Web API then takes as its own; every
// answer, a refusal included, carries it as x-ms-service-request-id.
func correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.Header.Get(codec.HeaderCorrelationID))
		if err != nil {
			id = uuid.New()
			r.Header.Set(codec.HeaderCorrelationID, id.String())
		}
		w.Header().Set(codec.HeaderServiceRequestID, id.String())
		next.ServeHTTP(w, r)
	})
}

// callerIdentity names the user of a request for the service-protection
// limits: the caller authentication found, else its bearer token.
func callerIdentity(r *http.Request) string {
	if c, ok := eventual.CallerFrom(r.Context()); ok {
		return c.UserID.String()
	}
	return throttle.AuthorizationIdentity(r)
}

// shutdown stops a server in order: first the background loops, and waits
// for them (they write through the store); then the HTTP server, letting
// requests in flight finish for up to timeout; and last the store, which
// nothing uses any more. It returns the first error.
func shutdown(loops interface{ Stop() }, srv interface {
	Shutdown(context.Context) error
}, store io.Closer, timeout time.Duration) error {
	loops.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var first error
	if err := srv.Shutdown(ctx); err != nil {
		first = fmt.Errorf("shutdown: %w", err)
	}
	if err := store.Close(); err != nil && first == nil {
		first = fmt.Errorf("close database: %w", err)
	}
	return first
}
