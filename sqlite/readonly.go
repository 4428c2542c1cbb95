package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// notExistError says that a database opened read-only is not there;
// errors.Is(err, fs.ErrNotExist) holds for it.
type notExistError struct{ path string }

func (e *notExistError) Error() string {
	return "sqlite: database " + e.path + " does not exist"
}

func (e *notExistError) Is(target error) bool { return target == fs.ErrNotExist }

// openReadOnly opens the reader pool of a read-only store on an existing
// database and checks that the database serves the schema. It creates
// nothing: SQLite opens the file with mode=ro, so a missing file stays
// missing.
func (db *DB) openReadOnly(ctx context.Context) error {
	fi, err := os.Stat(db.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &notExistError{db.path}
	}
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("sqlite: open %s: is a directory, not a database file", db.path)
	}
	if err := db.startReaders(ctx, modeReadOnly); err != nil {
		return err
	}
	r := <-db.readers
	defer func() { db.readers <- r }()
	// The first read of the file: a file that is not a SQLite database
	// fails here.
	var n int
	if err := r.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return db.notEventual(err)
	}
	if err := db.checkSchema(ctx, r.conn); err != nil {
		return err
	}
	return db.readMeta(ctx, r.conn)
}

// notEventual wraps an error of the first read, explaining it when
// SQLite found no database in the file.
func (db *DB) notEventual(err error) error {
	if e, ok := errors.AsType[*sqlite.Error](err); ok && e.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return fmt.Errorf("sqlite: %s is not an eventual database: %w", db.path, err)
	}
	return fmt.Errorf("sqlite: read %s: %w", db.path, err)
}

// maxListed bounds the missing tables and columns an error lists.
const maxListed = 8

// checkSchema fails unless the database has the system tables and every
// table and column of the schema: a read-only store cannot add them, and
// a query would fail on the first one missing.
func (db *DB) checkSchema(ctx context.Context, conn *sql.Conn) error {
	for _, system := range []string{"eventual_meta", sqlstore.DeletedTable} {
		cols, err := tableColumns(ctx, conn, system)
		if err != nil {
			return fmt.Errorf("sqlite: read %s: %w", db.path, err)
		}
		if len(cols) == 0 {
			return fmt.Errorf("sqlite: %s is not an eventual database (it has no %s table)", db.path, system)
		}
	}
	var missing []string
	for _, t := range db.schema.Tables() {
		have, err := tableColumns(ctx, conn, t.LogicalName)
		if err != nil {
			return fmt.Errorf("sqlite: read %s: %w", db.path, err)
		}
		if len(have) == 0 {
			missing = append(missing, "table "+t.LogicalName)
			continue
		}
		for _, c := range sqlColumns(t) {
			if _, ok := have[c.name]; !ok {
				missing = append(missing, "column "+t.LogicalName+"."+c.name)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("sqlite: database %s is behind the schema: it has no %s; opening it for writing (eventual serve with this schema) adds them",
		db.path, listMissing(missing))
}

// listMissing joins what is missing, at most maxListed of them.
func listMissing(missing []string) string {
	if len(missing) <= maxListed {
		return strings.Join(missing, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(missing[:maxListed], ", "), len(missing)-maxListed)
}

// readMeta reads the instance identity without writing one.
func (db *DB) readMeta(ctx context.Context, conn *sql.Conn) error {
	return sqlstore.ReadMeta(&db.meta, func(key string) (uuid.UUID, error) {
		var v string
		err := conn.QueryRowContext(ctx, "SELECT value FROM eventual_meta WHERE key = ?", key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return uuid.Nil, fmt.Errorf("sqlite: %s is not an eventual database (eventual_meta has no %s)", db.path, key)
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("sqlite: read %s: %w", db.path, err)
		}
		id, err := uuid.Parse(v)
		if err != nil {
			return id, fmt.Errorf("sqlite: read %s: %s: %w", db.path, key, err)
		}
		return id, nil
	})
}
