package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/internal/httpserver"
)

// LogConfig chooses the logs' format and level (log: in the
// configuration, --log-format and --log-level on the command line).
type LogConfig struct {
	// Format is text (default; logfmt, key=value) or json (one object a
	// line, for log shippers).
	Format string `yaml:"format"`
	// Level is debug, info (default), warn or error. At debug, serve logs
	// one line per request with its correlation id.
	Level string `yaml:"level"`
}

// Validate checks the format and the level.
func (c LogConfig) Validate() error {
	_, err := c.logger(io.Discard)
	return err
}

// logger builds the logger the configuration asks for, writing to w.
func (c LogConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.Format)
}

// logFlags adds --log-format and --log-level to a command's flags; apply
// puts the flags given over cfg.
func logFlags(fs interface {
	String(name, value, usage string) *string
}) (apply func(cfg *LogConfig, set func(name string) bool)) {
	format := fs.String("log-format", "text", "log format: text (key=value) or json")
	level := fs.String("log-level", "info", "log level: debug (one line per request), info, warn or error")
	return func(cfg *LogConfig, set func(string) bool) {
		if set("log-format") {
			cfg.Format = *format
		}
		if set("log-level") {
			cfg.Level = *level
		}
	}
}

// logRequests logs each request at debug: method, path, status, time and
// the correlation id the Web API answered with (x-ms-service-request-id),
// which the request's placeholders also carry. It is left out when debug
// is off, so it costs nothing then.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	if !logger.Enabled(context.Background(), slog.LevelDebug) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpserver.StatusWriter{ResponseWriter: w, Status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Debug("request", "method", r.Method, "path", r.URL.EscapedPath(), "status", sw.Status,
			"took", time.Since(start).String(), "correlation_id", w.Header().Get(codec.HeaderServiceRequestID), "remote", r.RemoteAddr)
	})
}
