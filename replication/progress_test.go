package replication

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
)

// lockedBuffer is a buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// progressEnv is an env whose A holds 10 accounts, with a clock that
// moves 2s a reading and the syncer's log in a buffer.
func progressEnv(t *testing.T) (*env, *lockedBuffer) {
	e := newEnv(t, teststore.SQLite, "account")
	for i := range 10 {
		e.create(e.a, "account", eventual.Values{"name": fmt.Sprint(i)})
	}
	var logs lockedBuffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.sync.opts.Now = func() time.Time { clock = clock.Add(2 * time.Second); return clock }
	e.sync.log = slog.New(slog.NewTextHandler(&logs, nil))
	return e, &logs
}

// TestInitialLoadProgress: the initial load logs rows, rate, the share
// done and an ETA at most every 5s of its clock, and once at the end.
func TestInitialLoadProgress(t *testing.T) {
	e, logs := progressEnv(t)
	e.catchUp()
	var loading, loaded []string
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, "replication: loading"):
			loading = append(loading, line)
		case strings.Contains(line, "replication: loaded"):
			loaded = append(loaded, line)
		}
	}
	// 4 pages of 3: the clock moves 2s a reading, so some pages log.
	if len(loaded) != 1 || !strings.Contains(loaded[0], "rows=10") || !strings.Contains(loaded[0], "done=100") {
		t.Errorf("the end of the load logged %q", loaded)
	}
	if len(loading) == 0 || len(loading) >= 4 || !strings.Contains(loading[0], "eta=") {
		t.Errorf("progress lines %q: want 1 to 3, with an ETA", loading)
	}
}

// TestInitialLoadProgressHook: with Options.Progress, every page of the
// load is reported, rows growing to the total, the last one Done, and no
// periodic "loading" line is logged.
func TestInitialLoadProgressHook(t *testing.T) {
	e, logs := progressEnv(t)
	var reps []Progress
	e.sync.opts.Progress = func(p Progress) { reps = append(reps, p) }
	e.catchUp()
	if len(reps) != 4 {
		t.Fatalf("%d reports for 4 pages of 3: %+v", len(reps), reps)
	}
	for i, r := range reps {
		if r.Table != "account" || r.Total != 10 || r.Rows != min(int64(3*(i+1)), 10) || r.Done != (i == 3) || r.Rate <= 0 {
			t.Errorf("report %d = %+v", i, r)
		}
	}
	if reps[0].ETA <= 0 || reps[3].ETA != 0 {
		t.Errorf("ETAs %v then %v: want one while rows are left, none at the end", reps[0].ETA, reps[3].ETA)
	}
	if strings.Contains(logs.String(), "replication: loading") || !strings.Contains(logs.String(), "replication: loaded") {
		t.Errorf("with a progress hook the log holds:\n%s", logs.String())
	}
}
