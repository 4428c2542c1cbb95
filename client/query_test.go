package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/odata"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
)

func col(tb testing.TB, s *eventual.Schema, table, name string) eventual.Field {
	tb.Helper()
	c := s.Table(table).Column(name)
	if c == nil {
		tb.Fatalf("no column %s.%s", table, name)
	}
	return eventual.Field{Column: c}
}

func compareExpr(f eventual.Field, op eventual.CompareOp, v any) eventual.Expr {
	return eventual.Compare{Op: op, Left: f, Right: eventual.Literal{Value: v}}
}

// hierarchy is the hierarchy condition op on account's primary key.
func hierarchy(t *testing.T, op string, s *eventual.Schema, id uuid.UUID) eventual.Expr {
	t.Helper()
	x, err := eventual.HierarchyCondition(op, eventual.Field{Column: s.Table("account").PrimaryKey()}, id)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestFormatFilter(t *testing.T) {
	s := metadata.Builtin()
	name := col(t, s, "account", "name")
	emp := col(t, s, "account", "numberofemployees")
	pc := col(t, s, "account", "primarycontactid")
	id := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	orders := s.Table("account").Navigation("new_account_new_order")
	tests := []struct {
		e    eventual.Expr
		want string
	}{
		{compareExpr(name, eventual.OpEq, "O'Hara"), "name eq 'O''Hara'"},
		{compareExpr(emp, eventual.OpGe, int64(5)), "numberofemployees ge 5"},
		{compareExpr(name, eventual.OpEq, nil), "name eq null"},
		{compareExpr(pc, eventual.OpEq, id), "_primarycontactid_value eq " + id.String()},
		{eventual.Match{Kind: eventual.MatchStartsWith, Field: name, Pattern: "a'b"}, "startswith(name,'a''b')"},
		{eventual.In{Field: emp, Values: []any{int64(1), int64(2)}}, `Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=["1","2"])`},
		{eventual.Not{X: eventual.In{Field: name, Values: []any{"x"}}}, `Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=["x"])`},
		// Dataverse reads PropertyValues as JSON: a quote inside a value
		// needs double-quoted strings (filter-rows.md, Manage single quotes).
		{eventual.In{Field: name, Values: []any{"O'Brian", `say "hi" \ now`}}, `Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["O'Brian","say \"hi\" \\ now"])`},
		{eventual.And{Left: eventual.Const{Value: true}, Right: eventual.Not{X: compareExpr(emp, eventual.OpLt, int64(3))}}, "(true and not (numberofemployees lt 3))"},
		{eventual.Or{Left: compareExpr(emp, eventual.OpEq, int64(1)), Right: compareExpr(emp, eventual.OpEq, int64(2))}, "(numberofemployees eq 1 or numberofemployees eq 2)"},
		{hierarchy(t, "AboveOrEqual", s, id), "Microsoft.Dynamics.CRM.AboveOrEqual(PropertyName='accountid',PropertyValue='" + id.String() + "')"},
		{hierarchy(t, "NotUnder", s, id), "Microsoft.Dynamics.CRM.NotUnder(PropertyName='accountid',PropertyValue='" + id.String() + "')"},
	}
	if orders != nil {
		qty := col(t, s, "new_order", "new_quantity")
		tests = append(tests, struct {
			e    eventual.Expr
			want string
		}{eventual.Any{Relationship: orders, Filter: compareExpr(qty, eventual.OpGt, int64(2))}, orders.ReferencedNavigation + "/any(o:o/new_quantity gt 2)"})
	}
	for _, tc := range tests {
		got, err := FormatFilter(tc.e)
		if err != nil || got != tc.want {
			t.Errorf("FormatFilter = %q, %v; want %q", got, err, tc.want)
		}
		if _, err := odata.ParseFilter(got); err != nil {
			t.Errorf("ParseFilter(%q): %v", got, err)
		}
	}
	if _, err := FormatFilter(compareExpr(emp, eventual.OpEq, "five")); err == nil {
		t.Error("a string literal for an integer column was accepted")
	}
}

// server is a Web API over a fresh SQLite store with a few accounts.
func server(t *testing.T) (*instance.Instance, *httptest.Server, *eventual.Schema) {
	s := metadata.Builtin()
	db := teststore.SQLite.Open(t, s)
	in := instance.New(db, s)
	srv := webapi.NewServer(in, in.Schema, db.Meta())
	srv.Logger = nil
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); _ = db.Close() })
	acc := s.Table("account")
	rev := func(x string) any { d, _ := eventual.ParseDecimal(x, 2); return d }
	rows := []eventual.Values{
		{"name": "O'Hara", "numberofemployees": int64(3), "revenue": rev("10.50")},
		{"name": "Zoë ünïcode", "numberofemployees": int64(3)},
		{"name": "a, b", "numberofemployees": nil, "revenue": rev("-1")},
		{"name": nil, "numberofemployees": int64(7), "creditonhold": true},
		{"name": "plain", "numberofemployees": int64(1), "creditonhold": false, "revenue": rev("10.5")},
	}
	for _, v := range rows {
		if _, err := in.Create(context.Background(), &eventual.Entity{Table: acc, Values: v}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	return in, ts, s
}

func oracle(t *testing.T, in *instance.Instance, q *eventual.Query) []uuid.UUID {
	t.Helper()
	p, err := in.RetrieveMultiple(context.Background(), q, nil, false)
	if err != nil {
		t.Fatalf("RetrieveMultiple: %v", err)
	}
	return collectIDs(p.Records, func(r *eventual.Record) uuid.UUID { return r.ID })
}

// collectIDs returns the ids of xs, in order.
func collectIDs[T any](xs []T, id func(T) uuid.UUID) []uuid.UUID {
	var ids []uuid.UUID
	for _, x := range xs {
		ids = append(ids, id(x))
	}
	return ids
}

func TestFormatFilterRoundTrip(t *testing.T) {
	in, ts, s := server(t)
	acc := s.Table("account")
	name := col(t, s, "account", "name")
	emp := col(t, s, "account", "numberofemployees")
	rev := col(t, s, "account", "revenue")
	d, _ := eventual.ParseDecimal("10.5", 2)
	exprs := []eventual.Expr{
		compareExpr(name, eventual.OpEq, "O'Hara"), compareExpr(name, eventual.OpEq, "Zoë ünïcode"), compareExpr(name, eventual.OpEq, nil),
		compareExpr(name, eventual.OpNe, nil), compareExpr(emp, eventual.OpGt, int64(2)), compareExpr(rev, eventual.OpEq, d),
		eventual.Match{Kind: eventual.MatchContains, Field: name, Pattern: ", "},
		eventual.In{Field: emp, Values: []any{int64(1), int64(7)}},
		eventual.Not{X: eventual.In{Field: name, Values: []any{"plain"}}},
		eventual.Or{Left: compareExpr(emp, eventual.OpEq, nil), Right: eventual.Not{X: compareExpr(emp, eventual.OpLe, int64(3))}},
		eventual.Const{Value: false}, eventual.Const{Value: true},
		hierarchy(t, "Under", s, uuid.New()), hierarchy(t, "NotUnder", s, uuid.New()),
	}
	for _, e := range exprs {
		f, err := FormatFilter(e)
		if err != nil {
			t.Fatal(err)
		}
		want := oracle(t, in, &eventual.Query{Table: acc, Filter: e})
		got := getIDs(t, ts, "accounts?$select=name&$orderby=accountid&$filter="+Escape(f))
		slices.SortFunc(want, func(a, b uuid.UUID) int { return compareIDs(a, b) })
		slices.SortFunc(got, func(a, b uuid.UUID) int { return compareIDs(a, b) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", f, got, want)
		}
	}
}

func compareIDs(a, b uuid.UUID) int {
	return slices.Compare(a[:], b[:])
}

func getIDs(t *testing.T, ts *httptest.Server, path string) []uuid.UUID {
	t.Helper()
	resp, err := http.Get(ts.URL + "/api/data/v9.2/" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type row struct {
		ID uuid.UUID `json:"accountid"`
	}
	var body struct {
		Value []row `json:"value"`
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return collectIDs(body.Value, func(v row) uuid.UUID { return v.ID })
}

func TestAfterFilterPaging(t *testing.T) {
	in, _, s := server(t)
	acc := s.Table("account")
	name := s.Table("account").Column("name")
	emp := s.Table("account").Column("numberofemployees")
	for _, order := range [][]eventual.Order{
		nil, {{Column: name}}, {{Column: name, Desc: true}}, {{Column: emp}, {Column: name, Desc: true}}, {{Column: emp, Desc: true}},
	} {
		want := oracle(t, in, &eventual.Query{Table: acc, OrderBy: order})
		var got []uuid.UUID
		var after []any
		for range 10 {
			q := &eventual.Query{Table: acc, OrderBy: order, After: after}
			f, err := AfterFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			p, err := in.RetrieveMultiple(context.Background(), &eventual.Query{Table: acc, OrderBy: order, Filter: f, Limit: 2}, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				got = append(got, r.ID)
			}
			if len(p.Records) == 0 || !p.More {
				break
			}
			last := p.Records[len(p.Records)-1]
			after = nil
			for _, o := range order {
				after = append(after, last.Values[o.Column.LogicalName])
			}
			after = append(after, last.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("order %v: got %v, want %v", order, got, want)
		}
	}
}

func FuzzFormatFilterLiteral(f *testing.F) {
	s := metadata.Builtin()
	name := eventual.Field{Column: s.Table("account").Column("name")}
	for _, x := range []string{"", "'", "O'Hara", "a,b", "%20", "ü", "\x00\xff"} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x string) {
		text, err := FormatFilter(compareExpr(name, eventual.OpEq, x))
		if err != nil {
			return
		}
		n, err := odata.ParseFilter(text)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", text, err)
		}
		b, ok := n.(*odata.Binary)
		if !ok {
			t.Fatalf("%q parsed as %T", text, n)
		}
		l, ok := b.Right.(*odata.Literal)
		if !ok || l.Kind != odata.LitString || l.Value != x {
			t.Fatalf("%q round-tripped to %#v", x, b.Right)
		}
	})
}
