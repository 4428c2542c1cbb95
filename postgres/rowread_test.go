package postgres_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/google/uuid"
)

// storeKind is a store with both single-statement paths.
type storeKind interface {
	eventual.Store
	eventual.StatementStore
	eventual.StatementViewer
}

func decimalOf(s string, scale int) eventual.Decimal {
	d, err := eventual.ParseDecimal(s, scale)
	if err != nil {
		panic(err)
	}
	return d
}

func render(v eventual.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		x := v[k]
		switch y := x.(type) {
		case time.Time:
			fmt.Fprintf(&b, "%s=time(%s,%s) ", k, y.Format(time.RFC3339Nano), y.Location())
		case eventual.EntityReference:
			tn := "<nil>"
			if y.Table != nil {
				tn = y.Table.LogicalName
			}
			fmt.Fprintf(&b, "%s=ref(%s,%s) ", k, tn, y.ID)
		default:
			fmt.Fprintf(&b, "%s=%T(%#v) ", k, x, x)
		}
	}
	return b.String()
}

// readAll reads a record by id and key through ViewStatement and by id
// through View, checks they agree, and returns the record and its version.
func readAll(t *testing.T, s storeKind, tbl *eventual.Table, id uuid.UUID, key *eventual.Key, keyVals []any) (string, int64) {
	t.Helper()
	ctx := context.Background()
	var viaView, viaStmt, viaStmtKey *eventual.Record
	if err := s.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		viaView, err = tx.Get(ctx, tbl, id, nil)
		return err
	}); err != nil {
		t.Fatalf("View Get: %v", err)
	}
	if err := s.ViewStatement(ctx, func(tx eventual.ReadTx) error {
		var err error
		viaStmt, err = tx.Get(ctx, tbl, id, nil)
		return err
	}); err != nil {
		t.Fatalf("ViewStatement Get: %v", err)
	}
	if key != nil {
		if err := s.ViewStatement(ctx, func(tx eventual.ReadTx) error {
			var err error
			viaStmtKey, err = tx.GetByKey(ctx, key, keyVals, nil)
			return err
		}); err != nil {
			t.Fatalf("ViewStatement GetByKey: %v", err)
		}
		if viaStmtKey.ID != id || !reflect.DeepEqual(viaStmtKey.Values, viaView.Values) || viaStmtKey.Version != viaView.Version {
			t.Errorf("GetByKey via statement differs from View:\n stmt %s\n view %s", render(viaStmtKey.Values), render(viaView.Values))
		}
	}
	if viaStmt.ID != id || viaStmt.Version != viaView.Version || !reflect.DeepEqual(viaStmt.Values, viaView.Values) {
		t.Errorf("Get via statement differs from View:\n stmt %s (v%d)\n view %s (v%d)", render(viaStmt.Values), viaStmt.Version, render(viaView.Values), viaView.Version)
	}
	return render(viaStmt.Values), viaStmt.Version
}

// TestOneRowStatementsReadWhatTransactionsRead writes records of every
// column type (and NULLs of each) by single-statement Insert and Put, which
// run on pgx's pool directly (rowread.go), and reads each by id and by key
// through ViewStatement (the same) and through View (database/sql, in a
// transaction): the reads must agree, and the versions the writes
// returned must be the stored ones.
func TestOneRowStatementsReadWhatTransactionsRead(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	acct, contact, order := schema.Table("account"), schema.Table("contact"), schema.Table("new_order")
	acctID, contactID := uuid.MustParse("11111111-2222-3333-4444-555555555555"), uuid.MustParse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
	ext := uuid.MustParse("01234567-89ab-cdef-0123-456789abcdef")
	when := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.FixedZone("X", 5*3600+1800))
	full := func(number string) eventual.Values {
		return eventual.Values{
			"new_name": "Grüße ß İ 🙂 'quote\"", "new_ordernumber": number, "new_customer": eventual.Ref(acct, acctID),
			"new_amount": decimalOf("-92233720368547.5808", 4), "new_quantity": int64(math.MinInt32),
			"new_unitprice": decimalOf("0.0001", 4), "new_weight": 5e-324, "new_sequence": int64(math.MaxInt64),
			"new_orderdate": when, "new_shipped": false, "new_externalid": ext, "new_notes": strings.Repeat("memo\n", 3),
			"new_stage": int64(100000002),
		}
	}
	nulls := func(number string) eventual.Values {
		return eventual.Values{
			"new_name": nil, "new_ordernumber": number, "new_customer": nil, "new_amount": nil, "new_quantity": nil,
			"new_unitprice": nil, "new_weight": nil, "new_sequence": nil, "new_orderdate": nil, "new_shipped": nil,
			"new_externalid": nil, "new_notes": nil, "new_stage": nil,
		}
	}
	pg, err := postgres.Open(ctx, testpg.Schema(t, "onerow_values"), schema, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var s storeKind = pg
	{
		add := func(name, r string) { t.Logf("%s: %.300s", name, r) }
		// account and contacts: lookups, customers of both targets
		a := &eventual.Record{Table: acct, ID: acctID, Values: eventual.Values{"name": "A", "accountnumber": "AN-1",
			"revenue": decimalOf("123456789.12", 2), "numberofemployees": int64(math.MaxInt32), "creditonhold": true,
			"description": "", "accountcategorycode": int64(2), "primarycontactid": eventual.Ref(contact, contactID), "parentaccountid": nil}}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, a) }); err != nil {
			t.Fatalf("insert account: %v", err)
		}
		c1 := &eventual.Record{Table: contact, ID: contactID, Values: eventual.Values{"firstname": "F", "emailaddress1": "e@x",
			"birthdate": time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), "parentcustomerid": eventual.Ref(acct, acctID)}}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, c1) }); err != nil {
			t.Fatalf("insert contact: %v", err)
		}
		c2 := &eventual.Record{Table: contact, ID: uuid.MustParse("bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee"), Values: eventual.Values{"firstname": "G", "emailaddress1": nil,
			"parentcustomerid": eventual.Ref(contact, contactID)}}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, c2) }); err != nil {
			t.Fatalf("insert contact 2: %v", err)
		}
		c3 := &eventual.Record{Table: contact, ID: uuid.MustParse("cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee"), Values: eventual.Values{"firstname": "H", "parentcustomerid": nil, "birthdate": nil}}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, c3) }); err != nil {
			t.Fatalf("insert contact 3: %v", err)
		}
		r, _ := readAll(t, s, acct, acctID, acct.Key("accountnumber_key"), []any{"an-1"})
		add("account", r)
		r, _ = readAll(t, s, contact, contactID, contact.Key("contact_name_email"), []any{"f", "E@X"})
		add("contact1", r)
		r, _ = readAll(t, s, contact, c2.ID, contact.Key("contact_name_email"), []any{"g", nil})
		add("contact2", r)
		r, _ = readAll(t, s, contact, c3.ID, nil, nil)
		add("contact3", r)

		// orders: insert (full, nulls), put inserting, put updating
		o1 := &eventual.Record{Table: order, ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"), Values: full("O-1")}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, o1) }); err != nil {
			t.Fatalf("insert order: %v", err)
		}
		r, v := readAll(t, s, order, o1.ID, order.Key("new_ordernumber_key"), []any{"o-1"})
		if v != o1.Version {
			t.Errorf("insert returned version %d, read %d", o1.Version, v)
		}
		add("order-full", r)
		o2 := &eventual.Record{Table: order, ID: uuid.MustParse("00000000-0000-0000-0000-000000000002"), Values: nulls("O-2")}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, o2) }); err != nil {
			t.Fatalf("insert null order: %v", err)
		}
		r, _ = readAll(t, s, order, o2.ID, order.Key("new_ordernumber_key"), []any{"O-2"})
		add("order-nulls", r)
		key := order.Key("new_ordernumber_key")
		var set []*eventual.Column
		for name := range full("") {
			set = append(set, order.Column(name))
		}
		sort.Slice(set, func(i, j int) bool { return set[i].LogicalName < set[j].LogicalName })
		var res eventual.PutResult
		var id uuid.UUID
		var ver int64
		p3 := &eventual.Put{Record: &eventual.Record{Table: order, ID: uuid.MustParse("00000000-0000-0000-0000-000000000003"), Values: full("O-3")}, Key: key, Set: set}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { var err error; res, id, ver, err = tx.Put(ctx, p3); return err }); err != nil {
			t.Fatalf("put insert: %v", err)
		}
		if res != eventual.PutInserted || id != p3.Record.ID {
			t.Errorf("put insert: %v %s", res, id)
		}
		r, v = readAll(t, s, order, id, key, []any{"O-3"})
		if v != ver {
			t.Errorf("put returned version %d, read %d", ver, v)
		}
		add("order-put-insert", r)
		// update O-3 to nulls via Put, with a different id
		p4 := &eventual.Put{Record: &eventual.Record{Table: order, ID: uuid.New(), Values: nulls("o-3")}, Key: key, Set: set[:len(set)]}
		// Set excludes the key column from the update: drop new_ordernumber
		var set2 []*eventual.Column
		for _, c := range set {
			if c.LogicalName != "new_ordernumber" {
				set2 = append(set2, c)
			}
		}
		p4.Set = set2
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { var err error; res, id, ver, err = tx.Put(ctx, p4); return err }); err != nil {
			t.Fatalf("put update: %v", err)
		}
		if res != eventual.PutUpdated || id != p3.Record.ID {
			t.Errorf("put update: %v %s", res, id)
		}
		r, v = readAll(t, s, order, id, key, []any{"O-3"})
		if v != ver {
			t.Errorf("put update returned version %d, read %d", ver, v)
		}
		add("order-put-update-nulls", r)
		// and back to full values
		p5 := &eventual.Put{Record: &eventual.Record{Table: order, ID: uuid.New(), Values: full("O-3")}, Key: key, Set: set2}
		if err := s.UpdateStatement(ctx, func(tx eventual.Tx) error { var err error; res, id, ver, err = tx.Put(ctx, p5); return err }); err != nil {
			t.Fatalf("put update 2: %v", err)
		}
		r, _ = readAll(t, s, order, id, key, []any{"O-3"})
		add("order-put-update-full", r)
		// selected columns only
		var part *eventual.Record
		if err := s.ViewStatement(ctx, func(tx eventual.ReadTx) error {
			var err error
			part, err = tx.GetByKey(ctx, key, []any{"O-1"}, []*eventual.Column{order.Column("new_weight"), order.Column("new_customer")})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		add("order-partial", render(part.Values))
	}
}
