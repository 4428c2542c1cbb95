package clients_test

import (
	"context"
	"fmt"
	"github.com/eventual-pp/eventual/internal/testproc"
	"os"
	"os/exec"
	"path/filepath"
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
)

func TestMain(m *testing.M) {
	b, cleanup, err := testproc.Build(buildTimeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clients_test:", err)
		os.Exit(1)
	}
	binary = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startServer starts "eventual serve" on a loopback port with a database
// in a temporary directory and waits until it is ready. The test stops it
// by its pid; a cleanup kills it if the test did not.
func startServer(t testing.TB) *testproc.Proc {
	t.Helper()
	return testproc.Start(t, binary, "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "eventual.db"))
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
	var out testproc.Buffer
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
	s.Stop()
	if t.Failed() {
		t.Logf("server stderr:\n%s", s.Stderr.String())
	}
}
