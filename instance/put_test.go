package instance_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file tests the short way of an upsert by alternate key (one
// statement, Tx.Put) against the long way (read by key, then create or
// update): an instance with a do-nothing Create and Update step takes the
// long way for every write, a plain one the short way where it can, and
// both must end in the same records, answers and errors.

// upsertStep is one upsert by key of a sequence both instances play.
type upsertStep struct {
	table  string
	key    string
	values []any // the key's values
	body   eventual.Values
}

var upsertSequence = []upsertStep{
	{"account", "accountnumber_key", []any{"SW-1"}, eventual.Values{"name": "new", "telephone1": "555"}},
	{"account", "accountnumber_key", []any{"sw-1"}, eventual.Values{"name": "renamed"}}, // the key folds
	{"account", "accountnumber_key", []any{"SW-1"}, eventual.Values{}},                  // an empty update
	{"account", "accountnumber_key", []any{"SW-PH"}, eventual.Values{"name": "hydrated", "numberofemployees": int64(7)}},
	{"account", "accountnumber_key", []any{"SW-2"}, eventual.Values{"name": "with state", "statecode": int64(1)}},
	{"account", "accountnumber_key", []any{"SW-3"}, eventual.Values{"name": "bad", "nosuchcolumn": "x"}},
	{"account", "accountnumber_key", []any{"SW-1"}, eventual.Values{"numberofemployees": "many"}},
	{"account", "accountnumber_key", []any{"SW-4"}, eventual.Values{"name": "body key", "accountnumber": "SW-4"}},
	{"account", "accountnumber_key", []any{"SW-1"}, eventual.Values{"telephone1": nil, "creditonhold": true}},
	{"new_order", "new_ordernumber_key", []any{"O-1"}, eventual.Values{"new_name": "order", "new_amount": money("12.50")}},
	{"new_order", "new_ordernumber_key", []any{"o-1"}, eventual.Values{"new_quantity": int64(3)}},
}

// outcome is what one upsert answered, without ids and times.
type outcome struct {
	created bool
	code    string
}

// play runs the sequence on e, with a placeholder under key SW-PH first,
// and returns each upsert's outcome, the records by table and key value,
// and how often Hydrate ran.
func play(t *testing.T, e *env) ([]outcome, map[string]eventual.Values, int64) {
	t.Helper()
	ctx := testContext(t)
	hydrates := e.countHydrate(t, "account")
	e.placeholder(t, e.account, eventual.Values{"accountnumber": "SW-PH"})
	var outs []outcome
	for _, s := range upsertSequence {
		tbl := e.schema.Table(s.table)
		ref := eventual.EntityReference{Table: tbl, Key: tbl.Key(s.key), KeyValues: s.values}
		created, _, err := e.in.Upsert(ctx, ref, &eventual.Entity{Table: tbl, Values: s.body.Clone()}, eventual.Condition{})
		outs = append(outs, outcome{created, eventual.ErrorCode(err)})
		if err != nil && eventual.ErrorCode(err) == "" {
			t.Fatalf("upsert %v: %v", s, err)
		}
	}
	records := map[string]eventual.Values{}
	for _, name := range []string{"account", "new_order"} {
		tbl := e.schema.Table(name)
		page, err := e.in.RetrieveMultiple(ctx, &eventual.Query{Table: tbl, Limit: 100}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			vals := r.Values.Clone()
			for _, c := range []string{"createdon", "modifiedon", eventual.ColumnHydratedOn, eventual.ColumnPlaceholderOn} {
				if vals[c] != nil {
					vals[c] = "set"
				}
			}
			// Each instance has its own user: the stamps name it by role.
			// The placeholder was inserted raw, without stamps, and only its
			// hydration stamped it (modifiedby).
			key := tbl.Keys[0].Columns[0].LogicalName
			for _, c := range eventual.StampColumns {
				if ref, ok := vals[c].(eventual.EntityReference); ok && ref.ID == e.in.Meta.UserID {
					vals[c] = "the instance's user"
				} else if tbl.Column(c) != nil && (vals[key] != "SW-PH" || c == eventual.ColumnModifiedBy) {
					t.Errorf("%s/%v.%s = %v, want the instance's user", name, vals[key], c, vals[c])
				}
			}
			records[fmt.Sprint(name, "/", vals[key])] = vals
		}
	}
	return outs, records, hydrates.Load()
}

func TestUpsertByKeyShortWayMatchesLongWay(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		short, long := open(t), open(t)
		for _, m := range []string{eventual.MessageCreate, eventual.MessageUpdate} {
			for _, tbl := range []string{"account", "new_order"} {
				long.register(t, syncStep("long-way-"+m+"-"+tbl, m, tbl, eventual.PreOperation, func(context.Context, *eventual.ExecutionContext) error { return nil }))
			}
		}
		so, sr, sh := play(t, short)
		lo, lr, lh := play(t, long)
		for i := range upsertSequence {
			if so[i] != lo[i] {
				t.Errorf("upsert %d %v: short way %+v, long way %+v", i, upsertSequence[i], so[i], lo[i])
			}
		}
		if len(sr) != len(lr) {
			t.Errorf("short way left %d records, long way %d", len(sr), len(lr))
		}
		for k, lv := range lr {
			sv, ok := sr[k]
			if !ok {
				t.Errorf("%s: only the long way has it", k)
				continue
			}
			for c, v := range lv {
				if fmt.Sprint(sv[c]) != fmt.Sprint(v) {
					t.Errorf("%s.%s: short way %v, long way %v", k, c, sv[c], v)
				}
			}
		}
		if sh != 1 || lh != 1 {
			t.Errorf("Hydrate ran %d times the short way, %d the long way; want 1 each", sh, lh)
		}
	})
}

// TestUpsertByKeyRace: goroutines upserting one new key through the
// instance leave one record, each answer success, exactly one "created".
func TestUpsertByKeyRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		const n = 16
		var wg sync.WaitGroup
		created := make([]bool, n)
		ids := make([]uuid.UUID, n)
		errs := make([]error, n)
		ref := eventual.EntityReference{Table: e.account, Key: e.account.Key("accountnumber_key"), KeyValues: []any{"RACE"}}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				created[i], ids[i], errs[i] = e.in.Upsert(ctx, ref, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": fmt.Sprint("racer ", i)}}, eventual.Condition{})
			}()
		}
		wg.Wait()
		nCreated := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("upsert %d: %v", i, errs[i])
			}
			if created[i] {
				nCreated++
			}
			if ids[i] != ids[0] {
				t.Errorf("upsert %d wrote %s, upsert 0 %s", i, ids[i], ids[0])
			}
		}
		if nCreated != 1 || e.count(t, e.account) != 1 {
			t.Errorf("%d upserts created, %d accounts; want 1 and 1", nCreated, e.count(t, e.account))
		}
	})
}

// TestUpsertByKeyRaceOverPlaceholder: goroutines upserting the key of a
// placeholder hydrate it once: one record, every answer a success, Hydrate
// run once. On PostgreSQL each upsert's Put runs alone and leaves the
// placeholder to a transaction of its own, which locks it.
func TestUpsertByKeyRaceOverPlaceholder(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		hydrates := e.countHydrate(t, "account")
		ph := e.placeholder(t, e.account, eventual.Values{"accountnumber": "RACE-PH"})
		const n = 16
		var wg sync.WaitGroup
		ids := make([]uuid.UUID, n)
		errs := make([]error, n)
		ref := eventual.EntityReference{Table: e.account, Key: e.account.Key("accountnumber_key"), KeyValues: []any{"RACE-PH"}}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ids[i], errs[i] = e.in.Upsert(ctx, ref, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": fmt.Sprint("racer ", i)}}, eventual.Condition{})
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("upsert %d: %v", i, errs[i])
			}
			if ids[i] != ph {
				t.Errorf("upsert %d wrote %s, want the placeholder %s", i, ids[i], ph)
			}
		}
		if got := hydrates.Load(); got != 1 {
			t.Errorf("Hydrate ran %d times, want 1", got)
		}
		if c := e.count(t, e.account); c != 1 {
			t.Errorf("%d accounts, want 1", c)
		}
		rec, err := e.in.Retrieve(ctx, eventual.Ref(e.account, ph), nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder {
			t.Errorf("the record is still a placeholder: %v", rec.Values)
		}
	})
}

func money(s string) eventual.Decimal {
	d, err := eventual.ParseDecimal(s, 4)
	if err != nil {
		panic(err)
	}
	return d
}
