package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

// maxParams bounds the parameters of one statement (SQLite allows 32766,
// PostgreSQL 65535).
const maxParams = 30000

// chunked calls each with a fresh Builder on successive chunks of items,
// each of at most 500 rows and few enough that rows of width parameters
// stay within maxParams.
func chunked[T any](tx *Tx, items []T, width int, each func(b *sqlbuild.Builder, chunk []T) error) error {
	per := max(1, min(500, maxParams/(width+1)))
	for start := 0; start < len(items); start += per {
		if err := each(sqlbuild.New(tx.D), items[start:min(start+per, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

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
	width := 2 + sqlbuild.Width(cols)
	byID := make(map[uuid.UUID]*eventual.Record, len(recs))
	return chunked(tx, recs, width, func(b *sqlbuild.Builder, chunk []*eventual.Record) error {
		verExpr, verArgs := "", 0
		for _, rec := range chunk {
			if rec.Table != t {
				return fmt.Errorf("insert many: records of %s and %s mixed", t.LogicalName, rec.Table.LogicalName)
			}
			var err error
			if b.Args, verExpr, verArgs, err = tx.appendRow(b.Args, rec, cols); err != nil {
				return fmt.Errorf("insert %s: %w", t.LogicalName, err)
			}
			byID[rec.ID] = rec
		}
		var buf shapeBuf
		key := strconv.AppendInt(append(append(append(buf[:0], "insertmany\x00"...), t.LogicalName...), 0), int64(len(chunk)), 10)
		b.Write(tx.Texts.text(key, func() string { return tx.insertManyText(t, cols, len(chunk), verExpr, verArgs) }))
		return tx.ReadVersions(ctx, t, "insert", b, byID, nil)
	})
}

// insertManyText renders a multi-row INSERT of n rows: per row the
// primary key, the version's parameters (verArgs of them in verExpr's
// "?"s) and the columns', in that order.
func (tx *Tx) insertManyText(t *eventual.Table, cols []*eventual.Column, n int, verExpr string, verArgs int) string {
	p := 0
	rows := make([]string, n)
	for i := range rows {
		rows[i] = tx.rowMarks(&p, verExpr, verArgs, sqlbuild.Width(cols))
	}
	return "INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + rowColumns(t, cols) + ") VALUES " + strings.Join(rows, ", ") +
		" RETURNING " + sqlbuild.Quote(t.PrimaryIDAttribute) + ", " + sqlbuild.Quote("versionnumber")
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
	for _, g := range GroupUpdates(t, updates) {
		if err := tx.updateGroup(ctx, t, g.Columns, g.Updates); err != nil {
			return err
		}
	}
	return AllFound(updates)
}

// UpdateGroup is updates of one table that set the same columns.
type UpdateGroup struct {
	// Columns are the columns the updates set, in table order, without
	// the primary key and versionnumber.
	Columns []*eventual.Column
	// Updates are the updates, in the order given.
	Updates []*eventual.RowUpdate
}

// GroupUpdates groups updates by the columns they set, in the order each
// set of columns first appears. Stores that override UpdateMany use it.
func GroupUpdates(t *eventual.Table, updates []*eventual.RowUpdate) []UpdateGroup {
	index := map[string]int{}
	var groups []UpdateGroup
	for _, u := range updates {
		var cols []*eventual.Column
		var names []string
		for _, c := range t.Columns {
			if _, ok := u.Values[c.LogicalName]; ok && c.LogicalName != t.PrimaryIDAttribute && c.LogicalName != "versionnumber" {
				cols = append(cols, c)
				names = append(names, c.LogicalName)
			}
		}
		k := strings.Join(names, ",")
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, UpdateGroup{Columns: cols})
		}
		groups[i].Updates = append(groups[i].Updates, u)
	}
	return groups
}

// AllFound returns eventual.ErrNotFound if an update wrote no row (its
// Version is still 0 after the statements ran).
func AllFound(updates []*eventual.RowUpdate) error {
	for _, u := range updates {
		if u.Version == 0 {
			return eventual.ErrNotFound
		}
	}
	return nil
}

// updateGroup runs the updates ups, which all set the columns cols, in
// chunks of UPDATE ... FROM (VALUES ...).
func (tx *Tx) updateGroup(ctx context.Context, t *eventual.Table, cols []*eventual.Column, ups []*eventual.RowUpdate) error {
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
	byID := make(map[uuid.UUID]*eventual.RowUpdate, len(ups))
	return chunked(tx, ups, len(sqlTypes), func(b *sqlbuild.Builder, chunk []*eventual.RowUpdate) error {
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
		return tx.ReadVersions(ctx, t, "update", b, nil, byID)
	})
}
