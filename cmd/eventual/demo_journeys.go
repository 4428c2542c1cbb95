package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// play starts the processes, plays the journeys in order and checks the
// invariants.
func (d *demo) play(ctx context.Context) error {
	d.say("%s", d.paint(ansiBold, "eventual demo: eventual consistency between Power Platform instances"))
	d.say("working folder %s", d.dir)
	var err error
	if d.a, err = d.serve(ctx, "Instance A", "127.0.0.1:0", filepath.Join(d.dir, "a.db"), "off"); err != nil {
		return err
	}
	if d.hooks, err = startDemoHooks(); err != nil {
		return err
	}
	if d.bConfig, err = d.hooks.writeConfig(d.dir); err != nil {
		return err
	}
	if d.b, err = d.serve(ctx, "Instance B", "127.0.0.1:0", filepath.Join(d.dir, "b.db"), "on", "--config", d.bConfig); err != nil {
		return err
	}
	d.say("B runs a step on the Hydrate message of account (a webhook to %s, counting)", d.hooks.url)
	bAddr, err := url.Parse(d.b.root)
	if err != nil {
		return fmt.Errorf("B's address %s: %w", d.b.root, err)
	}
	if d.bProxy, err = startDemoProxy(bAddr.Host); err != nil {
		return err
	}
	d.say("the sync reaches B through %s, which counts its connections", d.bProxy.url)
	if d.b0, err = d.serve(ctx, "B0", "127.0.0.1:0", filepath.Join(d.dir, "b0.db"), "off"); err != nil {
		return err
	}
	d.say("B0 is Instance B without the pattern: placeholders off, and no sync feeds it")
	if err := d.startSync(); err != nil {
		return err
	}
	journeys := []func(context.Context) error{d.happyPath, d.targetDown, d.syncBehind, d.hydration}
	if d.chaos != nil {
		journeys = append(journeys, d.playChaos)
	}
	for _, j := range journeys {
		if err := j(ctx); err != nil {
			return err
		}
	}
	return d.invariants(ctx)
}

// createAccount creates an account on A and returns its id.
func (d *demo) createAccount(ctx context.Context, name, number string) (string, error) {
	r, err := d.client.expect(ctx, http.StatusNoContent, http.MethodPost, d.a.url+"accounts", map[string]any{"name": name, "accountnumber": number})
	if err != nil {
		return "", fmt.Errorf("create account %s on A: %w", number, err)
	}
	id, err := r.entityID()
	if err != nil {
		return "", fmt.Errorf("create account %s on A: %w", number, err)
	}
	d.say("A: created account %s %q (%s)", number, name, id)
	return id, nil
}

// writeOrder has the integrated system write an order to an instance,
// bound to an account by bind (/accounts(GUID) or by alternate key). It
// returns the response, whatever its status.
func (d *demo) writeOrder(ctx context.Context, inst *demoChild, name, bind string) (*demoResponse, error) {
	r, err := d.client.do(ctx, http.MethodPost, inst.url+"new_orders", map[string]any{"new_name": name, "new_customer@odata.bind": bind})
	if err != nil {
		return nil, fmt.Errorf("order %s on %s: %w", name, inst.name, err)
	}
	return r, nil
}

// orderOnB writes an order to B and requires B to acknowledge it (204),
// recording it for the invariants.
func (d *demo) orderOnB(ctx context.Context, name, bind, accountNumber string) error {
	r, err := d.writeOrder(ctx, d.b, name, bind)
	if err != nil {
		return err
	}
	if r.status != http.StatusNoContent {
		return fmt.Errorf("order %s on B bound to %s: status %d, want 204: %.300s", name, bind, r.status, r.body)
	}
	id, err := r.entityID()
	if err != nil {
		return fmt.Errorf("order %s on B: %w", name, err)
	}
	d.orders = append(d.orders, demoOrder{id: id, name: name, accountNumber: accountNumber})
	d.say("integrated system → B: POST new_orders %q bound to %s → %s", name, bind, d.paint(ansiGreen, "204"))
	return nil
}

// waitFor polls cond every 100ms until it holds, failing after timeout
// with an error naming what it waited for.
func (d *demo) waitFor(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waited %v for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("waited %v for %s: still not there", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pause waits for dur, or until ctx ends.
func (d *demo) pause(ctx context.Context, dur time.Duration) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(dur):
		return nil
	}
}

// waitDelivered waits until B has every account of A with its name and
// accountnumber.
func (d *demo) waitDelivered(ctx context.Context, what string) error {
	start := time.Now()
	err := d.waitFor(ctx, what, demoWaitTimeout, func() (bool, error) {
		diffs, err := d.accountDiffs(ctx)
		return err == nil && len(diffs) == 0, err
	})
	if err != nil {
		return err
	}
	d.say("sync delivered: B has every account of A (%.2fs)", time.Since(start).Seconds())
	return nil
}

// happyPath: the account reaches B before the integrated system refers
// to it.
func (d *demo) happyPath(ctx context.Context) error {
	d.journey("happy path")
	id, err := d.createAccount(ctx, "Contoso", "ACC-1")
	if err != nil {
		return err
	}
	if err := d.waitDelivered(ctx, "the sync to deliver ACC-1 to B"); err != nil {
		return err
	}
	return d.orderOnB(ctx, "Order 1", "/accounts("+id+")", "ACC-1")
}

// targetDown: B stops while A takes writes; the sync's breaker keeps its
// requests to B few; B comes back on the same port and database and the
// sync catches up.
func (d *demo) targetDown(ctx context.Context) error {
	d.journey("B down")
	root, err := url.Parse(d.b.root)
	if err != nil {
		return fmt.Errorf("B's address %s: %w", d.b.root, err)
	}
	logFrom := len(d.sync.err.String())
	knocks := d.bProxy.connections()
	if err := d.b.stop(syscall.SIGKILL); err != nil {
		return err
	}
	d.say("%s: Instance B killed (pid %d)", d.paint(ansiRed, "down"), d.b.pid())
	// A takes writes while B is down, until the sync's breaker for B has
	// opened and B has been down a while.
	down := time.Now()
	var breaker []string
	for i := 0; ; i++ {
		name := demoAccountNames[i%len(demoAccountNames)]
		if _, err := d.createAccount(ctx, name, fmt.Sprintf("ACC-2%d", i+1)); err != nil {
			return err
		}
		breaker = d.breakerChanges(logFrom)
		if slices.Contains(breaker, "from=closed to=open") && time.Since(down) >= demoOutageFor {
			break
		}
		if time.Since(down) > demoWaitTimeout {
			return fmt.Errorf("waited %v for the sync's breaker for B to open: changes seen %v", demoWaitTimeout, breaker)
		}
		if err := d.pause(ctx, time.Second); err != nil {
			return err
		}
	}
	knocked := d.bProxy.connections() - knocks
	d.say("requests the sync sent towards B while it was down: %s in %.1fs (it polls every 250ms; the breaker holds the rest back)",
		d.paint(ansiBold, fmt.Sprint(knocked)), time.Since(down).Seconds())
	d.say("sync's breaker for B, while B is down (%d changes; requests to B stay bounded: one probe per open period):", len(breaker))
	for _, b := range breaker {
		d.say("  %s", d.paint(ansiYellow, "breaker "+b))
	}
	if status, err := d.syncStatus(ctx); err != nil {
		d.say("eventual sync status: %v", err)
	} else {
		d.say("eventual sync status --state %s:", d.syncState())
		for line := range strings.Lines(status) {
			d.say("  %s", demoClip(strings.TrimRight(line, "\n"), 200))
		}
	}
	d.say("%s: restarting Instance B on the same port (%s) and database", d.paint(ansiGreen, "up"), root.Host)
	if d.b, err = d.serve(ctx, "Instance B", root.Host, filepath.Join(d.dir, "b.db"), "on", "--config", d.bConfig); err != nil {
		return fmt.Errorf("restart B: %w", err)
	}
	return d.waitDelivered(ctx, "the sync to catch B up after its restart")
}

// demoAccountNames are the names of the accounts A takes while B is down.
var demoAccountNames = []string{"Fabrikam", "Litware", "Adventure Works", "Wingtip Toys"}

// demoOutageFor is the least time B stays down.
const demoOutageFor = 2500 * time.Millisecond

// breakerChanges returns the sync's breaker changes for B ("from=… to=…")
// logged past offset from of its stderr.
func (d *demo) breakerChanges(from int) []string {
	var changes []string
	for line := range strings.Lines(d.sync.err.String()[from:]) {
		if strings.Contains(line, "circuit breaker") && strings.Contains(line, "endpoint=target") {
			changes = append(changes, demoLogFields(line, "from", "to"))
		}
	}
	return changes
}

// syncStatus runs "eventual sync status" on the sync's state.
func (d *demo) syncStatus(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, demoRequestTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.exe, "sync", "status", "--state", d.syncState()).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return string(out), nil
}

// demoClip cuts s to n runes, marking the cut with an ellipsis.
func demoClip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// demoLogFields returns "k=v" of the named keys of a logfmt line.
func demoLogFields(line string, keys ...string) string {
	var out []string
	for _, f := range strings.Fields(line) {
		for _, k := range keys {
			if strings.HasPrefix(f, k+"=") {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, " ")
}

// syncBehind: the sync is held behind; the integrated system refers to
// accounts B has not got. B makes placeholders and acknowledges; B0,
// without the pattern, fails the same writes with Dataverse's 404s.
func (d *demo) syncBehind(ctx context.Context) error {
	d.journey("sync held behind")
	if err := d.sync.stop(syscall.SIGTERM); err != nil {
		return err
	}
	d.say("%s: sync stopped (pid %d)", d.paint(ansiYellow, "held behind"), d.sync.pid())
	byID, err := d.createAccount(ctx, "Northwind", "ACC-3")
	if err != nil {
		return err
	}
	if _, err := d.createAccount(ctx, "Tailspin", "ACC-4"); err != nil {
		return err
	}
	writes := []struct{ order, bind, number string }{
		{"Order 3", "/accounts(" + byID + ")", "ACC-3"},
		{"Order 4", "/accounts(accountnumber='ACC-4')", "ACC-4"},
	}
	for _, w := range writes {
		if err := d.orderOnB(ctx, w.order, w.bind, w.number); err != nil {
			return err
		}
	}
	for _, w := range writes {
		r, err := d.writeOrder(ctx, d.b0, w.order, w.bind)
		if err != nil {
			return err
		}
		if r.status != http.StatusNotFound {
			return fmt.Errorf("order %s on B0 bound to %s: status %d, want 404: %.300s", w.order, w.bind, r.status, r.body)
		}
		d.say("integrated system → B0: POST new_orders %q bound to %s → %s %s %q", w.order, w.bind,
			d.paint(ansiRed, "404"), r.errorCode(), r.errorMessage())
	}
	pending, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%201&$select=accountid,accountnumber,name")
	if err != nil {
		return fmt.Errorf("B's placeholders: %w", err)
	}
	d.placeholders = pending
	d.say("B holds %d placeholders (eventual_hydrationstate 1):", len(pending))
	for _, p := range pending {
		d.say("  placeholder %v accountnumber=%v name=%q", p["accountid"], p["accountnumber"], fmt.Sprint(p["name"]))
	}
	return nil
}

// hydration: the sync comes back and fills the placeholders with A's
// data.
func (d *demo) hydration(ctx context.Context) error {
	d.journey("hydration")
	if err := d.startSync(); err != nil {
		return err
	}
	start := time.Now()
	err := d.waitFor(ctx, "the sync to hydrate B's placeholders", demoWaitTimeout, func() (bool, error) {
		pending, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%201&$select=accountid")
		return err == nil && len(pending) == 0, err
	})
	if err != nil {
		return err
	}
	d.say("no placeholder left on B (%.2fs)", time.Since(start).Seconds())
	hydrated, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%202&$select=accountid,accountnumber,name")
	if err != nil {
		return fmt.Errorf("B's hydrated accounts: %w", err)
	}
	for _, h := range hydrated {
		id := fmt.Sprint(h["accountid"])
		onA, err := d.client.expect(ctx, http.StatusOK, http.MethodGet, d.a.url+"accounts("+id+")?$select=name", nil)
		if err != nil {
			return fmt.Errorf("hydrated account %s on A: %w", id, err)
		}
		var a map[string]any
		if err := decodeJSON(onA.body, &a); err != nil {
			return fmt.Errorf("hydrated account %s on A: %w", id, err)
		}
		d.say("  hydrated %s %v: name on B %q, on A %q%s", id, h["accountnumber"], fmt.Sprint(h["name"]), fmt.Sprint(a["name"]), d.adoption(h))
	}
	total := 0
	for _, n := range d.hooks.counts() {
		total += n
	}
	d.say("B's Hydrate step ran %d times (%d placeholders)", total, len(d.placeholders))
	return nil
}

// hydrateProblems lists what is wrong with the Hydrate messages B sent:
// each placeholder hydrated once, none twice, no other record.
func (d *demo) hydrateProblems(ctx context.Context) []string {
	if d.chaos != nil {
		return d.chaosHydrateProblems(ctx)
	}
	counts := d.hooks.counts()
	var problems []string
	total := 0
	for id, n := range counts {
		total += n
		if n != 1 {
			problems = append(problems, fmt.Sprintf("%s hydrated %d times", id, n))
		}
	}
	if total != len(d.placeholders) {
		problems = append(problems, fmt.Sprintf("%d Hydrate messages for %d placeholders", total, len(d.placeholders)))
	}
	return problems
}

// adoption names the placeholder a hydrated account adopted, if B made it
// under a GUID of its own (a bind by alternate key).
func (d *demo) adoption(h map[string]any) string {
	for _, p := range d.placeholders {
		if p["accountid"] == h["accountid"] {
			return ""
		}
	}
	for _, p := range d.placeholders {
		if p["accountnumber"] != nil && p["accountnumber"] == h["accountnumber"] {
			return fmt.Sprintf(" (adopted the placeholder %v made by key: it took A's GUID, its orders followed)", p["accountid"])
		}
	}
	return ""
}

// accountDiffs compares the accounts of A and B by id: name and
// accountnumber.
func (d *demo) accountDiffs(ctx context.Context) ([]string, error) {
	const q = "accounts?$select=accountid,name,accountnumber"
	as, err := d.client.list(ctx, d.a.url+q)
	if err != nil {
		return nil, fmt.Errorf("A's accounts: %w", err)
	}
	bs, err := d.client.list(ctx, d.b.url+q)
	if err != nil {
		return nil, fmt.Errorf("B's accounts: %w", err)
	}
	onB := map[any]map[string]any{}
	for _, b := range bs {
		onB[b["accountid"]] = b
	}
	var diffs []string
	for _, a := range as {
		b, ok := onB[a["accountid"]]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%v missing on B", a["accountnumber"]))
		case b["name"] != a["name"] || b["accountnumber"] != a["accountnumber"]:
			diffs = append(diffs, fmt.Sprintf("%v: A has %q/%v, B has %q/%v", a["accountid"], a["name"], a["accountnumber"], b["name"], b["accountnumber"]))
		}
	}
	return diffs, nil
}

// invariants checks what the pattern promises once the sync caught up,
// printing each with ok or FAIL; the error names the broken ones.
func (d *demo) invariants(ctx context.Context) error {
	d.section("invariants")
	var broken []string
	check := func(name string, problems []string, err error) {
		if err == nil && len(problems) == 0 {
			d.say("%s %s", d.paint(ansiGreen, "ok  "), name)
			return
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
		d.say("%s %s: %s", d.paint(ansiRed, "FAIL"), name, strings.Join(problems, "; "))
		broken = append(broken, name)
	}
	diffs, err := d.accountDiffs(ctx)
	check("every account of A is on B, equal (name, accountnumber)", diffs, err)
	dups, err := d.duplicateNumbers(ctx)
	check("no duplicate accountnumber on B", dups, err)
	pending, err := d.client.list(ctx, d.b.url+"accounts?$filter=eventual_hydrationstate%20eq%201&$select=accountid")
	var left []string
	for _, p := range pending {
		left = append(left, fmt.Sprintf("placeholder %v", p["accountid"]))
	}
	check("no placeholder left on B", left, err)
	check("the Hydrate message ran once per placeholder", d.hydrateProblems(ctx), nil)
	if d.chaos != nil {
		check("B refused no order of the chaos with a 4xx", d.chaosRefusals(), nil)
	}
	wrong, err := d.orderBindings(ctx)
	check(fmt.Sprintf("every acknowledged order (%d) is on B, bound to the right account", len(d.orders)), wrong, err)
	if len(broken) > 0 {
		return fmt.Errorf("invariants broken: %s", strings.Join(broken, "; "))
	}
	d.say("%s", d.paint(ansiBold+ansiGreen, "all invariants hold"))
	return nil
}

// duplicateNumbers lists the accountnumbers that more than one account on
// B carries.
func (d *demo) duplicateNumbers(ctx context.Context) ([]string, error) {
	bs, err := d.client.list(ctx, d.b.url+"accounts?$select=accountid,accountnumber")
	if err != nil {
		return nil, fmt.Errorf("B's accounts: %w", err)
	}
	seen := map[string]int{}
	for _, b := range bs {
		if n, ok := b["accountnumber"].(string); ok && n != "" {
			seen[n]++
		}
	}
	var dups []string
	for n, c := range seen {
		if c > 1 {
			dups = append(dups, fmt.Sprintf("%s ×%d", n, c))
		}
	}
	return dups, nil
}

// orderBindings checks each acknowledged order on B: present, and bound
// to the account on B with the expected accountnumber.
func (d *demo) orderBindings(ctx context.Context) ([]string, error) {
	var wrong []string
	for _, o := range d.orders {
		r, err := d.client.do(ctx, http.MethodGet, d.b.url+"new_orders("+o.id+")?$select=new_name,_new_customer_value", nil)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			wrong = append(wrong, fmt.Sprintf("%s (%s) missing: status %d", o.name, o.id, r.status))
			continue
		}
		var order map[string]any
		if err := decodeJSON(r.body, &order); err != nil {
			return nil, fmt.Errorf("order %s: %w", o.id, err)
		}
		accounts, err := d.client.list(ctx, d.b.url+"accounts?$select=accountid&$filter=accountnumber%20eq%20'"+url.QueryEscape(o.accountNumber)+"'")
		if err != nil {
			return nil, err
		}
		if len(accounts) != 1 {
			wrong = append(wrong, fmt.Sprintf("%s: %d accounts on B with accountnumber %s", o.name, len(accounts), o.accountNumber))
			continue
		}
		if got, want := order["_new_customer_value"], accounts[0]["accountid"]; got != want {
			wrong = append(wrong, fmt.Sprintf("%s bound to %v, want %v (%s)", o.name, got, want, o.accountNumber))
		}
	}
	return wrong, nil
}
