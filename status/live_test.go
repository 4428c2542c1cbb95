package status_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eventual-pp/eventual/internal/testbrowser"
	"github.com/eventual-pp/eventual/status"
)

// updateTimeout bounds how long the page may take to show a new sample:
// it refreshes every 2 s.
const updateTimeout = 10 * time.Second

// plotNames are the plots the page draws for an instance and a sync.
var plotNames = []string{"Backlog per table", "Breaker state", "Placeholders pending", "Sync lag per table", "Time to hydrate"}

// newServer serves h at /status on 127.0.0.1 only, as cmd/eventual mounts
// it, plus extra routes.
func newServer(t *testing.T, h *status.History, extra map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/status", status.Handler(h))
	mux.Handle("/status/", status.Handler(h))
	for p, fn := range extra {
		mux.HandleFunc(p, fn)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// livePage is the snapshot the browser test starts with, at time now: an
// instance with one placeholder (with a hostile name) and no hydrations,
// and a sync with two tables and two endpoints.
func livePage(now time.Time, since time.Time, pending int64) status.Snapshot {
	s := status.Snapshot{
		Time:  now,
		Title: "eventual serve — Instance B",
		Instance: &status.InstanceSnapshot{
			Tables:      []status.TableCount{{Table: "account", Rows: 12, Placeholders: pending}, {Table: "contact", Rows: 30}},
			Pending:     pending,
			HeadVersion: 77,
		},
		Sync: &status.SyncSnapshot{
			Tables: []status.SyncTable{
				{Table: "account", Phase: "incremental", LastCycle: now.Add(-time.Second), Lag: 3 * time.Second, Backlog: 5, Applied: 40},
				{Table: "contact", Phase: "initial", Lag: 12 * time.Second, Backlog: 120, DeadLetters: 1, LastError: "503 from B"},
			},
			Breakers: []status.Breaker{{Endpoint: "http://127.0.0.1:1/A", State: "closed"}, {Endpoint: "http://127.0.0.1:2/B", State: "open"}},
		},
	}
	if pending > 0 {
		s.Instance.Placeholders = []status.Placeholder{{
			Table: "account", ID: "0b6f5f0e-0000-4000-8000-0000000000a9", Key: "accountnumber=ACC-9",
			Name: hostile, CorrelationID: "corr-9", Since: since,
		}}
	}
	return s
}

// TestLivePage drives the page in Chromium: it loads with the source's
// placeholder and every plot drawn, then shows the placeholder hydrated
// after the source changes, with no console error (CSP violations
// included), on a laptop and on a phone.
func TestLivePage(t *testing.T) {
	src := &fakeSource{}
	h := status.NewHistory(src.Source, 5*time.Second, time.Hour)
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	since := start.Add(-20 * time.Second)
	for i := range 3 {
		src.set(livePage(start.Add(time.Duration(i)*5*time.Second), since, 1))
		if err := h.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	srv := newServer(t, h, map[string]http.HandlerFunc{
		// A page the CSP must refuse, to prove that testbrowser.New reports it.
		"/csp-probe": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
			fmt.Fprint(w, `<!doctype html><title>probe</title><script>document.title = "ran"</script>`)
		},
	})
	ctx, browserErrors := testbrowser.New(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nbrowser errors: %q", what, err, browserErrors())
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	// waitFor polls until expr is true, or fails after updateTimeout.
	waitFor := func(what, expr string) {
		t.Helper()
		if err := testbrowser.Poll(ctx, updateTimeout, expr); err != nil {
			t.Fatalf("waiting %v for %s (%s): %v\nbrowser errors: %q\nplaceholders: %s\nhydrations: %s", updateTimeout, what, expr, err, browserErrors(),
				eval(`document.querySelector("#placeholders tbody").textContent`), eval(`document.querySelector("#hydrations tbody").textContent`))
		}
	}
	updated := func(t time.Time) string { return fmt.Sprintf(`document.body.dataset.updated === "%d"`, t.Unix()) }

	run("open the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/status"))
	last := start.Add(10 * time.Second)
	waitFor("the first refresh", updated(last))

	if got := eval(`document.title`); got != "eventual serve — Instance B" {
		t.Errorf("title = %q", got)
	}
	row := eval(`document.querySelector("#placeholders tbody tr").textContent`)
	for _, want := range []string{"accountnumber=ACC-9", hostile, "corr-9", "0b6f5f0e-0000-4000-8000-0000000000a9"} {
		if !strings.Contains(row, want) {
			t.Errorf("placeholder row %q lacks %q", row, want)
		}
	}
	if got := eval(`String(document.scripts.length)`); got != "2" {
		t.Errorf("%s scripts on the page, want 2 (the placeholder's name must stay text)", got)
	}
	if got := eval(`document.querySelector("#hydrations tbody").textContent`); got != "No hydrations yet" {
		t.Errorf("hydrations = %q, want the empty state", got)
	}
	if got := eval(`Object.keys(window.eventualPlots).sort().join("|")`); got != strings.Join(plotNames, "|") {
		t.Errorf("plots = %q, want %q", got, strings.Join(plotNames, "|"))
	}
	for expr, want := range map[string]string{
		`String(eventualPlots["Placeholders pending"].data[0].length)`:             "3",
		`String(eventualPlots["Placeholders pending"].data[1].join())`:             "1,1,1",
		`eventualPlots["Sync lag per table"].series.map(s => s.label).join()`:      "Time,account,contact",
		`String(eventualPlots["Sync lag per table"].data[2].join())`:               "12,12,12",
		`String(eventualPlots["Backlog per table"].data[2].join())`:                "120,120,120",
		`String(eventualPlots["Breaker state"].data[2].join())`:                    "2,2,2",
		`String(eventualPlots["Time to hydrate"].data[1].reduce((a, b) => a + b))`: "0",
		`String(document.querySelectorAll(".plot canvas").length)`:                 "5",
	} {
		if got := eval(expr); got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}

	// The placeholder is hydrated: it leaves Placeholders for Hydrations.
	hydrated := last.Add(5 * time.Second)
	next := livePage(hydrated, since, 0)
	next.Instance.Hydrations = []status.Hydration{{
		Table: "account", ID: "0b6f5f0e-0000-4000-8000-0000000000a9", Key: "accountnumber=ACC-9",
		PlaceholderSince: since, HydratedAt: hydrated.Add(-500 * time.Millisecond),
	}}
	next.Sync.Breakers[1].State = "half-open"
	src.set(next)
	if err := h.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor("the hydration to show", updated(hydrated)+
		` && document.querySelector("#placeholders tbody").textContent === "No placeholders pending"`+
		` && document.querySelector("#hydrations tbody").textContent.includes("accountnumber=ACC-9")`)
	if got, want := eval(`document.querySelector("#hydrations tbody tr").cells[3].textContent`), "34s"; got != want {
		t.Errorf("time to hydrate = %q, want %q", got, want)
	}
	for expr, want := range map[string]string{
		`String(eventualPlots["Placeholders pending"].data[1].join())`:             "1,1,1,0",
		`String(eventualPlots["Time to hydrate"].data[1].reduce((a, b) => a + b))`: "1",
		`String(eventualPlots["Breaker state"].data[2].join())`:                    "2,2,2,1",
		`document.getElementById("pending-total").textContent`:                     "0",
	} {
		if got := eval(expr); got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
	testbrowser.Screenshot(t, ctx, "status-laptop.png")

	// On a phone the plots shrink to the screen and nothing overflows it
	// sideways (wide tables scroll in their box).
	run("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	waitFor("the plots to fit a phone", `Object.values(eventualPlots).every(u => u.width <= 390)`)
	if got := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Errorf("the page overflows a phone's width: scrollWidth %s, innerWidth %s",
			eval(`String(document.documentElement.scrollWidth)`), eval(`String(window.innerWidth)`))
	}
	testbrowser.Screenshot(t, ctx, "status-phone.png")

	if errs := browserErrors(); len(errs) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(errs, "\n"))
	}

	// The listener does catch what the CSP refuses.
	run("open the CSP probe", chromedp.Navigate(srv.URL+"/csp-probe"))
	deadline := time.Now().Add(updateTimeout)
	for !slices.ContainsFunc(browserErrors(), func(e string) bool { return strings.Contains(e, "Content Security Policy") }) {
		if time.Now().After(deadline) {
			t.Fatalf("no CSP violation reported for an inline script; errors: %q", browserErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLivePageFirstSample opens the page before the first sample: it says
// so, draws nothing, and shows the data once the History has a sample.
func TestLivePageFirstSample(t *testing.T) {
	src := &fakeSource{}
	h := status.NewHistory(src.Source, 5*time.Second, time.Hour)
	srv := newServer(t, h, nil)
	ctx, browserErrors := testbrowser.New(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/status/")); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Poll(ctx, updateTimeout, `document.body.dataset.updated === "0"`); err != nil {
		t.Fatalf("waiting for the first refresh: %v; errors %q", err, browserErrors())
	}
	// An empty sync: its plots have series of no points.
	now := time.Now().Truncate(time.Second)
	src.set(status.Snapshot{Time: now, Title: "eventual sync", Sync: &status.SyncSnapshot{}})
	if err := h.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	expr := fmt.Sprintf(`document.body.dataset.updated === "%d" && document.querySelector("#breakers tbody").textContent === "No breakers"`, now.Unix())
	// The page reloads itself when the first sample brings its sections.
	if err := testbrowser.Poll(ctx, updateTimeout, expr); err != nil {
		t.Fatalf("waiting for the sample: %v; errors %q", err, browserErrors())
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Object.keys(eventualPlots).sort().join("|")`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Backlog per table|Breaker state|Sync lag per table"; got != want {
		t.Errorf("plots = %q, want %q", got, want)
	}
	testbrowser.Screenshot(t, ctx, "status-empty-sync.png")
	if errs := browserErrors(); len(errs) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(errs, "\n"))
	}
}
