package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// txn is a read or read-write transaction.
type txn struct {
	db *DB
	q  querier
	w  *writer // nil for read-only transactions
}

var _ eventual.Tx = (*txn)(nil)

func allColumns(t *eventual.Table, cols []*eventual.Column) []*eventual.Column {
	if cols != nil {
		out := make([]*eventual.Column, 0, len(cols))
		for _, c := range cols {
			if c.LogicalName != t.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
				out = append(out, c)
			}
		}
		return out
	}
	out := make([]*eventual.Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if c.LogicalName != t.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
			out = append(out, c)
		}
	}
	return out
}

func selectList(t *eventual.Table, cols []*eventual.Column) string {
	list := append([]string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}, sqlbuild.ColumnList(cols, "")...)
	return strings.Join(list, ", ")
}

// scanRecords reads rows laid out as id, versionnumber, columns, then
// extra trailing values (sort keys), which it returns per row.
func (tx *txn) scanRecords(rows *sql.Rows, t *eventual.Table, cols []*eventual.Column, extra int) ([]*eventual.Record, [][]any, error) {
	defer rows.Close()
	width := 2 + sqlbuild.Width(cols)
	var recs []*eventual.Record
	var extras [][]any
	for rows.Next() {
		raw := make([]any, width+extra)
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, fmt.Errorf("sqlite: scan %s: %w", t.LogicalName, err)
		}
		rec, err := tx.decode(t, cols, raw[:width])
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, rec)
		if extra > 0 {
			extras = append(extras, raw[width:])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: read %s: %w", t.LogicalName, err)
	}
	return recs, extras, nil
}

func (tx *txn) decode(t *eventual.Table, cols []*eventual.Column, raw []any) (*eventual.Record, error) {
	d := dialect{}
	idv, err := d.Decode(t.PrimaryKey(), raw[0])
	if err != nil {
		return nil, err
	}
	ver, _ := raw[1].(int64)
	vals, err := sqlbuild.DecodeRow(d, tx.db.schema, cols, raw[2:])
	if err != nil {
		return nil, fmt.Errorf("sqlite: decode %s: %w", t.LogicalName, err)
	}
	return &eventual.Record{Table: t, ID: idv.(uuid.UUID), Version: ver, Values: vals}, nil
}

func (tx *txn) Get(ctx context.Context, t *eventual.Table, id uuid.UUID, columns []*eventual.Column) (*eventual.Record, error) {
	cols := allColumns(t, columns)
	text := "SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = ?"
	rows, err := tx.q.query(ctx, text, id.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s: %w", t.LogicalName, err)
	}
	recs, _, err := tx.scanRecords(rows, t, cols, 0)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, eventual.ErrNotFound
	}
	return recs[0], nil
}

func (tx *txn) GetByKey(ctx context.Context, key *eventual.Key, values []any, columns []*eventual.Column) (*eventual.Record, error) {
	t := key.Table()
	if len(values) != len(key.Columns) {
		return nil, fmt.Errorf("sqlite: key %s has %d columns, got %d values", key.LogicalName, len(key.Columns), len(values))
	}
	cols := allColumns(t, columns)
	conds := make([]string, len(key.Columns))
	args := make([]any, len(key.Columns))
	d := dialect{}
	for i, c := range key.Columns {
		if values[i] == nil {
			conds[i] = sqlbuild.Quote(c.LogicalName) + " IS NULL"
			continue
		}
		v, err := d.Encode(c, values[i])
		if err != nil {
			return nil, fmt.Errorf("sqlite: key %s: %w", key.LogicalName, err)
		}
		conds[i] = sqlbuild.Quote(c.LogicalName) + " = ?"
		args[i] = v
	}
	args = slices.DeleteFunc(args, func(a any) bool { return a == nil })
	text := "SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1"
	rows, err := tx.q.query(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s by key: %w", t.LogicalName, err)
	}
	recs, _, err := tx.scanRecords(rows, t, cols, 0)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, eventual.ErrNotFound
	}
	return recs[0], nil
}

func (tx *txn) Query(ctx context.Context, q *eventual.Query) ([]*eventual.Record, error) {
	b := sqlbuild.New(dialect{})
	cq := *q
	cq.Columns = allColumns(q.Table, q.Columns)
	extra, err := b.Select(&cq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query %s: %w", q.Table.LogicalName, err)
	}
	rows, err := tx.q.query(ctx, b.String(), b.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query %s: %w", q.Table.LogicalName, err)
	}
	recs, extras, err := tx.scanRecords(rows, q.Table, cq.Columns, extra)
	if err != nil {
		return nil, err
	}
	// Sort keys of the last row let the caller continue after it.
	for i, rec := range recs {
		if extra > 0 {
			keys, err := tx.decodeSortKeys(q, extras[i])
			if err != nil {
				return nil, err
			}
			rec.SortKey = keys
		}
	}
	return recs, nil
}

func (tx *txn) decodeSortKeys(q *eventual.Query, raw []any) ([]any, error) {
	out := make([]any, len(q.OrderBy))
	for i, o := range q.OrderBy {
		if o.Column.Type.IsLookup() {
			switch v := raw[i].(type) {
			case nil:
			case string:
				out[i] = v
			case []byte:
				out[i] = string(v)
			default:
				return nil, fmt.Errorf("sqlite: unexpected sort key %T", v)
			}
			continue
		}
		v, err := dialect{}.Decode(o.Column, raw[i])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (tx *txn) Count(ctx context.Context, t *eventual.Table, filter eventual.Expr, limit int) (int64, error) {
	b := sqlbuild.New(dialect{})
	if err := b.Count(t, filter, limit); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", t.LogicalName, err)
	}
	rows, err := tx.q.query(ctx, b.String(), b.Args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", t.LogicalName, err)
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

func (tx *txn) writable() error {
	if tx.w == nil {
		return errors.New("sqlite: write in a read-only transaction")
	}
	return nil
}

func (tx *txn) Insert(ctx context.Context, rec *eventual.Record) error {
	if err := tx.writable(); err != nil {
		return err
	}
	t := rec.Table
	cols := allColumns(t, nil)
	names := []string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}
	names = append(names, sqlbuild.ColumnList(cols, "")...)
	version := tx.w.nextVersion()
	args := []any{rec.ID.String(), version}
	d := dialect{}
	for _, c := range cols {
		vals, err := sqlbuild.EncodeValue(d, c, rec.Values[c.LogicalName])
		if err != nil {
			return fmt.Errorf("sqlite: insert %s: %w", t.LogicalName, err)
		}
		args = append(args, vals...)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	text := "INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + strings.Join(names, ", ") + ") VALUES (" + marks + ")"
	if _, err := tx.q.exec(ctx, text, args...); err != nil {
		return tx.writeError(t, "insert", err)
	}
	rec.Version = version
	return nil
}

func (tx *txn) Update(ctx context.Context, t *eventual.Table, id uuid.UUID, values eventual.Values) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	version := tx.w.nextVersion()
	sets := []string{sqlbuild.Quote("versionnumber") + " = ?"}
	args := []any{version}
	d := dialect{}
	// Deterministic column order keeps the statement cache small.
	for _, c := range t.Columns {
		v, ok := values[c.LogicalName]
		if !ok || c.LogicalName == t.PrimaryIDAttribute || c.LogicalName == "versionnumber" {
			continue
		}
		vals, err := sqlbuild.EncodeValue(d, c, v)
		if err != nil {
			return 0, fmt.Errorf("sqlite: update %s: %w", t.LogicalName, err)
		}
		for i, name := range sqlbuild.ColumnList([]*eventual.Column{c}, "") {
			sets = append(sets, name+" = ?")
			args = append(args, vals[i])
		}
	}
	args = append(args, id.String())
	text := "UPDATE " + sqlbuild.Quote(t.LogicalName) + " SET " + strings.Join(sets, ", ") + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = ?"
	res, err := tx.q.exec(ctx, text, args...)
	if err != nil {
		return 0, tx.writeError(t, "update", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, eventual.ErrNotFound
	}
	return version, nil
}

func (tx *txn) Delete(ctx context.Context, t *eventual.Table, id uuid.UUID) error {
	if err := tx.writable(); err != nil {
		return err
	}
	res, err := tx.q.exec(ctx, "DELETE FROM "+sqlbuild.Quote(t.LogicalName)+" WHERE "+sqlbuild.Quote(t.PrimaryIDAttribute)+" = ?", id.String())
	if err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", t.LogicalName, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return eventual.ErrNotFound
	}
	return nil
}

// writeError turns constraint violations into *eventual.ConflictError.
func (tx *txn) writeError(t *eventual.Table, op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &eventual.ConflictError{Table: t}
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			// "UNIQUE constraint failed: account.accountnumber[, ...]"
			msg := se.Error()
			if i := strings.LastIndex(msg, "failed: "); i >= 0 {
				msg = msg[i+len("failed: "):]
			}
			if j := strings.Index(msg, " ("); j >= 0 {
				msg = msg[:j]
			}
			var cols []string
			for _, part := range strings.Split(msg, ",") {
				part = strings.TrimSpace(part)
				if k := strings.IndexByte(part, '.'); k >= 0 {
					part = part[k+1:]
				}
				cols = append(cols, part)
			}
			if len(cols) == 1 && cols[0] == t.PrimaryIDAttribute {
				return &eventual.ConflictError{Table: t}
			}
			return &eventual.ConflictError{Table: t, Key: t.KeyFor(cols)}
		}
	}
	return fmt.Errorf("sqlite: %s %s: %w", op, t.LogicalName, err)
}

func (tx *txn) Unlink(ctx context.Context, r *eventual.Relationship, id uuid.UUID) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	t, c := r.ReferencingTable, r.Lookup
	sets := sqlbuild.Quote(c.LogicalName) + " = NULL, " + sqlbuild.Quote("versionnumber") + " = ?"
	where := sqlbuild.Quote(c.LogicalName) + " = ?"
	if c.Type == eventual.TypeCustomer {
		sets += ", " + sqlbuild.Quote(sqlbuild.TypeColumn(c)) + " = NULL"
		where += " AND " + sqlbuild.Quote(sqlbuild.TypeColumn(c)) + " = '" + r.ReferencedTable.LogicalName + "'"
	}
	version := tx.w.nextVersion()
	res, err := tx.q.exec(ctx, "UPDATE "+sqlbuild.Quote(t.LogicalName)+" SET "+sets+" WHERE "+where, version, id.String())
	if err != nil {
		return 0, fmt.Errorf("sqlite: unlink %s: %w", r.SchemaName, err)
	}
	return res.RowsAffected()
}
