package client

import (
	"context"
	"github.com/eventual-pp/eventual/metadata"
	"io"
	"net/http"
	"strings"
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

// TestNextLinkHost follows a next link on the client's host, whatever the
// case of its name or a default port, and refuses one on another host
// without sending it (the bearer token must not leave the endpoint).
func TestNextLinkHost(t *testing.T) {
	for _, tc := range []struct {
		next   string
		follow bool
	}{
		{"http://dataverse.test/api/data/v9.2/accounts?$skiptoken=2", true},
		{"http://DataVerse.Test/api/data/v9.2/accounts?$skiptoken=2", true},
		{"http://dataverse.test:80/api/data/v9.2/accounts?$skiptoken=2", true},
		{"http://evil.test/api/data/v9.2/accounts?$skiptoken=2", false},
		{"http://dataverse.test.evil.test/api/data/v9.2/accounts?$skiptoken=2", false},
		{"https://dataverse.test/api/data/v9.2/accounts?$skiptoken=2", false},
		{"http://dataverse.test:8080/api/data/v9.2/accounts?$skiptoken=2", false},
	} {
		var hosts []string
		c, _ := newFake(t, Options{Token: "secret", MaxAttempts: 1}, func(n int, w http.ResponseWriter, r *http.Request) error {
			hosts = append(hosts, r.URL.Host)
			w.Header().Set("Content-Type", "application/json")
			if n == 0 {
				io.WriteString(w, `{"value":[],"@odata.nextLink":"`+tc.next+`"}`)
			} else {
				io.WriteString(w, `{"value":[]}`)
			}
			return nil
		})
		r := NewRecords(c, metadata.Builtin())
		var errs []error
		for _, err := range r.Pages(context.Background(), &eventual.Query{Table: r.schema.Table("account")}, nil) {
			errs = append(errs, err)
		}
		followed := len(hosts) == 2
		if followed != tc.follow || tc.follow && errs[len(errs)-1] != nil || !tc.follow && (len(hosts) != 1 || errs[len(errs)-1] == nil) {
			t.Errorf("next link %s: requests to %v, errors %v; want followed %v", tc.next, hosts, errs, tc.follow)
		}
		for _, h := range hosts {
			if !strings.EqualFold(strings.TrimSuffix(h, ":80"), "dataverse.test") {
				t.Errorf("a request went to %s", h)
			}
		}
	}
}
