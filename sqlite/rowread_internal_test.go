package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
)

// TestReadRowStatementCache: reads of one row in more shapes than a
// connection keeps statements for still read the right rows, the cache
// stays bounded, and Close finalizes every statement: SQLite then
// checkpoints and removes the WAL, which it cannot do for a connection
// left open by a statement.
func TestReadRowStatementCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := Open(ctx, path, checkpointSchema(t), Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	acc := db.schema.Table("account")
	rec := &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "cached", "accountnumber": "RC-1", "telephone1": "555"}}
	if err := db.Update(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, rec) }); err != nil {
		t.Fatal(err)
	}
	key := acc.Keys[0]
	var cols []*eventual.Column
	for _, c := range acc.Columns {
		if c.LogicalName != "name" && c.LogicalName != acc.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
			cols = append(cols, c)
		}
	}
	name := acc.Column("name")
	var sels [][]*eventual.Column
	for i := range cols {
		for j := i + 1; j < len(cols); j++ {
			for k := j + 1; k < len(cols) && len(sels) < maxCachedStatements+100; k++ {
				sels = append(sels, []*eventual.Column{name, cols[i], cols[j], cols[k]})
			}
		}
	}
	shapes := len(sels)
	for n, sel := range sels {
		err := db.ViewStatement(ctx, func(tx eventual.ReadTx) error {
			got, err := tx.GetByKey(ctx, key, []any{"rc-1"}, sel)
			if err != nil {
				return err
			}
			if got.ID != rec.ID || got.Values["name"] != "cached" {
				return fmt.Errorf("read %v %v", got.ID, got.Values)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("shape %d: %v", n, err)
		}
	}
	if shapes <= maxCachedStatements {
		t.Fatalf("only %d shapes; the test needs more than %d", shapes, maxCachedStatements)
	}
	r := <-db.readers
	if n := len(r.rowStmts.stmts); n > maxCachedStatements {
		t.Errorf("%d cached statements, want at most %d", n, maxCachedStatements)
	}
	db.readers <- r
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the WAL is still there after Close (%v): a connection did not close", err)
	}
}

// panicValue is a parameter whose conversion panics.
type panicValue struct{}

func (panicValue) Value() (driver.Value, error) { panic("boom") }

// TestReadRowPanic: a panic while a read of one row runs on the driver's
// connection (found by a review: sql.Conn.Raw closes the connection for
// good after one) fails that statement only; the writer and the reader
// go on, and Close closes cleanly.
func TestReadRowPanic(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(ctx, path, checkpointSchema(t), Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	acc := db.schema.Table("account")
	insert := func() error {
		return db.Update(ctx, func(tx eventual.Tx) error {
			return tx.Insert(ctx, &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "p"}})
		})
	}
	if err := insert(); err != nil {
		t.Fatal(err)
	}
	var dest [1]any
	err = db.Update(ctx, func(tx eventual.Tx) error {
		_, err := tx.(*sqlstore.Tx).Q.(sqlstore.RowReader).ReadRow("SELECT ?", []any{panicValue{}}, dest[:])
		return err
	})
	if err == nil {
		t.Fatal("a write whose statement panicked succeeded")
	}
	err = db.View(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.(*sqlstore.Tx).Q.(sqlstore.RowReader).ReadRow("SELECT ?", []any{panicValue{}}, dest[:])
		return err
	})
	if err == nil {
		t.Fatal("a read whose statement panicked succeeded")
	}
	for i := range 3 {
		if err := insert(); err != nil {
			t.Fatalf("write %d after the panic: %v", i, err)
		}
	}
	var n int64
	err = db.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		n, err = tx.Count(ctx, acc, nil, 0)
		return err
	})
	if err != nil || n != 4 {
		t.Fatalf("after the panics: %d accounts, %v; want 4", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL is still there after Close (%v)", err)
	}
}
