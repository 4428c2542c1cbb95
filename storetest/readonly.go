package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// The checks in this file are the parts of the SQL stores' read-only
// tests that do not depend on the store: each adapter's test prepares
// what to open (a file, a PostgreSQL schema) and checks what it alone
// can see (files left unchanged, tables not created).

// ExtendedSchema is the built-in schema with a new integer column
// new_tier on account and a new table new_project: a schema that a
// database created for the built-in one is behind.
func ExtendedSchema(tb testing.TB) *eventual.Schema {
	tb.Helper()
	defs := metadata.BuiltinTables()
	for i := range defs {
		if defs[i].LogicalName == "account" {
			defs[i].Columns = append(defs[i].Columns, eventual.ColumnDef{LogicalName: "new_tier", Type: eventual.TypeInteger})
		}
	}
	defs = append(defs, eventual.TableDef{LogicalName: "new_project", PrimaryNameAttribute: "new_name",
		Columns: []eventual.ColumnDef{{LogicalName: "new_name", Type: eventual.TypeString}}})
	s, err := eventual.NewSchema(defs)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// OpenRefused calls open, a read-only open that must fail, and checks
// that it did: if it succeeds the store is closed and the test fails at
// once; otherwise the error is logged, must contain each of want, and is
// returned for the adapter's own checks.
func OpenRefused(t *testing.T, open func() (eventual.Store, error), want []string) error {
	t.Helper()
	db, err := open()
	if err == nil {
		db.Close()
		t.Fatalf("read-only open succeeded, want an error containing %q", want)
	}
	t.Logf("error: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	return err
}

// InsertAccount inserts a record named name into acct (the store's
// account table) and returns its id; a failure ends the test.
func InsertAccount(tb testing.TB, db eventual.Store, acct *eventual.Table, name string) uuid.UUID {
	tb.Helper()
	id := uuid.New()
	err := db.Update(context.Background(), func(tx eventual.Tx) error {
		return tx.Insert(context.Background(), &eventual.Record{Table: acct, ID: id, Values: eventual.Values{"name": name}})
	})
	if err != nil {
		tb.Fatalf("insert account: %v", err)
	}
	return id
}

// ReadOnlyBesideWriter checks a read-only store r opened on the database
// that the writer w has open: r shares w's identity (Meta), sees the
// records of acct (the stores' account table) in seen (id to name, written by w before) and one that w
// writes now, and refuses Update with an error that is errReadOnly,
// without running its function.
func ReadOnlyBesideWriter(t *testing.T, w, r eventual.Store, acct *eventual.Table, errReadOnly error, seen map[uuid.UUID]string) {
	t.Helper()
	ctx := context.Background()
	if r.Meta() != w.Meta() {
		t.Errorf("read-only Meta = %+v, want the writer's %+v", r.Meta(), w.Meta())
	}
	want := map[uuid.UUID]string{InsertAccount(t, w, acct, "written beside the reader"): "written beside the reader"}
	for id, name := range seen {
		want[id] = name
	}
	for id, name := range want {
		err := r.View(ctx, func(tx eventual.ReadTx) error {
			rec, err := tx.Get(ctx, acct, id, nil)
			if err != nil {
				return err
			}
			if rec.Values["name"] != name {
				t.Errorf("read-only Get(%s) name = %v, want %q", id, rec.Values["name"], name)
			}
			return nil
		})
		if err != nil {
			t.Errorf("read-only View: %v", err)
		}
	}
	err := r.Update(ctx, func(eventual.Tx) error {
		t.Error("Update ran its function on a read-only store")
		return nil
	})
	if !errors.Is(err, errReadOnly) {
		t.Errorf("Update on a read-only store: %v, want %v", err, errReadOnly)
	}
}
