package client

import (
	"context"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
)

// TestQueryAwkwardText reads records back by Eq and by In over text that
// needs escaping in a URL or in a PropertyValues array.
func TestQueryAwkwardText(t *testing.T) {
	r, _, s := liveRecords(t, teststore.SQLite)
	ctx := context.Background()
	acc := s.Table("account")
	names := []string{"O'Brian", `say "hi" \ now`, "a+b&c=d/e#f?g%h", "Zoë 東京"}
	for _, n := range names {
		if _, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": n}}); err != nil {
			t.Fatal(err)
		}
	}
	name := eventual.Field{Column: acc.Column("name")}
	for _, n := range names {
		page, err := r.RetrieveMultiple(ctx, &eventual.Query{Table: acc, Filter: compareExpr(name, eventual.OpEq, n)}, nil, false)
		if err != nil || len(page.Records) != 1 {
			t.Errorf("eq %q: %v, %v", n, page, err)
		}
	}
	vals := make([]any, len(names))
	for i, n := range names {
		vals[i] = n
	}
	page, err := r.RetrieveMultiple(ctx, &eventual.Query{Table: acc, Filter: eventual.In{Field: name, Values: vals}}, nil, false)
	if err != nil || len(page.Records) != len(names) {
		t.Fatalf("In: %v, %v", page, err)
	}
}
