package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// "eventual demo --chaos": after the journeys, for --seconds, a writer
// creates and renames accounts on A (about 20 a second) and the
// integrated system writes orders to B (about 10 a second) bound to the
// accounts A created last, half of the accounts by GUID and the other
// half by alternate key, so that many of them reach B before the sync brings their account (B makes
// a placeholder). Meanwhile B is killed (SIGKILL, by its pid) and
// restarted on the same port and database after 0.5–3 s, and the sync is
// killed (SIGKILL) and restarted after 0.2–2 s, at random moments drawn
// from a seed printed at the start (--seed replays the schedule, not the
// timing of the processes). Orders B does not acknowledge (a connection
// error while it is down, or a 5xx) are not recorded; every 204 is, with
// the accountnumber of its account, for the invariants.
//
// Orders bind accounts by GUID and by alternate key in turn, so an
// account often gets two placeholders on B before the sync delivers it:
// one under A's GUID and one by key (under a GUID of B's); the sync's
// write of A's record folds the second into the first (see
// instance.absorb), and both orders end bound to it.
//
// Accounts are never deleted: every account of A may be referenced by an
// order, and deleting one only when no order refers to it would race with
// the orders in flight.
//
// When the time is up, B and the sync are made to run, the demo waits
// (demoChaosSettle at most) until B has every account of A, equal, and
// no placeholder left, and then the invariants run.

// Bounds of the chaos.
const (
	// demoChaosSettle bounds the wait for the sync to catch B up after
	// the chaos.
	demoChaosSettle = 60 * time.Second
	// demoChaosWrites is the period of the writer on A (20 a second).
	demoChaosWrites = 50 * time.Millisecond
	// demoChaosOrders is the period of the orders to B (10 a second).
	demoChaosOrders = 100 * time.Millisecond
	// demoChaosRecent is how many of A's last accounts the orders pick
	// from.
	demoChaosRecent = 5
	// demoChaosProgress is the period of the progress lines.
	demoChaosProgress = 2 * time.Second
)

// demoChaos is the state of --chaos.
type demoChaos struct {
	dur  time.Duration
	seed int64

	mu sync.Mutex
	// accounts are the accounts created on A during the chaos, oldest
	// first.
	accounts []demoChaosAccount
	created  int
	renamed  int
	// acked, down and failed count the orders B acknowledged, the ones
	// that got no response (B down) and the ones answered with another
	// status; refused holds the 4xx answers (the pattern promises none).
	acked, down int
	failed      map[int]int
	refused     []string
	// bKills are when B was killed; sKills counts the sync's kills.
	bKills []time.Time
	sKills int
}

// demoChaosAccount is an account created on A during the chaos.
type demoChaosAccount struct {
	id, number string
}

func newDemoChaos(dur time.Duration, seed int64) *demoChaos {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &demoChaos{dur: dur, seed: seed, failed: map[int]int{}}
}

// rng returns the random source of one of the chaos's goroutines, drawn
// from the seed.
func (c *demoChaos) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(c.seed), stream))
}

// between returns a duration uniform in [lo, hi].
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// playChaos runs the chaos, then waits for the sync to catch B up.
func (d *demo) playChaos(ctx context.Context) error {
	c := d.chaos
	d.section(fmt.Sprintf("chaos for %v", c.dur))
	d.say("chaos: seed %d (replay the schedule with --seed %d)", c.seed, c.seed)
	d.say("chaos: A takes creates and renames of accounts (never deletes: orders refer to them); the integrated system writes orders to B bound by GUID and by accountnumber; B and the sync are killed with SIGKILL and restarted")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	end := time.Now().Add(c.dur)
	b := d.b
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				cancel()
			}
		}()
	}
	aURL, bURL := d.a.url, d.b.url
	run(func() error { return d.chaosWriter(ctx, c.rng(1), aURL, end) })
	run(func() error { return d.chaosOrders(ctx, bURL, end) })
	run(func() error {
		var err error
		b, err = d.chaosKillB(ctx, c.rng(2), b, end)
		return err
	})
	run(func() error { return d.chaosKillSync(ctx, c.rng(3), end) })
	wg.Wait()
	d.b = b
	if firstErr != nil {
		return fmt.Errorf("chaos: %w", firstErr)
	}
	c.mu.Lock()
	other := ""
	if n := len(c.refused) + sumCounts(c.failed); n > 0 {
		other = fmt.Sprintf(", %d another status (%d 4xx, 5xx %v)", n, len(c.refused), c.failed)
	}
	d.say("chaos over: A created %d accounts and renamed %d; B acknowledged %d orders, %d got no response (B down)%s; B killed %d times, the sync %d times",
		c.created, c.renamed, c.acked, c.down, other, len(c.bKills), c.sKills)
	c.mu.Unlock()
	// Both run when their goroutines end; make sure.
	if !d.b.alive() {
		host, err := demoHost(d.b)
		if err != nil {
			return err
		}
		if d.b, err = d.serve(ctx, "Instance B", host, filepath.Join(d.dir, "b.db"), "on", "--config", d.bConfig); err != nil {
			return fmt.Errorf("restart B after the chaos: %w", err)
		}
	}
	if !d.sync.alive() {
		if err := d.startSync(); err != nil {
			return fmt.Errorf("restart the sync after the chaos: %w", err)
		}
	}
	start := time.Now()
	err := d.waitFor(ctx, "the sync to catch B up after the chaos (every account of A equal on B, no placeholder left)", demoChaosSettle, func() (bool, error) {
		diffs, err := d.accountDiffs(ctx)
		if err != nil {
			return false, err
		}
		pending, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%201&$select=accountid")
		if err != nil {
			return false, fmt.Errorf("B's placeholders: %w", err)
		}
		if len(diffs) > 0 || len(pending) > 0 {
			return false, fmt.Errorf("%d accounts differ (%s), %d placeholders left", len(diffs), strings.Join(diffs[:min(len(diffs), 3)], "; "), len(pending))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	d.say("sync caught up after the chaos: B has every account of A, no placeholder left (%.2fs)", time.Since(start).Seconds())
	return nil
}

// chaosWriter creates and renames accounts on A until end. A is never
// killed: a failed write fails the demo.
func (d *demo) chaosWriter(ctx context.Context, r *rand.Rand, aURL string, end time.Time) error {
	c := d.chaos
	tick := time.NewTicker(demoChaosWrites)
	defer tick.Stop()
	progress := time.Now().Add(demoChaosProgress)
	for time.Now().Before(end) {
		c.mu.Lock()
		n := len(c.accounts)
		c.mu.Unlock()
		if n == 0 || r.IntN(3) < 2 {
			number := fmt.Sprintf("CH-%04d", n+1)
			name := fmt.Sprintf("%s %d", demoAccountNames[r.IntN(len(demoAccountNames))], n+1)
			resp, err := d.client.expect(ctx, http.StatusNoContent, http.MethodPost, aURL+"accounts", map[string]any{"name": name, "accountnumber": number})
			if err != nil {
				return fmt.Errorf("create account %s on A: %w", number, err)
			}
			id, err := resp.entityID()
			if err != nil {
				return fmt.Errorf("create account %s on A: %w", number, err)
			}
			c.mu.Lock()
			c.accounts = append(c.accounts, demoChaosAccount{id: id, number: number})
			c.created++
			c.mu.Unlock()
		} else {
			c.mu.Lock()
			a := c.accounts[r.IntN(n)]
			c.mu.Unlock()
			name := fmt.Sprintf("%s %s (renamed %d)", demoAccountNames[r.IntN(len(demoAccountNames))], a.number, r.IntN(1000))
			if _, err := d.client.expect(ctx, http.StatusNoContent, http.MethodPatch, aURL+"accounts("+a.id+")", map[string]any{"name": name}); err != nil {
				return fmt.Errorf("rename account %s on A: %w", a.number, err)
			}
			c.mu.Lock()
			c.renamed++
			c.mu.Unlock()
		}
		if time.Now().After(progress) {
			progress = progress.Add(demoChaosProgress)
			c.mu.Lock()
			d.say("chaos: so far A created %d accounts, renamed %d; B acknowledged %d orders, %d got no response", c.created, c.renamed, c.acked, c.down)
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// chaosOrders writes orders to B until end, bound to one of the accounts
// A created last, and records the acknowledged ones. Half the accounts
// are bound by GUID, the other half by accountnumber, each account
// always the same way: an account bound both ways before the sync
// delivers it gets two placeholders on B (one under A's GUID without
// accountnumber, one under a GUID of B's with it), and the sync's
// delivery then breaks accountnumber_key and is dead-lettered (see
// demoChaos).
func (d *demo) chaosOrders(ctx context.Context, bURL string, end time.Time) error {
	c := d.chaos
	tick := time.NewTicker(demoChaosOrders)
	defer tick.Stop()
	for i := 1; time.Now().Before(end); i++ {
		c.mu.Lock()
		var a demoChaosAccount
		n := len(c.accounts)
		if n > 0 {
			a = c.accounts[n-1-(i%min(n, demoChaosRecent))]
		}
		c.mu.Unlock()
		if n > 0 {
			bind := "/accounts(" + a.id + ")"
			if i%2 == 1 {
				bind = "/accounts(accountnumber='" + a.number + "')"
			}
			name := fmt.Sprintf("Chaos order %d", i)
			resp, err := d.client.do(ctx, http.MethodPost, bURL+"new_orders", map[string]any{"new_name": name, "new_customer@odata.bind": bind})
			var id string
			if err == nil && resp.status == http.StatusNoContent {
				id, err = resp.entityID()
				if err != nil {
					return fmt.Errorf("order %s on B: %w", name, err)
				}
			}
			c.mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				c.down++
			case resp.status == http.StatusNoContent:
				c.acked++
				d.orders = append(d.orders, demoOrder{id: id, name: name, accountNumber: a.number})
			case resp.status >= 400 && resp.status < 500:
				c.refused = append(c.refused, fmt.Sprintf("%s bound to %s: %d %s", name, bind, resp.status, resp.errorMessage()))
			default:
				c.failed[resp.status]++
			}
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// chaosFirst is when the first kill of B or the sync may come, at the
// latest, as a fraction of the chaos: each is killed at least once.
const chaosFirst = 0.4

// chaosKillB kills B and restarts it on the same port and database, at
// random moments until end, and returns the B running at the end. The
// first kill comes within chaosFirst of the time; a kill is never left
// without its restart.
func (d *demo) chaosKillB(ctx context.Context, r *rand.Rand, b *demoChild, end time.Time) (*demoChild, error) {
	c := d.chaos
	host, err := demoHost(b)
	if err != nil {
		return b, err
	}
	next := time.Now().Add(between(r, 500*time.Millisecond, time.Duration(chaosFirst*float64(c.dur))))
	for next.Before(end) {
		if err := d.pause(ctx, time.Until(next)); err != nil {
			return b, nil
		}
		down := between(r, 500*time.Millisecond, 3*time.Second)
		pid := b.pid()
		if err := b.stop(syscall.SIGKILL); err != nil {
			return b, err
		}
		c.mu.Lock()
		c.bKills = append(c.bKills, time.Now())
		c.mu.Unlock()
		d.say("%s SIGKILL Instance B (pid %d); restart in %.2fs", d.paint(ansiRed, "chaos:"), pid, down.Seconds())
		// The restart happens even when ctx ended: B must run for what
		// follows (the wait after the chaos, the invariants, the stop).
		time.Sleep(down)
		nb, err := d.serve(context.WithoutCancel(ctx), "Instance B", host, filepath.Join(d.dir, "b.db"), "on", "--config", d.bConfig)
		if err != nil {
			return b, fmt.Errorf("restart B: %w", err)
		}
		b = nb
		d.say("%s Instance B restarted on %s after %.2fs down", d.paint(ansiGreen, "chaos:"), host, down.Seconds())
		next = time.Now().Add(between(r, time.Second, 3*time.Second))
	}
	return b, nil
}

// chaosKillSync kills the sync and restarts it, at random moments until
// end; the first kill comes within chaosFirst of the time.
func (d *demo) chaosKillSync(ctx context.Context, r *rand.Rand, end time.Time) error {
	c := d.chaos
	next := time.Now().Add(between(r, 300*time.Millisecond, time.Duration(chaosFirst*float64(c.dur))))
	for next.Before(end) {
		if err := d.pause(ctx, time.Until(next)); err != nil {
			return nil
		}
		down := between(r, 200*time.Millisecond, 2*time.Second)
		pid := d.sync.pid()
		if err := d.sync.stop(syscall.SIGKILL); err != nil {
			return err
		}
		c.mu.Lock()
		c.sKills++
		c.mu.Unlock()
		d.say("%s SIGKILL sync (pid %d); restart in %.2fs", d.paint(ansiRed, "chaos:"), pid, down.Seconds())
		time.Sleep(down)
		if err := d.startSync(); err != nil {
			return fmt.Errorf("restart the sync: %w", err)
		}
		next = time.Now().Add(between(r, 500*time.Millisecond, 2500*time.Millisecond))
	}
	return nil
}

// demoHost returns the host:port of a server child.
func demoHost(ch *demoChild) (string, error) {
	root, err := url.Parse(ch.root)
	if err != nil {
		return "", fmt.Errorf("%s's address %s: %w", ch.name, ch.root, err)
	}
	return root.Host, nil
}

// chaosHydrateProblems is the Hydrate invariant under --chaos. The orders
// of the chaos make placeholders the demo cannot see (a 204 does not say
// whether B made one, and the sync may hydrate it before any read), so
// the placeholders are counted at the end instead: with none left
// (eventual_hydrationstate 1) and no account deleted, every placeholder
// B ever made is an account in eventual_hydrationstate 2, and an account
// the sync created is never in that state. Each of those must have had a
// Hydrate message, and no other record one.
//
// Once, not at least once: but B's step is synchronous, in the
// hydrating write's transaction, so a SIGKILL of B after the webhook
// answered and before the commit loses the hydration, and the sync's
// retry hydrates the record again, sending the message a second time.
// That is the webhook's at-least-once delivery across a crash, not a
// double hydration: a repeat is excused when B was killed between the two
// messages, and counted apart.
func (d *demo) chaosHydrateProblems(ctx context.Context) []string {
	hydrated, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%202&$select=accountid")
	if err != nil {
		return []string{fmt.Sprintf("B's hydrated accounts: %v", err)}
	}
	c := d.chaos
	c.mu.Lock()
	kills := append([]time.Time(nil), c.bKills...)
	c.mu.Unlock()
	killedBetween := func(from, to time.Time) bool {
		for _, k := range kills {
			if k.After(from) && k.Before(to) {
				return true
			}
		}
		return false
	}
	times := d.hooks.times()
	var problems []string
	total, repeats := 0, 0
	isHydrated := map[string]bool{}
	for _, h := range hydrated {
		id := fmt.Sprint(h["accountid"])
		isHydrated[id] = true
		ts := times[id]
		total += len(ts)
		if len(ts) == 0 {
			problems = append(problems, fmt.Sprintf("%s hydrated on B without a Hydrate message", id))
			continue
		}
		for i := 1; i < len(ts); i++ {
			if killedBetween(ts[i-1], ts[i]) {
				repeats++
			} else {
				problems = append(problems, fmt.Sprintf("%s hydrated %d times (B not killed in between)", id, len(ts)))
				break
			}
		}
	}
	var others []string
	for id := range times {
		if !isHydrated[id] {
			others = append(others, id)
		}
	}
	sort.Strings(others)
	for _, id := range others {
		problems = append(problems, fmt.Sprintf("a Hydrate message for %s, not a hydrated account on B", id))
	}
	d.say("B's Hydrate step ran %d times for %d placeholders (eventual_hydrationstate 2 on B, the journeys' and the chaos's); %d repeats after a kill of B", total, len(hydrated), repeats)
	return problems
}

// chaosRefusals lists the orders B refused with a 4xx during the chaos:
// with placeholders on, B acknowledges an order bound to an account it
// has not got.
func (d *demo) chaosRefusals() []string {
	c := d.chaos
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.refused...)
}

// sumCounts adds the counts of m.
func sumCounts(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
