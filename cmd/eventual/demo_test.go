package main_test

import (
	"errors"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testproc"
)

// demoTimeout bounds a whole "eventual demo" run.
const demoTimeout = 90 * time.Second

// runDemo runs "eventual demo" to completion and requires exit 0.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	start := time.Now()
	code, out, errOut := runEventual(t, demoTimeout, append([]string{"demo"}, args...)...)
	if code != 0 {
		t.Fatalf("eventual demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("eventual demo took %v", time.Since(start).Round(time.Millisecond))
	return out
}

// TestDemo_Journeys runs the demo end to end: every journey is narrated,
// every invariant holds, B0 answers Dataverse's 404 codes, and the output
// (not a terminal) has no colours.
func TestDemo_Journeys(t *testing.T) {
	out := runDemo(t, "--dir", t.TempDir())
	for _, want := range []string{
		"== journey: happy path ==",
		"== journey: B down ==",
		"== journey: sync held behind ==",
		"== journey: hydration ==",
		"ok   every account of A is on B, equal (name, accountnumber)",
		"ok   no duplicate accountnumber on B",
		"ok   no placeholder left on B",
		"ok   the Hydrate message ran once per placeholder",
		"B's Hydrate step ran 2 times (2 placeholders)",
		"ok   every acknowledged order (3) is on B, bound to the right account",
		"all invariants hold",
		"404 0x80040217",
		"404 0x80060891",
		"breaker from=closed to=open",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("demo output reports a failure\n%s", out)
	}
	// The breaker bounds what reaches B's address while B is down: a
	// few probes, far fewer than the sync's polls (one each 250ms, each
	// retried) would make without it.
	if m := regexp.MustCompile(`requests the sync sent towards B while it was down: (\d+) in (\d+\.\d)s`).FindStringSubmatch(out); m == nil {
		t.Errorf("demo output does not count the requests towards B while it was down\n%s", out)
	} else {
		// The breaker's failures, then at most one probe per open period
		// (at least 250ms, doubling to 1s); polls alone would be four a
		// second.
		n, _ := strconv.Atoi(m[1])
		secs, _ := strconv.ParseFloat(m[2], 64)
		if limit := 6 + int(2*secs); n < 1 || n > limit {
			t.Errorf("%d requests reached B's address in %.1fs of outage, want between 1 and %d", n, secs, limit)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("demo output has ANSI escapes, though stdout is not a terminal\n%q", out)
	}
	if !regexp.MustCompile(`(?m)^\[\s*\d+\.\d\ds\] `).MatchString(out) {
		t.Errorf("demo output has no timestamped line\n%s", out)
	}
}

// TestDemo_NoChildLeft: once the demo exits, none of the processes it
// started (the servers, B before and after its restart, both syncs) is
// alive.
func TestDemo_NoChildLeft(t *testing.T) {
	out := runDemo(t)
	// A, B, B0, the sync, B again and the sync again.
	requireChildrenGone(t, out, 6)
}

// requireChildrenGone requires that the demo printed at least "least"
// child pids ("(pid N"), and that none of them is alive.
func requireChildrenGone(t *testing.T, out string, least int) {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`\(pid (\d+)`).FindAllStringSubmatch(out, -1) {
		pid, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if len(pids) < least {
		t.Fatalf("demo printed %d child pids, want at least %d\n%s", len(pids), least, out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child pid %d still exists after the demo exited (kill 0: %v)", pid, err)
		}
	}
}

// TestDemo_Chaos: after the journeys, B and the sync are killed with
// SIGKILL (at least once each) and restarted while A and B take writes;
// the sync catches B up, every invariant holds, and no child is left.
func TestDemo_Chaos(t *testing.T) {
	out := runDemo(t, "--chaos", "--seconds", "8")
	for _, want := range []string{
		"== chaos for 8s ==",
		"chaos: SIGKILL Instance B (pid ",
		"chaos: Instance B restarted on ",
		"chaos: SIGKILL sync (pid ",
		"sync caught up after the chaos",
		"ok   every account of A is on B, equal (name, accountnumber)",
		"ok   no duplicate accountnumber on B",
		"ok   no placeholder left on B",
		"ok   the Hydrate message ran once per placeholder",
		"ok   B refused no order of the chaos with a 4xx",
		"all invariants hold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`ok   every acknowledged order \(\d+\) is on B, bound to the right account`).MatchString(out) {
		t.Errorf("demo output lacks the orders' invariant\n%s", out)
	}
	if m := regexp.MustCompile(`chaos: seed (-?\d+)`).FindStringSubmatch(out); m == nil {
		t.Errorf("demo output lacks the seed\n%s", out)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("demo output reports a failure\n%s", out)
	}
	// A, B, B0, the sync, B and the sync again in the journeys, and at
	// least one restart of each in the chaos.
	requireChildrenGone(t, out, 8)
}

// TestDemo_RefusesUsedDir: a --dir holding a previous run's databases is
// refused before any process starts.
func TestDemo_RefusesUsedDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.db", "")
	code, out, errOut := runEventual(t, 30*time.Second, "demo", "--dir", dir)
	if code == 0 || !strings.Contains(errOut, "already holds a.db") || strings.Contains(out, "pid") {
		t.Errorf("eventual demo --dir with a.db: exit %d, want an error naming a.db and no process\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestDemo_KilledLeavesNoChild: a demo killed by SIGKILL (or by its
// terminal closing) cannot stop its children itself; the kernel ends them
// (childAttr). The test waits for A and B to be up, kills the demo, and
// requires every child it started to be gone within seconds (any left is
// killed by its pid, and the test fails).
func TestDemo_KilledLeavesNoChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux ties a child's life to its parent's")
	}
	p := testproc.Spawn(t, binary, "demo", "--dir", t.TempDir())
	pidRE := regexp.MustCompile(`\(pid (\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for len(pidRE.FindAllString(p.Stdout.String(), -1)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the demo started no two children within a minute\n%s", p.Stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Signal(syscall.SIGKILL)
	p.Wait(10 * time.Second)
	var pids []int
	for _, m := range pidRE.FindAllStringSubmatch(p.Stdout.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		gone := false
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				gone = true
				break
			}
		}
		if !gone {
			t.Errorf("child pid %d outlived the demo's SIGKILL", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
