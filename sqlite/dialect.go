package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is SQLite's sqlstore.Dialect.
//
// Storage: GUIDs as lower-case text, text as text compared through
// eventual_fold (Dataverse compares text without regard to case, so keys,
// filters and ordering do too, by eventual.FoldCase), exact decimals as
// integers scaled by 10^precision, booleans as 0/1, datetimes as ISO 8601
// UTC text, which sorts chronologically.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

// foldFunction is the SQL name of eventual.FoldCase, registered with the
// driver for every connection. Alternate-key indexes are expression indexes
// on it, so a program that writes to the database must register it too
// (the sqlite3 shell can read the tables but not write to keyed ones).
const foldFunction = "eventual_fold"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(foldFunction, 1, fold)
}

// fold is eventual_fold: text folded by eventual.FoldCase; NULL and other
// types unchanged.
func fold(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return eventual.FoldCase(v), nil
	case []byte:
		return eventual.FoldCase(string(v)), nil
	}
	return args[0], nil
}

// Conflict turns SQLite's unique-constraint errors into ConflictErrors,
// naming the alternate key from the index or the columns in the message
// ("UNIQUE constraint failed: index 'ak_account_accountnumber_key'", or
// "... failed: account.accountnumber" for a key without text columns).
func (dialect) Conflict(t *eventual.Table, err error) (*eventual.ConflictError, bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil, false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &eventual.ConflictError{Table: t}, true
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
	default:
		return nil, false
	}
	msg := se.Error()
	if i := strings.LastIndex(msg, "failed: "); i >= 0 {
		msg = msg[i+len("failed: "):]
	}
	// Expression indexes (alternate keys over text) are named in the
	// message: "UNIQUE constraint failed: index 'ak_account_accountnumber'".
	if name, ok := strings.CutPrefix(msg, "index '"); ok {
		name, _, _ = strings.Cut(name, "'")
		for _, k := range t.Keys {
			if keyIndexName(t, k) == name {
				return &eventual.ConflictError{Table: t, Key: k}, true
			}
		}
		return &eventual.ConflictError{Table: t}, true
	}
	if j := strings.Index(msg, " ("); j >= 0 {
		msg = msg[:j]
	}
	var cols []string
	for _, part := range strings.Split(msg, ",") {
		part = strings.TrimSpace(part)
		if k := strings.IndexByte(part, '.'); k >= 0 {
			part = part[k+1:]
		}
		cols = append(cols, part)
	}
	if len(cols) == 1 && cols[0] == t.PrimaryIDAttribute {
		return &eventual.ConflictError{Table: t}, true
	}
	return &eventual.ConflictError{Table: t, Key: t.KeyFor(cols)}, true
}

func (dialect) Placeholder(int) string { return "?" }

func (dialect) ColumnType(c *eventual.Column) string {
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		return "TEXT COLLATE NOCASE"
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice, eventual.TypeDecimal, eventual.TypeMoney, eventual.TypeBoolean:
		return "INTEGER"
	case eventual.TypeDouble:
		return "REAL"
	}
	// datetime, uniqueidentifier, lookup, customer
	return "TEXT"
}

// Text folds an expression by eventual.FoldCase. The result compares and
// sorts in binary (code point) order, as PostgreSQL's "C" collation does.
func (dialect) Text(expr string) string { return foldFunction + "(" + expr + ")" }

// SetMatch matches the folded expression with GLOB, which has sets (and
// is case-sensitive, which changes nothing once both sides are folded).
func (dialect) SetMatch(expr string, parts []sqlbuild.PatternPart, arg func(any) string) string {
	return "(" + expr + " GLOB " + arg(sqlbuild.GlobPattern(parts)) + ")"
}

// Like matches the folded expression; SQLite's LIKE also ignores ASCII
// case, which changes nothing once both sides are folded.
func (d dialect) Like(expr, pattern string) string {
	return sqlbuild.LikeFolded(d.Text(expr), pattern)
}

func (dialect) NullsOrder(bool) string { return "" }

func (dialect) Bool(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// Binary compares text by code point, not by the columns' NOCASE.
func (dialect) Binary(expr string) string { return expr + " COLLATE BINARY" }

// DatePart reads a part of a datetime stored as timeLayout text.
func (dialect) DatePart(expr, part string) string {
	if part == "jan1dow" {
		return "CAST(strftime('%w', " + expr + ", 'start of year') AS INTEGER)"
	}
	f := map[string]string{"day": "%d", "doy": "%j", "month": "%m", "year": "%Y"}[part]
	return "CAST(strftime('" + f + "', " + expr + ") AS INTEGER)"
}

const timeLayout = "2006-01-02T15:04:05Z"

// Encode stores booleans as 1 and 0 and times as UTC text in timeLayout.
func (dialect) Encode(c *eventual.Column, v any) (any, error) {
	return sqlbuild.EncodeWith(c, v, func(b bool) any {
		if b {
			return int64(1)
		}
		return int64(0)
	}, func(t time.Time) any { return t.UTC().Format(timeLayout) })
}

func (dialect) Decode(c *eventual.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("column %s: stored value %v (%T) is not a %s", c.LogicalName, v, v, c.Type)
	}
	if x, ok := sqlbuild.DecodeScalar(c, v); ok {
		return x, nil
	}
	switch c.Type {
	case eventual.TypeDouble:
		if f, ok := v.(int64); ok {
			return float64(f), nil
		}
	case eventual.TypeBoolean:
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case eventual.TypeDateTime:
		if s, ok := v.(string); ok {
			t, err := time.Parse(timeLayout, s)
			if err != nil {
				return bad()
			}
			return t, nil
		}
	case eventual.TypeUniqueIdentifier:
		if s, ok := v.(string); ok {
			id, err := uuid.Parse(s)
			if err != nil {
				return bad()
			}
			return id, nil
		}
	case eventual.TypeLookup, eventual.TypeCustomer:
		if s, ok := v.(string); ok {
			id, err := uuid.Parse(s)
			if err != nil {
				return bad()
			}
			return eventual.EntityReference{ID: id}, nil
		}
	}
	return bad()
}

// ChangeToken is the highest row version committed in the snapshot (see
// version.go). The single writer hands versions out and commits them in
// order, so every version at or below it is visible and every later one
// is not.
func (dialect) ChangeToken(ctx context.Context, q sqlstore.Querier) (string, error) {
	text := metaVersion
	if tq, ok := q.(tokenQuerier); ok {
		text = tq.tokenQuery()
	}
	rows, err := q.QueryContext(ctx, text)
	if err != nil {
		return "", fmt.Errorf("sqlite: change token: %w", err)
	}
	defer rows.Close()
	v := "0"
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return "", err
		}
	}
	return v, rows.Err()
}

// ChangedBetween compares row versions with the tokens' versions.
func (dialect) ChangedBetween(b *sqlbuild.Builder, alias, since, until string) (string, error) {
	col := sqlbuild.Quote("versionnumber")
	if alias != "" {
		col = alias + "." + col
	}
	conds := []string{"1 = 1"}
	versions := make([]int64, 0, 2)
	for _, bound := range []struct{ tok, op string }{{since, " > "}, {until, " <= "}} {
		if bound.tok == "" {
			continue
		}
		v, err := strconv.ParseInt(bound.tok, 10, 64)
		if err != nil || v < 0 {
			return "", eventual.ErrBadToken
		}
		versions = append(versions, v)
		conds = append(conds, col+bound.op+b.Arg(v))
	}
	if since != "" && until != "" && versions[0] > versions[1] {
		// A token from the future: no snapshot gave that version out yet.
		return "", eventual.ErrBadToken
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// WriteMarker is empty: versions alone order SQLite's changes.
func (dialect) WriteMarker() string { return "" }

// Cast leaves parameters as they are: SQLite columns take any value.
func (dialect) Cast(expr, sqlType string) string { return expr }
