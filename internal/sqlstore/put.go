package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/google/uuid"
)

// Texts caches the statement texts a store builds for its hot writes and
// reads of one row, per table and shape, so that a statement does not
// build the same text again. A
// store shares one among its transactions; it is safe for concurrent use.
type Texts struct {
	mu sync.RWMutex
	m  map[string]string
}

// maxTexts bounds a Texts cache: the shapes of Put grow with the column
// sets clients send, which a client could vary without end.
const maxTexts = 512

// shapeBuf is the room on the stack a statement's cache key is built in
// (appendPutShape, appendReadShape): most keys fit, so a lookup that hits
// allocates nothing.
type shapeBuf [256]byte

// text returns the text cached under key, or builds, caches and returns it.
// A nil cache builds every time. The key is bytes so that a hit costs no
// allocation (a map index by string(key) does not copy it); only a miss
// keeps a copy.
func (c *Texts) text(key []byte, build func() string) string {
	if c == nil {
		return build()
	}
	c.mu.RLock()
	s, ok := c.m[string(key)]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = build()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	if len(c.m) < maxTexts {
		c.m[string(key)] = s
	}
	c.mu.Unlock()
	return s
}

// putAlias names the existing row in a Put's ON CONFLICT clause.
const putAlias = "eventual_old"

// Put implements eventual.Tx: one INSERT … ON CONFLICT (key) DO UPDATE …
// RETURNING. The row's id tells an insert (the new id) from an update
// (the existing record's); no row returned means Keep left it alone.
func (tx *Tx) Put(ctx context.Context, p *eventual.Put) (eventual.PutResult, uuid.UUID, int64, error) {
	if err := tx.writable(); err != nil {
		return eventual.PutLeft, uuid.Nil, 0, err
	}
	rec := p.Record
	t := rec.Table
	if p.Key == nil {
		return eventual.PutLeft, uuid.Nil, 0, fmt.Errorf("put %s: no key to match the record by", t.LogicalName)
	}
	cols := Columns(t, nil)
	args, verExpr, verArgs, err := tx.appendRow(make([]any, 0, 4+len(cols)), rec, cols)
	if err != nil {
		return eventual.PutLeft, uuid.Nil, 0, fmt.Errorf("put %s: %w", t.LogicalName, err)
	}
	if p.Keep != nil {
		keep, err := tx.D.Encode(p.Keep, p.KeepValue)
		if err != nil {
			return eventual.PutLeft, uuid.Nil, 0, err
		}
		args = append(args, keep)
	}
	if p.Only != nil {
		only, err := tx.D.Encode(p.Only, p.OnlyValue)
		if err != nil {
			return eventual.PutLeft, uuid.Nil, 0, err
		}
		args = append(args, only)
	}
	var buf shapeBuf
	text := tx.Texts.text(appendPutShape(buf[:0], p), func() string { return tx.putText(p, cols, verExpr, verArgs) })
	var row [2]any
	found, err := readRow(ctx, tx.Q, text, args, row[:])
	if err != nil {
		return eventual.PutLeft, uuid.Nil, 0, tx.writeError(t, "put", err)
	}
	if !found {
		return eventual.PutLeft, uuid.Nil, 0, nil
	}
	rawID := row[0]
	version, ok := row[1].(int64)
	if !ok {
		return eventual.PutLeft, uuid.Nil, 0, fmt.Errorf("put %s: versionnumber is %T", t.LogicalName, row[1])
	}
	idv, err := tx.D.Decode(t.PrimaryKey(), rawID)
	if err != nil {
		return eventual.PutLeft, uuid.Nil, 0, err
	}
	id := idv.(uuid.UUID)
	if id == rec.ID {
		rec.Version = version
		return eventual.PutInserted, id, version, nil
	}
	return eventual.PutUpdated, id, version, nil
}

// appendPutShape appends the cache key of a Put's statement text to b.
func appendPutShape(b []byte, p *eventual.Put) []byte {
	b = append(b, "put\x00"...)
	b = append(b, p.Record.Table.LogicalName...)
	b = append(b, 0)
	b = append(b, p.Key.LogicalName...)
	b = append(b, 0)
	if p.Keep != nil {
		b = append(b, p.Keep.LogicalName...)
	}
	b = append(b, 0)
	if p.Only != nil {
		b = append(b, p.Only.LogicalName...)
	}
	for _, c := range p.Set {
		b = append(b, 0)
		b = append(b, c.LogicalName...)
	}
	return b
}

// putText renders a Put's statement; its parameters are the primary key,
// the version's, the columns', Keep's and Only's value, in that order.
func (tx *Tx) putText(p *eventual.Put, cols []*eventual.Column, verExpr string, verArgs int) string {
	t := p.Record.Table
	n := 0
	row := tx.rowMarks(&n, verExpr, verArgs, sqlbuild.Width(cols))
	target := KeyIndexColumns(tx.D, p.Key)
	sets := []string{sqlbuild.Quote("versionnumber") + " = excluded." + sqlbuild.Quote("versionnumber")}
	if m := tx.D.WriteMarker(); m != "" {
		sets = append(sets, m)
	}
	for _, name := range sqlbuild.ColumnList(p.Set, "") {
		sets = append(sets, name+" = excluded."+name)
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " AS " + putAlias + " (" + rowColumns(t, cols) + ") VALUES " +
		row + " ON CONFLICT (" + target + ") DO UPDATE SET " + strings.Join(sets, ", "))
	var where []string
	if p.Keep != nil {
		col := putAlias + "." + sqlbuild.Quote(p.Keep.LogicalName)
		n++
		where = append(where, "("+col+" IS NULL OR "+col+" <> "+tx.D.Placeholder(n)+")")
	}
	if p.Only != nil {
		col := putAlias + "." + sqlbuild.Quote(p.Only.LogicalName)
		n++
		where = append(where, "("+col+" IS NULL OR "+col+" = "+tx.D.Placeholder(n)+")")
	}
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sb.WriteString(" RETURNING " + sqlbuild.Quote(t.PrimaryIDAttribute) + ", " + sqlbuild.Quote("versionnumber"))
	return sb.String()
}
