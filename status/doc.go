// Package status serves a live HTML status page for an instance ("eventual
// serve") and for the sync ("eventual sync"): what is in each table, the
// placeholders pending and the recent hydrations, the sync's per-table
// progress and its breakers, with plots of the last hour.
//
// It owns the page and nothing else. It imports only the standard library
// and nothing of the module: it defines its own data types, and the caller
// (cmd/eventual) fills them from the instance or the sync engine.
//
// The contract:
//
//   - A Source returns a Snapshot: the time, a title, and an
//     InstanceSnapshot (serve's page) or a SyncSnapshot (the sync's page),
//     or both.
//   - A History (NewHistory) samples the Source every 5 s (Run, or Sample
//     for one sample), keeps the latest snapshot and, in bounded memory,
//     the series of the last hour: placeholders pending, each sync table's
//     lag and backlog, each endpoint's breaker state (closed 0, half-open 1,
//     open 2), and the time-to-hydrate of the hydrations it has seen.
//     Data returns it all ready for JSON, with the series aligned on the
//     samples' times and null where a series has no value.
//   - Handler serves, under the path "/status": the page, rendered on the
//     server with html/template from the latest snapshot (it reads with
//     JavaScript off); data.json, Data as JSON; and assets/, the page's
//     script and style and uPlot, embedded in the binary (no CDN: it works
//     offline). The page's Content-Security-Policy allows only its own
//     scripts and styles: nothing is inline.
//
// The page's script (assets/status.js) fetches data.json every 2 s and
// updates the plots and the tables with DOM APIs, never innerHTML. It
// exposes the plots as window.eventualPlots, by name ("Placeholders
// pending", "Time to hydrate", "Sync lag per table", "Breaker state",
// "Backlog per table"), and sets document.body.dataset.updated to the
// snapshot's time in Unix seconds after each refresh, for tests.
//
// The plots use uPlot 1.6.32 (https://github.com/leeoniya/uPlot, MIT,
// assets/LICENSE): about 50 KB minified, drawn on a canvas, with no
// dependencies, made for time series and for live updates (setData), and
// with bar and stepped paths for the histogram and the breaker states.
// Chart.js was considered and is several times larger for the same plots;
// server-side SVG (go-echarts, gonum/plot) would keep the page free of
// script but needs a reload, or a new image, for every update. See
// assets/README.md to update uPlot.
//
// The tests drive the page in headless Chromium with chromedp (internal/testbrowser
// starts it); they skip when Chromium is missing, unless
// EVENTUAL_REQUIRE_BROWSER=1.
package status
