package postgres

import (
	"context"
	"encoding/hex"
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
// writes. Many rows travel as one array literal per column and are unnested
// in SQL, so a statement has as many parameters as columns, whatever the
// number of rows, and its text (and plan) stays the same.
type tx struct {
	*sqlstore.Tx
}

var _ eventual.Tx = (*tx)(nil)

// bulkChunk bounds the rows of one bulk statement.
const bulkChunk = 5000

// arrays are the PostgreSQL array literals of an unnest, one per column,
// as text ({"a","b",NULL}). A literal travels as one text parameter and
// PostgreSQL parses it (array_in), so the driver encodes one string per
// column instead of an array of pointers by reflection: a third of the
// server's CPU in a bulk write went there.
type arrays [][]byte

// newArrays starts n literals.
func newArrays(n int) arrays {
	a := make(arrays, n)
	for i := range a {
		a[i] = append(make([]byte, 0, 1024), '{')
	}
	return a
}

// add appends a driver value of a column to literal i, as PostgreSQL input
// text; nil is NULL.
func (a arrays) add(i int, v any) {
	b := a[i]
	if len(b) > 1 {
		b = append(b, ',')
	}
	switch x := v.(type) {
	case nil:
		a[i] = append(b, "NULL"...)
		return
	case string:
		b = appendQuoted(b, x)
	case int64:
		b = strconv.AppendInt(append(b, '"'), x, 10)
		b = append(b, '"')
	case float64:
		b = strconv.AppendFloat(append(b, '"'), x, 'g', -1, 64)
		b = append(b, '"')
	case bool:
		b = strconv.AppendBool(append(b, '"'), x)
		b = append(b, '"')
	case time.Time:
		b = x.UTC().AppendFormat(append(b, '"'), time.RFC3339Nano)
		b = append(b, '"')
	default:
		b = appendQuoted(b, fmt.Sprint(x))
	}
	a[i] = b
}

// addUUID appends id to literal i; a UUID needs no quotes.
func (a arrays) addUUID(i int, id uuid.UUID) {
	b := a[i]
	if len(b) > 1 {
		b = append(b, ',')
	}
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], id[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], id[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], id[8:10])
	text[23] = '-'
	hex.Encode(text[24:], id[10:])
	a[i] = append(b, text[:]...)
}

// appendQuoted appends s as a quoted array element: backslashes and
// double quotes escaped with a backslash, nothing else (the quotes keep
// commas, braces, spaces and the word NULL literal).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, '\\', s[i])
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// param ends literal i and binds it to b as a text[] parameter.
func (a arrays) param(b *sqlbuild.Builder, i int) string {
	return b.Arg(string(append(a[i], '}'))) + "::text[]"
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

// appendRow appends a row to the column literals of an unnest: its
// primary key, then the text form of each stored value of cols. op names
// the write in errors; scratch is reused for the encoded values and
// returned.
func (tx *tx) appendRow(a arrays, op string, t *eventual.Table, id uuid.UUID, cols []*eventual.Column, values eventual.Values, scratch []any) ([]any, error) {
	a.addUUID(0, id)
	j := 1
	for _, c := range cols {
		vals, err := sqlbuild.AppendValue(tx.D, scratch[:0], c, values[c.LogicalName])
		if err != nil {
			return scratch, fmt.Errorf("%s %s: %w", op, t.LogicalName, err)
		}
		for _, v := range vals {
			a.add(j, v)
			j++
		}
		scratch = vals
	}
	return scratch, nil
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
		a := newArrays(len(names) + 1)
		byID := make(map[uuid.UUID]*eventual.Record, len(chunk))
		var scratch []any
		for _, rec := range chunk {
			if rec.Table != t {
				return fmt.Errorf("insert many: records of %s and %s mixed", t.LogicalName, rec.Table.LogicalName)
			}
			var err error
			if scratch, err = tx.appendRow(a, "insert", t, rec.ID, cols, rec.Values, scratch); err != nil {
				return err
			}
			byID[rec.ID] = rec
		}
		b := sqlbuild.New(tx.D)
		params := make([]string, len(a))
		aliases := make([]string, len(a))
		sel := []string{"u.c0::uuid", "nextval('eventual_version')"}
		for i := range a {
			params[i] = a.param(b, i)
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
			a := newArrays(len(names) + 1)
			byID := make(map[uuid.UUID]*eventual.RowUpdate, len(chunk))
			var scratch []any
			for _, u := range chunk {
				var err error
				if scratch, err = tx.appendRow(a, "update", t, u.ID, cols, u.Values, scratch); err != nil {
					return err
				}
				byID[u.ID] = u
			}
			b := sqlbuild.New(tx.D)
			params := make([]string, len(a))
			aliases := make([]string, len(a))
			sets := []string{sqlbuild.Quote("versionnumber") + " = nextval('eventual_version')", tx.D.WriteMarker()}
			for i := range a {
				params[i] = a.param(b, i)
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
