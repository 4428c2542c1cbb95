package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
)

// foldFunction is the SQL function that computes eventual.FoldCase. Text
// comparisons, ordering and the alternate-key indexes go through it, so
// that keys and $filter follow the same rule as the SQLite store.
const foldFunction = "eventual_fold"

// foldMetaKey names the eventual_meta row that records which body the
// fold function has, so that a change of body rebuilds the key indexes.
const foldMetaKey = "textfold"

// foldBody is one way to compute eventual.FoldCase in PostgreSQL's SQL.
type foldBody struct {
	// name identifies the body in eventual_meta ("v1 C.utf8").
	name string
	// expr is the body's expression of the argument $1 (text).
	expr string
}

// foldBodies returns the candidate bodies, fastest first: upper then lower
// (eventual.FoldRune) under a UTF-8 collation whose case mapping is the
// simple per-code-point Unicode one, PostgreSQL 17's builtin pg_c_utf8 or
// the C library's C.UTF-8; and translate() with the whole mapping spelled
// out, which is correct by construction on every server but slower.
func foldBodies() []foldBody {
	var from, to strings.Builder
	for _, r := range eventual.FoldCheck() {
		if f := eventual.FoldRune(r); f != r {
			from.WriteRune(r)
			to.WriteRune(f)
		}
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return []foldBody{
		{"v1 pg_c_utf8", `lower(upper($1 COLLATE "pg_c_utf8"))`},
		{"v1 C.utf8", `lower(upper($1 COLLATE "C.utf8"))`},
		{"v1 C.UTF-8", `lower(upper($1 COLLATE "C.UTF-8"))`},
		{"v1 translate", "translate($1, " + lit(from.String()) + ", " + lit(to.String()) + ")"},
	}
}

// chooseFold returns the first body that folds eventual.FoldCheck() exactly
// as eventual.FoldCase does on this server. A body that fails (no such
// collation) is skipped inside a savepoint, so the transaction goes on.
func chooseFold(ctx context.Context, tx *sql.Tx) (foldBody, error) {
	check := eventual.FoldCheck()
	var tried []string
	for _, b := range foldBodies() {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT eventual_fold_probe"); err != nil {
			return foldBody{}, err
		}
		var got string
		err := tx.QueryRowContext(ctx, "SELECT "+strings.ReplaceAll(b.expr, "$1", "$1::text"), check).Scan(&got)
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT eventual_fold_probe"); rerr != nil {
				return foldBody{}, errors.Join(err, rerr)
			}
			tried = append(tried, b.name+": "+err.Error())
			continue
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT eventual_fold_probe"); err != nil {
			return foldBody{}, err
		}
		if d := eventual.FirstFoldDifference(got); d != "" {
			tried = append(tried, b.name+": "+d)
			continue
		}
		return b, nil
	}
	return foldBody{}, fmt.Errorf("no way to fold text case as eventual does works on this server: %s", strings.Join(tried, "; "))
}

// migrateFold creates or replaces the fold function with the body this
// server supports and reports whether the body changed since the last
// start (or the function is new), in which case every index built on it
// must be rebuilt.
func migrateFold(ctx context.Context, tx *sql.Tx) (changed bool, err error) {
	b, err := chooseFold(ctx, tx)
	if err != nil {
		return false, err
	}
	var have sql.NullString
	err = tx.QueryRowContext(ctx, "SELECT value FROM eventual_meta WHERE key = $1", foldMetaKey).Scan(&have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read %s: %w", foldMetaKey, err)
	}
	if have.Valid && have.String == b.name {
		return false, nil
	}
	stmt := "CREATE OR REPLACE FUNCTION " + foldFunction + "(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $eventual$ SELECT " +
		b.expr + " $eventual$"
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return false, fmt.Errorf("create %s: %w", foldFunction, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO eventual_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
		foldMetaKey, b.name); err != nil {
		return false, fmt.Errorf("record %s: %w", foldMetaKey, err)
	}
	return true, nil
}
