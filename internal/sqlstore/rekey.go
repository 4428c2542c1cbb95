package sqlstore

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

// ChangeID implements eventual.Tx: one UPDATE re-keys the row, one per
// relationship repoints the lookups, and the old id is recorded as deleted.
func (tx *Tx) ChangeID(ctx context.Context, t *eventual.Table, old, new uuid.UUID) error {
	if err := tx.writable(); err != nil {
		return err
	}
	oldPK, err := tx.D.Encode(t.PrimaryKey(), old)
	if err != nil {
		return err
	}
	newPK, err := tx.D.Encode(t.PrimaryKey(), new)
	if err != nil {
		return err
	}
	b := sqlbuild.New(tx.D)
	pkCol := sqlbuild.Quote(t.PrimaryIDAttribute)
	sets := pkCol + " = " + b.Arg(newPK) + ", " + tx.versionSets(b)
	b.Write("UPDATE " + sqlbuild.Quote(t.LogicalName) + " SET " + sets + " WHERE " + pkCol + " = " + b.Arg(oldPK))
	if _, err := tx.returningVersion(ctx, t, "change id of", b); err != nil {
		return err
	}
	for _, r := range t.OneToMany() {
		if err := tx.repoint(ctx, r, old, new); err != nil {
			return err
		}
	}
	return tx.recordDeletion(ctx, t, oldPK)
}

// MergeInto implements eventual.Tx: one UPDATE per relationship repoints
// the lookups from old to new, then old is deleted.
func (tx *Tx) MergeInto(ctx context.Context, t *eventual.Table, old, new uuid.UUID) error {
	if err := tx.writable(); err != nil {
		return err
	}
	for _, r := range t.OneToMany() {
		if err := tx.repoint(ctx, r, old, new); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, t, old)
}

// versionSets is the assignment of a new version (and the dialect's write
// marker) every UPDATE makes.
func (tx *Tx) versionSets(b *sqlbuild.Builder) string {
	sets := sqlbuild.Quote("versionnumber") + " = " + tx.versionSQL(b)
	if m := tx.D.WriteMarker(); m != "" {
		sets += ", " + m
	}
	return sets
}

// repoint makes the lookup of every record that references old through
// the relationship reference new, giving each a new version.
func (tx *Tx) repoint(ctx context.Context, r *eventual.Relationship, old, new uuid.UUID) error {
	t, c := r.ReferencingTable, r.Lookup
	b := sqlbuild.New(tx.D)
	newRef, err := tx.D.Encode(c, eventual.Ref(r.ReferencedTable, new))
	if err != nil {
		return err
	}
	sets := sqlbuild.Quote(c.LogicalName) + " = " + b.Arg(newRef) + ", " + tx.versionSets(b)
	oldRef, err := tx.D.Encode(c, eventual.Ref(r.ReferencedTable, old))
	if err != nil {
		return err
	}
	where := sqlbuild.Quote(c.LogicalName) + " = " + b.Arg(oldRef)
	if c.Type == eventual.TypeCustomer {
		where += " AND " + sqlbuild.Quote(sqlbuild.TypeColumn(c)) + " = " + b.Arg(r.ReferencedTable.LogicalName)
	}
	if _, err := tx.Q.ExecContext(ctx, "UPDATE "+sqlbuild.Quote(t.LogicalName)+" SET "+sets+" WHERE "+where, b.Args...); err != nil {
		return fmt.Errorf("repoint %s: %w", r.SchemaName, err)
	}
	return nil
}
