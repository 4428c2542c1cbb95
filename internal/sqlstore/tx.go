package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

// Querier runs the statements of one transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Dialect is what a transaction needs to know of its database.
type Dialect interface {
	sqlbuild.Dialect
	// Conflict turns a unique-constraint violation on table t into a
	// *eventual.ConflictError; it reports false for other errors.
	Conflict(t *eventual.Table, err error) (*eventual.ConflictError, bool)
	// ChangeToken returns the change-tracking position of the snapshot of
	// the transaction q runs in.
	ChangeToken(ctx context.Context, q Querier) (string, error)
	// ChangedBetween renders the condition "the row (of the table aliased
	// alias, or unqualified) was last written after position since and at
	// or before position until" (either may be empty: no bound), or returns
	// eventual.ErrBadToken.
	ChangedBetween(b *sqlbuild.Builder, alias, since, until string) (string, error)
	// WriteMarker is an extra "column = expression" assignment that every
	// UPDATE makes (PostgreSQL records the writing transaction), or "".
	WriteMarker() string
	// Cast gives a parameter of a VALUES list the SQL type of column col
	// of table t (PostgreSQL cannot infer it), or returns it unchanged.
	Cast(expr, sqlType string) string
}

// DeletedTable is the table that records deletions of change-tracked
// records: (tablename, id, versionnumber, deletedon).
const DeletedTable = "eventual_deleted"

// Tx is an eventual.Tx over a Querier.
type Tx struct {
	// D is the database's dialect.
	D Dialect
	// Q runs the statements.
	Q Querier
	// Schema resolves lookup targets when reading.
	Schema *eventual.Schema
	// Version returns the SQL expression (and its arguments) of the next
	// row version: a parameter holding a counter, or a sequence call. Nil
	// makes the transaction read-only.
	Version func() (expr string, args []any)
	// Lock is appended to reads of single rows in write transactions
	// (" FOR UPDATE" where concurrent writers need row locks).
	Lock string
	// Conflicted is set when a write hit a unique-constraint violation; a
	// store may retry the transaction, which may have raced another writer.
	Conflicted bool
	// Now is the time of the transaction, read from the store's clock
	// when it began, so that the deletions it records agree; the zero
	// time reads time.Now at each use.
	Now time.Time
}

// now returns the time of the transaction in UTC, to the second.
func (tx *Tx) now() time.Time {
	now := tx.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.UTC().Truncate(time.Second)
}

var _ eventual.Tx = (*Tx)(nil)

// Columns returns the columns to read for a column list (nil: all), less
// the primary key and versionnumber, which every read returns first.
func Columns(t *eventual.Table, cols []*eventual.Column) []*eventual.Column {
	src := cols
	if src == nil {
		src = t.Columns
	}
	out := make([]*eventual.Column, 0, len(src))
	for _, c := range src {
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

// scan reads rows laid out as id, versionnumber, columns, then extra
// trailing values (sort keys), which it returns per row.
func (tx *Tx) scan(rows *sql.Rows, t *eventual.Table, cols []*eventual.Column, extra int) ([]*eventual.Record, [][]any, error) {
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
			return nil, nil, fmt.Errorf("scan %s: %w", t.LogicalName, err)
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
		return nil, nil, fmt.Errorf("read %s: %w", t.LogicalName, err)
	}
	return recs, extras, nil
}

func (tx *Tx) decode(t *eventual.Table, cols []*eventual.Column, raw []any) (*eventual.Record, error) {
	idv, err := tx.D.Decode(t.PrimaryKey(), raw[0])
	if err != nil {
		return nil, err
	}
	ver, ok := raw[1].(int64)
	if !ok {
		return nil, fmt.Errorf("decode %s: versionnumber is %T", t.LogicalName, raw[1])
	}
	vals, err := sqlbuild.DecodeRow(tx.D, tx.Schema, cols, raw[2:])
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", t.LogicalName, err)
	}
	return &eventual.Record{Table: t, ID: idv.(uuid.UUID), Version: ver, Values: vals}, nil
}

func (tx *Tx) lock() string {
	if tx.Version == nil {
		return ""
	}
	return tx.Lock
}

// one runs a single-row read.
func (tx *Tx) one(ctx context.Context, t *eventual.Table, cols []*eventual.Column, b *sqlbuild.Builder) (*eventual.Record, error) {
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", t.LogicalName, err)
	}
	recs, _, err := tx.scan(rows, t, cols, 0)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, eventual.ErrNotFound
	}
	return recs[0], nil
}

// Get implements eventual.ReadTx.
func (tx *Tx) Get(ctx context.Context, t *eventual.Table, id uuid.UUID, columns []*eventual.Column) (*eventual.Record, error) {
	cols := Columns(t, columns)
	b := sqlbuild.New(tx.D)
	pk, err := tx.D.Encode(t.PrimaryKey(), id)
	if err != nil {
		return nil, err
	}
	b.Write("SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = " + b.Arg(pk) + tx.lock())
	return tx.one(ctx, t, cols, b)
}

// GetByKey implements eventual.ReadTx.
func (tx *Tx) GetByKey(ctx context.Context, key *eventual.Key, values []any, columns []*eventual.Column) (*eventual.Record, error) {
	t := key.Table()
	if len(values) != len(key.Columns) {
		return nil, fmt.Errorf("key %s has %d columns, got %d values", key.LogicalName, len(key.Columns), len(values))
	}
	cols := Columns(t, columns)
	b := sqlbuild.New(tx.D)
	conds := make([]string, len(key.Columns))
	for i, c := range key.Columns {
		col := sqlbuild.Quote(c.LogicalName)
		if values[i] == nil {
			conds[i] = col + " IS NULL"
			continue
		}
		v, err := tx.D.Encode(c, values[i])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", key.LogicalName, err)
		}
		if c.Type.IsText() {
			conds[i] = tx.D.Text(col) + " = " + b.TextArg(v)
		} else {
			conds[i] = col + " = " + b.Arg(v)
		}
	}
	b.Write("SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1" + tx.lock())
	return tx.one(ctx, t, cols, b)
}

// Query implements eventual.ReadTx.
func (tx *Tx) Query(ctx context.Context, q *eventual.Query) ([]*eventual.Record, error) {
	b := sqlbuild.New(tx.D)
	cq := *q
	cq.Columns = Columns(q.Table, q.Columns)
	extra, err := b.Select(&cq)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q.Table.LogicalName, err)
	}
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q.Table.LogicalName, err)
	}
	recs, extras, err := tx.scan(rows, q.Table, cq.Columns, extra)
	if err != nil {
		return nil, err
	}
	for i, rec := range recs {
		if extra == 0 {
			break
		}
		keys, err := tx.sortKeys(q, extras[i])
		if err != nil {
			return nil, err
		}
		rec.SortKey = keys
	}
	return recs, nil
}

// sortKeys decodes the sort-key values of a row. Lookups sort by the
// referenced primary name, a string.
func (tx *Tx) sortKeys(q *eventual.Query, raw []any) ([]any, error) {
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
				return nil, fmt.Errorf("unexpected sort key %T", v)
			}
			continue
		}
		v, err := tx.D.Decode(o.Column, raw[i])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Count implements eventual.ReadTx.
func (tx *Tx) Count(ctx context.Context, t *eventual.Table, filter eventual.Expr, limit int) (int64, error) {
	b := sqlbuild.New(tx.D)
	if err := b.Count(t, filter, limit); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.LogicalName, err)
	}
	var n int64
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", t.LogicalName, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

func (tx *Tx) writable() error {
	if tx.Version == nil {
		return errors.New("write in a read-only transaction")
	}
	return nil
}

// returningVersion runs a write that returns the new versionnumber of the
// row it wrote; no row means ErrNotFound.
func (tx *Tx) returningVersion(ctx context.Context, t *eventual.Table, op string, b *sqlbuild.Builder) (int64, error) {
	rows, err := tx.Q.QueryContext(ctx, b.String()+" RETURNING "+sqlbuild.Quote("versionnumber"), b.Args...)
	if err != nil {
		return 0, tx.writeError(t, op, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, tx.writeError(t, op, err)
		}
		return 0, eventual.ErrNotFound
	}
	var v int64
	if err := rows.Scan(&v); err != nil {
		return 0, fmt.Errorf("%s %s: %w", op, t.LogicalName, err)
	}
	if err := rows.Close(); err != nil {
		return 0, tx.writeError(t, op, err)
	}
	return v, nil
}

// Insert implements eventual.Tx.
func (tx *Tx) Insert(ctx context.Context, rec *eventual.Record) error {
	if err := tx.writable(); err != nil {
		return err
	}
	t := rec.Table
	cols := Columns(t, nil)
	b := sqlbuild.New(tx.D)
	names := append([]string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}, sqlbuild.ColumnList(cols, "")...)
	marks, err := tx.rowMarks(b, rec, cols)
	if err != nil {
		return err
	}
	b.Write("INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")")
	v, err := tx.returningVersion(ctx, t, "insert", b)
	if err != nil {
		return err
	}
	rec.Version = v
	return nil
}

func (tx *Tx) versionSQL(b *sqlbuild.Builder) string {
	expr, args := tx.Version()
	for _, a := range args {
		b.Args = append(b.Args, a)
		expr = strings.Replace(expr, "?", b.D.Placeholder(len(b.Args)), 1)
	}
	return expr
}

// Update implements eventual.Tx.
func (tx *Tx) Update(ctx context.Context, t *eventual.Table, id uuid.UUID, values eventual.Values) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	b := sqlbuild.New(tx.D)
	sets := []string{sqlbuild.Quote("versionnumber") + " = " + tx.versionSQL(b)}
	if m := tx.D.WriteMarker(); m != "" {
		sets = append(sets, m)
	}
	// Columns in schema order keep the set of statement texts small.
	for _, c := range t.Columns {
		v, ok := values[c.LogicalName]
		if !ok || c.LogicalName == t.PrimaryIDAttribute || c.LogicalName == "versionnumber" {
			continue
		}
		vals, err := sqlbuild.EncodeValue(tx.D, c, v)
		if err != nil {
			return 0, fmt.Errorf("update %s: %w", t.LogicalName, err)
		}
		for i, name := range sqlbuild.ColumnList([]*eventual.Column{c}, "") {
			sets = append(sets, name+" = "+b.Arg(vals[i]))
		}
	}
	pk, err := tx.D.Encode(t.PrimaryKey(), id)
	if err != nil {
		return 0, err
	}
	b.Write("UPDATE " + sqlbuild.Quote(t.LogicalName) + " SET " + strings.Join(sets, ", ") + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = " + b.Arg(pk))
	return tx.returningVersion(ctx, t, "update", b)
}

// Delete implements eventual.Tx.
func (tx *Tx) Delete(ctx context.Context, t *eventual.Table, id uuid.UUID) error {
	if err := tx.writable(); err != nil {
		return err
	}
	b := sqlbuild.New(tx.D)
	pk, err := tx.D.Encode(t.PrimaryKey(), id)
	if err != nil {
		return err
	}
	b.Write("DELETE FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = " + b.Arg(pk))
	res, err := tx.Q.ExecContext(ctx, b.String(), b.Args...)
	if err != nil {
		return fmt.Errorf("delete %s: %w", t.LogicalName, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return eventual.ErrNotFound
	}
	if !t.ChangeTracking {
		return nil
	}
	// Record the deletion for change tracking. A record deleted, created
	// again with the same id and deleted again keeps one entry.
	b = sqlbuild.New(tx.D)
	deletedOn, err := tx.D.Encode(&eventual.Column{Type: eventual.TypeDateTime}, tx.now())
	if err != nil {
		return err
	}
	vals := []string{b.Arg(t.LogicalName), b.Arg(pk), tx.versionSQL(b), b.Arg(deletedOn)}
	update := "versionnumber = excluded.versionnumber, deletedon = excluded.deletedon"
	if m := tx.D.WriteMarker(); m != "" {
		update += ", " + m
	}
	b.Write("INSERT INTO " + DeletedTable + " (tablename, id, versionnumber, deletedon) VALUES (" + strings.Join(vals, ", ") +
		") ON CONFLICT (tablename, id) DO UPDATE SET " + update)
	if _, err := tx.Q.ExecContext(ctx, b.String(), b.Args...); err != nil {
		return fmt.Errorf("record deletion of %s: %w", t.LogicalName, err)
	}
	return nil
}

// Unlink implements eventual.Tx.
func (tx *Tx) Unlink(ctx context.Context, r *eventual.Relationship, id uuid.UUID) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	t, c := r.ReferencingTable, r.Lookup
	b := sqlbuild.New(tx.D)
	sets := sqlbuild.Quote(c.LogicalName) + " = NULL, " + sqlbuild.Quote("versionnumber") + " = " + tx.versionSQL(b)
	if m := tx.D.WriteMarker(); m != "" {
		sets += ", " + m
	}
	ref, err := tx.D.Encode(c, eventual.Ref(r.ReferencedTable, id))
	if err != nil {
		return 0, err
	}
	where := sqlbuild.Quote(c.LogicalName) + " = " + b.Arg(ref)
	if c.Type == eventual.TypeCustomer {
		sets += ", " + sqlbuild.Quote(sqlbuild.TypeColumn(c)) + " = NULL"
		where += " AND " + sqlbuild.Quote(sqlbuild.TypeColumn(c)) + " = " + b.Arg(r.ReferencedTable.LogicalName)
	}
	res, err := tx.Q.ExecContext(ctx, "UPDATE "+sqlbuild.Quote(t.LogicalName)+" SET "+sets+" WHERE "+where, b.Args...)
	if err != nil {
		return 0, fmt.Errorf("unlink %s: %w", r.SchemaName, err)
	}
	return res.RowsAffected()
}

// writeError turns unique-constraint violations into
// *eventual.ConflictError and marks the transaction as conflicted.
func (tx *Tx) writeError(t *eventual.Table, op string, err error) error {
	if ce, ok := tx.D.Conflict(t, err); ok {
		tx.Conflicted = true
		return ce
	}
	return fmt.Errorf("%s %s: %w", op, t.LogicalName, err)
}

// PurgeDeleted implements eventual.Tx.
func (tx *Tx) PurgeDeleted(ctx context.Context, before time.Time) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	b := sqlbuild.New(tx.D)
	cut, err := tx.D.Encode(&eventual.Column{Type: eventual.TypeDateTime}, before.UTC())
	if err != nil {
		return 0, err
	}
	res, err := tx.Q.ExecContext(ctx, "DELETE FROM "+DeletedTable+" WHERE deletedon < "+b.Arg(cut), b.Args...)
	if err != nil {
		return 0, fmt.Errorf("purge deletions: %w", err)
	}
	return res.RowsAffected()
}

// ChangeToken implements eventual.ReadTx.
func (tx *Tx) ChangeToken(ctx context.Context) (string, error) {
	return tx.D.ChangeToken(ctx, tx.Q)
}

// Changes implements eventual.ReadTx.
func (tx *Tx) Changes(ctx context.Context, q eventual.ChangeQuery) ([]eventual.Change, error) {
	t := q.Table
	if !t.ChangeTracking {
		return nil, fmt.Errorf("changes of %s: change tracking is off for the table", t.LogicalName)
	}
	b := sqlbuild.New(tx.D)
	pkCol := sqlbuild.Quote(t.PrimaryIDAttribute)
	limit := ""
	if q.Limit > 0 {
		limit = " LIMIT " + strconv.Itoa(q.Limit)
	}
	if !q.Deleted {
		cols := Columns(t, q.Columns)
		cond, err := tx.D.ChangedBetween(b, "", q.Since, q.Until)
		if err != nil {
			return nil, err
		}
		after, err := tx.D.Encode(t.PrimaryKey(), q.After)
		if err != nil {
			return nil, err
		}
		b.Write("SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + cond +
			" AND " + pkCol + " > " + b.Arg(after) + " ORDER BY " + pkCol + " ASC" + limit)
		rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
		if err != nil {
			return nil, fmt.Errorf("changes of %s: %w", t.LogicalName, err)
		}
		recs, _, err := tx.scan(rows, t, cols, 0)
		if err != nil {
			return nil, err
		}
		out := make([]eventual.Change, len(recs))
		for i, r := range recs {
			out[i] = eventual.Change{ID: r.ID, Record: r}
		}
		return out, nil
	}
	// Arguments are bound in text order (SQLite's markers are positional).
	tableArg := b.Arg(t.LogicalName)
	cond, err := tx.D.ChangedBetween(b, "d", q.Since, q.Until)
	if err != nil {
		return nil, err
	}
	after, err := tx.D.Encode(t.PrimaryKey(), q.After)
	if err != nil {
		return nil, err
	}
	b.Write("SELECT d.id FROM " + DeletedTable + " AS d WHERE d.tablename = " + tableArg + " AND " + cond +
		" AND d.id > " + b.Arg(after) + " AND NOT EXISTS (SELECT 1 FROM " + sqlbuild.Quote(t.LogicalName) + " AS r WHERE r." + pkCol +
		" = d.id) ORDER BY d.id ASC" + limit)
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return nil, fmt.Errorf("deletions of %s: %w", t.LogicalName, err)
	}
	defer rows.Close()
	var out []eventual.Change
	for rows.Next() {
		var raw any
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		id, err := tx.D.Decode(t.PrimaryKey(), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, eventual.Change{ID: id.(uuid.UUID), Deleted: true})
	}
	return out, rows.Err()
}

// maxParams bounds the parameters of one statement (SQLite allows 32766,
// PostgreSQL 65535).
const maxParams = 30000

// InsertMany implements eventual.Tx with multi-row INSERTs.
func (tx *Tx) InsertMany(ctx context.Context, recs []*eventual.Record) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	t := recs[0].Table
	cols := Columns(t, nil)
	names := append([]string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}, sqlbuild.ColumnList(cols, "")...)
	per := max(1, min(500, maxParams/(len(names)+1)))
	byID := make(map[uuid.UUID]*eventual.Record, len(recs))
	for start := 0; start < len(recs); start += per {
		chunk := recs[start:min(start+per, len(recs))]
		b := sqlbuild.New(tx.D)
		rows := make([]string, len(chunk))
		for i, rec := range chunk {
			if rec.Table != t {
				return fmt.Errorf("insert many: records of %s and %s mixed", t.LogicalName, rec.Table.LogicalName)
			}
			marks, err := tx.rowMarks(b, rec, cols)
			if err != nil {
				return err
			}
			rows[i] = "(" + strings.Join(marks, ", ") + ")"
			byID[rec.ID] = rec
		}
		b.Write("INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + strings.Join(names, ", ") + ") VALUES " + strings.Join(rows, ", ") +
			" RETURNING " + sqlbuild.Quote(t.PrimaryIDAttribute) + ", " + sqlbuild.Quote("versionnumber"))
		if err := tx.ReadVersions(ctx, t, "insert", b, byID, nil); err != nil {
			return err
		}
	}
	return nil
}

// ReadVersions runs a write returning (primary key, versionnumber) rows
// and stores each version on its record or update. Stores that override
// InsertMany or UpdateMany use it.
func (tx *Tx) ReadVersions(ctx context.Context, t *eventual.Table, op string, b *sqlbuild.Builder, recs map[uuid.UUID]*eventual.Record, ups map[uuid.UUID]*eventual.RowUpdate) error {
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return tx.writeError(t, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw any
		var v int64
		if err := rows.Scan(&raw, &v); err != nil {
			return fmt.Errorf("%s %s: %w", op, t.LogicalName, err)
		}
		idv, err := tx.D.Decode(t.PrimaryKey(), raw)
		if err != nil {
			return err
		}
		id := idv.(uuid.UUID)
		if r := recs[id]; r != nil {
			r.Version = v
		}
		if u := ups[id]; u != nil {
			u.Version = v
		}
	}
	if err := rows.Err(); err != nil {
		return tx.writeError(t, op, err)
	}
	if err := rows.Close(); err != nil {
		return tx.writeError(t, op, err)
	}
	return nil
}

// UpdateMany implements eventual.Tx: updates that set the same columns go
// together in UPDATE ... FROM (VALUES ...) statements.
func (tx *Tx) UpdateMany(ctx context.Context, t *eventual.Table, updates []*eventual.RowUpdate) error {
	if err := tx.writable(); err != nil {
		return err
	}
	groups := map[string][]*eventual.RowUpdate{}
	var order []string
	for _, u := range updates {
		var names []string
		for _, c := range t.Columns {
			if _, ok := u.Values[c.LogicalName]; ok && c.LogicalName != t.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
				names = append(names, c.LogicalName)
			}
		}
		k := strings.Join(names, ",")
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], u)
	}
	for _, k := range order {
		if err := tx.updateGroup(ctx, t, groups[k]); err != nil {
			return err
		}
	}
	for _, u := range updates {
		if u.Version == 0 {
			return eventual.ErrNotFound
		}
	}
	return nil
}

func (tx *Tx) updateGroup(ctx context.Context, t *eventual.Table, ups []*eventual.RowUpdate) error {
	var cols []*eventual.Column
	for _, c := range t.Columns {
		if _, ok := ups[0].Values[c.LogicalName]; ok && c.LogicalName != t.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
			cols = append(cols, c)
		}
	}
	// SQL columns of the VALUES list: column1 is the primary key, column2
	// the version, then each value (two for a customer lookup).
	sqlNames := sqlbuild.ColumnList(cols, "")
	sqlTypes := []string{tx.D.ColumnType(t.PrimaryKey()), "bigint"}
	for _, c := range cols {
		sqlTypes = append(sqlTypes, tx.D.ColumnType(c))
		if c.Type == eventual.TypeCustomer {
			sqlTypes = append(sqlTypes, "text")
		}
	}
	sets := []string{sqlbuild.Quote("versionnumber") + " = v.column2"}
	for i, name := range sqlNames {
		sets = append(sets, name+" = v.column"+strconv.Itoa(i+3))
	}
	if m := tx.D.WriteMarker(); m != "" {
		sets = append(sets, m)
	}
	per := max(1, min(500, maxParams/(len(sqlTypes)+1)))
	byID := make(map[uuid.UUID]*eventual.RowUpdate, len(ups))
	for start := 0; start < len(ups); start += per {
		chunk := ups[start:min(start+per, len(ups))]
		b := sqlbuild.New(tx.D)
		rows := make([]string, len(chunk))
		for i, u := range chunk {
			pk, err := tx.D.Encode(t.PrimaryKey(), u.ID)
			if err != nil {
				return err
			}
			marks := []string{tx.D.Cast(b.Arg(pk), sqlTypes[0]), tx.D.Cast(tx.versionSQL(b), sqlTypes[1])}
			j := 2
			for _, c := range cols {
				vals, err := sqlbuild.EncodeValue(tx.D, c, u.Values[c.LogicalName])
				if err != nil {
					return fmt.Errorf("update %s: %w", t.LogicalName, err)
				}
				for _, v := range vals {
					marks = append(marks, tx.D.Cast(b.Arg(v), sqlTypes[j]))
					j++
				}
			}
			rows[i] = "(" + strings.Join(marks, ", ") + ")"
			byID[u.ID] = u
		}
		tbl := sqlbuild.Quote(t.LogicalName)
		pkCol := sqlbuild.Quote(t.PrimaryIDAttribute)
		b.Write("UPDATE " + tbl + " SET " + strings.Join(sets, ", ") + " FROM (VALUES " + strings.Join(rows, ", ") + ") AS v WHERE " +
			tbl + "." + pkCol + " = v.column1 RETURNING " + tbl + "." + pkCol + ", " + tbl + "." + sqlbuild.Quote("versionnumber"))
		if err := tx.ReadVersions(ctx, t, "update", b, nil, byID); err != nil {
			return err
		}
	}
	return nil
}

// rowMarks binds the values of a new row (primary key, a fresh version,
// then cols) and returns their placeholders, in the order of the insert's
// column list.
func (tx *Tx) rowMarks(b *sqlbuild.Builder, rec *eventual.Record, cols []*eventual.Column) ([]string, error) {
	t := rec.Table
	pk, err := tx.D.Encode(t.PrimaryKey(), rec.ID)
	if err != nil {
		return nil, err
	}
	marks := []string{b.Arg(pk), tx.versionSQL(b)}
	for _, c := range cols {
		vals, err := sqlbuild.EncodeValue(tx.D, c, rec.Values[c.LogicalName])
		if err != nil {
			return nil, fmt.Errorf("insert %s: %w", t.LogicalName, err)
		}
		for _, v := range vals {
			marks = append(marks, b.Arg(v))
		}
	}
	return marks, nil
}
