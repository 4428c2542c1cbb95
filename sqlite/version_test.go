package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/google/uuid"
)

// TestVersionsNeverReused: commits do not write the version counter, so
// the highest version is read back from the tables on open. A version no
// row keeps (the top record of a table without change tracking deleted;
// a table the schema dropped) must still never be handed out again, and
// the change token must follow every commit.
func TestVersionsNeverReused(t *testing.T) {
	ctx := context.Background()
	defs := metadata.BuiltinTables()
	defs = append(defs, eventual.TableDef{LogicalName: "new_note", SchemaName: "new_Note", EntitySetName: "new_notes",
		DisplayName: "Note", DisplayCollectionName: "Notes", PrimaryNameAttribute: "new_name", ObjectTypeCode: 10001, IsCustom: true,
		Columns: []eventual.ColumnDef{{LogicalName: "new_name", SchemaName: "new_Name", DisplayName: "Name", Type: eventual.TypeString, MaxLength: 100}}})
	full, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "v.db")
	open := func(s *eventual.Schema) *sqlite.DB {
		t.Helper()
		db, err := sqlite.Open(ctx, path, s, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	insert := func(db *sqlite.DB, table string) *eventual.Record {
		t.Helper()
		rec := &eventual.Record{Table: db.Schema().Table(table), ID: uuid.New(), Values: eventual.Values{}}
		if err := db.Update(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, rec) }); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	token := func(db *sqlite.DB) string {
		t.Helper()
		var tok string
		if err := db.View(ctx, func(tx eventual.ReadTx) error {
			var err error
			tok, err = tx.ChangeToken(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return tok
	}

	db := open(full)
	insert(db, "account")
	note := insert(db, "new_note")
	if got, want := token(db), note.Version; got != itoa(want) {
		t.Errorf("change token %s after the last commit, want its version %d", got, want)
	}
	if err := db.Update(ctx, func(tx eventual.Tx) error { return tx.Delete(ctx, full.Table("new_note"), note.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(full)
	if rec := insert(db, "account"); rec.Version <= note.Version {
		t.Errorf("after the top record (version %d) of an untracked table was deleted and the file reopened, a new record got version %d", note.Version, rec.Version)
	}
	top := insert(db, "new_note")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The schema drops new_note; its rows stay in the file.
	db = open(builtinSchema(t))
	defer db.Close()
	if rec := insert(db, "account"); rec.Version <= top.Version {
		t.Errorf("with the table holding version %d dropped from the schema, a new record got version %d", top.Version, rec.Version)
	}
	if got := token(db); got == "" || got == "0" {
		t.Errorf("change token %q", got)
	}
}

func itoa(v int64) string {
	var b []byte
	if v == 0 {
		return "0"
	}
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}
