package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
)

// Row versions. The writer hands versions out in commit order, so the
// highest version a snapshot holds is its change token: every version at
// or below it is visible, every later one is not. That highest version is
// found where it lives, in the versionnumber indexes of the tables and of
// the deletions, rather than written to a row of eventual_meta by every
// commit (one more WAL page per commit, a tenth of a small write's cost).
//
// eventual_meta's 'version' row is a floor under that maximum, for the
// versions no row keeps: it is written when a batch deletes (a record of
// a table without change tracking leaves no trace, nor does a purged
// deletion) and when the database opens, from every table the file holds
// (a table the schema dropped keeps its rows). A version is so never
// handed out twice, across restarts and crashes.

// metaVersion reads the floor.
const metaVersion = "SELECT CAST(value AS INTEGER) AS v FROM eventual_meta WHERE key = 'version'"

// tokenQuery renders the query of a snapshot's highest version over the
// tables of schema, the deletions recorded for them and the floor.
func tokenQuery(schema *eventual.Schema) string {
	parts := []string{metaVersion}
	for _, t := range schema.Tables() {
		parts = append(parts, "SELECT max("+sqlbuild.Quote("versionnumber")+") FROM "+sqlbuild.Quote(t.LogicalName))
		if t.ChangeTracking {
			parts = append(parts, "SELECT max(versionnumber) FROM "+sqlstore.DeletedTable+" WHERE tablename = '"+strings.ReplaceAll(t.LogicalName, "'", "''")+"'")
		}
	}
	return "SELECT coalesce(max(v), 0) FROM (" + strings.Join(parts, " UNION ALL ") + ")"
}

// lastVersion reads the highest version ever handed out and committed,
// over every table the file holds, and stores it as the floor. It runs
// in the open's write transaction.
func lastVersion(ctx context.Context, conn *sql.Conn) (int64, error) {
	rows, err := conn.QueryContext(ctx, `SELECT m.name FROM sqlite_master AS m WHERE m.type = 'table'
		AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) AS c WHERE c.name = 'versionnumber')`)
	if err != nil {
		return 0, err
	}
	parts := []string{metaVersion}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		parts = append(parts, "SELECT max(versionnumber) FROM "+sqlbuild.Quote(name))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var v int64
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(v), 0) FROM ("+strings.Join(parts, " UNION ALL ")+")").Scan(&v); err != nil {
		return 0, err
	}
	if err := saveVersion(ctx, conn, v); err != nil {
		return 0, err
	}
	return v, nil
}

// saveVersion raises the floor to v.
func saveVersion(ctx context.Context, q interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, v int64) error {
	_, err := q.ExecContext(ctx, "INSERT INTO eventual_meta (key, value) VALUES ('version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
		strconv.FormatInt(v, 10))
	if err != nil {
		return fmt.Errorf("save version: %w", err)
	}
	return nil
}

// tokenQuerier is a Querier that knows the query of its snapshot's
// highest version.
type tokenQuerier interface {
	tokenQuery() string
}
