package postgres

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
)

// maxIdentifier is PostgreSQL's identifier length limit in bytes.
const maxIdentifier = 63

// checkNames rejects names PostgreSQL would truncate.
func checkNames(s *eventual.Schema) error {
	for _, t := range s.Tables() {
		if len(t.LogicalName) > maxIdentifier {
			return fmt.Errorf("postgres: table name %q is longer than PostgreSQL's %d-byte identifier limit", t.LogicalName, maxIdentifier)
		}
		for _, c := range t.Columns {
			if len(sqlbuild.TypeColumn(c)) > maxIdentifier {
				return fmt.Errorf("postgres: column name %s.%s is too long for PostgreSQL's %d-byte identifier limit", t.LogicalName, c.LogicalName, maxIdentifier)
			}
		}
	}
	return nil
}

// keyIndexName names the unique index of an alternate key. A hash of the
// table, key and columns keeps it within PostgreSQL's identifier limit
// and changes when the key's columns change.
func keyIndexName(t *eventual.Table, k *eventual.Key) string {
	h := sha1.Sum([]byte(t.LogicalName + "\x00" + k.LogicalName + "\x00" + strings.Join(k.ColumnNames(), ",")))
	prefix := t.LogicalName
	if len(prefix) > 30 {
		prefix = prefix[:30]
	}
	return "ak_" + prefix + "_" + hex.EncodeToString(h[:8])
}

func indexName(t *eventual.Table, suffix string) string {
	name := "ix_" + t.LogicalName + "_" + suffix
	if len(name) <= maxIdentifier {
		return name
	}
	h := sha1.Sum([]byte(name))
	return name[:40] + "_" + hex.EncodeToString(h[:8])
}

// migrationLock is the advisory lock key that serializes migrations of
// servers starting together.
const migrationLock = 0x6576656e74 // "event"

func (db *DB) migrate(ctx context.Context, searchPath string) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	// The schema is created under the name PostgreSQL reads from the
	// search_path (unquoted names fold to lower case), so the migration
	// writes into the schema the connection then uses.
	first := firstSchema(searchPath)
	if first != "" {
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqlbuild.Quote(first)); err != nil {
			return fmt.Errorf("postgres: create schema %s: %w", first, err)
		}
	}
	var current sql.NullString
	if err := tx.QueryRowContext(ctx, "SELECT current_schema()").Scan(&current); err != nil || !current.Valid {
		return errNoSchema
	}
	if first != "" && current.String != first {
		return fmt.Errorf("postgres: the search_path selects schema %q, but the connection uses %q (does this user have the USAGE and CREATE privileges on it?)", first, current.String)
	}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS eventual_meta (key text PRIMARY KEY, value text NOT NULL)`,
		`CREATE SEQUENCE IF NOT EXISTS eventual_version`,
		`CREATE TABLE IF NOT EXISTS ` + sqlstore.DeletedTable + ` (tablename text NOT NULL, id uuid NOT NULL, versionnumber bigint NOT NULL,
			deletedon timestamp with time zone NOT NULL, ` + xidColumn + ` xid8 NOT NULL DEFAULT pg_current_xact_id(), PRIMARY KEY (tablename, id))`,
		`CREATE INDEX IF NOT EXISTS ix_eventual_deleted_xid ON ` + sqlstore.DeletedTable + ` (tablename, ` + xidColumn + `)`,
		`CREATE INDEX IF NOT EXISTS ix_eventual_deleted_on ON ` + sqlstore.DeletedTable + ` (deletedon)`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	rebuildKeys, err := migrateFold(ctx, tx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, t := range db.schema.Tables() {
		if err := migrateTable(ctx, tx, t, rebuildKeys); err != nil {
			return fmt.Errorf("postgres: migrate table %s: %w", t.LogicalName, err)
		}
	}
	if err := db.loadMeta(ctx, tx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// sqlColumn is one SQL column with its declared type and the type
// information_schema reports for it.
type sqlColumn struct {
	name, typ, reported string
}

var reported = map[string]string{
	`text COLLATE "C"`: "text", "integer": "integer", "bigint": "bigint", "double precision": "double precision",
	"boolean": "boolean", "timestamp with time zone": "timestamp with time zone", "uuid": "uuid", "text": "text",
}

func sqlColumns(t *eventual.Table) []sqlColumn {
	d := dialect{}
	out := []sqlColumn{{t.PrimaryIDAttribute, "uuid", "uuid"}, {"versionnumber", "bigint", "bigint"},
		// The transaction that last wrote the row, for change tracking.
		{xidColumn, "xid8 NOT NULL DEFAULT pg_current_xact_id()", "xid8"}}
	for _, c := range t.Columns {
		if c.LogicalName == t.PrimaryIDAttribute || c.LogicalName == "versionnumber" {
			continue
		}
		typ := d.ColumnType(c)
		out = append(out, sqlColumn{c.LogicalName, typ, reported[typ]})
		if c.Type == eventual.TypeCustomer {
			out = append(out, sqlColumn{sqlbuild.TypeColumn(c), "text", "text"})
		}
	}
	return out
}

func migrateTable(ctx context.Context, tx *sql.Tx, t *eventual.Table, rebuildKeys bool) error {
	q := sqlbuild.Quote
	rows, err := tx.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, t.LogicalName)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	existing := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		existing[name] = typ
	}
	rows.Close()
	cols := sqlColumns(t)
	if len(existing) == 0 {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = q(c.name) + " " + c.typ
		}
		defs[0] += " PRIMARY KEY"
		defs[1] += " NOT NULL"
		if _, err := tx.ExecContext(ctx, "CREATE TABLE "+q(t.LogicalName)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	} else {
		for _, c := range cols {
			typ, ok := existing[c.name]
			if !ok {
				if _, err := tx.ExecContext(ctx, "ALTER TABLE "+q(t.LogicalName)+" ADD COLUMN "+q(c.name)+" "+c.typ); err != nil {
					return fmt.Errorf("add column %s: %w", c.name, err)
				}
				continue
			}
			if typ != c.reported {
				return fmt.Errorf("column %s is stored as %q but the schema needs %q; changing a column's type is not supported (add a new column instead)", c.name, typ, c.reported)
			}
		}
	}
	return migrateIndexes(ctx, tx, t, rebuildKeys)
}

// migrateIndexes makes the table's indexes match the schema: a unique
// index per alternate key on its columns, text folded by eventual_fold, an
// index on versionnumber and on the writing transaction, and one per lookup.
// Key indexes the schema no longer declares are dropped. A key index is
// rebuilt when the fold function's body changed (rebuildKeys) or it was
// built another way (by lower(), as earlier versions did, which folds only
// ASCII in the "C" collation), after a check that no two records collide
// under the rule.
func migrateIndexes(ctx context.Context, tx *sql.Tx, t *eventual.Table, rebuildKeys bool) error {
	q := sqlbuild.Quote
	rows, err := tx.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname LIKE 'ak\_%'`, t.LogicalName)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	have := map[string]string{}
	for rows.Next() {
		var n, def string
		if err := rows.Scan(&n, &def); err != nil {
			rows.Close()
			return err
		}
		have[n] = def
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	want := map[string]*eventual.Key{}
	for _, k := range t.Keys {
		want[keyIndexName(t, k)] = k
	}
	for name, def := range have {
		k := want[name]
		if k != nil && !rebuildKeys && foldsText(k, def) {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+q(name)); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
		delete(have, name)
	}
	for _, k := range t.Keys {
		name := keyIndexName(t, k)
		if _, ok := have[name]; ok {
			continue
		}
		if err := sqlstore.CheckKeyCollisions(ctx, tx, dialect{}, k); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "CREATE UNIQUE INDEX "+q(name)+" ON "+q(t.LogicalName)+" ("+sqlstore.KeyIndexColumns(dialect{}, k)+")"); err != nil {
			return fmt.Errorf("alternate key %s cannot be activated: existing rows have duplicate values for (%s): %w",
				k.LogicalName, strings.Join(k.ColumnNames(), ", "), err)
		}
	}
	stmts := []string{
		"CREATE INDEX IF NOT EXISTS " + q(indexName(t, "versionnumber")) + " ON " + q(t.LogicalName) + " (" + q("versionnumber") + ")",
		"CREATE INDEX IF NOT EXISTS " + q(indexName(t, xidColumn)) + " ON " + q(t.LogicalName) + " (" + q(xidColumn) + ")",
	}
	for _, c := range t.Columns {
		if c.Type.IsLookup() && !c.Stamp { // the user stamps have none: see sqlite's migrate
			stmts = append(stmts, "CREATE INDEX IF NOT EXISTS "+q(indexName(t, c.LogicalName))+" ON "+q(t.LogicalName)+" ("+q(c.LogicalName)+") WHERE "+q(c.LogicalName)+" IS NOT NULL")
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	return nil
}

// foldsText reports whether an index definition (pg_indexes.indexdef) of
// key k folds its text columns with the fold function.
func foldsText(k *eventual.Key, def string) bool {
	for _, c := range k.Columns {
		if c.Type.IsText() {
			return strings.Contains(def, foldFunction+"(")
		}
	}
	return true
}
