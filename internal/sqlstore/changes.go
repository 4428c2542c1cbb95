package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

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
