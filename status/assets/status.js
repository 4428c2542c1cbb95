// status.js: the live part of eventual's status page (package status).
//
// The server renders the page with the latest snapshot, so it reads
// without JavaScript. This script then fetches data.json (the URL is the
// body's data-source), draws the plots with uPlot, and every 2 s fetches it
// again and updates the plots and the tables. Rows are rebuilt with DOM
// APIs and textContent, never innerHTML.
//
// For tests: window.eventualPlots maps each plot's name (its figure's
// data-plot) to its uPlot instance, and after each successful refresh
// document.body.dataset.updated is the snapshot's time in Unix seconds.
(function () {
	"use strict";

	const every = 2000; // ms between refreshes
	const body = document.body;
	const source = body.dataset.source;
	const plots = {}; // plot name -> uPlot instance
	const keys = {}; // plot name -> the series names it was built with
	window.eventualPlots = plots;

	const palette = ["#1d4ed8", "#b91c1c", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];
	const breakerStates = ["closed", "half-open", "open"];
	// Time-to-hydrate buckets: lower edges in seconds, and their labels.
	const edges = [0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
	const edgeLabels = ["0", "100ms", "250ms", "500ms", "1s", "2.5s", "5s", "10s", "30s", "1m", "2m", "5m", "10m", "30m"];
	const integers = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];

	// Formatting, as the server's template does it (handler.go).

	function two(n) { return String(n).padStart(2, "0"); }

	// duration formats a number of milliseconds as Go's duration() does.
	function duration(ms) {
		const s = Math.max(ms, 0) / 1000;
		if (!isFinite(s)) return "";
		if (s < 1) return Math.floor(s * 1000 + 1e-6) + "ms";
		if (s < 10) {
			const t = Math.floor(s * 10 + 1e-6);
			return Math.floor(t / 10) + "." + (t % 10) + "s";
		}
		if (s < 60) return Math.floor(s) + "s";
		if (s < 3600) {
			const t = Math.floor(s);
			return Math.floor(t / 60) + "m" + two(t % 60) + "s";
		}
		const m = Math.floor(s / 60);
		return Math.floor(m / 60) + "h" + two(m % 60) + "m";
	}

	function millis(iso) { return iso ? Date.parse(iso) : NaN; }

	function clock(iso) {
		const t = millis(iso);
		return isNaN(t) ? "never" : new Date(t).toISOString().slice(0, 19).replace("T", " ") + " UTC";
	}

	function isoAttr(iso) {
		const t = millis(iso);
		return isNaN(t) ? "" : new Date(t).toISOString().slice(0, 19) + "Z";
	}

	function stateClass(s) { return breakerStates.includes(s) ? "state-" + s : "state-unknown"; }

	// Tables.

	function cell(text, cls, datetime) {
		const td = document.createElement("td");
		if (cls) td.className = cls;
		if (datetime === undefined) {
			td.textContent = text;
			return td;
		}
		const t = document.createElement("time");
		if (datetime) t.dateTime = datetime;
		t.textContent = text;
		td.append(t);
		return td;
	}

	function keyCell(key) { return key ? cell(key) : cell("—", "muted"); }

	// fill replaces the rows of the table with the given id by one row per
	// item, or by the tbody's data-empty text when there are none.
	function fill(id, items, row) {
		const tbody = document.querySelector("#" + id + " > tbody");
		if (!tbody) return;
		const rows = (items || []).map(function (it) {
			const tr = document.createElement("tr");
			tr.append(...row(it));
			return tr;
		});
		if (rows.length === 0) {
			const tr = document.createElement("tr");
			tr.className = "empty";
			const td = cell(tbody.dataset.empty || "None");
			td.colSpan = tbody.parentElement.tHead.rows[0].cells.length;
			tr.append(td);
			rows.push(tr);
		}
		tbody.replaceChildren(...rows);
	}

	function setText(id, text) {
		const el = document.getElementById(id);
		if (el) el.textContent = text;
	}

	function renderInstance(inst, now) {
		setText("pending-total", inst.pending);
		setText("head-version", inst.headVersion);
		const ph = inst.placeholders || [];
		const note = document.getElementById("placeholders-note");
		if (note) {
			note.hidden = ph.length >= inst.pending;
			note.textContent = "Showing the oldest " + ph.length + " of " + inst.pending + ".";
		}
		fill("placeholders", ph, function (p) {
			return [cell(p.table), keyCell(p.key), cell(p.id, "id"), cell(p.name),
				cell(duration(now - millis(p.since)), "num", isoAttr(p.since)), cell(p.correlationId, "id")];
		});
		fill("hydrations", inst.hydrations, function (h) {
			return [cell(h.table), keyCell(h.key), cell(h.id, "id"),
				cell(duration(millis(h.hydratedAt) - millis(h.placeholderSince)), "num"),
				cell(clock(h.hydratedAt), "", isoAttr(h.hydratedAt))];
		});
		fill("tables", inst.tables, function (t) {
			return [cell(t.table), cell(t.rows, "num"), cell(t.placeholders, "num")];
		});
	}

	function renderSync(sync) {
		fill("sync-tables", sync.tables, function (t) {
			return [cell(t.table), cell(t.phase), cell(clock(t.lastCycle), "", isoAttr(t.lastCycle)),
				cell(duration(t.lag * 1000), "num"), cell(t.backlog, "num"), cell(t.applied, "num"),
				cell(t.deadLetters, t.deadLetters ? "num bad" : "num"), cell(t.lastError || "", "error-text")];
		});
		fill("breakers", sync.breakers, function (b) {
			const span = document.createElement("span");
			span.className = "state " + stateClass(b.state);
			span.textContent = b.state;
			const td = document.createElement("td");
			td.append(span);
			return [cell(b.endpoint), td];
		});
	}

	// Plots.

	// compact drops the undefined fields of o, as uPlot takes an absent
	// option for its default but not always an undefined one.
	function compact(o) {
		for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
		return o;
	}

	function fromZero(u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; }

	// timeRange is the x range of a plot over time: its samples' span, or,
	// with one sample or none, the minute up to it (or now). uPlot would
	// give a single sample a span of years, as it takes the day for 86400 s
	// scaled as milliseconds.
	function timeRange(u, min, max) {
		const xs = u.data[0] || [];
		if (xs.length < 2) {
			const end = xs.length ? xs[0] : Date.now() / 1000;
			return [end - 60, end];
		}
		return [min, max];
	}

	function plotSize(el) {
		return {width: Math.max(el.clientWidth, 200), height: window.innerWidth < 600 ? 180 : 220};
	}

	// timeOpts is the options of a plot of lines over time, one per name.
	function timeOpts(names, size, o) {
		return Object.assign({}, size, {
			legend: {show: names.length > 1 || (names.length > 0 && !!o.legendValue)},
			cursor: {drag: {x: false, y: false}},
			scales: {x: {time: true, range: timeRange}, y: {range: o.range || fromZero}},
			axes: [{}, compact({size: o.axisSize || 60, incrs: o.incrs, splits: o.splits, values: o.values})],
			series: [{}].concat(names.map(function (n, i) {
				return compact({
					label: n,
					stroke: palette[i % palette.length],
					width: 2,
					paths: o.stepped ? uPlot.paths.stepped({align: 1}) : undefined,
					value: o.legendValue,
				});
			})),
		});
	}

	function lines(list) {
		return function (d) {
			const s = list(d) || [];
			return {names: s.map(function (x) { return x.name; }), cols: [d.times || []].concat(s.map(function (x) { return x.values; }))};
		};
	}

	function histogram(values) {
		const counts = edges.map(function () { return 0; });
		for (const v of values) {
			let i = edges.length - 1;
			while (i > 0 && v < edges[i]) i--;
			counts[i]++;
		}
		return {names: ["hydrations"], cols: [edges.map(function (_, i) { return i; }), counts]};
	}

	function bucketRange(i) {
		if (i == null || !edgeLabels[i]) return "—";
		return i === edges.length - 1 ? "≥ " + edgeLabels[i] : edgeLabels[i] + " – " + edgeLabels[i + 1];
	}

	const seconds = function (u, splits) { return splits.map(function (v) { return v === 0 ? "0" : duration(v * 1000); }); };

	// specs are the plots by name: how to get their data from data.json
	// and their uPlot options.
	const specs = {
		"Placeholders pending": {
			data: function (d) { return {names: ["pending"], cols: [d.times || [], d.pending || []]}; },
			opts: function (names, size) { return timeOpts(names, size, {incrs: integers}); },
		},
		"Time to hydrate": {
			data: function (d) { return histogram(d.hydrate || []); },
			opts: function (names, size) {
				return Object.assign({}, size, {
					legend: {show: true},
					cursor: {drag: {x: false, y: false}},
					scales: {
						x: {time: false, range: function () { return [-0.5, edges.length - 0.5]; }},
						y: {range: fromZero},
					},
					axes: [
						{space: 44, incrs: [1, 2, 3, 4, 6], values: function (u, splits) {
							return splits.map(function (i) { return Number.isInteger(i) && edgeLabels[i] ? edgeLabels[i] : ""; });
						}},
						{size: 50, incrs: integers},
					],
					series: [
						{label: "time to hydrate", value: function (u, v) { return bucketRange(v); }},
						{label: "hydrations", stroke: palette[0], fill: "rgba(29, 78, 216, 0.35)", paths: uPlot.paths.bars({size: [0.85, 64]}), points: {show: false}},
					],
				});
			},
		},
		"Sync lag per table": {
			data: lines(function (d) { return d.lag; }),
			opts: function (names, size) { return timeOpts(names, size, {values: seconds, axisSize: 64}); },
		},
		"Breaker state": {
			data: lines(function (d) { return d.breakers; }),
			opts: function (names, size) {
				return timeOpts(names, size, {
					range: function () { return [-0.2, 2.2]; },
					splits: function () { return [0, 1, 2]; },
					values: function (u, splits) { return splits.map(function (v) { return breakerStates[v] || ""; }); },
					legendValue: function (u, v) { return v == null ? "—" : breakerStates[v] || String(v); },
					stepped: true,
					axisSize: 80,
				});
			},
		},
		"Backlog per table": {
			data: lines(function (d) { return d.backlog; }),
			opts: function (names, size) { return timeOpts(names, size, {incrs: integers}); },
		},
	};

	function draw(d) {
		for (const fig of document.querySelectorAll("[data-plot]")) {
			const name = fig.dataset.plot;
			const spec = specs[name];
			const el = fig.querySelector(".canvas");
			if (!spec || !el) continue;
			const v = spec.data(d);
			const key = JSON.stringify(v.names);
			if (plots[name] && keys[name] === key) {
				plots[name].setData(v.cols);
				continue;
			}
			// A new table or endpoint: build the plot again with its series.
			if (plots[name]) plots[name].destroy();
			plots[name] = new uPlot(spec.opts(v.names, plotSize(el)), v.cols, el);
			keys[name] = key;
		}
	}

	let resizing = 0;
	window.addEventListener("resize", function () {
		cancelAnimationFrame(resizing);
		resizing = requestAnimationFrame(function () {
			for (const fig of document.querySelectorAll("[data-plot]")) {
				const u = plots[fig.dataset.plot];
				if (u) u.setSize(plotSize(fig.querySelector(".canvas")));
			}
		});
	});

	// Refresh.

	function showError(text) {
		const el = document.getElementById("error");
		if (!el) return;
		el.textContent = text;
		el.hidden = !text;
	}

	function setLive(ok) {
		const el = document.getElementById("live");
		if (!el) return;
		el.hidden = false;
		el.textContent = ok ? "live" : "stale";
		el.classList.toggle("stale", !ok);
	}

	function render(d) {
		const s = d.snapshot || {};
		// The page's sections come from the server: when the snapshot gains
		// or loses one (the first sample), render the page again.
		if (!!s.instance !== !!document.getElementById("instance") || !!s.sync !== !!document.getElementById("sync")) {
			location.reload();
			return;
		}
		const title = s.title || "eventual status";
		document.title = title;
		setText("title", title);
		const t = document.getElementById("snapshot-time");
		if (t) {
			t.textContent = clock(s.time);
			t.dateTime = isoAttr(s.time);
		}
		showError(d.error || "");
		if (s.instance) renderInstance(s.instance, millis(s.time));
		if (s.sync) renderSync(s.sync);
		draw(d);
		body.dataset.updated = String(Math.floor(millis(s.time) / 1000) || 0);
	}

	async function refresh() {
		let d;
		try {
			const res = await fetch(source, {cache: "no-store", headers: {Accept: "application/json"}});
			if (!res.ok) throw new Error(res.status + " " + res.statusText);
			d = await res.json();
		} catch (e) {
			// The server is away: say so and keep trying. Not console.error,
			// which the browser test treats as a failure.
			showError("Cannot refresh the status: " + e.message);
			setLive(false);
			return;
		} finally {
			setTimeout(refresh, every);
		}
		// Errors here are bugs: let them reach the console.
		render(d);
		setLive(true);
	}

	refresh();
})();
