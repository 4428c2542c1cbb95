package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
)

// tx is the PostgreSQL transaction: sqlstore's, with set-based bulk
// writes. Many rows travel as one text array per column and are unnested
// in SQL, so a statement has as many parameters as columns, whatever the
// number of rows, and its text (and plan) stays the same.
type tx struct {
	*sqlstore.Tx
}

var _ eventual.Tx = (*tx)(nil)

// bulkChunk bounds the rows of one bulk statement.
const bulkChunk = 5000

// text renders a driver value of a column as PostgreSQL input text; nil is
// NULL.
func text(v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	case time.Time:
		s = x.UTC().Format(time.RFC3339Nano)
	default:
		s = fmt.Sprint(x)
	}
	return &s
}

// columnsOf lists the SQL columns that hold cols with their SQL types.
func columnsOf(cols []*eventual.Column) (names, types []string) {
	d := dialect{}
	for _, c := range cols {
		names = append(names, sqlbuild.Quote(c.LogicalName))
		types = append(types, baseType(d.ColumnType(c)))
		if c.Type == eventual.TypeCustomer {
			names = append(names, sqlbuild.Quote(sqlbuild.TypeColumn(c)))
			types = append(types, "text")
		}
	}
	return names, types
}

func baseType(t string) string {
	if i := strings.Index(t, " COLLATE"); i >= 0 {
		return t[:i]
	}
	return t
}

// appendRow appends a row to the column arrays of an unnest: its primary
// key, then the text form of each stored value of cols. op names the write
// in errors.
func (tx *tx) appendRow(arrays [][]*string, op string, t *eventual.Table, id uuid.UUID, cols []*eventual.Column, values eventual.Values) error {
	s := id.String()
	arrays[0] = append(arrays[0], &s)
	j := 1
	for _, c := range cols {
		vals, err := sqlbuild.EncodeValue(tx.D, c, values[c.LogicalName])
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, t.LogicalName, err)
		}
		for _, v := range vals {
			arrays[j] = append(arrays[j], text(v))
			j++
		}
	}
	return nil
}

// InsertMany inserts records with INSERT ... SELECT FROM unnest(...).
func (tx *tx) InsertMany(ctx context.Context, recs []*eventual.Record) error {
	if len(recs) == 0 {
		return nil
	}
	t := recs[0].Table
	cols := sqlstore.Columns(t, nil)
	names, types := columnsOf(cols)
	for start := 0; start < len(recs); start += bulkChunk {
		chunk := recs[start:min(start+bulkChunk, len(recs))]
		arrays := make([][]*string, len(names)+1)
		byID := make(map[uuid.UUID]*eventual.Record, len(chunk))
		for _, rec := range chunk {
			if rec.Table != t {
				return fmt.Errorf("insert many: records of %s and %s mixed", t.LogicalName, rec.Table.LogicalName)
			}
			if err := tx.appendRow(arrays, "insert", t, rec.ID, cols, rec.Values); err != nil {
				return err
			}
			byID[rec.ID] = rec
		}
		b := sqlbuild.New(tx.D)
		params := make([]string, len(arrays))
		aliases := make([]string, len(arrays))
		sel := []string{"u.c0::uuid", "nextval('eventual_version')"}
		for i, a := range arrays {
			params[i] = b.Arg(a) + "::text[]"
			aliases[i] = "c" + strconv.Itoa(i)
			if i > 0 {
				sel = append(sel, "u.c"+strconv.Itoa(i)+"::"+types[i-1])
			}
		}
		all := append([]string{sqlbuild.Quote(t.PrimaryIDAttribute), sqlbuild.Quote("versionnumber")}, names...)
		b.Write("INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + strings.Join(all, ", ") + ") SELECT " + strings.Join(sel, ", ") +
			" FROM unnest(" + strings.Join(params, ", ") + ") AS u(" + strings.Join(aliases, ", ") + ") RETURNING " +
			sqlbuild.Quote(t.PrimaryIDAttribute) + ", " + sqlbuild.Quote("versionnumber"))
		if err := tx.ReadVersions(ctx, t, "insert", b, byID, nil); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMany updates records that set the same columns with one
// UPDATE ... FROM unnest(...) per chunk.
func (tx *tx) UpdateMany(ctx context.Context, t *eventual.Table, updates []*eventual.RowUpdate) error {
	for _, g := range sqlstore.GroupUpdates(t, updates) {
		ups, cols := g.Updates, g.Columns
		names, types := columnsOf(cols)
		for start := 0; start < len(ups); start += bulkChunk {
			chunk := ups[start:min(start+bulkChunk, len(ups))]
			arrays := make([][]*string, len(names)+1)
			byID := make(map[uuid.UUID]*eventual.RowUpdate, len(chunk))
			for _, u := range chunk {
				if err := tx.appendRow(arrays, "update", t, u.ID, cols, u.Values); err != nil {
					return err
				}
				byID[u.ID] = u
			}
			b := sqlbuild.New(tx.D)
			params := make([]string, len(arrays))
			aliases := make([]string, len(arrays))
			sets := []string{sqlbuild.Quote("versionnumber") + " = nextval('eventual_version')", tx.D.WriteMarker()}
			for i, a := range arrays {
				params[i] = b.Arg(a) + "::text[]"
				aliases[i] = "c" + strconv.Itoa(i)
				if i > 0 {
					sets = append(sets, names[i-1]+" = u.c"+strconv.Itoa(i)+"::"+types[i-1])
				}
			}
			tbl, pk := sqlbuild.Quote(t.LogicalName), sqlbuild.Quote(t.PrimaryIDAttribute)
			b.Write("UPDATE " + tbl + " SET " + strings.Join(sets, ", ") + " FROM unnest(" + strings.Join(params, ", ") + ") AS u(" +
				strings.Join(aliases, ", ") + ") WHERE " + tbl + "." + pk + " = u.c0::uuid RETURNING " + tbl + "." + pk + ", " + tbl + "." + sqlbuild.Quote("versionnumber"))
			if err := tx.ReadVersions(ctx, t, "update", b, nil, byID); err != nil {
				return err
			}
		}
	}
	return sqlstore.AllFound(updates)
}
