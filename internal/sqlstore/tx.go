package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
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
	// Texts caches statement texts across the store's transactions; nil
	// builds them each time.
	Texts *Texts
	// Puts, if set, guesses whether a Put will insert, so that a Put
	// that likely inserts first tries a plain insert (see Put). A store
	// whose Version is a parameter sets it: the write then needs no
	// RETURNING. Its single writer owns it.
	Puts *PutHints
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
