// Package clients_test runs real Dataverse client libraries against an
// "eventual serve" process. Each client lives in its own folder with a
// pinned dependency manifest and a script that exits 0 when every step
// passes.
package clients_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the eventual binary TestMain builds.
var binary string

// Time bounds of the tests.
const (
	buildTimeout  = 5 * time.Minute
	npmTimeout    = 5 * time.Minute
	clientTimeout = 3 * time.Minute
	readyTimeout  = 20 * time.Second
	exitTimeout   = 40 * time.Second
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventual-clients-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clients_test:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "eventual")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/eventual-pp/eventual/cmd/eventual")
	out, err := build.CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "clients_test: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running "eventual serve" process.
type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	exited chan struct{}
	// Root is the server's root URL, http://127.0.0.1:PORT/ (clients
	// append api/data/v9.2/).
	Root string
}

var servingLine = regexp.MustCompile(`eventual: serving the Dataverse Web API at (http://\S+/)api/data/v9\.2/ \(database `)

// startServer starts "eventual serve" on a loopback port with a database
// in a temporary directory and waits until it is ready. The test stops it
// by its pid; a cleanup kills it if the test did not.
func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{t: t, exited: make(chan struct{})}
	db := filepath.Join(t.TempDir(), "eventual.db")
	s.cmd = exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--db", db)
	s.cmd.Stdout = &s.stdout
	s.cmd.Stderr = &s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start eventual serve: %v", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(exitTimeout):
			t.Errorf("eventual serve (pid %d) did not exit after SIGKILL", s.cmd.Process.Pid)
		}
	})
	deadline := time.After(readyTimeout)
	for {
		if m := servingLine.FindStringSubmatch(s.stdout.String()); m != nil {
			s.Root = m[1]
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("eventual serve exited before it was ready (%v)\nstderr:\n%s", s.cmd.ProcessState, s.stderr.String())
		case <-deadline:
			t.Fatalf("eventual serve printed no base URL within %v\nstdout:\n%s\nstderr:\n%s", readyTimeout, s.stdout.String(), s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the server's pid and expects a clean exit.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM to pid %d: %v", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("eventual serve exited with %d after SIGTERM, want 0\nstderr:\n%s", code, s.stderr.String())
		}
	case <-time.After(exitTimeout):
		s.t.Fatalf("eventual serve (pid %d) did not exit within %v of SIGTERM", s.cmd.Process.Pid, exitTimeout)
	}
}

// run runs a command in dir within timeout and returns its combined
// output.
func run(t testing.TB, dir string, env []string, timeout time.Duration, name string, args ...string) (output string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish within %v: %w", name, timeout, err)
	}
	return out.String(), err
}

// npmInstall installs a client's pinned dependencies unless they are
// installed already.
func npmInstall(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("node is installed but npm is not on PATH; cannot install the client in %s: %v", dir, err)
	}
	start := time.Now()
	out, err := run(t, dir, nil, npmTimeout, "npm", "ci", "--no-audit", "--no-fund")
	if err != nil {
		t.Fatalf("npm ci in %s failed: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s (%v):\n%s", dir, time.Since(start).Round(time.Millisecond), out)
}

// TestDynamicsWebAPI drives the dynamics-web-api npm client (pinned in
// dynamics-web-api/package.json) through CRUD, alternate keys, upsert,
// lookups, paging, counts, $expand, errors, WhoAmI, single-property and
// $ref operations and $batch (a GET, and change sets with Content-ID
// references and a failing change set).
func TestDynamicsWebAPI(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH; skipping the dynamics-web-api client test")
	}
	dir, err := filepath.Abs("dynamics-web-api")
	if err != nil {
		t.Fatal(err)
	}
	npmInstall(t, dir)

	s := startServer(t)
	start := time.Now()
	out, err := run(t, dir, []string{"EVENTUAL_URL=" + s.Root}, clientTimeout, "node", "run.mjs")
	t.Logf("node run.mjs against %s (%v):\n%s", s.Root, time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Errorf("node run.mjs: %v (exit code 0 means every step passed; see the FAIL lines above)", err)
	}
	s.stop()
	if t.Failed() {
		t.Logf("server stderr:\n%s", s.stderr.String())
	}
}
