package testbrowser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Timeout bounds a browser test, Chromium's start included.
const Timeout = 60 * time.Second

// Chromium returns the path of Chromium: /usr/bin/chromium, or chromium on
// PATH. It skips t when there is none, or fails it when the environment
// variable EVENTUAL_REQUIRE_BROWSER is 1 (as in CI).
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("EVENTUAL_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium (/usr/bin/chromium or chromium on PATH), and EVENTUAL_REQUIRE_BROWSER=1")
	}
	t.Skip("no Chromium (/usr/bin/chromium or chromium on PATH); set EVENTUAL_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// New starts headless Chromium, with a fresh profile, for t, and
// returns the chromedp context of its tab, bounded by Timeout, and a
// func that returns the page's errors so far: console.error calls, uncaught
// exceptions (and unhandled rejections) and browser log entries of level
// error, which include failed loads and Content-Security-Policy violations.
// Chromium stops, and its profile is removed, when t ends.
//
// Start the servers the page talks to before calling New, so that
// Chromium stops first (cleanups run last in, first out).
func New(t testing.TB) (context.Context, func() []string) {
	t.Helper()
	exe := Chromium(t)
	profile := filepath.Join(t.TempDir(), "profile")

	ctx, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)

	var mu sync.Mutex
	var errs []string
	add := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	// The listener sees every event from the tab's start. It runs in the
	// loop that reads the browser's messages: it must only record.
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					if a.Description != "" {
						parts = append(parts, a.Description)
					} else {
						parts = append(parts, string(a.Value))
					}
				}
				add("console.error: %s", strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			add("exception at %s:%d: %s", d.URL, d.LineNumber, text)
		case *log.EventEntryAdded:
			if e := ev.Entry; e.Level == log.EntryLevelError {
				add("log (%s) %s: %s", e.Source, e.URL, e.Text)
			}
		}
	}))
	t.Cleanup(func() {
		cancelTab() // closes Chromium, and waits for it
		cancelAlloc()
		cancelTimeout()
		// Chromium's helpers may outlive it by a moment: retry, so that
		// t.TempDir's own cleanup finds the profile gone.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if err := os.RemoveAll(profile); err == nil || time.Now().After(deadline) {
				break
			}
		}
	})

	// Start Chromium, open the tab, and make sure the log domain is on
	// (chromedp enables it and the runtime domain on a new tab; this keeps
	// the test honest if that changes).
	if _, err := chromedp.Call(tabCtx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	if _, err := chromedp.Call(tabCtx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the runtime domain: %v", err)
	}
	return tabCtx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// Poll waits up to timeout for the JavaScript expression expr to be true
// in the tab. Unlike chromedp.Poll it outlives a reload of the page: an
// evaluation that fails because the page is navigating is tried again.
func Poll(ctx context.Context, timeout time.Duration, expr string) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("still false")
			}
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Screenshot saves a full-page PNG of the tab under t.TempDir and logs its
// path; with EVENTUAL_SCREENSHOT_DIR set, it saves a copy there too.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("EVENTUAL_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
