package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/eventual-pp/eventual/internal/testbrowser"
	"github.com/eventual-pp/eventual/internal/testproc"
)

// pageTimeout bounds how long a status page may take to show a change:
// the history samples every 2 s and the page refreshes every 2 s.
const pageTimeout = 15 * time.Second

// TestStatusPageInBrowser drives headless Chromium against live
// processes: Instance A, Instance B with placeholders on, and the sync A
// → B with --listen. B's /status shows the placeholder a contact's bind
// made, its plots have data points, and the page updates when the sync
// hydrates the placeholder (it leaves the pending list and appears among
// the hydrations); the sync's /status shows its tables and both breakers
// closed. No page logs a console error, an exception or a refused load.
func TestStatusPageInBrowser(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	sync := testproc.Spawn(t, binary, "sync", "--source", a.Root, "--target", b.Root, "--tables", "account,contact",
		"--state", filepath.Join(dir, "sync.db"), "--interval", "100ms", "--listen", "127.0.0.1:0")
	sync.WaitStderr("accepting webhook wake-ups", 20*time.Second)
	m := regexp.MustCompile(`status=(http://127\.0\.0\.1:\d+/status)`).FindStringSubmatch(sync.Stderr.String())
	if m == nil {
		t.Fatalf("no status URL in:\n%s", sync.Stderr.String())
	}
	sync.WaitStderr("replication: loaded", 20*time.Second)

	// The integrated system writes to B a contact bound to an account A
	// has not got yet: B makes a placeholder.
	must(t, c, 204, "POST", b.URL+"contacts", map[string]any{"lastname": "Smith", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='ACC-77')"})

	ctx, browserErrors := testbrowser.New(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(b.Root+"status")); err != nil {
		t.Fatal(err)
	}
	pending := `[...document.querySelectorAll("#placeholders tr")].some(r => r.textContent.includes("accountnumber=ACC-77"))`
	if err := testbrowser.Poll(ctx, pageTimeout, pending); err != nil {
		t.Fatalf("B's page does not show the placeholder: %v", err)
	}
	plotted := `(() => { const p = window.eventualPlots && window.eventualPlots["Placeholders pending"];
		return !!p && p.data[0].length > 0 && p.data[1].some(v => v === 1); })()`
	if err := testbrowser.Poll(ctx, pageTimeout, plotted); err != nil {
		t.Fatalf("B's plot of pending placeholders has no point at 1: %v", err)
	}
	testbrowser.Screenshot(t, ctx, "status-b-pending.png")

	// The real account arrives on A; the sync hydrates the placeholder.
	must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "Contoso", "accountnumber": "ACC-77"})
	hydrated := `!` + pending + ` && [...document.querySelectorAll("#hydrations tr")].some(r => r.textContent.includes("accountnumber=ACC-77"))`
	if err := testbrowser.Poll(ctx, pageTimeout, hydrated); err != nil {
		t.Fatalf("B's page did not show the hydration: %v\nsync:\n%s", err, sync.Stderr.String())
	}
	if err := testbrowser.Poll(ctx, pageTimeout, `window.eventualPlots["Placeholders pending"].data[1].some(v => v === 0)`); err != nil {
		t.Errorf("the plot of pending placeholders did not come back to 0: %v", err)
	}
	testbrowser.Screenshot(t, ctx, "status-b-hydrated.png")

	// The sync's page: its tables and breakers.
	if _, err := chromedp.Run(ctx, chromedp.Navigate(m[1])); err != nil {
		t.Fatal(err)
	}
	syncPage := `(() => { const rows = [...document.querySelectorAll("#sync-tables tr")].map(r => r.textContent);
		const br = [...document.querySelectorAll("#breakers tr")].map(r => r.textContent);
		return rows.some(r => r.includes("account")) && rows.some(r => r.includes("contact")) &&
			br.filter(r => r.includes("closed")).length === 2 && !!window.eventualPlots["Sync lag per table"] &&
			window.eventualPlots["Sync lag per table"].data[0].length > 0; })()`
	if err := testbrowser.Poll(ctx, pageTimeout, syncPage); err != nil {
		t.Fatalf("the sync's page does not show its tables and closed breakers: %v", err)
	}
	testbrowser.Screenshot(t, ctx, "status-sync.png")
	if errs := browserErrors(); len(errs) > 0 {
		t.Errorf("the pages logged errors:\n%s", strings.Join(errs, "\n"))
	}
	sync.Stop()
}
