package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is PostgreSQL's sqlstore.Dialect.
//
// Storage: GUIDs as uuid, text as text in the "C" collation compared
// through eventual_fold(), the SQL function that computes eventual.FoldCase
// (Dataverse compares text without regard to case, so keys, filters and
// ordering do too; the expression indexes of text keys use the same form;
// see fold.go), exact decimals as bigint scaled by 10^precision (as in the
// SQLite store, so both round and order alike), datetimes as timestamptz.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (dialect) ColumnType(c *eventual.Column) string {
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		return `text COLLATE "C"`
	case eventual.TypeInteger, eventual.TypeChoice:
		return "integer"
	case eventual.TypeBigInt, eventual.TypeDecimal, eventual.TypeMoney:
		return "bigint"
	case eventual.TypeDouble:
		return "double precision"
	case eventual.TypeBoolean:
		return "boolean"
	case eventual.TypeDateTime:
		return "timestamp with time zone"
	}
	return "uuid"
}

// Text folds an expression by eventual.FoldCase. Text columns are in the
// "C" collation, so the folded text compares and sorts by code point, as
// in the SQLite store.
func (dialect) Text(expr string) string { return foldFunction + "(" + expr + ")" }

// SetMatch matches the folded expression with SIMILAR TO, whose bracket
// expressions are the sets.
func (dialect) SetMatch(expr string, parts []sqlbuild.PatternPart, arg func(any) string) string {
	return "(" + expr + " SIMILAR TO " + arg(sqlbuild.SimilarPattern(parts)) + ` ESCAPE '\')`
}

// Like matches the folded expression against a folded pattern.
func (d dialect) Like(expr, pattern string) string {
	return sqlbuild.LikeFolded(d.Text(expr), pattern)
}

// NullsOrder is the standard NULLS FIRST/LAST.
func (dialect) NullsOrder(desc bool) string { return sqlbuild.StandardNullsOrder(desc) }

// Bool is TRUE or FALSE.
func (dialect) Bool(v bool) string { return sqlbuild.StandardBool(v) }

// Binary is the expression itself: text columns are in the "C" collation.
func (dialect) Binary(expr string) string { return expr }

// DatePart reads a part of a timestamp's UTC date.
func (dialect) DatePart(expr, part string) string {
	if part == "jan1dow" {
		return "CAST(EXTRACT(DOW FROM date_trunc('year', " + expr + " AT TIME ZONE 'UTC')) AS bigint)"
	}
	f := map[string]string{"day": "DAY", "doy": "DOY", "month": "MONTH", "year": "YEAR"}[part]
	return "CAST(EXTRACT(" + f + " FROM " + expr + " AT TIME ZONE 'UTC') AS bigint)"
}

// Encode stores booleans as booleans and times as UTC timestamps.
func (dialect) Encode(c *eventual.Column, v any) (any, error) {
	return sqlbuild.EncodeWith(c, v, func(b bool) any { return b },
		func(t time.Time) any { return t.UTC() })
}

func decodeUUID(v any) (uuid.UUID, bool) {
	switch x := v.(type) {
	case string:
		id, err := uuid.Parse(x)
		return id, err == nil
	case []byte:
		if len(x) == 16 {
			return uuid.UUID(x), true
		}
		id, err := uuid.ParseBytes(x)
		return id, err == nil
	case [16]byte:
		return uuid.UUID(x), true
	}
	return uuid.Nil, false
}

func (dialect) Decode(c *eventual.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("column %s: stored value %v (%T) is not a %s", c.LogicalName, v, v, c.Type)
	}
	if x, ok := sqlbuild.DecodeScalar(c, v); ok {
		return x, nil
	}
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		if s, ok := v.([]byte); ok {
			return string(s), nil
		}
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if n, ok := v.(int32); ok {
			return int64(n), nil
		}
	case eventual.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case eventual.TypeDateTime:
		if t, ok := v.(time.Time); ok {
			return t.UTC(), nil
		}
	case eventual.TypeUniqueIdentifier:
		if id, ok := decodeUUID(v); ok {
			return id, nil
		}
	case eventual.TypeLookup, eventual.TypeCustomer:
		if id, ok := decodeUUID(v); ok {
			return eventual.EntityReference{ID: id}, nil
		}
	}
	return bad()
}

// Conflict maps unique violations (SQLSTATE 23505) to ConflictErrors by
// constraint name: the primary key, or an alternate-key index.
func (dialect) Conflict(t *eventual.Table, err error) (*eventual.ConflictError, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return nil, false
	}
	for _, k := range t.Keys {
		if pe.ConstraintName == keyIndexName(t, k) {
			return &eventual.ConflictError{Table: t, Key: k}, true
		}
	}
	return &eventual.ConflictError{Table: t}, true
}

// retryable reports errors after which a transaction may simply run
// again: serialization failures and deadlocks.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// ChangeToken is the transaction's snapshot (xmin:xmax:xip-list). A row
// changed after it is one whose writing transaction the snapshot does not
// see: committed later, or still running then (which is how a late commit
// with an older version is never skipped).
func (dialect) ChangeToken(ctx context.Context, q sqlstore.Querier) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT pg_current_snapshot()::text")
	if err != nil {
		return "", fmt.Errorf("postgres: change token: %w", err)
	}
	defer rows.Close()
	var v string
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return "", err
		}
	}
	return v, rows.Err()
}

var snapshotRE = regexp.MustCompile(`^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$`)

// ChangedBetween selects rows whose writing transaction the since
// snapshot did not see and the until snapshot did. The xmin bound lets the
// index on eventual_xid skip older rows.
func (dialect) ChangedBetween(b *sqlbuild.Builder, alias, since, until string) (string, error) {
	col := sqlbuild.Quote(xidColumn)
	if alias != "" {
		col = alias + "." + col
	}
	conds := []string{"TRUE"}
	for _, tok := range []string{since, until} {
		if tok != "" && (!snapshotRE.MatchString(tok) || len(tok) > 64*1024) {
			return "", eventual.ErrBadToken
		}
	}
	if since != "" && until != "" && snapshotPart(since, 0) > snapshotPart(until, 1) {
		// A token from the future: its oldest running transaction is
		// past the newest snapshot's end, so no snapshot of this
		// database gave it out.
		return "", eventual.ErrBadToken
	}
	if since != "" {
		conds = append(conds, col+" >= pg_snapshot_xmin("+b.Arg(since)+"::pg_snapshot)",
			"NOT pg_visible_in_snapshot("+col+", "+b.Arg(since)+"::pg_snapshot)")
	}
	if until != "" {
		conds = append(conds, "pg_visible_in_snapshot("+col+", "+b.Arg(until)+"::pg_snapshot)")
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// snapshotPart is the i-th number of a snapshot's text (0 xmin, 1 xmax),
// which snapshotRE checked; a number beyond 64 bits counts as the largest.
func snapshotPart(tok string, i int) uint64 {
	n, err := strconv.ParseUint(strings.Split(tok, ":")[i], 10, 64)
	if err != nil {
		return math.MaxUint64
	}
	return n
}

// xidColumn holds the id of the transaction that last wrote a row.
const xidColumn = "eventual_xid"

// WriteMarker records the writing transaction on every update.
func (dialect) WriteMarker() string { return sqlbuild.Quote(xidColumn) + " = pg_current_xact_id()" }

// Cast types a parameter of a VALUES list, which PostgreSQL would
// otherwise take as text.
func (dialect) Cast(expr, sqlType string) string {
	if i := strings.Index(sqlType, " COLLATE"); i >= 0 {
		sqlType = sqlType[:i]
	}
	return "(" + expr + ")::" + sqlType
}
