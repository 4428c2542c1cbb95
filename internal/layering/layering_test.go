package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
)

// module is the module path; patterns in the rule table are relative to it.
const module = "github.com/eventual-pp/eventual"

// A rule says what the packages in its from patterns may depend on, through
// their non-test imports, directly or through other packages. Patterns are
// module-relative ("." is the root package, "cmd/..." is cmd and everything
// below it, "internal/test*" matches one path element by path.Match), full
// import paths outside the module ("github.com/jackc/pgx/..."), standard
// library paths after "std:" ("std:net/http"), or "std" for the whole
// standard library.
type rule struct {
	name   string   // the rule in words, as a failure prints it
	from   []string // the packages the rule applies to
	unless []string // packages exempt from the rule
	deny   []string // dependencies they must not have
	only   []string // when set, the only dependencies they may have
	tests  bool     // also check the direct imports of their test files against deny
}

// stores and sqlCode are the storage layer, as webapi and instance must not
// see it.
var (
	stores  = []string{"sqlite", "postgres"}
	sqlCode = []string{"internal/sqlstore", "internal/sqlbuild", "std:database/sql", "modernc.org/...", "github.com/jackc/..."}
)

// rules are the layer rules of docs/architecture.md, for today's packages.
var rules = []rule{
	{
		name: "the root package imports only the standard library and github.com/google/uuid",
		from: []string{"."},
		only: []string{"std", "github.com/google/uuid"},
	},
	{
		name: "odata imports only the standard library",
		from: []string{"odata"},
		only: []string{"std"},
	},
	{
		name: "codec, the Web API's wire form, imports only the root, odata, the standard library and jsontext (encoding/json/v2's token layer)",
		from: []string{"codec"},
		only: []string{".", "odata", "std", "github.com/google/uuid", "github.com/go-json-experiment/json/..."},
	},
	{
		name: "a store adapter does not import the other",
		from: stores,
		deny: stores,
	},
	{
		name: "a store adapter does not import the layers above it (instance, pipeline, steps, webapi, cmd)",
		from: stores,
		deny: []string{"instance", "pipeline", "placeholder", "steps", "webhook", "webapi", "cmd/..."},
	},
	{
		name: "the shared SQL code (internal/sqlbuild, internal/sqlstore) imports no store, driver or layer above it",
		from: []string{"internal/sqlbuild", "internal/sqlstore"},
		deny: append([]string{"modernc.org/...", "github.com/jackc/...", "instance", "webapi"}, stores...),
	},
	{
		name: "internal/sqlbuild does not import internal/sqlstore (it renders SQL, it does not run it)",
		from: []string{"internal/sqlbuild"},
		deny: []string{"internal/sqlstore", "std:database/sql"},
	},
	{
		name: "webapi serves any eventual.RecordService: it imports no instance, pipeline or store and knows nothing of SQL",
		from: []string{"webapi"},
		deny: append(append([]string{"instance", "pipeline"}, stores...), sqlCode...),
	},
	{
		name: "internal/httpserver, the process's HTTP server, knows nothing of the Web API, the instance or storage",
		from: []string{"internal/httpserver"},
		deny: append(append([]string{"webapi", "instance", "pipeline"}, stores...), sqlCode...),
	},
	{
		name: "instance imports no store, knows nothing of SQL and nothing of HTTP",
		from: []string{"instance"},
		deny: append(append([]string{"webapi", "std:net/http"}, stores...), sqlCode...),
	},
	{
		name: "metadata, the pipeline registry and the steps know only the root: no instance, webapi or store",
		from: []string{"metadata", "pipeline", "placeholder", "steps", "webhook"},
		deny: append([]string{"instance", "webapi", "internal/sqlstore", "internal/sqlbuild"}, stores...),
	},
	{
		name: "metrics observes through hooks: no instance, pipeline, store, SQL, client or replication (cmd connects them)",
		from: []string{"metrics"},
		deny: append(append([]string{"instance", "pipeline", "placeholder", "steps", "webhook", "client", "replication/...", "cmd/..."}, stores...), sqlCode...),
	},
	{
		name: "throttle, the service-protection limits, is HTTP middleware: it imports only codec (the error body) below it",
		from: []string{"throttle"},
		only: []string{"std", "codec", ".", "odata", "github.com/google/uuid", "github.com/go-json-experiment/json/..."},
	},
	{
		name: "auth, the Web API's authentication, is HTTP middleware: no instance, pipeline, store, SQL, webapi or client",
		from: []string{"auth"},
		deny: append(append([]string{"instance", "pipeline", "placeholder", "steps", "webhook", "webapi", "client", "replication/...", "cmd/..."}, stores...), sqlCode...),
	},
	{
		name: "fetchxml reads FetchXML into the root's query IR: it imports only the root (and uuid), no HTTP, codec or store",
		from: []string{"fetchxml"},
		only: []string{"std", ".", "github.com/google/uuid"},
	},
	{
		name: "status, the status page, imports only the standard library: it renders the snapshots cmd gives it",
		from: []string{"status"},
		only: []string{"std"},
	},
	{
		name: "client, the Web API client, talks HTTP only: no instance, store, SQL, webapi or layer above",
		from: []string{"client"},
		deny: append(append([]string{"instance", "pipeline", "placeholder", "steps", "webhook", "webapi", "metadata", "internal/httpserver"}, stores...), sqlCode...),
	},
	{
		name: "replication, the sync engine, imports no instance, webapi, store or cmd: it sees both ends as eventual.RecordService",
		from: []string{"replication"},
		deny: append([]string{"instance", "webapi", "cmd/..."}, stores...),
	},
	{
		name: "replication/state keeps the sync's state with SQL drivers of its own: no instance, webapi, client or store",
		from: []string{"replication/state"},
		deny: append([]string{"instance", "webapi", "client", "cmd/..."}, stores...),
	},
	{
		name:  "nothing imports cmd/...",
		from:  []string{"..."},
		deny:  []string{"cmd/..."},
		tests: true,
	},
	{
		name:   "test helpers (internal/test*, storetest, servicetest, tests/..., internal/layering) are imported only by tests",
		from:   []string{"..."},
		unless: []string{"internal/test*", "storetest", "servicetest", "tests/...", "internal/layering"},
		deny:   []string{"internal/test*", "storetest", "servicetest", "tests/...", "internal/layering"},
	},
}

// An exception is a violation known today, tolerated until the change named
// in why removes it. The test fails when an exception no longer happens, so
// the table only shrinks.
type exception struct {
	from, dep string // module-relative package and the dependency it may keep
	rule      string // the rule's name
	why       string // why, and what removes it ("to be removed by ...")
}

// exceptions is empty: every rule holds today.
var exceptions = []exception{}

// pkg is what go list reports of one package.
type pkg struct {
	ImportPath      string
	Dir             string
	Standard        bool
	GoFiles         []string
	CgoFiles        []string
	IgnoredGoFiles  []string
	Imports         []string
	TestImports     []string
	XTestImports    []string
	IncompleteError *struct{ Err string } `json:"Error"`
}

// graph maps import paths to packages.
type graph map[string]*pkg

// A violation is one forbidden dependency.
type violation struct {
	from  string   // module-relative package
	dep   string   // module-relative or full import path of the dependency
	chain []string // the import chain from the package to the dependency
	rule  string
	test  bool // found in a test file's imports
}

func (v violation) String() string {
	via := ""
	if len(v.chain) > 2 {
		via = " (through " + strings.Join(v.chain, " -> ") + ")"
	}
	what := "imports"
	if v.test {
		what = "has a test file that imports"
	}
	return fmt.Sprintf("package %s %s %s%s: breaks the rule %q", v.from, what, v.dep, via, v.rule)
}

// loadGraph returns the import graph of the module and every package it
// depends on, from one go list run shared by the tests.
func loadGraph(t *testing.T) graph {
	t.Helper()
	g, err := goList()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var goList = sync.OnceValues(func() (graph, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the layering test needs the go command: %w", err)
	}
	cmd := exec.Command(goTool, "list", "-e", "-deps",
		"-json=ImportPath,Dir,Standard,GoFiles,CgoFiles,IgnoredGoFiles,Imports,TestImports,XTestImports,Error",
		module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		if p.IncompleteError != nil && isModule(p.ImportPath) {
			return nil, fmt.Errorf("go list: package %s: %s", p.ImportPath, p.IncompleteError.Err)
		}
		g[p.ImportPath] = &p
	}
	if g[module] == nil {
		return nil, fmt.Errorf("go list reported no package %s", module)
	}
	return g, nil
})

func isModule(p string) bool { return p == module || strings.HasPrefix(p, module+"/") }

// rel returns p relative to the module, "." for the root, or p unchanged
// when it is outside the module.
func rel(p string) string {
	switch {
	case p == module:
		return "."
	case strings.HasPrefix(p, module+"/"):
		return strings.TrimPrefix(p, module+"/")
	}
	return p
}

// match reports whether the import path p matches pattern.
func (g graph) match(pattern, p string) bool {
	name := rel(p)
	switch {
	case pattern == "std":
		if p == "C" {
			return true // cgo's pseudo-package, which net imports when cgo is on
		}
		q := g[p]
		return q != nil && q.Standard
	case pattern == ".":
		return p == module
	case pattern == "...":
		return isModule(p)
	case strings.HasPrefix(pattern, "std:"):
		pattern = strings.TrimPrefix(pattern, "std:")
		name = p
		if isModule(p) {
			return false
		}
	case strings.Contains(strings.Split(pattern, "/")[0], "."):
		name = p // a full import path outside the module
		if isModule(p) {
			return false
		}
	default:
		if !isModule(p) {
			return false // a module-relative pattern
		}
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return name == base || strings.HasPrefix(name, base+"/")
	}
	if strings.Contains(pattern, "*") {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	return name == pattern
}

func (g graph) matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if g.match(pat, p) {
			return true
		}
	}
	return false
}

// check returns every violation of rules in g. It walks each package's
// non-test imports breadth first and stops at the first forbidden package
// on each path, so a forbidden import is reported once, with the shortest
// chain that leads to it.
func check(g graph, rules []rule) []violation {
	var vs []violation
	var paths []string
	for p := range g {
		if isModule(p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, r := range rules {
		for _, p := range paths {
			if !g.matchAny(r.from, p) || g.matchAny(r.unless, p) {
				continue
			}
			forbidden := func(d string) bool {
				if d == p {
					return false
				}
				if g.matchAny(r.deny, d) {
					return true
				}
				return r.only != nil && !g.matchAny(r.only, d)
			}
			parent := map[string]string{p: ""}
			queue := []string{p}
			for len(queue) > 0 {
				cur := queue[0]
				queue = queue[1:]
				q := g[cur]
				if q == nil {
					continue
				}
				for _, d := range q.Imports {
					if _, seen := parent[d]; seen {
						continue
					}
					parent[d] = cur
					if forbidden(d) {
						var chain []string
						for c := d; c != ""; c = parent[c] {
							chain = append(chain, rel(c))
						}
						slices.Reverse(chain)
						vs = append(vs, violation{from: rel(p), dep: rel(d), chain: chain, rule: r.name})
						continue
					}
					queue = append(queue, d)
				}
			}
			if r.tests {
				q := g[p]
				for _, d := range slices.Concat(q.TestImports, q.XTestImports) {
					if d != p && g.matchAny(r.deny, d) {
						vs = append(vs, violation{from: rel(p), dep: rel(d), chain: []string{rel(p), rel(d)}, rule: r.name, test: true})
					}
				}
			}
		}
	}
	return vs
}

// TestLayers fails for every import the layer rules forbid.
func TestLayers(t *testing.T) {
	g := loadGraph(t)
	used := make([]bool, len(exceptions))
	for _, v := range check(g, rules) {
		i := slices.IndexFunc(exceptions, func(e exception) bool {
			return e.from == v.from && e.dep == v.dep && e.rule == v.rule
		})
		if i >= 0 {
			used[i] = true
			t.Logf("known exception: %v (%s)", v, exceptions[i].why)
			continue
		}
		t.Error(v)
	}
	for i, e := range exceptions {
		if !used[i] {
			t.Errorf("exception %s -> %s (rule %q) no longer happens: remove it from the exceptions table", e.from, e.dep, e.rule)
		}
	}
}

// TestRulesNamePackages keeps the table honest: a pattern that matches no
// package (a package renamed or removed) would make its rule pass silently.
func TestRulesNamePackages(t *testing.T) {
	g := loadGraph(t)
	all := make([]string, 0, len(g))
	for p := range g {
		all = append(all, p)
	}
	for _, r := range rules {
		for _, pat := range slices.Concat(r.from, r.unless, r.deny, r.only) {
			if pat == "std" || slices.ContainsFunc(all, func(p string) bool { return g.match(pat, p) }) {
				continue
			}
			t.Errorf("rule %q: pattern %q matches no package; update the rule table", r.name, pat)
		}
	}
}

// TestCheckReportsViolations feeds check a made-up import graph that
// breaks rules and asserts it reports each break, with its chain.
func TestCheckReportsViolations(t *testing.T) {
	m := func(r string) string {
		if r == "." {
			return module
		}
		return module + "/" + r
	}
	g := graph{
		m("."):                 {ImportPath: m("."), Imports: []string{"strings", "github.com/other/lib"}},
		m("webapi"):            {ImportPath: m("webapi"), Imports: []string{m("x"), m(".")}},
		m("x"):                 {ImportPath: m("x"), Imports: []string{m("sqlite")}}, // no rule of its own
		m("instance"):          {ImportPath: m("instance"), Imports: []string{m("sqlite"), m(".")}},
		m("sqlite"):            {ImportPath: m("sqlite"), Imports: []string{m("postgres"), "strings"}},
		m("postgres"):          {ImportPath: m("postgres"), Imports: []string{"strings"}, XTestImports: []string{m("cmd/eventual")}},
		m("cmd/eventual"):      {ImportPath: m("cmd/eventual"), Imports: []string{m("webapi")}},
		"strings":              {ImportPath: "strings", Standard: true},
		"github.com/other/lib": {ImportPath: "github.com/other/lib"},
	}
	got := check(g, rules)
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	want := []string{
		`package . imports github.com/other/lib: breaks the rule "the root package imports only the standard library and github.com/google/uuid"`,
		`package sqlite imports postgres: breaks the rule "a store adapter does not import the other"`,
		`package webapi imports sqlite (through webapi -> x -> sqlite): breaks the rule "webapi serves any eventual.RecordService: it imports no instance, pipeline or store and knows nothing of SQL"`,
		`package instance imports sqlite: breaks the rule "instance imports no store, knows nothing of SQL and nothing of HTTP"`,
		`package postgres has a test file that imports cmd/eventual: breaks the rule "nothing imports cmd/..."`,
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("check did not report:\n  %s\ngot:\n  %s", w, strings.Join(lines, "\n  "))
		}
	}
	if len(lines) != len(want) {
		t.Errorf("check reported %d violations, want %d:\n  %s", len(lines), len(want), strings.Join(lines, "\n  "))
	}

	// A graph that keeps the rules passes.
	ok := graph{
		m("."):      {ImportPath: m("."), Imports: []string{"strings"}},
		m("webapi"): {ImportPath: m("webapi"), Imports: []string{m(".")}},
		"strings":   {ImportPath: "strings", Standard: true},
	}
	if vs := check(ok, rules); len(vs) != 0 {
		t.Errorf("check reported violations in a clean graph: %v", vs)
	}
}
