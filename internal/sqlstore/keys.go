package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
)

// KeyIndexColumns renders the indexed expressions of an alternate key:
// text columns folded (Dialect.Text), as GetByKey and $filter compare
// them, other columns as they are.
func KeyIndexColumns(d sqlbuild.Dialect, k *eventual.Key) string {
	parts := make([]string, len(k.Columns))
	for i, c := range k.Columns {
		if c.Type.IsText() {
			parts[i] = d.Text(sqlbuild.Quote(c.LogicalName))
		} else {
			parts[i] = sqlbuild.Quote(c.LogicalName)
		}
	}
	return strings.Join(parts, ", ")
}

// maxCollisions bounds the records a collision error names.
const maxCollisions = 10

// CheckKeyCollisions returns an error naming the records that share the
// values of alternate key k under the stores' comparison rule (text folded
// by eventual.FoldCase), or nil when the key's unique index can be built.
// Migrations call it before they build or rebuild a key index, so that a
// database written under an older rule stops the start with the records
// to fix rather than a bare constraint error. Rows with a null key column
// never collide, as in the unique index.
func CheckKeyCollisions(ctx context.Context, q Querier, d sqlbuild.Dialect, k *eventual.Key) error {
	t := k.Table()
	exprs := KeyIndexColumns(d, k)
	var notNull, raw, groups, aliases []string
	for i, c := range k.Columns {
		col := sqlbuild.Quote(c.LogicalName)
		notNull = append(notNull, col+" IS NOT NULL")
		raw = append(raw, col)
		g := col
		if c.Type.IsText() {
			g = d.Text(col)
		}
		alias := fmt.Sprintf("eventual_g%d", i)
		groups = append(groups, g+" AS "+alias)
		aliases = append(aliases, alias)
	}
	pk := sqlbuild.Quote(t.PrimaryIDAttribute)
	query := "SELECT " + pk + ", " + strings.Join(raw, ", ") + " FROM (SELECT " + pk + ", " + strings.Join(raw, ", ") + ", " +
		strings.Join(groups, ", ") + ", COUNT(*) OVER (PARTITION BY " + exprs + ") AS eventual_n FROM " + sqlbuild.Quote(t.LogicalName) +
		" WHERE " + strings.Join(notNull, " AND ") + ") AS g WHERE eventual_n > 1 ORDER BY " +
		strings.Join(aliases, ", ") + ", " + pk + " LIMIT " + fmt.Sprint(maxCollisions)
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("check alternate key %s for duplicates: %w", k.LogicalName, err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		dest := make([]any, 1+len(k.Columns))
		ptrs := make([]any, len(dest))
		for i := range dest {
			ptrs[i] = &dest[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("check alternate key %s for duplicates: %w", k.LogicalName, err)
		}
		id, err := d.Decode(t.PrimaryKey(), dest[0])
		if err != nil {
			return err
		}
		vals := make([]string, len(k.Columns))
		for i, c := range k.Columns {
			v, err := d.Decode(c, dest[1+i])
			if err != nil {
				return err
			}
			if ref, ok := v.(eventual.EntityReference); ok {
				v = ref.ID
			}
			vals[i] = fmt.Sprintf("%s=%q", c.LogicalName, fmt.Sprint(v))
		}
		found = append(found, fmt.Sprintf("%v (%s)", id, strings.Join(vals, ", ")))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check alternate key %s for duplicates: %w", k.LogicalName, err)
	}
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("alternate key %s of table %s cannot be enforced: these records have duplicate key values (text is compared without regard to case, as Dataverse compares keys: eventual.FoldCase); change or delete all but one of each group, then start again: %s",
		k.LogicalName, t.LogicalName, strings.Join(found, "; "))
}
