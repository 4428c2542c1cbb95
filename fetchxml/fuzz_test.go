package fetchxml_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/fetchxml"
)

// FuzzParse: any text either parses into a query of a schema table or
// fails with a Dataverse error of a client's kind (never a panic, never
// an internal error).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.xml")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`<fetch><entity name="account"/></fetch>`)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := fetchxml.Parse(src, schema, env)
		if err != nil {
			var e *eventual.Error
			if !errors.As(err, &e) || (e.Kind != eventual.KindInvalid && e.Kind != eventual.KindNotSupported) {
				t.Fatalf("Parse(%q): %v is not a client error", src, err)
			}
			return
		}
		if q.Query == nil || q.Query.Table == nil || schema.Table(q.Query.Table.LogicalName) != q.Query.Table {
			t.Fatalf("Parse(%q) = %+v: no table of the schema", src, q)
		}
		// An order's path walks from the query's table to its column's.
		for _, o := range q.Query.OrderBy {
			at := q.Query.Table
			for _, r := range o.Path {
				if r.ReferencingTable != at {
					t.Fatalf("Parse(%q): order path through %s leaves from %s, not %s", src, r.SchemaName, r.ReferencingTable.LogicalName, at.LogicalName)
				}
				at = r.ReferencedTable
			}
			if o.Column.Table() != at {
				t.Fatalf("Parse(%q): order on %s of another table", src, o.Column.LogicalName)
			}
		}
	})
}
