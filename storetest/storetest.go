package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// Opener opens the store named name for schema. Opening a name again after
// the previous store with that name was closed must reopen the same data
// (that is how the suite tests durability and migrations). Each call of Run
// starts from empty stores.
//
// The suite closes every store it opens.
type Opener func(tb testing.TB, name string, schema *eventual.Schema) (eventual.Store, error)

func mustOpen(tb testing.TB, open Opener, name string, s *eventual.Schema) eventual.Store {
	tb.Helper()
	st, err := open(tb, name, s)
	if err != nil {
		tb.Fatalf("open store %s: %v", name, err)
	}
	return st
}

// Run runs the contract suite.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"RoundTripTypes", testRoundTrip},
		{"GetMissing", testGetMissing},
		{"DuplicatePrimaryKey", testDuplicatePrimaryKey},
		{"AlternateKeys", testAlternateKeys},
		{"UnicodeCaseFolding", testUnicodeCase},
		{"UpdateDelete", testUpdateDelete},
		{"Atomicity", testAtomicity},
		{"ConcurrentWriters", testConcurrentWriters},
		{"VersionsGrowAcrossReopen", testVersions},
		{"QueryFilters", testQueryFilters},
		{"Aggregate", testAggregate},
		{"QueryOrderAndKeyset", testKeyset},
		{"KeysetStableUnderInserts", testKeysetUnderInserts},
		{"Count", testCount},
		{"RelatedFilters", testRelatedFilters},
		{"Unlink", testUnlink},
		{"ChangeID", testChangeID},
		{"MergeInto", testMergeInto},
		{"Put", testPut},
		{"PutRacesOnOneKey", testPutRace},
		{"PutMixesInsertsAndUpdates", testPutMix},
		{"Migration", testMigration},
		{"BulkWrites", testBulkWrites},
		{"BulkValuesRoundTrip", testBulkValuesRoundTrip},
		{"Changes", testChanges},
		{"ChangesNeverSkipLateCommits", testChangesUnderConcurrentWriters},
		{"ViewStatement", testViewStatement},
		{"UpdateStatement", testUpdateStatement},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var schema = metadata.Builtin()

func table(name string) *eventual.Table { return schema.Table(name) }

func mustUpdate(t testing.TB, s eventual.Store, fn func(eventual.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func insert(t testing.TB, s eventual.Store, table string, vals eventual.Values) *eventual.Record {
	t.Helper()
	rec := &eventual.Record{Table: schema.Table(table), ID: uuid.New(), Values: vals}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.Insert(context.Background(), rec) })
	return rec
}

func get(t testing.TB, s eventual.Store, tbl *eventual.Table, id uuid.UUID) *eventual.Record {
	t.Helper()
	var rec *eventual.Record
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		var err error
		rec, err = tx.Get(context.Background(), tbl, id, nil)
		return err
	})
	if err != nil {
		t.Fatalf("Get %s(%s): %v", tbl.LogicalName, id, err)
	}
	return rec
}

func dec(s string, scale int) eventual.Decimal {
	d, err := eventual.ParseDecimal(s, scale)
	if err != nil {
		panic(err)
	}
	return d
}

// orderValues is a new_order with a value in every column type: a
// lookup to the account acct, extreme numbers and decimals, a datetime,
// a boolean, a uuid and a memo.
func orderValues(acct uuid.UUID, when time.Time, name, number string, shipped bool, ext uuid.UUID, notes string) eventual.Values {
	return eventual.Values{
		"new_name":        name,
		"new_ordernumber": number,
		"new_customer":    eventual.Ref(table("account"), acct),
		"new_amount":      dec("-1234567.8912", 4),
		"new_quantity":    int64(-2147483648),
		"new_unitprice":   dec("0.0001", 4),
		"new_weight":      1.5e-3,
		"new_sequence":    int64(9007199254740993),
		"new_orderdate":   when,
		"new_shipped":     shipped,
		"new_externalid":  ext,
		"new_notes":       notes,
		"new_stage":       int64(100000001),
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	s := mustOpen(t, open, "roundtrip", schema)
	defer s.Close()
	acct := insert(t, s, "account", eventual.Values{"name": "A"})
	when := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	ext := uuid.New()
	vals := orderValues(acct.ID, when, "Order 'one' — ünïcode", "ORD-1", true, ext, strings.Repeat("x", 5000))
	vals["statecode"] = int64(0)
	vals["statuscode"] = int64(1)
	vals["createdon"] = when
	vals["modifiedon"] = when
	rec := insert(t, s, "new_order", vals)
	if rec.Version <= 0 {
		t.Fatalf("Insert did not assign a version: %d", rec.Version)
	}
	got := get(t, s, table("new_order"), rec.ID)
	if got.ID != rec.ID || got.Version != rec.Version {
		t.Errorf("Get id/version = %s/%d, want %s/%d", got.ID, got.Version, rec.ID, rec.Version)
	}
	for k, want := range vals {
		if !eventual.EqualValues(got.Values[k], want) {
			t.Errorf("column %s = %#v, want %#v", k, got.Values[k], want)
		}
	}
	if ref := got.Values["new_customer"].(eventual.EntityReference); ref.Table != table("account") {
		t.Errorf("lookup table = %v, want account", ref.Table)
	}
	// Unset columns read as null.
	plain := insert(t, s, "new_order", eventual.Values{"new_name": "bare"})
	got = get(t, s, table("new_order"), plain.ID)
	for _, c := range []string{"new_amount", "new_customer", "new_orderdate", "new_shipped", "new_externalid"} {
		if got.Values[c] != nil {
			t.Errorf("unset column %s = %#v, want nil", c, got.Values[c])
		}
	}
	// A customer lookup keeps its target table.
	c1 := insert(t, s, "contact", eventual.Values{"lastname": "Parent"})
	c2 := insert(t, s, "contact", eventual.Values{"lastname": "Child", "parentcustomerid": eventual.Ref(table("contact"), c1.ID)})
	ref := get(t, s, table("contact"), c2.ID).Values["parentcustomerid"].(eventual.EntityReference)
	if ref.Table != table("contact") || ref.ID != c1.ID {
		t.Errorf("customer lookup = %v, want contact(%s)", ref, c1.ID)
	}
	// Reading selected columns returns just those.
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		r, err := tx.Get(context.Background(), table("new_order"), rec.ID, []*eventual.Column{table("new_order").Column("new_name")})
		if err != nil {
			return err
		}
		if len(r.Values) != 1 || r.Values["new_name"] != vals["new_name"] {
			return fmt.Errorf("selected values = %v", r.Values)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testGetMissing(t *testing.T, open Opener) {
	s := mustOpen(t, open, "missing", schema)
	defer s.Close()
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		if _, err := tx.Get(context.Background(), table("account"), uuid.New(), nil); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("Get missing: err = %v, want ErrNotFound", err)
		}
		k := table("account").Key("accountnumber_key")
		if _, err := tx.GetByKey(context.Background(), k, []any{"nope"}, nil); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("GetByKey missing: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	err = s.Update(context.Background(), func(tx eventual.Tx) error {
		if _, err := tx.Update(context.Background(), table("account"), uuid.New(), eventual.Values{"name": "x"}); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("Update missing: err = %v, want ErrNotFound", err)
		}
		if err := tx.Delete(context.Background(), table("account"), uuid.New()); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("Delete missing: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testDuplicatePrimaryKey(t *testing.T, open Opener) {
	s := mustOpen(t, open, "duppk", schema)
	defer s.Close()
	a := insert(t, s, "account", eventual.Values{"name": "first"})
	err := s.Update(context.Background(), func(tx eventual.Tx) error {
		return tx.Insert(context.Background(), &eventual.Record{Table: table("account"), ID: a.ID, Values: eventual.Values{"name": "second"}})
	})
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) || ce.Key != nil {
		t.Fatalf("duplicate primary key: err = %v, want ConflictError without key", err)
	}
	if got := get(t, s, table("account"), a.ID).Values["name"]; got != "first" {
		t.Errorf("name = %v after failed insert, want first", got)
	}
}

// testUnicodeCase pins the one case rule (eventual.FoldCase) for keys,
// key lookups, filters and ordering: every store folds non-ASCII letters
// as the rule does, identically.
func testUnicodeCase(t *testing.T, open Opener) {
	s := mustOpen(t, open, "unicodecase", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	key := acct.Key("accountnumber_key")
	a := insert(t, s, "account", eventual.Values{"name": "ärger1", "accountnumber": "ä1"})
	for _, dup := range []string{"Ä1", "ä1"} {
		err := s.Update(ctx, func(tx eventual.Tx) error {
			return tx.Insert(ctx, &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"accountnumber": dup}})
		})
		var ce *eventual.ConflictError
		if !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("insert %q beside ä1: err = %v, want ConflictError on %s", dup, err, key.LogicalName)
		}
	}
	insert(t, s, "account", eventual.Values{"name": "a1", "accountnumber": "a1"}) // accents are significant
	insert(t, s, "account", eventual.Values{"name": "ΣΟΦΙΑ", "accountnumber": "Σ-ς"})
	insert(t, s, "account", eventual.Values{"name": "Zebra"})
	insert(t, s, "account", eventual.Values{"name": "émile"})
	err := s.View(ctx, func(tx eventual.ReadTx) error {
		for _, tc := range []struct {
			vals []any
			want string
		}{{[]any{"Ä1"}, "ärger1"}, {[]any{"ä1"}, "ärger1"}, {[]any{"A1"}, "a1"}, {[]any{"σ-Σ"}, "ΣΟΦΙΑ"}} {
			r, err := tx.GetByKey(ctx, key, tc.vals, nil)
			if err != nil {
				return fmt.Errorf("GetByKey(%q): %w", tc.vals, err)
			}
			if got := r.Values["name"]; got != tc.want {
				return fmt.Errorf("GetByKey(%q) = %v, want %s", tc.vals, got, tc.want)
			}
		}
		if r, err := tx.GetByKey(ctx, key, []any{"ä1"}, nil); err != nil || r.ID != a.ID {
			return fmt.Errorf("GetByKey(ä1) = %v, %v; want %s", r, err, a.ID)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	name := eventual.Field{Column: acct.Column("name")}
	for _, tc := range []struct {
		filter eventual.Expr
		want   string
	}{
		{eventual.Compare{Op: eventual.OpEq, Left: name, Right: eventual.Literal{Value: "ÄRGER1"}}, "ärger1"},
		{eventual.Compare{Op: eventual.OpEq, Left: name, Right: eventual.Literal{Value: "σοφια"}}, "ΣΟΦΙΑ"},
		{eventual.Compare{Op: eventual.OpEq, Left: name, Right: eventual.Literal{Value: "ÉMILE"}}, "émile"},
		{eventual.Match{Kind: eventual.MatchContains, Field: name, Pattern: "RGER"}, "ärger1"},
		{eventual.Match{Kind: eventual.MatchStartsWith, Field: name, Pattern: "ÄR"}, "ärger1"},
		{eventual.Match{Kind: eventual.MatchEndsWith, Field: name, Pattern: "ΦΙΑ"}, "ΣΟΦΙΑ"},
		{eventual.In{Field: name, Values: []any{"ÉMILE", "nobody"}}, "émile"},
	} {
		got := strings.Join(names(query(t, s, &eventual.Query{Table: acct, Filter: tc.filter})), ",")
		if got != tc.want {
			t.Errorf("filter %#v = [%s], want [%s]", tc.filter, got, tc.want)
		}
	}
	// Ordering: by folded text in code point order, the same on every store.
	var order []string
	for _, r := range query(t, s, &eventual.Query{Table: acct, OrderBy: []eventual.Order{{Column: acct.Column("name")}}}) {
		order = append(order, r.Values["name"].(string))
	}
	if got, want := strings.Join(order, ","), "a1,Zebra,ärger1,émile,ΣΟΦΙΑ"; got != want {
		t.Errorf("order by name = [%s], want [%s]", got, want)
	}
}

func testAlternateKeys(t *testing.T, open Opener) {
	s := mustOpen(t, open, "altkeys", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	a := insert(t, s, "account", eventual.Values{"name": "A", "accountnumber": "AN-1"})
	insert(t, s, "account", eventual.Values{"name": "no number 1"})
	insert(t, s, "account", eventual.Values{"name": "no number 2"}) // nulls do not collide
	for _, dup := range []string{"AN-1", "an-1"} {
		err := s.Update(ctx, func(tx eventual.Tx) error {
			return tx.Insert(ctx, &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"accountnumber": dup}})
		})
		var ce *eventual.ConflictError
		if !errors.As(err, &ce) || ce.Key == nil || ce.Key.LogicalName != "accountnumber_key" {
			t.Errorf("insert duplicate key %q: err = %v, want ConflictError on accountnumber_key", dup, err)
		}
	}
	b := insert(t, s, "account", eventual.Values{"name": "B", "accountnumber": "AN-2"})
	err := s.Update(ctx, func(tx eventual.Tx) error {
		_, err := tx.Update(ctx, acct, b.ID, eventual.Values{"accountnumber": "AN-1"})
		return err
	})
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) || ce.Key == nil {
		t.Errorf("update to duplicate key: err = %v, want ConflictError", err)
	}
	err = s.View(ctx, func(tx eventual.ReadTx) error {
		r, err := tx.GetByKey(ctx, acct.Key("accountnumber_key"), []any{"an-1"}, nil)
		if err != nil {
			return fmt.Errorf("GetByKey ignores case: %w", err)
		}
		if r.ID != a.ID {
			return fmt.Errorf("GetByKey = %s, want %s", r.ID, a.ID)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// Composite key: (firstname, emailaddress1).
	ck := table("contact").Key("contact_name_email")
	c := insert(t, s, "contact", eventual.Values{"firstname": "Joe", "emailaddress1": "joe@example.com"})
	insert(t, s, "contact", eventual.Values{"firstname": "Joe", "emailaddress1": "joe2@example.com"})
	err = s.Update(ctx, func(tx eventual.Tx) error {
		return tx.Insert(ctx, &eventual.Record{Table: table("contact"), ID: uuid.New(),
			Values: eventual.Values{"firstname": "JOE", "emailaddress1": "Joe@Example.com"}})
	})
	if !errors.As(err, &ce) || ce.Key != ck {
		t.Errorf("duplicate composite key: err = %v, want ConflictError on %s", err, ck.LogicalName)
	}
	err = s.View(ctx, func(tx eventual.ReadTx) error {
		r, err := tx.GetByKey(ctx, ck, []any{"Joe", "joe@example.com"}, nil)
		if err != nil {
			return err
		}
		if r.ID != c.ID {
			return fmt.Errorf("composite GetByKey = %s, want %s", r.ID, c.ID)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testUpdateDelete(t *testing.T, open Opener) {
	s := mustOpen(t, open, "upddel", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	a := insert(t, s, "account", eventual.Values{"name": "A", "telephone1": "1", "revenue": dec("10", 2)})
	var v2 int64
	mustUpdate(t, s, func(tx eventual.Tx) error {
		var err error
		v2, err = tx.Update(ctx, acct, a.ID, eventual.Values{"name": "A2", "telephone1": nil})
		return err
	})
	if v2 <= a.Version {
		t.Errorf("version after update = %d, want > %d", v2, a.Version)
	}
	got := get(t, s, acct, a.ID)
	if got.Values["name"] != "A2" || got.Values["telephone1"] != nil || !eventual.EqualValues(got.Values["revenue"], dec("10", 2)) || got.Version != v2 {
		t.Errorf("after update: %+v (version %d)", got.Values, got.Version)
	}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.Delete(ctx, acct, a.ID) })
	err := s.View(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.Get(ctx, acct, a.ID, nil)
		return err
	})
	if !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("Get after delete: err = %v, want ErrNotFound", err)
	}
}

func testAtomicity(t *testing.T, open Opener) {
	s := mustOpen(t, open, "atomic", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	a := insert(t, s, "account", eventual.Values{"name": "keep"})
	boom := errors.New("boom")
	id := uuid.New()
	err := s.Update(ctx, func(tx eventual.Tx) error {
		if err := tx.Insert(ctx, &eventual.Record{Table: acct, ID: id, Values: eventual.Values{"name": "ghost"}}); err != nil {
			return err
		}
		if _, err := tx.Update(ctx, acct, a.ID, eventual.Values{"name": "changed"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want boom", err)
	}
	err = s.View(ctx, func(tx eventual.ReadTx) error {
		if _, err := tx.Get(ctx, acct, id, nil); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("insert of a failed transaction is visible (err %v)", err)
		}
		r, err := tx.Get(ctx, acct, a.ID, nil)
		if err != nil {
			return err
		}
		if r.Values["name"] != "keep" || r.Version != a.Version {
			return fmt.Errorf("update of a failed transaction is visible: %v v%d", r.Values["name"], r.Version)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// A panic inside fn fails that transaction only.
	err = s.Update(ctx, func(tx eventual.Tx) error { panic("bad plugin") })
	if err == nil {
		t.Error("Update with a panicking fn succeeded")
	}
	insert(t, s, "account", eventual.Values{"name": "after panic"})
}

// testConcurrentWriters races many writers on one store: inserts of which
// every fifth fails on purpose (only the others persist), then 32 writers
// creating one alternate key (exactly one wins). Kept whole (over 80 lines) on purpose: one scenario whose
// goroutines share their expectations.
func testConcurrentWriters(t *testing.T, open Opener) {
	s := mustOpen(t, open, "concurrent", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				fail := i%5 == 0
				err := s.Update(ctx, func(tx eventual.Tx) error {
					rec := &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{
						"name": fmt.Sprintf("w%d-%d", w, i), "accountnumber": fmt.Sprintf("W%d-%d", w, i)}}
					if err := tx.Insert(ctx, rec); err != nil {
						return err
					}
					if fail {
						return errors.New("deliberate")
					}
					return nil
				})
				if fail != (err != nil) {
					errs <- fmt.Errorf("writer %d op %d: fail=%v err=%v", w, i, fail, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int64
	err := s.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		n, err = tx.Count(ctx, acct, nil, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(writers * each * 4 / 5); n != want {
		t.Errorf("rows = %d, want %d (failed writes must not persist, others must)", n, want)
	}
	// Many writers racing to create the same key: exactly one wins.
	var won sync.WaitGroup
	wins := make(chan uuid.UUID, 32)
	for range 32 {
		won.Add(1)
		go func() {
			defer won.Done()
			id := uuid.New()
			err := s.Update(ctx, func(tx eventual.Tx) error {
				_, err := tx.GetByKey(ctx, acct.Key("accountnumber_key"), []any{"RACE"}, nil)
				if err == nil {
					return nil
				}
				if !errors.Is(err, eventual.ErrNotFound) {
					return err
				}
				return tx.Insert(ctx, &eventual.Record{Table: acct, ID: id, Values: eventual.Values{"accountnumber": "RACE"}})
			})
			var ce *eventual.ConflictError
			if err == nil {
				wins <- id
			} else if !errors.As(err, &ce) {
				t.Errorf("racing insert: %v", err)
			}
		}()
	}
	won.Wait()
	close(wins)
	err = s.View(ctx, func(tx eventual.ReadTx) error {
		n, err := tx.Count(ctx, acct, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: acct.Column("accountnumber")}, Right: eventual.Literal{Value: "RACE"}}, 0)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d rows with the raced key, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testVersions(t *testing.T, open Opener) {
	s := mustOpen(t, open, "versions", schema)
	a := insert(t, s, "account", eventual.Values{"name": "a"})
	b := insert(t, s, "contact", eventual.Values{"lastname": "b"})
	if b.Version <= a.Version {
		t.Errorf("versions do not grow across tables: %d then %d", a.Version, b.Version)
	}
	// Delete the newest row: its version must not be handed out again.
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.Delete(context.Background(), table("contact"), b.ID) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, open, "versions", schema)
	defer s.Close()
	c := insert(t, s, "account", eventual.Values{"name": "c"})
	if c.Version <= b.Version {
		t.Errorf("version after reopen = %d, want > %d", c.Version, b.Version)
	}
	if got := get(t, s, table("account"), a.ID); got.Values["name"] != "a" {
		t.Errorf("row lost across reopen: %v", got.Values)
	}
}

func field(t *eventual.Table, col string) eventual.Field {
	return eventual.Field{Column: t.Column(col)}
}

func cmp(op eventual.CompareOp, f eventual.Field, v any) eventual.Expr {
	return eventual.Compare{Op: op, Left: f, Right: eventual.Literal{Value: v}}
}

func names(recs []*eventual.Record) []string {
	var out []string
	for _, r := range recs {
		n, _ := r.Values["name"].(string)
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func query(t *testing.T, s eventual.Store, q *eventual.Query) []*eventual.Record {
	t.Helper()
	var recs []*eventual.Record
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		var err error
		recs, err = tx.Query(context.Background(), q)
		return err
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	return recs
}

func testQueryFilters(t *testing.T, open Opener) {
	s := mustOpen(t, open, "filters", schema)
	defer s.Close()
	acct := table("account")
	insert(t, s, "account", eventual.Values{"name": "Alpha", "revenue": dec("100", 2), "numberofemployees": int64(5), "creditonhold": true, "telephone1": "555"})
	insert(t, s, "account", eventual.Values{"name": "beta", "revenue": dec("200.5", 2), "numberofemployees": int64(50), "creditonhold": false})
	insert(t, s, "account", eventual.Values{"name": "Gamma 100%", "numberofemployees": int64(500)})
	insert(t, s, "account", eventual.Values{"name": "O'Bryan", "telephone1": "555"})
	for _, tc := range []struct {
		name   string
		filter eventual.Expr
		want   string
	}{
		{"eq ignores case", cmp(eventual.OpEq, field(acct, "name"), "ALPHA"), "Alpha"},
		{"eq quote", cmp(eventual.OpEq, field(acct, "name"), "O'Bryan"), "O'Bryan"},
		{"ne includes null", cmp(eventual.OpNe, field(acct, "telephone1"), "555"), "Gamma 100%,beta"},
		{"eq null", cmp(eventual.OpEq, field(acct, "revenue"), nil), "Gamma 100%,O'Bryan"},
		{"ne null", cmp(eventual.OpNe, field(acct, "revenue"), nil), "Alpha,beta"},
		{"gt decimal", cmp(eventual.OpGt, field(acct, "revenue"), dec("150", 2)), "beta"},
		{"le int", cmp(eventual.OpLe, field(acct, "numberofemployees"), int64(50)), "Alpha,beta"},
		{"bool", cmp(eventual.OpEq, field(acct, "creditonhold"), true), "Alpha"},
		{"and/or", eventual.Or{Left: eventual.And{Left: cmp(eventual.OpGt, field(acct, "numberofemployees"), int64(1)), Right: cmp(eventual.OpLt, field(acct, "numberofemployees"), int64(10))},
			Right: cmp(eventual.OpEq, field(acct, "name"), "beta")}, "Alpha,beta"},
		{"not with null", eventual.Not{X: cmp(eventual.OpEq, field(acct, "telephone1"), "555")}, "Gamma 100%,beta"},
		{"contains ignores case", eventual.Match{Kind: eventual.MatchContains, Field: field(acct, "name"), Pattern: "AMM"}, "Gamma 100%"},
		{"startswith", eventual.Match{Kind: eventual.MatchStartsWith, Field: field(acct, "name"), Pattern: "b"}, "beta"},
		{"endswith", eventual.Match{Kind: eventual.MatchEndsWith, Field: field(acct, "name"), Pattern: "%"}, "Alpha,Gamma 100%,O'Bryan,beta"},
		{"like, whole text", eventual.Match{Kind: eventual.MatchLike, Field: field(acct, "name"), Pattern: "%A"}, "Alpha,beta"},
		{"like, wildcards inside", eventual.Match{Kind: eventual.MatchLike, Field: field(acct, "name"), Pattern: "g_mma%"}, "Gamma 100%"},
		{"in", eventual.In{Field: field(acct, "name"), Values: []any{"alpha", "O'Bryan"}}, "Alpha,O'Bryan"},
		{"not in includes null", eventual.In{Field: field(acct, "telephone1"), Values: []any{"555"}, Not: true}, "Gamma 100%,beta"},
		{"column to column", eventual.Compare{Op: eventual.OpEq, Left: field(acct, "name"), Right: field(acct, "name")}, "Alpha,Gamma 100%,O'Bryan,beta"},
		{"const false", eventual.Const{Value: false}, ""},
	} {
		got := strings.Join(names(query(t, s, &eventual.Query{Table: acct, Filter: tc.filter})), ",")
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// pageAll reads q page by page with the keyset and returns the ids in order.
func pageAll(t *testing.T, s eventual.Store, q eventual.Query, size int, between func()) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	q.Limit = size
	for range 10000 {
		recs := query(t, s, &q)
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if len(recs) < size {
			return ids
		}
		last := recs[len(recs)-1]
		q.After = append(slices.Clone(last.SortKey), last.ID)
		if between != nil {
			between()
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func testKeyset(t *testing.T, open Opener) {
	s := mustOpen(t, open, "keyset", schema)
	defer s.Close()
	acct, con := table("account"), table("contact")
	rng := rand.New(rand.NewPCG(1, 2))
	var contacts []uuid.UUID
	for i := range 5 {
		contacts = append(contacts, insert(t, s, "contact", eventual.Values{"firstname": fmt.Sprint("C", i), "lastname": fmt.Sprintf("Zed%d", 4-i)}).ID)
	}
	for i := range 60 {
		v := eventual.Values{"name": fmt.Sprintf("n%02d", rng.IntN(20))}
		if rng.IntN(3) > 0 {
			v["numberofemployees"] = int64(rng.IntN(5))
		}
		if rng.IntN(2) == 0 {
			v["primarycontactid"] = eventual.Ref(con, contacts[rng.IntN(len(contacts))])
		}
		if i%7 == 0 {
			v["name"] = strings.ToUpper(v["name"].(string))
		}
		insert(t, s, "account", v)
	}
	for _, order := range [][]eventual.Order{
		nil,
		{{Column: acct.Column("name")}},
		{{Column: acct.Column("name"), Desc: true}},
		{{Column: acct.Column("numberofemployees")}, {Column: acct.Column("name"), Desc: true}},
		{{Column: acct.Column("numberofemployees"), Desc: true}},
		{{Column: acct.Column("primarycontactid")}},
		{{Column: acct.Column("primarycontactid"), Desc: true}, {Column: acct.Column("numberofemployees")}},
	} {
		q := eventual.Query{Table: acct, OrderBy: order}
		full := query(t, s, &q)
		if len(full) != 60 {
			t.Fatalf("full query returned %d rows", len(full))
		}
		var want []uuid.UUID
		for _, r := range full {
			want = append(want, r.ID)
		}
		for _, size := range []int{1, 7, 60} {
			if got := pageAll(t, s, q, size, nil); !slices.Equal(got, want) {
				t.Errorf("order %v, page size %d: paged order differs from the full query", orderString(order), size)
			}
		}
	}
	// Ordering: nulls first ascending, text ignores case, lookups sort by
	// the referenced primary name (contact fullname is derived elsewhere;
	// here lastname is not the primary name, so just check totality).
	recs := query(t, s, &eventual.Query{Table: acct, OrderBy: []eventual.Order{{Column: acct.Column("numberofemployees")}}})
	if recs[0].Values["numberofemployees"] != nil {
		t.Errorf("ascending order does not put nulls first")
	}
	recs = query(t, s, &eventual.Query{Table: acct, OrderBy: []eventual.Order{{Column: acct.Column("name")}}})
	for i := 1; i < len(recs); i++ {
		a, b := strings.ToLower(recs[i-1].Values["name"].(string)), strings.ToLower(recs[i].Values["name"].(string))
		if a > b {
			t.Fatalf("text order is not case-insensitive: %q before %q", a, b)
		}
	}
}

func orderString(o []eventual.Order) string {
	var parts []string
	for _, x := range o {
		d := "asc"
		if x.Desc {
			d = "desc"
		}
		parts = append(parts, x.Column.LogicalName+" "+d)
	}
	return strings.Join(parts, ",")
}

func testKeysetUnderInserts(t *testing.T, open Opener) {
	s := mustOpen(t, open, "keysetins", schema)
	defer s.Close()
	acct := table("account")
	var before []uuid.UUID
	for i := range 40 {
		before = append(before, insert(t, s, "account", eventual.Values{"name": fmt.Sprintf("b%02d", i)}).ID)
	}
	n := 0
	got := pageAll(t, s, eventual.Query{Table: acct, OrderBy: []eventual.Order{{Column: acct.Column("name")}}}, 5, func() {
		// Insert rows that sort before and after the cursor between pages.
		insert(t, s, "account", eventual.Values{"name": fmt.Sprintf("a%02d", n)})
		insert(t, s, "account", eventual.Values{"name": fmt.Sprintf("c%02d", n)})
		n++
	})
	seen := map[uuid.UUID]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("row present before paging seen %d times, want once", seen[id])
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("row %s seen %d times", id, c)
		}
	}
}

func testCount(t *testing.T, open Opener) {
	s := mustOpen(t, open, "count", schema)
	defer s.Close()
	acct := table("account")
	for i := range 12 {
		insert(t, s, "account", eventual.Values{"name": fmt.Sprint("x", i), "numberofemployees": int64(i)})
	}
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		for _, tc := range []struct {
			filter eventual.Expr
			limit  int
			want   int64
		}{
			{nil, 0, 12},
			{cmp(eventual.OpGe, field(acct, "numberofemployees"), int64(10)), 0, 2},
			{nil, 5, 6},
		} {
			n, err := tx.Count(context.Background(), acct, tc.filter, tc.limit)
			if err != nil {
				return err
			}
			if n != tc.want {
				return fmt.Errorf("Count(limit %d) = %d, want %d", tc.limit, n, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testRelatedFilters(t *testing.T, open Opener) {
	s := mustOpen(t, open, "related", schema)
	defer s.Close()
	acct, con := table("account"), table("contact")
	joe := insert(t, s, "contact", eventual.Values{"firstname": "Joe", "lastname": "Smith", "fullname": "Joe Smith"})
	ann := insert(t, s, "contact", eventual.Values{"firstname": "Ann", "lastname": "Lee", "fullname": "Ann Lee"})
	a := insert(t, s, "account", eventual.Values{"name": "A", "primarycontactid": eventual.Ref(con, joe.ID)})
	b := insert(t, s, "account", eventual.Values{"name": "B", "primarycontactid": eventual.Ref(con, ann.ID)})
	insert(t, s, "account", eventual.Values{"name": "C"})
	// Contacts of account A (customer lookup to account) and of contact Joe.
	insert(t, s, "contact", eventual.Values{"lastname": "k1", "parentcustomerid": eventual.Ref(acct, a.ID), "statecode": int64(0)})
	insert(t, s, "contact", eventual.Values{"lastname": "k2", "parentcustomerid": eventual.Ref(acct, a.ID), "statecode": int64(1)})
	insert(t, s, "contact", eventual.Values{"lastname": "k3", "parentcustomerid": eventual.Ref(acct, b.ID), "statecode": int64(0)})
	// A contact whose parent is a contact with the same GUID as no account:
	// must not count as a child of any account.
	insert(t, s, "contact", eventual.Values{"lastname": "k4", "parentcustomerid": eventual.Ref(con, joe.ID)})

	rel := schema.Relationship("account_primary_contact")
	custAcct := schema.Relationship("contact_customer_accounts")
	for _, tc := range []struct {
		name   string
		filter eventual.Expr
		want   string
	}{
		{"lookup path", eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Path: []*eventual.Relationship{rel}, Column: con.Column("fullname")}, Right: eventual.Literal{Value: "joe smith"}}, "A"},
		{"lookup path null", eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Path: []*eventual.Relationship{rel}, Column: con.Column("fullname")}, Right: eventual.Literal{Value: nil}}, "C"},
		{"lookup id", cmp(eventual.OpEq, field(acct, "primarycontactid"), eventual.Ref(con, ann.ID)), "B"},
		{"any", eventual.Any{Relationship: custAcct}, "A,B"},
		{"any filter", eventual.Any{Relationship: custAcct, Filter: cmp(eventual.OpEq, field(con, "statecode"), int64(1))}, "A"},
		{"all filter", eventual.Any{Relationship: custAcct, All: true, Filter: cmp(eventual.OpEq, field(con, "statecode"), int64(0))}, "B,C"},
	} {
		got := strings.Join(names(query(t, s, &eventual.Query{Table: acct, Filter: tc.filter})), ",")
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func testUnlink(t *testing.T, open Opener) {
	s := mustOpen(t, open, "unlink", schema)
	defer s.Close()
	ctx := context.Background()
	acct, con := table("account"), table("contact")
	a := insert(t, s, "account", eventual.Values{"name": "A"})
	k1 := insert(t, s, "contact", eventual.Values{"lastname": "k1", "parentcustomerid": eventual.Ref(acct, a.ID)})
	k2 := insert(t, s, "contact", eventual.Values{"lastname": "k2", "parentcustomerid": eventual.Ref(con, k1.ID)})
	var n int64
	at := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	mustUpdate(t, s, func(tx eventual.Tx) error {
		var err error
		n, err = tx.Unlink(ctx, schema.Relationship("contact_customer_accounts"), a.ID, at)
		return err
	})
	if n != 1 {
		t.Errorf("Unlink changed %d rows, want 1", n)
	}
	got := get(t, s, con, k1.ID)
	if got.Values["parentcustomerid"] != nil || got.Version <= k1.Version {
		t.Errorf("after Unlink: parent %v, version %d (was %d)", got.Values["parentcustomerid"], got.Version, k1.Version)
	}
	// A change's time moves with its version (a sync's lag is measured
	// from it).
	if m, _ := got.Values["modifiedon"].(time.Time); !m.Equal(at) {
		t.Errorf("after Unlink: modifiedon %v, want %v", got.Values["modifiedon"], at)
	}
	if get(t, s, con, k2.ID).Values["parentcustomerid"] == nil {
		t.Error("Unlink of the account relationship cleared a contact parent")
	}
}

// testChangeID re-keys an account: the row keeps its values under the new
// id, the lookups that referenced it (another table's, a customer lookup,
// its own self-reference) follow, the contact that referenced a contact of
// the same id does not, and change tracking reports the old id deleted and
// every written row changed.
func testChangeID(t *testing.T, open Opener) {
	s := mustOpen(t, open, "changeid", schema)
	defer s.Close()
	ctx := context.Background()
	acct, con, ord := table("account"), table("contact"), table("new_order")
	a := insert(t, s, "account", eventual.Values{"name": "A", "accountnumber": "ACC-9"})
	mustUpdate(t, s, func(tx eventual.Tx) error {
		_, err := tx.Update(ctx, acct, a.ID, eventual.Values{"parentaccountid": eventual.Ref(acct, a.ID)})
		return err
	})
	child := insert(t, s, "account", eventual.Values{"name": "child", "parentaccountid": eventual.Ref(acct, a.ID)})
	k := insert(t, s, "contact", eventual.Values{"lastname": "k", "parentcustomerid": eventual.Ref(acct, a.ID)})
	o := insert(t, s, "new_order", eventual.Values{"new_name": "o", "new_customer": eventual.Ref(acct, a.ID)})
	other := insert(t, s, "contact", eventual.Values{"lastname": "other"})
	byContact := insert(t, s, "contact", eventual.Values{"lastname": "c", "parentcustomerid": eventual.Ref(con, other.ID)})
	tok := token(t, s)
	g := uuid.New()
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.ChangeID(ctx, acct, a.ID, g) })
	got := get(t, s, acct, g)
	if got.Values["accountnumber"] != "ACC-9" || !refersTo(got.Values["parentaccountid"], eventual.Ref(acct, g)) {
		t.Errorf("re-keyed account: %v", got.Values)
	}
	if err := s.View(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.Get(ctx, acct, a.ID, nil)
		return err
	}); !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("old id after ChangeID: %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		tbl  *eventual.Table
		id   uuid.UUID
		col  string
		want eventual.EntityReference
	}{{acct, child.ID, "parentaccountid", eventual.Ref(acct, g)}, {con, k.ID, "parentcustomerid", eventual.Ref(acct, g)},
		{ord, o.ID, "new_customer", eventual.Ref(acct, g)}, {con, byContact.ID, "parentcustomerid", eventual.Ref(con, other.ID)}} {
		if v := get(t, s, c.tbl, c.id).Values[c.col]; !refersTo(v, c.want) {
			t.Errorf("%s(%s).%s = %v, want %v", c.tbl.LogicalName, c.id, c.col, v, c.want)
		}
	}
	changed, deleted, _ := changesSince(t, s, acct, tok, 100)
	if !deleted[a.ID] || len(deleted) != 1 || changed[g] == nil || changed[child.ID] == nil || len(changed) != 2 {
		t.Errorf("account changes: changed %v deleted %v, want %s and %s changed, %s deleted", keys(changed), keys(deleted), g, child.ID, a.ID)
	}
	if changed, _, _ := changesSince(t, s, con, tok, 100); changed[k.ID] == nil || len(changed) != 1 {
		t.Errorf("contact changes %v, want %s", keys(changed), k.ID)
	}
	if changed, _, _ := changesSince(t, s, ord, tok, 100); changed[o.ID] == nil {
		t.Errorf("order changes %v, want %s", keys(changed), o.ID)
	}
	// A taken id is a conflict; a missing one is not found.
	var ce *eventual.ConflictError
	if err := s.Update(ctx, func(tx eventual.Tx) error { return tx.ChangeID(ctx, acct, child.ID, g) }); !errors.As(err, &ce) {
		t.Errorf("ChangeID to a taken id: %v, want a conflict", err)
	}
	if err := s.Update(ctx, func(tx eventual.Tx) error { return tx.ChangeID(ctx, acct, a.ID, uuid.New()) }); !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("ChangeID of a missing id: %v, want ErrNotFound", err)
	}
}

// testMergeInto folds one account into another: the lookups that
// referenced the first reference the second, the first is gone (and
// reported deleted), the second keeps its values, and a missing record is
// not found.
func testMergeInto(t *testing.T, open Opener) {
	s := mustOpen(t, open, "mergeinto", schema)
	defer s.Close()
	ctx := context.Background()
	acct, con, ord := table("account"), table("contact"), table("new_order")
	from := insert(t, s, "account", eventual.Values{"name": "from", "accountnumber": "ACC-1"})
	into := insert(t, s, "account", eventual.Values{"name": "into"})
	k := insert(t, s, "contact", eventual.Values{"lastname": "k", "parentcustomerid": eventual.Ref(acct, from.ID)})
	o := insert(t, s, "new_order", eventual.Values{"new_name": "o", "new_customer": eventual.Ref(acct, from.ID)})
	kept := insert(t, s, "new_order", eventual.Values{"new_name": "kept", "new_customer": eventual.Ref(acct, into.ID)})
	tok := token(t, s)
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.MergeInto(ctx, acct, from.ID, into.ID) })
	if err := s.View(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.Get(ctx, acct, from.ID, nil)
		return err
	}); !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("merged record after MergeInto: %v, want ErrNotFound", err)
	}
	if got := get(t, s, acct, into.ID); got.Values["name"] != "into" {
		t.Errorf("the record merged into: %v", got.Values)
	}
	for _, c := range []struct {
		tbl *eventual.Table
		id  uuid.UUID
		col string
	}{{con, k.ID, "parentcustomerid"}, {ord, o.ID, "new_customer"}, {ord, kept.ID, "new_customer"}} {
		if v := get(t, s, c.tbl, c.id).Values[c.col]; !refersTo(v, eventual.Ref(acct, into.ID)) {
			t.Errorf("%s(%s).%s = %v, want %v", c.tbl.LogicalName, c.id, c.col, v, into.ID)
		}
	}
	if _, deleted, _ := changesSince(t, s, acct, tok, 100); !deleted[from.ID] {
		t.Errorf("account deletions %v, want %s", keys(deleted), from.ID)
	}
	if changed, _, _ := changesSince(t, s, ord, tok, 100); changed[o.ID] == nil || changed[kept.ID] != nil {
		t.Errorf("order changes %v, want %s only", keys(changed), o.ID)
	}
	if err := s.Update(ctx, func(tx eventual.Tx) error { return tx.MergeInto(ctx, acct, from.ID, into.ID) }); !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("MergeInto of a missing record: %v, want ErrNotFound", err)
	}
}

// refersTo reports whether a lookup value is a reference by id to want's
// record.
func refersTo(v any, want eventual.EntityReference) bool {
	r, ok := v.(eventual.EntityReference)
	return ok && r.Table == want.Table && r.ID == want.ID && !r.ByKey()
}

func testMigration(t *testing.T, open Opener) {
	s := mustOpen(t, open, "migrate", schema)
	a := insert(t, s, "account", eventual.Values{"name": "kept", "accountnumber": "K1"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	defs := metadata.BuiltinTables()
	defs[0].Columns = append(defs[0].Columns, eventual.ColumnDef{LogicalName: "new_tier", Type: eventual.TypeInteger})
	defs[0].Keys = nil // drop accountnumber_key
	defs = append(defs, eventual.TableDef{LogicalName: "new_project", PrimaryNameAttribute: "new_name",
		Columns: []eventual.ColumnDef{{LogicalName: "new_name", Type: eventual.TypeString},
			{LogicalName: "new_account", Type: eventual.TypeLookup, Targets: []string{"account"}}},
		Keys: []eventual.KeyDef{{LogicalName: "new_name_key", Columns: []string{"new_name"}}}})
	s2schema, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, open, "migrate", s2schema)
	defer s.Close()
	ctx := context.Background()
	acct := s2schema.Table("account")
	err = s.View(ctx, func(tx eventual.ReadTx) error {
		r, err := tx.Get(ctx, acct, a.ID, nil)
		if err != nil {
			return err
		}
		if r.Values["name"] != "kept" || r.Values["new_tier"] != nil {
			return fmt.Errorf("after migration: %v", r.Values)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The new column and table work; the dropped key no longer enforces
	// uniqueness.
	err = s.Update(ctx, func(tx eventual.Tx) error {
		if _, err := tx.Update(ctx, acct, a.ID, eventual.Values{"new_tier": int64(3)}); err != nil {
			return err
		}
		if err := tx.Insert(ctx, &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"accountnumber": "K1"}}); err != nil {
			return fmt.Errorf("dropped key still enforced: %w", err)
		}
		return tx.Insert(ctx, &eventual.Record{Table: s2schema.Table("new_project"), ID: uuid.New(),
			Values: eventual.Values{"new_name": "P", "new_account": eventual.Ref(acct, a.ID)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reopening with the original schema re-activates the key, which now
	// fails: the error must say why and nothing may be lost.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s3, err := open(t, "migrate", schema); err == nil {
		s3.Close()
		t.Error("reopen with a key over duplicate rows succeeded")
	} else if !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("reopen with a key over duplicate rows: %v, want an error that names the duplicates", err)
	}
	s = mustOpen(t, open, "migrate", s2schema)
	defer s.Close()
	if got := get(t, s, acct, a.ID); got.Values["new_tier"] != int64(3) {
		t.Errorf("value lost after failed migration: %v", got.Values)
	}
}

// changesSince reads all changes of t since token, paging by limit, and
// returns them with the token of the read's snapshot.
func changesSince(t *testing.T, s eventual.Store, tbl *eventual.Table, since string, limit int) (changed map[uuid.UUID]*eventual.Record, deleted map[uuid.UUID]bool, next string) {
	t.Helper()
	changed, deleted = map[uuid.UUID]*eventual.Record{}, map[uuid.UUID]bool{}
	ctx := context.Background()
	err := s.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		if next, err = tx.ChangeToken(ctx); err != nil {
			return err
		}
		for _, del := range []bool{false, true} {
			after := uuid.Nil
			for {
				chs, err := tx.Changes(ctx, eventual.ChangeQuery{Table: tbl, Since: since, Deleted: del, After: after, Limit: limit})
				if err != nil {
					return err
				}
				for _, c := range chs {
					if c.Deleted {
						if deleted[c.ID] {
							return fmt.Errorf("deletion %s returned twice", c.ID)
						}
						deleted[c.ID] = true
					} else {
						if changed[c.ID] != nil {
							return fmt.Errorf("record %s returned twice", c.ID)
						}
						changed[c.ID] = c.Record
					}
					after = c.ID
				}
				if len(chs) < limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("changes: %v", err)
	}
	return changed, deleted, next
}

func token(t *testing.T, s eventual.Store) string {
	t.Helper()
	var tok string
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		var err error
		tok, err = tx.ChangeToken(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func testChanges(t *testing.T, open Opener) {
	s := mustOpen(t, open, "changes", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	kept := insert(t, s, "account", eventual.Values{"name": "kept"})
	updated := insert(t, s, "account", eventual.Values{"name": "before"})
	gone := insert(t, s, "account", eventual.Values{"name": "gone"})
	reborn := insert(t, s, "account", eventual.Values{"name": "reborn"})
	t0 := token(t, s)
	created := insert(t, s, "account", eventual.Values{"name": "new"})
	mustUpdate(t, s, func(tx eventual.Tx) error {
		if _, err := tx.Update(ctx, acct, updated.ID, eventual.Values{"name": "after"}); err != nil {
			return err
		}
		if _, err := tx.Update(ctx, acct, updated.ID, eventual.Values{"name": "after again"}); err != nil {
			return err
		}
		if err := tx.Delete(ctx, acct, gone.ID); err != nil {
			return err
		}
		return tx.Delete(ctx, acct, reborn.ID)
	})
	// Deleted, then created again with the same id: a change, not a deletion.
	mustUpdate(t, s, func(tx eventual.Tx) error {
		return tx.Insert(ctx, &eventual.Record{Table: acct, ID: reborn.ID, Values: eventual.Values{"name": "reborn again"}})
	})
	changed, deleted, t1 := changesSince(t, s, acct, t0, 2)
	if len(changed) != 3 || changed[created.ID] == nil || changed[updated.ID] == nil || changed[reborn.ID] == nil || changed[kept.ID] != nil {
		t.Errorf("changed = %v, want created, updated and reborn", keys(changed))
	}
	if r := changed[updated.ID]; r != nil && r.Values["name"] != "after again" {
		t.Errorf("updated record's latest state = %v", r.Values["name"])
	}
	if len(deleted) != 1 || !deleted[gone.ID] {
		t.Errorf("deleted = %v, want %s", deleted, gone.ID)
	}
	changed, deleted, _ = changesSince(t, s, acct, t1, 10)
	if len(changed)+len(deleted) != 0 {
		t.Errorf("changes after the newest token: %d changed, %d deleted", len(changed), len(deleted))
	}
	// Other tables' changes do not leak in.
	insert(t, s, "contact", eventual.Values{"lastname": "elsewhere"})
	changed, _, _ = changesSince(t, s, acct, t1, 10)
	if len(changed) != 0 {
		t.Errorf("a contact appeared in the account changes")
	}
	// Tokens the store did not issue are rejected.
	err := s.View(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.Changes(ctx, eventual.ChangeQuery{Table: acct, Since: "not a token", Limit: 1})
		return err
	})
	if !errors.Is(err, eventual.ErrBadToken) {
		t.Errorf("bad token: err = %v, want ErrBadToken", err)
	}
	// Purging forgets old deletions only.
	var n int64
	mustUpdate(t, s, func(tx eventual.Tx) error {
		var err error
		n, err = tx.PurgeDeleted(ctx, time.Now().Add(-time.Hour))
		return err
	})
	if n != 0 {
		t.Errorf("purge of deletions older than an hour removed %d", n)
	}
	mustUpdate(t, s, func(tx eventual.Tx) error {
		var err error
		n, err = tx.PurgeDeleted(ctx, time.Now().Add(time.Hour))
		return err
	})
	if n != 2 { // gone, and reborn's deletion before it came back
		t.Errorf("purge of all deletions removed %d, want 2", n)
	}
}

func keys[V any](m map[uuid.UUID]V) []uuid.UUID {
	var out []uuid.UUID
	for k := range m {
		out = append(out, k)
	}
	return out
}

// testChangesUnderConcurrentWriters mirrors a table through delta reads
// while writers insert, update and delete concurrently, some of them
// holding their transaction open after writing (so that a version handed
// out early commits late). The mirror must equal the table at the end:
// no change was skipped. It is kept whole (over 80 lines) on purpose: one
// scenario whose writer and reader goroutines share the mirror and the
// table's expected state, read top to bottom.
func testChangesUnderConcurrentWriters(t *testing.T, open Opener) {
	s := mustOpen(t, open, "changesrace", schema)
	defer s.Close()
	ctx := context.Background()
	acct := table("account")
	mirror := map[uuid.UUID]string{}
	apply := func(changed map[uuid.UUID]*eventual.Record, deleted map[uuid.UUID]bool) {
		for id, r := range changed {
			mirror[id] = r.Values["name"].(string)
		}
		for id := range deleted {
			delete(mirror, id)
		}
	}
	changed, deleted, tok := changesSince(t, s, acct, token(t, s), 50)
	apply(changed, deleted)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	const writers = 6
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []uuid.UUID
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				slow := w%2 == 0 && i%4 == 0
				err := s.Update(ctx, func(tx eventual.Tx) error {
					switch {
					case len(mine) > 3 && rng.IntN(4) == 0:
						id := mine[0]
						if err := tx.Delete(ctx, acct, id); err != nil && !errors.Is(err, eventual.ErrNotFound) {
							return err
						}
					case len(mine) > 0 && rng.IntN(2) == 0:
						id := mine[rng.IntN(len(mine))]
						if _, err := tx.Update(ctx, acct, id, eventual.Values{"name": fmt.Sprintf("w%d-%d", w, i)}); err != nil && !errors.Is(err, eventual.ErrNotFound) {
							return err
						}
					default:
						if err := tx.Insert(ctx, &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"name": fmt.Sprintf("w%d-%d", w, i)}}); err != nil {
							return err
						}
					}
					if slow {
						time.Sleep(15 * time.Millisecond) // commit late
					}
					return nil
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				// Track ids through a read, since fn may have run twice.
				_ = s.View(ctx, func(tx eventual.ReadTx) error {
					recs, err := tx.Query(ctx, &eventual.Query{Table: acct, Columns: []*eventual.Column{},
						Filter: eventual.Match{Kind: eventual.MatchStartsWith, Field: eventual.Field{Column: acct.Column("name")}, Pattern: fmt.Sprintf("w%d-", w)}})
					if err != nil {
						return err
					}
					mine = mine[:0]
					for _, r := range recs {
						mine = append(mine, r.ID)
					}
					return nil
				})
			}
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		changed, deleted, tok = changesSince(t, s, acct, tok, 7)
		apply(changed, deleted)
	}
	close(stop)
	wg.Wait()
	changed, deleted, _ = changesSince(t, s, acct, tok, 7)
	apply(changed, deleted)

	final := map[uuid.UUID]string{}
	for _, r := range query(t, s, &eventual.Query{Table: acct}) {
		final[r.ID] = r.Values["name"].(string)
	}
	if len(final) < 10 {
		t.Fatalf("only %d rows written; the test did not exercise anything", len(final))
	}
	for id, name := range final {
		if got, ok := mirror[id]; !ok || got != name {
			t.Errorf("mirror has %q for %s, table has %q: a change was skipped", got, id, name)
		}
	}
	for id := range mirror {
		if _, ok := final[id]; !ok {
			t.Errorf("mirror still has %s, which the table no longer has: a deletion was skipped", id)
		}
	}
}

// bulkTexts are strings a bulk statement must carry unchanged, whatever
// form the rows travel in (PostgreSQL: array literals).
var bulkTexts = []string{
	"", " ", "NULL", "null", `"`, `\`, `\"`, `"quoted"`, "a,b", "{x}", "{", "}", "{}", "(1,2)",
	"  lead and trail  ", "tab\there", "line\nbreak", "ünïcode — ✓", `back\slash\`, "'single'", "$1",
	strings.Repeat("x,\"", 300),
}

// testBulkValuesRoundTrip: InsertMany and UpdateMany store every column
// type, null and hostile text exactly as Insert does.
func testBulkValuesRoundTrip(t *testing.T, open Opener) {
	s := mustOpen(t, open, "bulkvalues", schema)
	defer s.Close()
	ctx := context.Background()
	acct := insert(t, s, "account", eventual.Values{"name": "A"})
	ord := table("new_order")
	when := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	full := func(i int, text string) eventual.Values {
		return orderValues(acct.ID, when, text, fmt.Sprint("BULK-", i), i%2 == 0, uuid.New(), text+text)
	}
	sparse := func(i int, text string) eventual.Values {
		return eventual.Values{"new_name": text, "new_ordernumber": fmt.Sprint("SPARSE-", i), "new_notes": nil, "new_amount": nil}
	}
	var recs []*eventual.Record
	for i, text := range bulkTexts {
		recs = append(recs, &eventual.Record{Table: ord, ID: uuid.New(), Values: full(i, text)},
			&eventual.Record{Table: ord, ID: uuid.New(), Values: sparse(i, text)})
	}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.InsertMany(ctx, recs) })
	check := func(when string, id uuid.UUID, want eventual.Values) {
		t.Helper()
		got := get(t, s, ord, id)
		for k, w := range want {
			if !eventual.EqualValues(got.Values[k], w) {
				t.Errorf("%s: column %s = %#v, want %#v", when, k, got.Values[k], w)
			}
		}
	}
	for _, r := range recs {
		check("InsertMany", r.ID, r.Values)
	}
	// Update every record with the texts shifted by one, and the sparse
	// ones to full values (nulls become values, and the other way round).
	var ups []*eventual.RowUpdate
	for i, r := range recs {
		text := bulkTexts[(i/2+1)%len(bulkTexts)]
		v := full(1000+i, text)
		if i%2 == 0 {
			v = sparse(1000+i, text)
		}
		ups = append(ups, &eventual.RowUpdate{ID: r.ID, Values: v})
	}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.UpdateMany(ctx, ord, ups) })
	for _, u := range ups {
		check("UpdateMany", u.ID, u.Values)
	}
}

func testBulkWrites(t *testing.T, open Opener) {
	s := mustOpen(t, open, "bulk", schema)
	defer s.Close()
	ctx := context.Background()
	con := table("contact")
	acct := insert(t, s, "account", eventual.Values{"name": "parent"})
	const n = 1200 // more than one statement's worth
	recs := make([]*eventual.Record, n)
	for i := range recs {
		v := eventual.Values{"firstname": fmt.Sprint("F", i), "lastname": "Bulk", "emailaddress1": fmt.Sprintf("b%d@example.com", i)}
		if i%3 == 0 {
			v["parentcustomerid"] = eventual.Ref(table("account"), acct.ID)
		}
		recs[i] = &eventual.Record{Table: con, ID: uuid.New(), Values: v}
	}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.InsertMany(ctx, recs) })
	seen := map[int64]bool{}
	for _, r := range recs {
		if r.Version <= acct.Version || seen[r.Version] {
			t.Fatalf("InsertMany version %d (parent %d, duplicate %v)", r.Version, acct.Version, seen[r.Version])
		}
		seen[r.Version] = true
	}
	got := get(t, s, con, recs[3].ID)
	if got.Values["firstname"] != "F3" || got.Values["parentcustomerid"].(eventual.EntityReference).ID != acct.ID || got.Version != recs[3].Version {
		t.Errorf("inserted record = %+v v%d", got.Values, got.Version)
	}
	// Updates with different column sets, one clearing a lookup.
	ups := []*eventual.RowUpdate{
		{ID: recs[0].ID, Values: eventual.Values{"lastname": "U0", "parentcustomerid": nil}},
		{ID: recs[1].ID, Values: eventual.Values{"lastname": "U1"}},
		{ID: recs[2].ID, Values: eventual.Values{"jobtitle": "T2", "statecode": int64(1)}},
	}
	for i := 4; i < 900; i++ {
		ups = append(ups, &eventual.RowUpdate{ID: recs[i].ID, Values: eventual.Values{"lastname": fmt.Sprint("U", i)}})
	}
	mustUpdate(t, s, func(tx eventual.Tx) error { return tx.UpdateMany(ctx, con, ups) })
	for _, u := range ups {
		if u.Version == 0 {
			t.Fatalf("UpdateMany left version 0 for %s", u.ID)
		}
	}
	if g := get(t, s, con, recs[0].ID); g.Values["lastname"] != "U0" || g.Values["parentcustomerid"] != nil || g.Values["firstname"] != "F0" || g.Version != ups[0].Version {
		t.Errorf("after UpdateMany: %+v", g.Values)
	}
	if g := get(t, s, con, recs[2].ID); g.Values["jobtitle"] != "T2" || g.Values["statecode"] != int64(1) || g.Values["lastname"] != "Bulk" {
		t.Errorf("after UpdateMany: %+v", g.Values)
	}
	// A missing record fails the whole update; a duplicate key the insert.
	err := s.Update(ctx, func(tx eventual.Tx) error {
		return tx.UpdateMany(ctx, con, []*eventual.RowUpdate{{ID: recs[5].ID, Values: eventual.Values{"lastname": "ghost"}}, {ID: uuid.New(), Values: eventual.Values{"lastname": "x"}}})
	})
	if !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("UpdateMany with a missing record: %v, want ErrNotFound", err)
	}
	if g := get(t, s, con, recs[5].ID); g.Values["lastname"] != "U5" {
		t.Errorf("failed UpdateMany changed a record: %v", g.Values["lastname"])
	}
	err = s.Update(ctx, func(tx eventual.Tx) error {
		return tx.InsertMany(ctx, []*eventual.Record{
			{Table: con, ID: uuid.New(), Values: eventual.Values{"firstname": "New", "emailaddress1": "new@example.com"}},
			{Table: con, ID: uuid.New(), Values: eventual.Values{"firstname": "f7", "emailaddress1": "B7@example.com"}},
		})
	})
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) || ce.Key == nil || ce.Key.LogicalName != "contact_name_email" {
		t.Errorf("InsertMany duplicate key: %v", err)
	}
	var count int64
	_ = s.View(ctx, func(tx eventual.ReadTx) error {
		count, _ = tx.Count(ctx, con, nil, 0)
		return nil
	})
	if count != n {
		t.Errorf("%d contacts after a failed InsertMany, want %d", count, n)
	}
}

// put runs one Tx.Put in its own transaction.
func put(t testing.TB, s eventual.Store, p *eventual.Put) (eventual.PutResult, uuid.UUID, int64, error) {
	t.Helper()
	var res eventual.PutResult
	var id uuid.UUID
	var ver int64
	err := s.Update(context.Background(), func(tx eventual.Tx) error {
		var err error
		res, id, ver, err = tx.Put(context.Background(), p)
		return err
	})
	return res, id, ver, err
}

// accountPut is a Put of a new account with the values, matched by key,
// setting the columns named and keeping placeholders.
func accountPut(id uuid.UUID, key *eventual.Key, vals eventual.Values, set ...string) *eventual.Put {
	acct := table("account")
	p := &eventual.Put{Record: &eventual.Record{Table: acct, ID: id, Values: vals}, Key: key,
		Keep: acct.Column(eventual.ColumnHydrationState), KeepValue: eventual.HydrationPlaceholder}
	for _, name := range set {
		p.Set = append(p.Set, acct.Column(name))
	}
	return p
}

// testPut: Put inserts a record no other holds the key of, updates the
// one that does (the Set columns and the version only; keys compared as
// GetByKey compares them), leaves a Keep record untouched, reports a
// taken primary key as a conflict and refuses a Put without a key.
func testPut(t *testing.T, open Opener) {
	s := mustOpen(t, open, "put", schema)
	defer s.Close()
	acct := table("account")
	key := acct.Key("accountnumber_key")
	tok := token(t, s)

	first := uuid.New()
	res, id, v1, err := put(t, s, accountPut(first, key, eventual.Values{"name": "one", "accountnumber": "PUT-1", "telephone1": "555"}, "name"))
	if err != nil || res != eventual.PutInserted || id != first || v1 == 0 {
		t.Fatalf("Put of a new key = %v, %s, %d, %v; want inserted %s", res, id, v1, err, first)
	}
	if got := get(t, s, acct, first); got.Values["name"] != "one" || got.Version != v1 {
		t.Fatalf("inserted record %v (version %d), want name one, version %d", got.Values, got.Version, v1)
	}

	res, id, v2, err := put(t, s, accountPut(uuid.New(), key, eventual.Values{"name": "two", "accountnumber": "put-1"}, "name"))
	if err != nil || res != eventual.PutUpdated || id != first || v2 <= v1 {
		t.Fatalf("Put of a held key (other case) = %v, %s, %d, %v; want updated %s past version %d", res, id, v2, err, first, v1)
	}
	got := get(t, s, acct, first)
	if got.Values["name"] != "two" || got.Values["telephone1"] != "555" || got.Values["accountnumber"] != "PUT-1" || got.Version != v2 {
		t.Errorf("updated record %v (version %d): want name two, telephone1 and accountnumber kept, version %d", got.Values, got.Version, v2)
	}
	if n := countRows(t, s, acct); n != 1 {
		t.Errorf("%d accounts after two Puts of one key, want 1", n)
	}

	ph := insert(t, s, "account", eventual.Values{"name": "placeholder", "accountnumber": "PUT-PH", eventual.ColumnHydrationState: eventual.HydrationPlaceholder})
	before := get(t, s, acct, ph.ID)
	res, _, _, err = put(t, s, accountPut(uuid.New(), key, eventual.Values{"name": "real", "accountnumber": "PUT-PH"}, "name"))
	if err != nil || res != eventual.PutLeft {
		t.Fatalf("Put onto a Keep record = %v, %v; want left", res, err)
	}
	if after := get(t, s, acct, ph.ID); after.Values["name"] != "placeholder" || after.Version != before.Version {
		t.Errorf("the Keep record changed: %v (version %d, was %d)", after.Values, after.Version, before.Version)
	}

	// A new key with an id another record has: the primary key conflicts.
	_, _, _, err = put(t, s, accountPut(first, key, eventual.Values{"name": "taken id", "accountnumber": "PUT-2"}, "name"))
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) || ce.Key != nil {
		t.Fatalf("Put of a new key with a taken id: %v, want ConflictError on the primary key", err)
	}
	if _, _, _, err := put(t, s, &eventual.Put{Record: &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"name": "no key"}}}); err == nil {
		t.Errorf("Put without a key succeeded, want an error")
	}

	changed, _, _ := changesSince(t, s, acct, tok, 100)
	if changed[first] == nil || changed[ph.ID] == nil || len(changed) != 2 {
		t.Errorf("changes since the start: %v, want the two records", keys(changed))
	}
}

// testPutRace: goroutines racing to Put one new key leave one record,
// every Put succeeds, and exactly one of them inserted it.
func testPutRace(t *testing.T, open Opener) {
	s := mustOpen(t, open, "putrace", schema)
	defer s.Close()
	acct := table("account")
	key := acct.Key("accountnumber_key")
	const n = 16
	var wg sync.WaitGroup
	results := make([]eventual.PutResult, n)
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			err = s.Update(context.Background(), func(tx eventual.Tx) error {
				var err error
				results[i], ids[i], _, err = tx.Put(context.Background(), accountPut(uuid.New(), key,
					eventual.Values{"name": fmt.Sprint("racer ", i), "accountnumber": "RACE-1"}, "name"))
				return err
			})
			errs[i] = err
		}()
	}
	wg.Wait()
	inserted := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put %d: %v", i, errs[i])
		}
		if results[i] == eventual.PutInserted {
			inserted++
		}
		if ids[i] != ids[0] {
			t.Errorf("Put %d wrote %s, Put 0 wrote %s", i, ids[i], ids[0])
		}
	}
	if inserted != 1 {
		t.Errorf("%d Puts inserted, want 1", inserted)
	}
	if c := countRows(t, s, acct); c != 1 {
		t.Errorf("%d accounts after racing Puts of one key, want 1", c)
	}
}

// testPutMix: runs of Puts that insert, runs that update, runs that
// leave a Keep record alone and runs that mix them (a store may change
// how it writes a Put by what the table's recent Puts did) each report
// what they did, with the record's id and new version, and leave the
// records as reported.
func testPutMix(t *testing.T, open Opener) {
	s := mustOpen(t, open, "putmix", schema)
	defer s.Close()
	acct := table("account")
	key := acct.Key("accountnumber_key")
	ph := insert(t, s, "account", eventual.Values{"name": "placeholder", "accountnumber": "MIX-PH", eventual.ColumnHydrationState: eventual.HydrationPlaceholder})
	ids := map[string]uuid.UUID{"MIX-PH": ph.ID}
	var last int64
	step := func(i int, number string) {
		t.Helper()
		name := fmt.Sprint("put ", i)
		res, id, v, err := put(t, s, accountPut(uuid.New(), key, eventual.Values{"name": name, "accountnumber": number}, "name"))
		if err != nil {
			t.Fatalf("Put %d of %s: %v", i, number, err)
		}
		held, exists := ids[number]
		switch {
		case number == "MIX-PH":
			if res != eventual.PutLeft {
				t.Fatalf("Put %d onto the Keep record = %v, want left", i, res)
			}
			if got := get(t, s, acct, ph.ID); got.Values["name"] != "placeholder" || got.Version != ph.Version {
				t.Fatalf("Put %d changed the Keep record: %v (version %d, was %d)", i, got.Values, got.Version, ph.Version)
			}
			return
		case exists && (res != eventual.PutUpdated || id != held):
			t.Fatalf("Put %d of held %s = %v, %s; want updated %s", i, number, res, id, held)
		case !exists && res != eventual.PutInserted:
			t.Fatalf("Put %d of new %s = %v, %s; want inserted", i, number, res, id)
		case v <= last:
			t.Fatalf("Put %d of %s: version %d, not past the last Put's %d", i, number, v, last)
		}
		last, ids[number] = v, id
		if got := get(t, s, acct, id); got.Values["name"] != name || got.Version != v {
			t.Fatalf("Put %d of %s left %v (version %d), want name %q, version %d", i, number, got.Values, got.Version, name, v)
		}
	}
	i := 0
	for run, kind := range []string{"new", "held", "new", "keep", "held", "mixed", "new", "mixed"} {
		for j := range 12 {
			i++
			number := fmt.Sprintf("MIX-%d-%d", run, j)
			switch {
			case kind == "held", kind == "mixed" && j%3 != 0:
				number = fmt.Sprintf("MIX-0-%d", j) // the first run's
			case kind == "keep":
				number = "MIX-PH"
			}
			step(i, number)
		}
	}
	if n, want := countRows(t, s, acct), int64(len(ids)); n != want {
		t.Errorf("%d accounts after the Puts, want %d", n, want)
	}
}

// countRows counts the records of a table.
func countRows(t testing.TB, s eventual.Store, tbl *eventual.Table) int64 {
	t.Helper()
	var n int64
	err := s.View(context.Background(), func(tx eventual.ReadTx) error {
		var err error
		n, err = tx.Count(context.Background(), tbl, nil, 0)
		return err
	})
	if err != nil {
		t.Fatalf("count %s: %v", tbl.LogicalName, err)
	}
	return n
}

// testAggregate: grouped queries on one table: counts, sums and averages
// that stay exact for money, min and max, groups by a choice, a lookup,
// text ignoring case and parts of dates, nulls as their own group, order
// by an aggregate, and a filter.
func testAggregate(t *testing.T, open Opener) {
	s := mustOpen(t, open, "aggregate", schema)
	defer s.Close()
	orders, acct := table("new_order"), table("account")
	a1 := insert(t, s, "account", eventual.Values{"name": "A1"})
	a2 := insert(t, s, "account", eventual.Values{"name": "A2"})
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }
	for _, o := range []eventual.Values{
		{"new_name": "Widget", "new_amount": dec("10.25", 4), "new_quantity": int64(1), "new_stage": int64(100000000), "new_customer": eventual.Ref(acct, a1.ID), "new_orderdate": day(2026, 1, 5)},
		{"new_name": "widget", "new_amount": dec("20.50", 4), "new_quantity": int64(2), "new_stage": int64(100000000), "new_customer": eventual.Ref(acct, a1.ID), "new_orderdate": day(2026, 2, 7)},
		{"new_name": "Gadget", "new_amount": dec("5", 4), "new_quantity": int64(4), "new_stage": int64(100000001), "new_customer": eventual.Ref(acct, a2.ID), "new_orderdate": day(2026, 2, 20)},
		{"new_name": "Gadget", "new_quantity": int64(7), "new_orderdate": day(2025, 12, 31)},
	} {
		insert(t, s, "new_order", o)
	}
	col := func(name string) *eventual.Column { return orders.Column(name) }
	run := func(a *eventual.Aggregate) []eventual.AggregateRow {
		t.Helper()
		a.Table = orders
		var rows []eventual.AggregateRow
		if err := s.View(context.Background(), func(tx eventual.ReadTx) error {
			var err error
			rows, err = tx.Aggregate(context.Background(), a)
			return err
		}); err != nil {
			t.Fatalf("Aggregate: %v", err)
		}
		return rows
	}
	show := func(rows []eventual.AggregateRow, aliases ...string) string {
		var parts []string
		for _, r := range rows {
			var vals []string
			for _, a := range aliases {
				v := r[a]
				switch x := v.(type) {
				case eventual.EntityReference:
					v = x.Table.LogicalName + ":" + map[uuid.UUID]string{a1.ID: "A1", a2.ID: "A2"}[x.ID]
				case eventual.Decimal:
					v = x.String()
				}
				vals = append(vals, fmt.Sprint(v))
			}
			parts = append(parts, strings.Join(vals, " "))
		}
		return strings.Join(parts, "; ")
	}
	for _, tc := range []struct {
		name    string
		a       *eventual.Aggregate
		aliases []string
		want    string
	}{
		{"one group of all rows", &eventual.Aggregate{Values: []eventual.AggregateValue{
			{Func: eventual.AggCount, Alias: "n"}, {Func: eventual.AggCountColumn, Column: col("new_amount"), Alias: "priced"},
			{Func: eventual.AggSum, Column: col("new_amount"), Alias: "total"}, {Func: eventual.AggAvg, Column: col("new_amount"), Alias: "avg"},
			{Func: eventual.AggAvg, Column: col("new_quantity"), Alias: "q"}, {Func: eventual.AggMin, Column: col("new_orderdate"), Alias: "first"},
			{Func: eventual.AggMax, Column: col("new_quantity"), Alias: "most"}, {Func: eventual.AggCountDistinct, Column: col("new_customer"), Alias: "customers"}}},
			[]string{"n", "priced", "total", "avg", "q", "first", "most", "customers"},
			"4 3 35.7500 11.9167 3 2025-12-31 10:00:00 +0000 UTC 7 2"}, // the average of 1, 2, 4 and 7 truncated
		{"by choice, nulls first", &eventual.Aggregate{GroupBy: []eventual.Grouping{{Column: col("new_stage"), Alias: "stage"}},
			Values: []eventual.AggregateValue{{Func: eventual.AggSum, Column: col("new_quantity"), Alias: "qty"}}},
			[]string{"stage", "qty"}, "<nil> 7; 100000000 3; 100000001 4"},
		{"by lookup, ordered by the sum descending", &eventual.Aggregate{GroupBy: []eventual.Grouping{{Column: col("new_customer"), Alias: "c"}},
			Values: []eventual.AggregateValue{{Func: eventual.AggSum, Column: col("new_quantity"), Alias: "qty"}}, OrderBy: []eventual.AggregateOrder{{Alias: "qty", Desc: true}}},
			[]string{"c", "qty"}, "<nil> 7; account:A2 4; account:A1 3"},
		{"by text, ignoring case", &eventual.Aggregate{GroupBy: []eventual.Grouping{{Column: col("new_name"), Alias: "name"}},
			Values: []eventual.AggregateValue{{Func: eventual.AggCount, Alias: "n"}}},
			[]string{"name", "n"}, "Gadget 2; Widget 2"},
		{"by year and month", &eventual.Aggregate{GroupBy: []eventual.Grouping{{Column: col("new_orderdate"), Date: eventual.DateYear, Alias: "y"}, {Column: col("new_orderdate"), Date: eventual.DateMonth, Alias: "m"}},
			Values: []eventual.AggregateValue{{Func: eventual.AggCount, Alias: "n"}}},
			[]string{"y", "m", "n"}, "2025 12 1; 2026 1 1; 2026 2 2"},
		{"by quarter, week and day", &eventual.Aggregate{GroupBy: []eventual.Grouping{{Column: col("new_orderdate"), Date: eventual.DateQuarter, Alias: "q"}, {Column: col("new_orderdate"), Date: eventual.DateWeek, Alias: "w"}, {Column: col("new_orderdate"), Date: eventual.DateDay, Alias: "d"}},
			Values: []eventual.AggregateValue{{Func: eventual.AggCount, Alias: "n"}}},
			[]string{"q", "w", "d", "n"}, "1 2 5 1; 1 6 7 1; 1 8 20 1; 4 53 31 1"}, // 1 January 2026 is a Thursday: Sunday the 4th starts week 2
		{"filtered, limited", &eventual.Aggregate{Filter: eventual.Compare{Op: eventual.OpGt, Left: eventual.Field{Column: col("new_quantity")}, Right: eventual.Literal{Value: int64(1)}},
			GroupBy: []eventual.Grouping{{Column: col("new_name"), Alias: "name"}}, Values: []eventual.AggregateValue{{Func: eventual.AggMax, Column: col("new_amount"), Alias: "max"}}, Limit: 1},
			[]string{"name", "max"}, "Gadget 5.0000"},
		{"a sum of nothing", &eventual.Aggregate{Filter: eventual.Const{Value: false},
			Values: []eventual.AggregateValue{{Func: eventual.AggSum, Column: col("new_amount"), Alias: "s"}, {Func: eventual.AggAvg, Column: col("new_amount"), Alias: "a"}, {Func: eventual.AggCount, Alias: "n"}}},
			[]string{"s", "a", "n"}, "<nil> <nil> 0"},
	} {
		if got := show(run(tc.a), tc.aliases...); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
