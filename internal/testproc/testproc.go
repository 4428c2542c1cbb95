package testproc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Time bounds of a process's life.
const (
	// ReadyTimeout bounds the wait for the base URL.
	ReadyTimeout = 20 * time.Second
	// ExitTimeout bounds the wait for an exit after a signal.
	ExitTimeout = 20 * time.Second
)

// Build builds cmd/eventual into a temporary folder, for TestMain. The
// caller runs cleanup when the tests are done.
func Build(timeout time.Duration) (binary string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "eventual-test-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	binary = filepath.Join(dir, "eventual")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/eventual-pp/eventual/cmd/eventual").CombinedOutput()
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return binary, cleanup, nil
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Proc is a running "eventual serve" process.
type Proc struct {
	T      testing.TB
	Cmd    *exec.Cmd
	Stdout Buffer
	Stderr Buffer
	// Exited is closed once the process has been waited for.
	Exited chan struct{}
	// Root is http://127.0.0.1:PORT/; URL the service root under it,
	// Root + "api/data/v9.2/".
	Root, URL string
}

var servingLine = regexp.MustCompile(`eventual: serving the Dataverse Web API at (https?://\S+/)api/data/v9\.2/ \(database `)

// Start runs the binary with args (starting with "serve") and waits until
// it prints its base URL.
func Start(t testing.TB, binary string, args ...string) *Proc {
	t.Helper()
	return StartIn(t, "", binary, args...)
}

// StartIn is Start with the process's working directory dir ("": the
// test's).
func StartIn(t testing.TB, dir, binary string, args ...string) *Proc {
	t.Helper()
	p := spawn(t, dir, binary, args...)
	deadline := time.After(ReadyTimeout)
	for {
		if m := servingLine.FindStringSubmatch(p.Stdout.String()); m != nil {
			p.Root = m[1]
			p.URL = m[1] + "api/data/v9.2/"
			return p
		}
		select {
		case <-p.Exited:
			t.Fatalf("eventual %v exited before it was ready (%v)\nstdout:\n%s\nstderr:\n%s", args, p.Cmd.ProcessState, p.Stdout.String(), p.Stderr.String())
		case <-deadline:
			t.Fatalf("eventual %v printed no base URL within %v\nstdout:\n%s\nstderr:\n%s", args, ReadyTimeout, p.Stdout.String(), p.Stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Spawn runs the binary with args and returns at once (for commands that
// serve nothing, such as "sync"). The process is killed at the end of the
// test if the test has not stopped it.
func Spawn(t testing.TB, binary string, args ...string) *Proc {
	t.Helper()
	return spawn(t, "", binary, args...)
}

func spawn(t testing.TB, dir, binary string, args ...string) *Proc {
	t.Helper()
	p := &Proc{T: t, Exited: make(chan struct{})}
	p.Cmd = exec.Command(binary, args...)
	p.Cmd.Dir = dir
	p.Cmd.Stdout = &p.Stdout
	p.Cmd.Stderr = &p.Stderr
	p.Cmd.WaitDelay = 5 * time.Second
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start eventual %v: %v", args, err)
	}
	go func() {
		p.Cmd.Wait()
		close(p.Exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.Exited:
			return
		default:
		}
		p.Cmd.Process.Kill()
		select {
		case <-p.Exited:
		case <-time.After(ExitTimeout):
			t.Errorf("eventual (pid %d) did not exit after SIGKILL", p.Cmd.Process.Pid)
		}
	})
	return p
}

// Signal sends sig to the process by its pid.
func (p *Proc) Signal(sig os.Signal) {
	p.T.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.T.Fatalf("signal %v to pid %d: %v", sig, p.Cmd.Process.Pid, err)
	}
}

// Wait waits for the process to exit and returns its exit code (-1 if a
// signal ended it). It fails the test if the process outlives timeout.
func (p *Proc) Wait(timeout time.Duration) int {
	p.T.Helper()
	select {
	case <-p.Exited:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.T.Fatalf("eventual (pid %d) did not exit within %v\nstderr:\n%s", p.Cmd.Process.Pid, timeout, p.Stderr.String())
		return 0
	}
}

// Stop sends SIGTERM and expects a clean exit.
func (p *Proc) Stop() {
	p.T.Helper()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(ExitTimeout); code != 0 {
		p.T.Fatalf("eventual exited with %d after SIGTERM, want 0\nstderr:\n%s", code, p.Stderr.String())
	}
}

// WaitStderr waits until the process's stderr contains s.
func (p *Proc) WaitStderr(s string, timeout time.Duration) {
	p.T.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Stderr.String(), s) {
		if time.Now().After(deadline) {
			p.T.Fatalf("stderr does not contain %q after %v:\n%s", s, timeout, p.Stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
