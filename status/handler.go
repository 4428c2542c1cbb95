package status

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// files holds the page's template and the assets it serves.
//
//go:embed page.html assets/*.js assets/*.css assets/*.svg assets/LICENSE
var files embed.FS

// csp lets the page load only its own scripts, styles and icon and fetch
// only its own data: no inline script or style, no other origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// allow is the Allow header of a 405.
const allow = "GET, HEAD"

// An asset is one file of assets/, ready to serve.
type asset struct {
	body  []byte
	ctype string // Content-Type
	etag  string // a strong ETag, from the content's hash
	cache string // Cache-Control
}

// assets maps the names of the files in assets/ to them.
var assets = func() map[string]asset {
	ctypes := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml",
		"":     "text/plain; charset=utf-8", // LICENSE
	}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic(fmt.Sprintf("read embedded assets: %v", err)) // the embed directive guarantees the directory
	}
	m := map[string]asset{}
	for _, e := range entries {
		body, err := fs.ReadFile(files, "assets/"+e.Name())
		if err != nil {
			panic(fmt.Sprintf("read embedded asset %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(body)
		a := asset{
			body:  body,
			ctype: ctypes[path.Ext(e.Name())],
			etag:  `"` + hex.EncodeToString(sum[:8]) + `"`,
			// The page's own files change with the binary: revalidate them.
			cache: "no-cache",
		}
		if strings.HasPrefix(e.Name(), "uPlot") {
			// The page links every asset with its hash in the query, so
			// a new uPlot is a new URL.
			a.cache = "public, max-age=31536000, immutable"
		}
		m[e.Name()] = a
	}
	return m
}()

// page is the status page's template.
var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"clock": clock,
	"iso":   iso,
	"dur":   duration,
	"age":   func(now, since time.Time) string { return duration(now.Sub(since)) },
	"state": func(s string) string {
		if _, ok := breakerStates[s]; ok {
			return "state-" + s
		}
		return "state-unknown"
	},
}).ParseFS(files, "page.html"))

// pageData is what page renders.
type pageData struct {
	Snapshot
	Error  string
	Source string            // the URL of data.json
	Assets map[string]string // the URL of each asset, by name
}

// Handler serves the status page of h, relative to the path "/status"
// under which it is mounted:
//
//	GET /status, /status/  the HTML page, rendered from the latest snapshot
//	GET /status/data.json  h.Data() as JSON
//	GET /status/assets/…   the page's script and style, and uPlot
//
// It routes on the part of the path after its first "/status" element, so
// it works mounted with mux.Handle("/status", …) and
// mux.Handle("/status/", …), under a longer prefix ("/sync/status/"), or
// behind http.StripPrefix("/status", …). Other paths are 404, other
// methods 405.
func Handler(h *History) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base, rest := split(r)
		var serve func(http.ResponseWriter, *http.Request)
		switch {
		case rest == "" || rest == "/":
			serve = func(w http.ResponseWriter, r *http.Request) { servePage(w, r, h, base) }
		case rest == "/data.json":
			serve = serveData(h)
		case strings.HasPrefix(rest, "/assets/"):
			a, ok := assets[strings.TrimPrefix(rest, "/assets/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			serve = func(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, a) }
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", allow)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		serve(w, r)
	})
}

// split returns the path the browser sees the handler under (base, with
// no trailing slash) and the path within it (rest: "", "/" or "/…").
func split(r *http.Request) (base, rest string) {
	p := r.URL.Path
	for i := 0; ; {
		j := strings.Index(p[i:], "/status")
		if j < 0 {
			break
		}
		end := i + j + len("/status")
		if end == len(p) || p[end] == '/' {
			return p[:end], p[end:]
		}
		i = end
	}
	// Mounted behind http.StripPrefix: the prefix is what the request's
	// original path has before r.URL.Path.
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		if b, ok := strings.CutSuffix(u.Path, p); ok {
			return strings.TrimSuffix(b, "/"), p
		}
	}
	return "", p
}

// servePage renders the page from h's latest snapshot.
func servePage(w http.ResponseWriter, r *http.Request, h *History, base string) {
	d := pageData{Snapshot: h.Latest(), Source: base + "/data.json", Assets: map[string]string{}}
	if d.Title == "" {
		d.Title = "eventual status"
	}
	if err := h.Err(); err != nil {
		d.Error = err.Error()
	}
	for name, a := range assets {
		d.Assets[name] = base + "/assets/" + name + "?v=" + strings.Trim(a.etag, `"`)
	}
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	write(w, r, b.Bytes())
}

// serveData returns a handler that writes h.Data() as JSON.
func serveData(h *History) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(h.Data())
		if err != nil {
			http.Error(w, "encode status data: "+err.Error(), http.StatusInternalServerError)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		write(w, r, b)
	}
}

// write writes b as the body of the response, with its length, and no
// body for a HEAD request.
func write(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// serveAsset writes a, answering conditional and range requests.
func serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", a.cache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// clock formats t for the page, in UTC; the page's script formats times
// the same way.
func clock(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// iso formats t for a datetime attribute, "" if t is zero.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// duration formats d briefly, truncating ("850ms", "4.2s", "42s",
// "3m07s", "2h05m"); the page's script formats durations the same way.
func duration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < 10*time.Second:
		t := d / (100 * time.Millisecond)
		return fmt.Sprintf("%d.%ds", t/10, t%10)
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		s := d / time.Second
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := d / time.Minute
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}
