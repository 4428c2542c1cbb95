package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"
)

// DemoCommand plays the pattern's journeys against real processes:
// "eventual demo" starts Instance A (placeholders off), Instance B
// (placeholders on), a comparison instance B0 without the pattern
// (placeholders off) and the sync A→B, all as child processes of this
// binary, then narrates the happy path, B down, sync held behind and
// hydration, and checks the invariants at the end.
type DemoCommand struct {
	Stdout io.Writer
	Stderr io.Writer
}

// Time bounds of the demo.
const (
	// demoReadyTimeout bounds the wait for a child server's base URL.
	demoReadyTimeout = 20 * time.Second
	// demoExitTimeout bounds the wait for a child's exit after a signal.
	demoExitTimeout = 10 * time.Second
	// demoWaitTimeout bounds each wait for the sync to deliver or hydrate.
	demoWaitTimeout = 20 * time.Second
	// demoRequestTimeout bounds each request of the integrated system.
	demoRequestTimeout = 10 * time.Second
)

const demoUsage = `Usage: eventual demo [--dir DIR] [--keep] [--chaos [--seconds N] [--seed S]]

Starts Instance A (placeholders off), Instance B (placeholders on), B0
(placeholders off: the same system without the pattern) and the sync A→B,
as child processes on free loopback ports, then plays the journeys: the
happy path, B down, sync held behind (placeholders on B, 404s on B0) and
hydration. With --chaos, it then writes to A and B for --seconds while
B and the sync are killed (SIGKILL) and restarted at random moments, and
waits for the sync to catch up. It ends by checking the invariants and
exits non-zero if one fails.

Flags:
`

// Run runs the demo until the journeys are done (or, with --keep, until
// SIGINT).
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eventual demo", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	dir := fs.String("dir", "", "folder for the databases, the sync's state and the logs (default: a temporary folder, removed at the end)")
	keep := fs.Bool("keep", false, "leave the servers and the sync running at the end, print their URLs and pids, and wait for SIGINT")
	chaos := fs.Bool("chaos", false, "after the journeys, write to A and B for --seconds while B and the sync are killed (SIGKILL) and restarted at random moments")
	seconds := fs.Int("seconds", 20, "how long --chaos lasts, in seconds")
	seed := fs.Int64("seed", 0, "the seed of --chaos's schedule (default: from the time; the demo prints it)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Examples:
  eventual demo                          # the journeys, then the invariants (about 5 s)
  eventual demo --keep                   # and leave A and B running to poke at
  eventual demo --chaos --seconds 30     # random outages of B and kills of the sync
`)
	}
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("demo: unexpected argument %q (eventual demo -h lists the flags)", fs.Arg(0))}
	}
	if !*chaos && (*seed != 0 || *seconds != 20) {
		return fmt.Errorf("demo: --seconds and --seed go with --chaos")
	}
	if *chaos && *seconds < 1 {
		return fmt.Errorf("demo: --seconds %d: want at least 1", *seconds)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find this program: %w", err)
	}
	workDir := *dir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "eventual-demo-"); err != nil {
			return fmt.Errorf("demo: temporary folder: %w", err)
		}
		if !*keep {
			defer os.RemoveAll(workDir)
		}
	} else if err := freshDemoDir(workDir); err != nil {
		return err
	}
	d := newDemo(c.Stdout, exe, workDir)
	d.keepChildren = *keep
	if *chaos {
		d.chaos = newDemoChaos(time.Duration(*seconds)*time.Second, *seed)
	}
	defer func() {
		if !*keep {
			d.stopAll()
		}
	}()
	if err := d.play(ctx); err != nil {
		if *keep {
			d.listRunning()
		}
		return fmt.Errorf("demo: %w", err)
	}
	if *keep {
		return d.keep(ctx)
	}
	return nil
}

// demoChild is a child process of the demo: a server or the sync.
type demoChild struct {
	name string
	args []string
	cmd  *exec.Cmd
	out  demoBuffer
	err  demoBuffer
	// exited is closed once the process has been waited for.
	exited chan struct{}
	// root is http://127.0.0.1:PORT/ and url the service root under it
	// (servers only).
	root, url string
}

// demoBuffer is a buffer safe for concurrent use.
type demoBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *demoBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *demoBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// alive reports whether the child has not exited.
func (ch *demoChild) alive() bool {
	select {
	case <-ch.exited:
		return false
	default:
		return true
	}
}

// pid is the child's process id.
func (ch *demoChild) pid() int { return ch.cmd.Process.Pid }

// stop sends sig to the child by its pid and waits for it to exit,
// killing it if it outlives demoExitTimeout.
func (ch *demoChild) stop(sig syscall.Signal) error {
	if !ch.alive() {
		return nil
	}
	if err := syscall.Kill(ch.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to %s (pid %d): %w", sig, ch.name, ch.pid(), err)
	}
	select {
	case <-ch.exited:
		return nil
	case <-time.After(demoExitTimeout):
	}
	syscall.Kill(ch.pid(), syscall.SIGKILL)
	select {
	case <-ch.exited:
		return fmt.Errorf("%s (pid %d) did not exit within %v of %v: killed", ch.name, ch.pid(), demoExitTimeout, sig)
	case <-time.After(demoExitTimeout):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", ch.name, ch.pid())
	}
}

// demo is one run: its children, its clock and its narration.
type demo struct {
	w      io.Writer
	color  bool
	start  time.Time
	exe    string
	dir    string
	client *demoClient

	mu       sync.Mutex
	children []*demoChild

	a, b, b0, sync *demoChild
	// keepChildren (--keep) leaves the children running when the demo
	// ends; otherwise they end with it, however it ends (childAttr).
	keepChildren bool
	// hooks counts B's Hydrate messages; bConfig registers its step.
	hooks   *demoHooks
	bConfig string
	// bProxy is the sync's way to B, counting its connections.
	bProxy *demoProxy
	// orders are the orders B acknowledged, with the accountnumber of
	// the account each must be bound to.
	orders []demoOrder
	// placeholders are B's placeholders while the sync is held behind.
	placeholders []map[string]any
	// chaos, with --chaos, runs after the journeys (demo_chaos.go).
	chaos *demoChaos
	// sayMu keeps the narration's lines whole while chaos runs.
	sayMu sync.Mutex
}

// demoOrder is an order B acknowledged.
type demoOrder struct {
	id, name, accountNumber string
}

func newDemo(w io.Writer, exe, dir string) *demo {
	color := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		color = true
	}
	return &demo{w: w, color: color, start: time.Now(), exe: exe, dir: dir, client: newDemoClient(demoRequestTimeout)}
}

// ANSI colours of the narration.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// paint wraps s in an ANSI colour when the output is a terminal.
func (d *demo) paint(color, s string) string {
	if !d.color {
		return s
	}
	return color + s + ansiReset
}

// say narrates one step, stamped with the seconds since the start.
func (d *demo) say(format string, args ...any) {
	stamp := fmt.Sprintf("[%5.2fs]", time.Since(d.start).Seconds())
	d.sayMu.Lock()
	defer d.sayMu.Unlock()
	fmt.Fprintf(d.w, "%s %s\n", d.paint(ansiDim, stamp), fmt.Sprintf(format, args...))
}

// journey announces a journey.
func (d *demo) journey(title string) { d.section("journey: " + title) }

// section announces a part of the demo.
func (d *demo) section(title string) {
	fmt.Fprintln(d.w)
	d.say("%s", d.paint(ansiBold+ansiCyan, "== "+title+" =="))
}

// demoServingLine is what "eventual serve" prints once it accepts connections.
var demoServingLine = regexp.MustCompile(`eventual: serving the Dataverse Web API at (http://\S+/)api/data/v9\.2/ \(database `)

// spawn starts the binary with args as a child, in its own process group
// (a Ctrl-C at the terminal reaches the demo, which stops its children).
// The child's stderr is kept, and appended to the file log in the
// working folder.
func (d *demo) spawn(name, log string, args ...string) (*demoChild, error) {
	ch := &demoChild{name: name, args: args, exited: make(chan struct{})}
	f, err := os.OpenFile(filepath.Join(d.dir, log), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: log: %w", name, err)
	}
	ch.cmd = exec.Command(d.exe, args...)
	ch.cmd.Stdout = io.MultiWriter(&ch.out, f)
	ch.cmd.Stderr = io.MultiWriter(&ch.err, f)
	ch.cmd.SysProcAttr = childAttr(d.keepChildren)
	ch.cmd.WaitDelay = demoExitTimeout
	if err := ch.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		ch.cmd.Wait()
		f.Close()
		close(ch.exited)
	}()
	d.mu.Lock()
	d.children = append(d.children, ch)
	d.mu.Unlock()
	return ch, nil
}

// serve starts "eventual serve" on listen with the database db and waits
// until it prints its base URL; its output goes to the log named like
// db (a.db: a.log).
func (d *demo) serve(ctx context.Context, name, listen, db, placeholders string, extra ...string) (*demoChild, error) {
	log := strings.TrimSuffix(filepath.Base(db), ".db") + ".log"
	args := append([]string{"serve", "--listen", listen, "--db", db, "--placeholders", placeholders}, extra...)
	ch, err := d.spawn(name, log, args...)
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(demoReadyTimeout)
	defer deadline.Stop()
	for {
		if m := demoServingLine.FindStringSubmatch(ch.out.String()); m != nil {
			ch.root = m[1]
			ch.url = m[1] + "api/data/v9.2/"
			d.say("%s up at %s (pid %d, placeholders %s, database %s; status page %sstatus)", d.paint(ansiBold, name), ch.url, ch.pid(), placeholders, db, ch.root)
			return ch, nil
		}
		select {
		case <-ch.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, ch.cmd.ProcessState, lastLines(ch.err.String(), 5))
		case <-deadline.C:
			ch.stop(syscall.SIGKILL)
			return nil, fmt.Errorf("%s printed no base URL within %v", name, demoReadyTimeout)
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to start: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// demoSyncConfig is the sync's configuration: a breaker that opens after
// 3 failed attempts in a row (the default is 5, whose retries outlast
// the demo's outage of B).
const demoSyncConfig = "breaker:\n  failures: 3\n  openFor: 250ms\n  maxOpenFor: 1s\n"

// startSync starts the sync A→B.
func (d *demo) startSync() error {
	config := filepath.Join(d.dir, "sync.yaml")
	if err := os.WriteFile(config, []byte(demoSyncConfig), 0o644); err != nil {
		return fmt.Errorf("sync configuration: %w", err)
	}
	ch, err := d.spawn("sync", "sync.log", "sync", "--source", d.a.root, "--target", d.bProxy.url, "--tables", "account,contact",
		"--state", d.syncState(), "--interval", "250ms", "--lease", "1s", "--config", config, "--listen", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.sync = ch
	// The sync prints its status page once listening (at once: before
	// it reads A or B).
	page := ""
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := syncStatusURL.FindStringSubmatch(ch.err.String()); m != nil {
			page = "; status page " + m[1]
			break
		}
	}
	d.say("%s started: A → B, tables account,contact (pid %d%s)", d.paint(ansiBold, "sync"), ch.pid(), page)
	return nil
}

// syncState is the sync's state file.
func (d *demo) syncState() string { return filepath.Join(d.dir, "sync.db") }

// stopAll stops every child still running, by its pid.
func (d *demo) stopAll() {
	d.mu.Lock()
	children := append([]*demoChild(nil), d.children...)
	d.mu.Unlock()
	if d.hooks != nil {
		defer d.hooks.close()
	}
	if d.bProxy != nil {
		defer d.bProxy.close()
	}
	for i := len(children) - 1; i >= 0; i-- {
		ch := children[i]
		if !ch.alive() {
			continue
		}
		if err := ch.stop(syscall.SIGTERM); err != nil {
			d.say("stop: %v", err)
		} else {
			d.say("stopped %s (pid %d)", ch.name, ch.pid())
		}
	}
}

// freshDemoDir makes dir if need be and refuses one that holds a previous
// run's databases (the journeys start from empty instances).
func freshDemoDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: folder %s: %w", dir, err)
	}
	for _, name := range []string{"a.db", "b.db", "b0.db", "sync.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("demo: %s already holds %s from a previous run: pick an empty --dir", dir, name)
		}
	}
	return nil
}

// keep prints the running children and waits for SIGINT, leaving them
// running.
func (d *demo) keep(ctx context.Context) error {
	d.listRunning()
	d.say("files in %s; press Ctrl-C to leave the demo (the processes stay: kill them by their pids)", d.dir)
	// main's context ends on SIGINT or SIGTERM.
	<-ctx.Done()
	return nil
}

// listRunning prints the children still running: name, pid, URL.
func (d *demo) listRunning() {
	fmt.Fprintln(d.w)
	d.say("%s", d.paint(ansiBold, "--keep: left running"))
	for _, ch := range []*demoChild{d.a, d.b, d.b0, d.sync} {
		if ch == nil || !ch.alive() {
			continue
		}
		where := ch.url
		if where == "" {
			where = "state " + d.syncState()
			if m := syncStatusURL.FindStringSubmatch(ch.err.String()); m != nil {
				where += ", status page " + m[1]
			}
		} else {
			where += " (status page " + ch.root + "status)"
		}
		d.say("  %-10s pid %-7d %s", ch.name, ch.pid(), where)
	}
}

// syncStatusURL finds the sync's status page in its log.
var syncStatusURL = regexp.MustCompile(`status=(http://\S+/status)`)

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
