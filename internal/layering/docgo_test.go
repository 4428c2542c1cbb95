package layering

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocGo checks that every package of the module has a doc.go and that
// doc.go holds its only package comment.
func TestDocGo(t *testing.T) {
	g := loadGraph(t)
	var paths []string
	for p := range g {
		if isModule(p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		q := g[p]
		files := slices.Concat(q.GoFiles, q.CgoFiles, q.IgnoredGoFiles)
		if !slices.Contains(files, "doc.go") {
			t.Errorf("package %s has no doc.go: give it one with its package comment", rel(p))
		}
		for _, f := range files {
			if f == "doc.go" || strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(q.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Errorf("parse %s: %v", filepath.Join(rel(p), f), err)
				continue
			}
			if file.Doc != nil {
				t.Errorf("package %s: %s has a package comment; keep it in doc.go only", rel(p), f)
			}
		}
	}
}
