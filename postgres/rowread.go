package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// poolRows is the Querier of a single-statement write or read
// (UpdateStatement, ViewStatement). Its statements of one row, the
// commonest there are (a Put or Insert returning the row's version, a read
// by id or key), run on pgx's pool directly (sqlstore.RowReader), without
// database/sql's connection and Rows around them: about a fifth of such a
// statement's CPU in the server. Every other statement goes through
// database/sql as before.
//
// A write's statement runs under the write's context, as through
// database/sql. A read's connection is taken under the read's context and
// its statement runs under one that cannot end, as sqlstore's reads of one
// row do (a read by a unique index is over in microseconds).
//
// The values it stores are pgx's own (a uuid as [16]byte, an integer as
// int32): the dialect decodes those as it decodes database/sql's.
type poolRows struct {
	db   *DB
	ctx  context.Context
	read bool
}

var _ sqlstore.RowReader = (*poolRows)(nil)

// QueryContext implements sqlstore.Querier through database/sql.
func (q *poolRows) QueryContext(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	return q.db.sql.QueryContext(ctx, text, args...)
}

// ExecContext implements sqlstore.Querier through database/sql.
func (q *poolRows) ExecContext(ctx context.Context, text string, args ...any) (sql.Result, error) {
	return q.db.sql.ExecContext(ctx, text, args...)
}

// ReadRow implements sqlstore.RowReader. A statement that failed before
// it was sent (a pooled connection found broken) runs once more on
// another connection, as database/sql would have run it.
func (q *poolRows) ReadRow(text string, args []any, dest []any) (bool, error) {
	found, err := q.readRow(text, args, dest)
	if err != nil && pgconn.SafeToRetry(err) && q.ctx.Err() == nil {
		found, err = q.readRow(text, args, dest)
	}
	return found, err
}

func (q *poolRows) readRow(text string, args []any, dest []any) (bool, error) {
	var rows pgx.Rows
	if q.read {
		conn, err := q.db.pool.Acquire(q.ctx)
		if err != nil {
			return false, err
		}
		defer conn.Release()
		rows, err = conn.Query(context.Background(), text, args...)
		if err != nil {
			return false, err
		}
	} else {
		var err error
		if rows, err = q.db.pool.Query(q.ctx, text, args...); err != nil {
			return false, err
		}
	}
	defer rows.Close()
	if !rows.Next() {
		rows.Close()
		return false, rows.Err()
	}
	vals, err := rows.Values()
	if err != nil {
		return false, err
	}
	if len(vals) != len(dest) {
		return false, fmt.Errorf("postgres: %d columns, want %d", len(vals), len(dest))
	}
	copy(dest, vals)
	// The statement's end (and a write's commit) reports its own errors.
	rows.Close()
	return true, rows.Err()
}
