package state

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

func postgresHarness(t *testing.T) *harness {
	dsn := testpg.Schema(t, "state")
	return &harness{
		open: func(t *testing.T) replication.State {
			s, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		// A short lease on the database's clock, waited out.
		ttl:    200 * time.Millisecond,
		expire: func(*testing.T) { time.Sleep(300 * time.Millisecond) },
		expireAll: func(t *testing.T, s replication.State) {
			_, err := s.(*Postgres).pool.Exec(context.Background(),
				`UPDATE `+tableLeases+` SET expires = now() - interval '1 second'`)
			if err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestPostgres runs the State contract on PostgreSQL, each test in a
// schema of its own.
func TestPostgres(t *testing.T) {
	testpg.Require(t)
	runSuite(t, postgresHarness)
}

// TestPostgresOpenTogether starts several processes' worth of opens on a
// fresh schema at once: the migration's advisory lock lets them all
// succeed.
func TestPostgresOpenTogether(t *testing.T) {
	testpg.Require(t)
	// A schema that does not exist yet: Open creates it, under the lock.
	name := "evt_stateopen_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	dsn := testpg.WithSearchPath(t, testpg.DSN(), name)
	t.Cleanup(func() {
		s, err := OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if _, err := s.pool.Exec(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := OpenPostgres(ctx, dsn)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
}

// TestFirstSchema reads search_path values as PostgreSQL does.
func TestFirstSchema(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "$user, public": "", " Sync ,public": "sync", `"My ""S"""`: `My "S"`, "a": "a",
	} {
		if got := firstSchema(in); got != want {
			t.Errorf("firstSchema(%q) = %q, want %q", in, got, want)
		}
	}
}
