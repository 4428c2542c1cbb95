package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable holding the test server's DSN, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "EVENTUAL_TEST_POSTGRES"

// DSN returns the test server's DSN, or "" when PostgreSQL tests are off.
func DSN() string { return os.Getenv(EnvDSN) }

// Require skips the test, saying how to turn them on, when PostgreSQL
// tests are off.
func Require(tb testing.TB) {
	tb.Helper()
	if DSN() == "" {
		tb.Skipf("PostgreSQL tests are off: set %s (see README)", EnvDSN)
	}
}

// Schema creates a fresh PostgreSQL schema named after prefix and returns a
// DSN that selects it; the schema is dropped when tb ends. It fails the
// test if the server cannot be reached.
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	base := DSN()
	if base == "" {
		tb.Fatalf("%s is not set", EnvDSN)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "evt_" + strings.ToLower(prefix) + "_" + hex.EncodeToString(b[:])
	if len(name) > 60 {
		name = name[:60]
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			tb.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA "`+name+`" CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return WithSearchPath(tb, base, name)
}

// WithSearchPath returns dsn with search_path set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
