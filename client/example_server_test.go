package client_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/webapi"
)

// serveExample serves eventual's Web API over a SQLite store in a
// temporary folder and returns its URL and a function that stops it.
func serveExample(schema *eventual.Schema) (string, func()) {
	dir, err := os.MkdirTemp("", "eventual-example")
	if err != nil {
		panic(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "example.db"), schema, sqlite.Options{})
	if err != nil {
		panic(err)
	}
	srv := webapi.NewServer(instance.New(db, schema), schema, db.Meta())
	srv.Logger = slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(srv.Handler())
	return ts.URL, func() {
		ts.Close()
		db.Close()
		os.RemoveAll(dir)
	}
}
