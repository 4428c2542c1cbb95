package state

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func sqliteHarness(t *testing.T) *harness {
	path := filepath.Join(t.TempDir(), "state.db")
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return &harness{
		open: func(t *testing.T) replication.State {
			s, err := OpenSQLite(context.Background(), path, WithClock(clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		ttl:       time.Minute,
		expire:    func(*testing.T) { clock.Advance(time.Minute + time.Second) },
		expireAll: func(*testing.T, replication.State) { clock.Advance(1000 * time.Hour) },
	}
}

// TestSQLite runs the State contract on SQLite files.
func TestSQLite(t *testing.T) { runSuite(t, sqliteHarness) }

// TestSQLiteOpenTogether opens one file from several goroutines at once
// (the migration is idempotent) and writes through all of them.
func TestSQLiteOpenTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			if err := s.Commit(ctx, strconv.Itoa(i), replication.Commit{Cursor: replication.Cursor{Epoch: int64(i)}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 4 {
		if c := mustCursor(t, s, strconv.Itoa(i)); c.Epoch != int64(i) {
			t.Errorf("pair %d: epoch %d", i, c.Epoch)
		}
	}
}

// TestOpen picks the store from the target.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*SQLite); !ok {
		t.Errorf("Open(%q) = %T, want *SQLite", path, s)
	}
	for target, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h/db": true, "state.db": false, "/var/lib/postgres/state.db": false,
	} {
		if IsPostgres(target) != want {
			t.Errorf("IsPostgres(%q) = %v", target, !want)
		}
	}
	if _, err := OpenSQLite(context.Background(), ":memory:"); err == nil {
		t.Error("OpenSQLite(:memory:) succeeded")
	}
}

// helperEnv names the state file TestHelperProcess commits to.
const helperEnv = "EVENTUAL_STATE_HELPER"

// helperID is the record every helper commit applies.
var helperID = uuid.MustParse("6f1f3c1e-0000-4000-8000-000000000001")

// TestHelperProcess is the child of TestSQLiteKill9: it commits cursor
// after cursor and prints the epoch of each acknowledged commit, until it
// is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("the child process of TestSQLiteKill9")
	}
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if owner := os.Getenv(contendEnv); owner != "" {
		contend(ctx, t, s, owner)
		os.Exit(0)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n := int64(1); time.Now().Before(deadline); n++ {
		err := s.Commit(ctx, "p", replication.Commit{
			Cursor:  replication.Cursor{Phase: replication.PhaseDelta, Since: strconv.FormatInt(n, 10), Epoch: n},
			Applied: []replication.AppliedRecord{{ID: helperID, Applied: replication.Applied{Version: n, Epoch: n}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString(strconv.FormatInt(n, 10) + "\n")
	}
	os.Exit(0)
}

// TestSQLiteKill9 kills a process committing in a loop at a random moment
// and checks that its last acknowledged commit, whole, is in the file.
func TestSQLiteKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "state.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		acked := int64(0)
		read := func() bool {
			if !lines.Scan() {
				return false
			}
			if n, err := strconv.ParseInt(lines.Text(), 10, 64); err == nil {
				acked = n
			}
			return true
		}
		target := int64(5 + rand.IntN(150))
		for acked < target && read() {
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for read() { // what the child printed before it died was acknowledged too
		}
		cmd.Wait()
		if acked < target {
			t.Fatalf("round %d: the child acknowledged %d commits only", round, acked)
		}

		s, err := OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		c := mustCursor(t, s, "p")
		// The commit after the last printed one may have landed unprinted.
		if c.Epoch != acked && c.Epoch != acked+1 {
			t.Errorf("round %d: cursor epoch %d after the last acknowledged %d", round, c.Epoch, acked)
		}
		if c.Since != strconv.FormatInt(c.Epoch, 10) {
			t.Errorf("round %d: cursor %+v is torn", round, c)
		}
		wantVersions(t, s, "p", []uuid.UUID{helperID}, map[uuid.UUID]replication.Applied{helperID: {Version: c.Epoch, Epoch: c.Epoch}})
		s.Close()
		t.Logf("round %d: killed after %d acknowledged commits, cursor at %d", round, acked, c.Epoch)
	}
}

// TestSQLiteDurabilitySettings pins the settings the durability of a
// Commit rests on; kill -9 alone cannot tell synchronous=FULL from OFF
// (the page cache survives the process), a power loss can.
func TestSQLiteDurabilitySettings(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "10000"} {
		var got string
		if err := s.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// contendEnv makes TestHelperProcess a contender of
// TestSQLiteProcessesContend, under the owner name it holds.
const contendEnv = "EVENTUAL_STATE_CONTEND"

// contendRounds is how many commits each contender tries.
const contendRounds = 40

// contend tries contendRounds commits of pair p under owner's lease and
// as many status writes of a pair of its own, and prints how many commits
// landed. Any failure but a lost lease (SQLITE_BUSY among them) fails.
func contend(ctx context.Context, t *testing.T, s *SQLite, owner string) {
	landed := 0
	for k := range contendRounds {
		if _, err := s.AcquireLease(ctx, "p", owner, time.Hour); err != nil {
			t.Fatal(err)
		}
		err := s.Commit(ctx, "p", replication.Commit{
			Cursor:  replication.Cursor{Since: owner + "/" + strconv.Itoa(k)},
			Applied: []replication.AppliedRecord{{ID: uuid.New(), Applied: replication.Applied{Version: int64(k)}}},
			Lease:   owner,
		})
		switch {
		case err == nil:
			landed++
		case !errors.Is(err, replication.ErrLeaseLost):
			t.Fatal(err)
		}
		if err := s.SetStatus(ctx, owner, replication.Status{Applied: int64(k)}); err != nil {
			t.Fatal(err)
		}
	}
	os.Stdout.WriteString(strconv.Itoa(landed) + "\n")
}

// TestSQLiteProcessesContend has processes share one file and race for
// a pair's lease: writes wait on the busy timeout instead of failing,
// and only the holder's commits land.
func TestSQLiteProcessesContend(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	const procs = 3
	outs := make([][]byte, procs)
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, contendEnv+"=owner"+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		wg.Go(func() {
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("contender %d: %v", i, err)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	holders := 0
	for i, out := range outs {
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("contender %d printed %q", i, out)
		}
		if n > 0 {
			holders++
			if n != contendRounds {
				t.Errorf("contender %d: %d commits landed, want all %d or none", i, n, contendRounds)
			}
		}
	}
	if holders != 1 {
		t.Errorf("%d contenders' commits landed, want exactly one", holders)
	}
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := s.Statuses(context.Background()); err != nil || len(st) != procs {
		t.Errorf("Statuses = %v, %v; want the %d contenders'", st, err, procs)
	}
}

// TestSQLiteTimesInUTC checks the file keeps times as UTC text of a
// fixed width, which its comparisons of lease expiry rely on.
func TestSQLiteTimesInUTC(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, "p", replication.Commit{Cursor: replication.Cursor{ReadStarted: stamp}}); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.db.QueryRow(`SELECT read_started FROM ` + tablePairs).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if want := "2026-03-04T04:06:07.123456000Z"; raw != want {
		t.Errorf("stored %q, want %q", raw, want)
	}
}

// TestSQLiteMigratesOldFile: a state file from before matching by
// alternate key (no target_key column) opens, keeps its records and takes
// keys.
func TestSQLiteMigratesOldFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	id, other := uuid.New(), uuid.New()
	for _, stmt := range []string{
		`CREATE TABLE ` + tableApplied + ` (pair TEXT NOT NULL, id BLOB NOT NULL, version INTEGER NOT NULL,
			deleted INTEGER NOT NULL, epoch INTEGER NOT NULL, PRIMARY KEY (pair, id)) WITHOUT ROWID`,
		`INSERT INTO ` + tableApplied + ` VALUES ('p', X'` + fmt.Sprintf("%x", id[:]) + `', 7, 0, 1)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("open an old state file: %v", err)
	}
	defer s.Close()
	if err := s.Commit(ctx, "p", replication.Commit{Applied: []replication.AppliedRecord{{ID: other, Applied: replication.Applied{Version: 2, Epoch: 1, Key: []byte(`{"k":1}`)}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Versions(ctx, "p", []uuid.UUID{id, other})
	if err != nil {
		t.Fatal(err)
	}
	if got[id].Version != 7 || got[id].Key != nil || string(got[other].Key) != `{"k":1}` {
		t.Errorf("versions after the migration = %+v", got)
	}
}
