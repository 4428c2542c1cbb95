package sqlstore

import (
	"context"
	"fmt"
)

// RowReader is a Querier that can run a query of at most one row on its
// driver directly, without database/sql's Rows around it: the reads of one
// record by id or key and the writes of one record (returning its
// version), the commonest statements there are, take it where a store's
// Querier offers it.
type RowReader interface {
	// ReadRow runs the query and stores the values of its first row in
	// dest, as the driver returns them (a []byte its own), reporting
	// whether there was a row. It reads no further row.
	ReadRow(query string, args []any, dest []any) (bool, error)
}

// RowWriter is a Querier that can run a write on its driver directly,
// without database/sql around it: the writes of one record whose version
// the statement's parameters give (SQLite's), which need no RETURNING.
type RowWriter interface {
	// WriteRow runs the write and reports how many rows it changed.
	WriteRow(query string, args []any) (int64, error)
}

// writeRow runs a write on q, through q's RowWriter if it is one, else
// through database/sql under ctx, and reports how many rows it changed.
func writeRow(ctx context.Context, q Querier, query string, args []any) (int64, error) {
	if w, ok := q.(RowWriter); ok {
		return w.WriteRow(query, args)
	}
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// readRow runs a query of at most one row on q (a read, or a write with
// RETURNING): through q's RowReader if it is one, else through
// database/sql under ctx.
func readRow(ctx context.Context, q Querier, query string, args []any, dest []any) (bool, error) {
	switch q := q.(type) {
	case RowReader:
		return q.ReadRow(query, args, dest)
	case interface {
		readRowOnce(context.Context, string, []any, []any) (bool, error)
	}:
		return q.readRowOnce(ctx, query, args, dest)
	}
	return scanRow(ctx, q, query, args, dest)
}

// scanRow is readRow through q's QueryContext.
func scanRow(ctx context.Context, q Querier, query string, args []any, dest []any) (bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	ptrs := make([]any, len(dest))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return false, fmt.Errorf("scan: %w", err)
	}
	return true, rows.Close()
}

// readRowOnce is readRow for the first statement, as QueryContext is.
func (s *Single) readRowOnce(ctx context.Context, query string, args []any, dest []any) (bool, error) {
	if s.ran {
		s.Again = s.Read
		return false, ErrNotSingle
	}
	s.ran = true
	return readRow(ctx, s.Q, query, args, dest)
}
