package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/sqlite"
)

// TestOpen_SecondWriterRefused opens one database twice in one process,
// under several spellings of its path: the second Open must fail with a
// *LockedError naming this process, and succeed once the first is closed.
func TestOpen_SecondWriterRefused(t *testing.T) {
	if !sqlite.Locking {
		t.Skip("no writer lock on this system")
	}
	schema := builtinSchema(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "one.db")
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		name, second string
	}{
		{"SamePath", path},
		{"RelativePath", "one.db"},
		{"DotPath", "./one.db"},
		{"SymbolicLink", link},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			first, err := sqlite.Open(ctx, path, schema, sqlite.Options{})
			if err != nil {
				t.Fatalf("first open: %v", err)
			}
			second, err := sqlite.Open(ctx, tc.second, schema, sqlite.Options{})
			if err == nil {
				second.Close()
				first.Close()
				t.Fatalf("second open of %s succeeded while %s is open", tc.second, path)
			}
			locked, ok := errors.AsType[*sqlite.LockedError](err)
			if !ok {
				first.Close()
				t.Fatalf("second open: %v (%T), want a *sqlite.LockedError", err, err)
			}
			if locked.PID != os.Getpid() {
				t.Errorf("LockedError.PID = %d, want this process, %d", locked.PID, os.Getpid())
			}
			if want := filepath.Base(os.Args[0]); !strings.HasPrefix(locked.Command, want) {
				t.Errorf("LockedError.Command = %q, want it to start with %q", locked.Command, want)
			}
			if locked.Since.Before(before) || locked.Since.After(time.Now().Add(time.Second)) {
				t.Errorf("LockedError.Since = %v, want about now", locked.Since)
			}
			for _, want := range []string{tc.second, fmt.Sprintf("in use by process %d (", os.Getpid()), " since "} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			// The refusal did not disturb the first's lock.
			if _, err := sqlite.Open(ctx, path, schema, sqlite.Options{}); err == nil {
				t.Errorf("third open succeeded: the refused open released the lock")
			}
			if err := first.Close(); err != nil {
				t.Fatalf("close first: %v", err)
			}
			again, err := sqlite.Open(ctx, tc.second, schema, sqlite.Options{})
			if err != nil {
				t.Fatalf("open after the first closed: %v", err)
			}
			if err := again.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpen_LockFileRecordsHolder checks what the lock file holds while a
// writer is open (its pid, start time and command line) and after Close
// (nothing), and that a failed Open leaves the lock free.
func TestOpen_LockFileRecordsHolder(t *testing.T) {
	if !sqlite.Locking {
		t.Skip("no writer lock on this system")
	}
	schema := builtinSchema(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rec.db")
	db, err := sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path + sqlite.LockSuffix)
	if err != nil {
		db.Close()
		t.Fatalf("read lock file: %v", err)
	}
	for _, want := range []string{fmt.Sprintf("pid: %d\n", os.Getpid()), "\nsince: ", "\ncommand: " + filepath.Base(os.Args[0])} {
		if !strings.Contains(string(data), want) {
			t.Errorf("lock file %q does not contain %q", data, want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path + sqlite.LockSuffix); err != nil || len(data) != 0 {
		t.Errorf("lock file after Close: %q, %v; want it empty", data, err)
	}

	// An Open that fails after taking the lock (here: migrating a file
	// that is not a database) gives it back.
	if err := os.WriteFile(path, []byte("this is not a SQLite database, just text that is long enough to fill a header"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	if _, err := sqlite.Open(ctx, path, schema, sqlite.Options{}); err == nil {
		t.Fatal("open of a file that is not a database succeeded")
	}
	os.Remove(path)
	db, err = sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatalf("open after failed opens: %v", err)
	}
	db.Close()
}
