package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

func (tx *Tx) writable() error {
	if tx.Version == nil {
		return errors.New("write in a read-only transaction")
	}
	return nil
}

// returningVersion runs a write that returns the new versionnumber of the
// row it wrote; no row means ErrNotFound.
func (tx *Tx) returningVersion(ctx context.Context, t *eventual.Table, op string, b *sqlbuild.Builder) (int64, error) {
	return tx.returning(ctx, t, op, b.String()+" RETURNING "+sqlbuild.Quote("versionnumber"), b.Args)
}

// returning runs a write whose text ends in RETURNING versionnumber.
func (tx *Tx) returning(ctx context.Context, t *eventual.Table, op, text string, args []any) (int64, error) {
	var row [1]any
	found, err := readRow(ctx, tx.Q, text, args, row[:])
	if err != nil {
		return 0, tx.writeError(t, op, err)
	}
	if !found {
		return 0, eventual.ErrNotFound
	}
	v, ok := row[0].(int64)
	if !ok {
		return 0, fmt.Errorf("%s %s: versionnumber is %T", op, t.LogicalName, row[0])
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
	args, verExpr, verArgs, err := tx.appendRow(nil, rec, cols)
	if err != nil {
		return fmt.Errorf("insert %s: %w", t.LogicalName, err)
	}
	var buf shapeBuf
	if v, ok := knownVersion(verExpr, verArgs, args); ok {
		// The row's version is a parameter: no RETURNING, which SQLite
		// buffers in a table of its own for each statement.
		text := tx.Texts.text(append(append(buf[:0], "insert!\x00"...), t.LogicalName...), func() string {
			n := 0
			return "INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + rowColumns(t, cols) + ") VALUES " +
				tx.rowMarks(&n, verExpr, verArgs, sqlbuild.Width(cols))
		})
		n, err := writeRow(ctx, tx.Q, text, args)
		if err != nil {
			return tx.writeError(t, "insert", err)
		}
		if n != 1 {
			return fmt.Errorf("insert %s: %d rows written", t.LogicalName, n)
		}
		rec.Version = v
		return nil
	}
	text := tx.Texts.text(append(append(buf[:0], "insert\x00"...), t.LogicalName...), func() string {
		n := 0
		return "INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + rowColumns(t, cols) + ") VALUES " +
			tx.rowMarks(&n, verExpr, verArgs, sqlbuild.Width(cols)) + " RETURNING " + sqlbuild.Quote("versionnumber")
	})
	v, err := tx.returning(ctx, t, "insert", text, args)
	if err != nil {
		return err
	}
	rec.Version = v
	return nil
}

// appendRow appends the parameters of rec as a new row to args: its
// primary key, the version's, then the columns' (cols). It returns the
// version's expression and how many parameters that took, for rowMarks.
func (tx *Tx) appendRow(args []any, rec *eventual.Record, cols []*eventual.Column) ([]any, string, int, error) {
	pk, err := tx.D.Encode(rec.Table.PrimaryKey(), rec.ID)
	if err != nil {
		return args, "", 0, err
	}
	verExpr, verArgs := tx.Version()
	args = append(args, pk)
	args = append(args, verArgs...)
	for _, c := range cols {
		if args, err = sqlbuild.AppendValue(tx.D, args, c, rec.Values[c.LogicalName]); err != nil {
			return args, "", 0, err
		}
	}
	return args, verExpr, len(verArgs), nil
}

// knownVersion reports the version a new row's parameters give it, when
// the version's expression is a parameter of its own (SQLite's counter;
// PostgreSQL's is a sequence's next value, which only RETURNING tells).
// row is appendRow's, from an empty args; verExpr and verArgs its results.
func knownVersion(verExpr string, verArgs int, row []any) (int64, bool) {
	if verExpr != "?" || verArgs != 1 || len(row) < 2 {
		return 0, false
	}
	v, ok := row[1].(int64)
	return v, ok
}

// rowColumns lists the SQL columns of a row as appendRow lays it out.
func rowColumns(t *eventual.Table, cols []*eventual.Column) string {
	return strings.Join(append([]string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}, sqlbuild.ColumnList(cols, "")...), ", ")
}

// rowMarks renders the placeholders of one row as appendRow lays it out:
// "(pk, version, columns…)", width SQL columns after the version, the
// version's verArgs parameters in verExpr's "?"s; n counts the
// statement's parameters so far.
func (tx *Tx) rowMarks(n *int, verExpr string, verArgs, width int) string {
	mark := func() string { *n++; return tx.D.Placeholder(*n) }
	marks := make([]string, 0, 2+width)
	marks = append(marks, mark())
	for range verArgs {
		verExpr = strings.Replace(verExpr, "?", mark(), 1)
	}
	marks = append(marks, verExpr)
	for range width {
		marks = append(marks, mark())
	}
	return "(" + strings.Join(marks, ", ") + ")"
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
	return tx.recordDeletion(ctx, t, pk)
}

// recordDeletion records the deletion of the record of t with the encoded
// primary key pk for change tracking, when t is change-tracked. A record
// deleted, created again with the same id and deleted again keeps one
// entry.
func (tx *Tx) recordDeletion(ctx context.Context, t *eventual.Table, pk any) error {
	if !t.ChangeTracking {
		return nil
	}
	b := sqlbuild.New(tx.D)
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
func (tx *Tx) Unlink(ctx context.Context, r *eventual.Relationship, id uuid.UUID, at time.Time) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	t, c := r.ReferencingTable, r.Lookup
	b := sqlbuild.New(tx.D)
	sets := sqlbuild.Quote(c.LogicalName) + " = NULL, " + sqlbuild.Quote("versionnumber") + " = " + tx.versionSQL(b)
	if mc := t.Column("modifiedon"); mc != nil {
		v, err := tx.D.Encode(mc, at)
		if err != nil {
			return 0, err
		}
		sets += ", " + sqlbuild.Quote("modifiedon") + " = " + b.Arg(v)
	}
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
