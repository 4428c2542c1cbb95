package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLock_HolderNotYetRecorded holds a database's lock without
// recording a holder, as a writer does for an instant between taking the
// lock and writing its pid: lock must wait a little for the record, then
// refuse without naming a process.
func TestLock_HolderNotYetRecorded(t *testing.T) {
	if !locking {
		t.Skip("no writer lock on this system")
	}
	path := filepath.Join(t.TempDir(), "x.db")
	f, err := os.OpenFile(path+LockSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		t.Fatalf("tryLock on a fresh file: %v, %v", ok, err)
	}
	start := time.Now()
	l, err := lock(path)
	if err == nil {
		l.release()
		t.Fatal("lock succeeded while another open file description holds it")
	}
	if waited := time.Since(start); waited < holderWait {
		t.Errorf("lock gave up after %v, want it to wait %v for the holder's record", waited, holderWait)
	}
	e, ok := errors.AsType[*LockedError](err)
	if !ok || e.PID != 0 {
		t.Fatalf("lock: %v, want a *LockedError without a pid", err)
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("error %q does not say the database is in use", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused lock created the database: %v", err)
	}
}
