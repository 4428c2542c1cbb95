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
// Where the row's version is a parameter (SQLite) and the table's recent
// Puts mostly inserted (PutHints), a plain INSERT … ON CONFLICT (key) DO
// NOTHING goes first: it needs no RETURNING, and only when it finds the
// key taken does the upsert run.
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
	var buf shapeBuf
	if v, ok := knownVersion(verExpr, verArgs, args); ok && tx.Puts.insertFirst(t) {
		// Likely a new record: a plain insert that does nothing on a
		// conflict needs no RETURNING (the version is a parameter, the
		// id the record's); only a record that exists takes the upsert.
		text := tx.Texts.text(appendInsertShape(buf[:0], p), func() string { return tx.insertText(p, cols, verExpr, verArgs) })
		n, err := writeRow(ctx, tx.Q, text, args)
		if err != nil {
			return eventual.PutLeft, uuid.Nil, 0, tx.writeError(t, "put", err)
		}
		if n == 1 {
			tx.Puts.saw(t, true)
			rec.Version = v
			return eventual.PutInserted, rec.ID, v, nil
		}
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
	tx.Puts.saw(t, id == rec.ID)
	if id == rec.ID {
		rec.Version = version
		return eventual.PutInserted, id, version, nil
	}
	return eventual.PutUpdated, id, version, nil
}

// appendInsertShape appends the cache key of a Put's plain insert (see
// Put) to b: the table and the key, as its columns are all the table's.
func appendInsertShape(b []byte, p *eventual.Put) []byte {
	b = append(b, "put!\x00"...)
	b = append(b, p.Record.Table.LogicalName...)
	b = append(b, 0)
	return append(b, p.Key.LogicalName...)
}

// insertText renders a Put's plain insert: putText's row, doing nothing
// on a conflict on the key.
func (tx *Tx) insertText(p *eventual.Put, cols []*eventual.Column, verExpr string, verArgs int) string {
	t := p.Record.Table
	n := 0
	return "INSERT INTO " + sqlbuild.Quote(t.LogicalName) + " (" + rowColumns(t, cols) + ") VALUES " +
		tx.rowMarks(&n, verExpr, verArgs, sqlbuild.Width(cols)) +
		" ON CONFLICT (" + KeyIndexColumns(tx.D, p.Key) + ") DO NOTHING"
}

// PutHints guesses, per table, whether a store's next Put inserts a
// record or finds one: Put then tries a plain insert first (cheaper on
// SQLite than the upsert's RETURNING) only while that pays. A wrong
// guess costs a plain insert that finds the key taken; a right one saves
// the RETURNING, about twice as much, so the guess is "insert" while more
// than about a third of a table's recent Puts inserted. The zero value
// guesses "insert" for every table. Not safe for concurrent use: a
// store's single writer owns one.
type PutHints struct {
	// updates is, per table, the share of recent Puts that updated, out
	// of hintScale (a moving average over about 8 Puts).
	updates map[string]int
}

const (
	hintScale = 1024
	// hintInsert is the share of updates up to which Put tries a plain
	// insert first.
	hintInsert = hintScale * 5 / 8
)

// insertFirst reports whether a Put into t should try a plain insert
// first; a nil h never does.
func (h *PutHints) insertFirst(t *eventual.Table) bool {
	return h != nil && h.updates[t.LogicalName] <= hintInsert
}

// saw notes what a Put into t did.
func (h *PutHints) saw(t *eventual.Table, inserted bool) {
	if h == nil {
		return
	}
	u, ok := h.updates[t.LogicalName]
	if inserted {
		u -= u / 8
	} else {
		u += (hintScale - u + 7) / 8
	}
	if ok || u != 0 {
		if h.updates == nil {
			h.updates = map[string]int{}
		}
		h.updates[t.LogicalName] = u
	}
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
