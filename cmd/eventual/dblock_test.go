package main_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
)

// TestServe_OneWriterPerSQLiteFile starts "eventual serve" on a SQLite
// file and checks, with real processes, that a second serve on the same
// file is refused with a message naming the first's pid, that a tool
// that only reads (placeholders) still runs beside it, and that once the
// first is killed with SIGKILL (no chance to clean up) a new serve
// starts and has the data.
func TestServe_OneWriterPerSQLiteFile(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "dragonfly", "freebsd", "netbsd", "openbsd":
	default:
		t.Skipf("no writer lock on %s", runtime.GOOS)
	}
	db := filepath.Join(t.TempDir(), "one.db")
	first := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
	pid := first.Cmd.Process.Pid
	c := newClient(t, requestTimeout)
	id := uuid.NewString()
	must(t, c, http.StatusNoContent, "POST", first.URL+"accounts", map[string]any{"accountid": id, "name": "before the kill"})

	// The same file under another spelling is the same database.
	dir := filepath.Dir(db)
	roundabout := dir + "/../" + filepath.Base(dir) + "/./one.db"
	for _, spelling := range []string{db, roundabout} {
		code, stdout, stderr := runEventual(t, exitTimeout, "serve", "--listen", "127.0.0.1:0", "--db", spelling)
		if code == 0 {
			t.Fatalf("second serve --db %s exited 0, want a refusal\nstdout:\n%s\nstderr:\n%s", spelling, stdout, stderr)
		}
		if strings.Contains(stdout, "serving") {
			t.Errorf("second serve served:\n%s", stdout)
		}
		want := fmt.Sprintf("database %s is in use by process %d (eventual serve --listen 127.0.0.1:0 --db %s) since ", spelling, pid, db)
		if !strings.Contains(stderr, want) {
			t.Errorf("second serve --db %s: stderr does not contain %q:\n%s", spelling, want, stderr)
		}
	}

	// Readers share the file with the writer.
	code, stdout, stderr := runEventual(t, exitTimeout, "placeholders", "count", "--db", db)
	if code != 0 || !regexp.MustCompile(`(?m)^total\s+0\b`).MatchString(stdout) {
		t.Errorf("placeholders count beside serve: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// The lock dies with its process, however it dies.
	first.Signal(syscall.SIGKILL)
	if code := first.Wait(exitTimeout); code != -1 {
		t.Fatalf("serve after SIGKILL: exit code %d, want -1 (killed)", code)
	}
	second := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
	got := object(t, must(t, c, http.StatusOK, "GET", second.URL+"accounts("+id+")?$select=name", nil))
	if got["name"] != "before the kill" {
		t.Errorf("account after restart: %v", got)
	}
	// And the new holder is the one named now.
	_, _, stderr = runEventual(t, exitTimeout, "serve", "--listen", "127.0.0.1:0", "--db", db)
	if want := fmt.Sprintf("in use by process %d (", second.Cmd.Process.Pid); !strings.Contains(stderr, want) {
		t.Errorf("serve beside the restarted serve: stderr does not contain %q:\n%s", want, stderr)
	}
	second.Stop()
}
