package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
)

// sqlColumn is one SQL column of a table with its declared type.
type sqlColumn struct {
	name, typ string
}

// sqlColumns returns the SQL columns of a table, in order: primary key,
// versionnumber, then the others (a customer lookup has an extra type
// column).
func sqlColumns(t *eventual.Table) []sqlColumn {
	d := dialect{}
	out := []sqlColumn{{t.PrimaryIDAttribute, "TEXT"}, {"versionnumber", "INTEGER"}}
	for _, c := range t.Columns {
		if c.LogicalName == t.PrimaryIDAttribute || c.LogicalName == "versionnumber" {
			continue
		}
		out = append(out, sqlColumn{c.LogicalName, d.ColumnType(c)})
		if c.Type == eventual.TypeCustomer {
			out = append(out, sqlColumn{sqlbuild.TypeColumn(c), "TEXT"})
		}
	}
	return out
}

func migrateSchema(ctx context.Context, conn *sql.Conn, s *eventual.Schema) error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS eventual_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + sqlstore.DeletedTable + ` (tablename TEXT NOT NULL, id TEXT NOT NULL, versionnumber INTEGER NOT NULL,
			deletedon TEXT NOT NULL, PRIMARY KEY (tablename, id)) WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS ix_eventual_deleted_version ON ` + sqlstore.DeletedTable + ` (tablename, versionnumber)`,
		`CREATE INDEX IF NOT EXISTS ix_eventual_deleted_on ON ` + sqlstore.DeletedTable + ` (deletedon)`,
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create system tables: %w", err)
		}
	}
	for _, t := range s.Tables() {
		if err := migrateTable(ctx, conn, t); err != nil {
			return fmt.Errorf("table %s: %w", t.LogicalName, err)
		}
	}
	return nil
}

func migrateTable(ctx context.Context, conn *sql.Conn, t *eventual.Table) error {
	existing, err := tableColumns(ctx, conn, t.LogicalName)
	if err != nil {
		return err
	}
	cols := sqlColumns(t)
	q := sqlbuild.Quote
	if len(existing) == 0 {
		// WITHOUT ROWID clusters rows on the primary key: lookups by id
		// need one B-tree, and scans in key order (the default order and the
		// tie-break of every keyset page) are sequential. New ids are
		// time-ordered, so inserts append.
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = q(c.name) + " " + c.typ
		}
		defs[0] += " PRIMARY KEY NOT NULL"
		defs[1] += " NOT NULL"
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+q(t.LogicalName)+" ("+strings.Join(defs, ", ")+") WITHOUT ROWID"); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	} else {
		for _, c := range cols {
			typ, ok := existing[c.name]
			if !ok {
				if _, err := conn.ExecContext(ctx, "ALTER TABLE "+q(t.LogicalName)+" ADD COLUMN "+q(c.name)+" "+c.typ); err != nil {
					return fmt.Errorf("add column %s: %w", c.name, err)
				}
				continue
			}
			// PRAGMA table_info reports the type without its collation.
			if want, _, _ := strings.Cut(c.typ, " "); !strings.EqualFold(typ, want) {
				return fmt.Errorf("column %s is stored as %q but the schema needs %q; changing a column's type is not supported (add a new column instead)", c.name, typ, c.typ)
			}
		}
	}
	return migrateIndexes(ctx, conn, t)
}

// tableColumns returns the declared types of a table's columns, by name,
// or an empty map if the table does not exist.
func tableColumns(ctx context.Context, conn *sql.Conn, table string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		out[name] = typ
	}
	return out, rows.Err()
}

// migrateIndexes makes the table's indexes match the schema: a unique index
// per alternate key ("ak_<table>_<key>") on the key's columns, text folded
// by eventual_fold, an index on versionnumber and one per lookup column.
// Alternate-key indexes the schema no longer declares are dropped, so they
// stop enforcing uniqueness; an index built another way (on other columns,
// or by the NOCASE collation of earlier versions, which folds only ASCII)
// is rebuilt, after a check that no two records collide under the rule.
func migrateIndexes(ctx context.Context, conn *sql.Conn, t *eventual.Table) error {
	q := sqlbuild.Quote
	existing := map[string]string{}
	rows, err := conn.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name LIKE 'ak\\_%' ESCAPE '\\'", t.LogicalName)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	for rows.Next() {
		var n string
		var def sql.NullString
		if err := rows.Scan(&n, &def); err != nil {
			rows.Close()
			return err
		}
		existing[n] = def.String
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	want := map[string]string{}
	for _, k := range t.Keys {
		want[keyIndexName(t, k)] = keyIndexSQL(t, k)
	}
	for name, def := range existing {
		if want[name] == def {
			delete(want, name)
			continue
		}
		if _, err := conn.ExecContext(ctx, "DROP INDEX "+q(name)); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	for _, k := range t.Keys {
		def, ok := want[keyIndexName(t, k)]
		if !ok {
			continue
		}
		if err := sqlstore.CheckKeyCollisions(ctx, conn, dialect{}, k); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("alternate key %s cannot be activated: existing rows have duplicate values for (%s): %w",
				k.LogicalName, strings.Join(k.ColumnNames(), ", "), err)
		}
	}
	name := "ix_" + t.LogicalName + "_versionnumber"
	if _, err := conn.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+q(name)+" ON "+q(t.LogicalName)+" ("+q("versionnumber")+")"); err != nil {
		return fmt.Errorf("create index %s: %w", name, err)
	}
	// Lookups are indexed for expansion, $filter and unlinking. Empty
	// lookups are the common case and never searched for by value, so
	// the indexes leave them out (partial indexes); "lookup = ?" implies
	// "lookup IS NOT NULL", so SQLite still uses them. The user stamps
	// (createdby, modifiedby, ownerid) hold a value on every row, so an
	// index would cost every write for a rare search: they have none.
	for _, c := range t.Columns {
		if !c.Type.IsLookup() || c.Stamp {
			continue
		}
		name := "ix_" + t.LogicalName + "_" + c.LogicalName
		if _, err := conn.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+q(name)+" ON "+q(t.LogicalName)+" ("+q(c.LogicalName)+") WHERE "+q(c.LogicalName)+" IS NOT NULL"); err != nil {
			return fmt.Errorf("create index %s: %w", name, err)
		}
	}
	return nil
}

func keyIndexName(t *eventual.Table, k *eventual.Key) string {
	return "ak_" + t.LogicalName + "_" + k.LogicalName
}

// keyIndexSQL is the statement that creates the unique index of an
// alternate key. Migrations compare it with the stored statement to find
// indexes built another way.
func keyIndexSQL(t *eventual.Table, k *eventual.Key) string {
	q := sqlbuild.Quote
	return "CREATE UNIQUE INDEX " + q(keyIndexName(t, k)) + " ON " + q(t.LogicalName) + " (" + sqlstore.KeyIndexColumns(dialect{}, k) + ")"
}
