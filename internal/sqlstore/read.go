package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

// one runs a single-row read of text.
func (tx *Tx) one(ctx context.Context, t *eventual.Table, cols []*eventual.Column, text string, args []any) (*eventual.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A read of one row by a unique index is over in microseconds: it is
	// not worth the goroutine a driver starts to watch a context that can
	// end (nor the allocation of context.WithoutCancel: drivers need no
	// values of the caller's context).
	raw := make([]any, 2+sqlbuild.Width(cols))
	found, err := readRow(context.Background(), tx.Q, text, args, raw)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", t.LogicalName, err)
	}
	if !found {
		return nil, eventual.ErrNotFound
	}
	return tx.decode(t, cols, raw)
}

// appendReadShape appends the cache key of a read of one row (kind "id"
// or "key") to b: the table, the key and which of its values are null,
// the lock, the columns.
func (tx *Tx) appendReadShape(b []byte, kind string, t *eventual.Table, key *eventual.Key, nulls []bool, cols []*eventual.Column) []byte {
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, t.LogicalName...)
	b = append(b, 0)
	if key != nil {
		b = append(b, key.LogicalName...)
	}
	b = append(b, 0)
	for _, null := range nulls {
		if null {
			b = append(b, 'n')
		} else {
			b = append(b, 'v')
		}
	}
	b = append(b, 0)
	b = append(b, tx.lock()...)
	for _, c := range cols {
		b = append(b, 0)
		b = append(b, c.LogicalName...)
	}
	return b
}

// Get implements eventual.ReadTx.
func (tx *Tx) Get(ctx context.Context, t *eventual.Table, id uuid.UUID, columns []*eventual.Column) (*eventual.Record, error) {
	cols := Columns(t, columns)
	pk, err := tx.D.Encode(t.PrimaryKey(), id)
	if err != nil {
		return nil, err
	}
	var buf shapeBuf
	text := tx.Texts.text(tx.appendReadShape(buf[:0], "id", t, nil, nil, cols), func() string {
		return "SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + sqlbuild.Quote(t.PrimaryIDAttribute) + " = " + tx.D.Placeholder(1) + tx.lock()
	})
	return tx.one(ctx, t, cols, text, []any{pk})
}

// GetByKey implements eventual.ReadTx.
func (tx *Tx) GetByKey(ctx context.Context, key *eventual.Key, values []any, columns []*eventual.Column) (*eventual.Record, error) {
	t := key.Table()
	if len(values) != len(key.Columns) {
		return nil, fmt.Errorf("key %s has %d columns, got %d values", key.LogicalName, len(key.Columns), len(values))
	}
	cols := Columns(t, columns)
	var nullBuf [4]bool
	nulls := nullBuf[:0]
	args := make([]any, 0, len(key.Columns))
	for i, c := range key.Columns {
		nulls = append(nulls, values[i] == nil)
		if values[i] == nil {
			continue
		}
		v, err := tx.D.Encode(c, values[i])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", key.LogicalName, err)
		}
		if s, ok := v.(string); ok && c.Type.IsText() {
			v = eventual.FoldCase(s) // as sqlbuild.Builder.TextArg
		}
		args = append(args, v)
	}
	var buf shapeBuf
	text := tx.Texts.text(tx.appendReadShape(buf[:0], "key", t, key, nulls, cols), func() string {
		conds := make([]string, len(key.Columns))
		n := 0
		for i, c := range key.Columns {
			col := sqlbuild.Quote(c.LogicalName)
			if nulls[i] {
				conds[i] = col + " IS NULL"
				continue
			}
			n++
			if c.Type.IsText() {
				conds[i] = tx.D.Text(col) + " = " + tx.D.Placeholder(n)
			} else {
				conds[i] = col + " = " + tx.D.Placeholder(n)
			}
		}
		return "SELECT " + selectList(t, cols) + " FROM " + sqlbuild.Quote(t.LogicalName) + " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1" + tx.lock()
	})
	return tx.one(ctx, t, cols, text, args)
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
		if o.SortsAsText() {
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
