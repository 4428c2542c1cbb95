package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/eventual-pp/eventual"
)

// ErrNotSingle fails a second statement of a single-statement write or
// read (eventual.StatementStore, eventual.StatementViewer).
var ErrNotSingle = errors.New("a second statement in a single-statement write or read")

// Single is a Querier that runs the first statement on Q and refuses the
// others with ErrNotSingle, noting in Again that a read needs a
// transaction. A Single for a read (Read) refuses writes.
type Single struct {
	Q    Querier
	Read bool
	ran  bool
	// Again is set when a read asked for a second statement.
	Again bool
}

// QueryContext implements Querier.
func (s *Single) QueryContext(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	if s.ran {
		s.Again = s.Read
		return nil, ErrNotSingle
	}
	s.ran = true
	return s.Q.QueryContext(ctx, text, args...)
}

// ExecContext implements Querier.
func (s *Single) ExecContext(ctx context.Context, text string, args ...any) (sql.Result, error) {
	if s.Read {
		return nil, errors.New("write in a read-only transaction")
	}
	if s.ran {
		return nil, ErrNotSingle
	}
	s.ran = true
	return s.Q.ExecContext(ctx, text, args...)
}

// Ran reports whether a statement ran.
func (s *Single) Ran() bool { return s.ran }

// ViewStatement is eventual.StatementViewer's rule for a store: fn runs
// through one (outside a transaction, on a Single for a read, reporting
// its Again); if it asked for a second statement there, whatever it
// returned, it runs again through view, in one snapshot.
func ViewStatement(ctx context.Context, fn func(eventual.ReadTx) error,
	one func(context.Context, func(eventual.ReadTx) error) (again bool, err error),
	view func(context.Context, func(eventual.ReadTx) error) error) error {
	again, err := one(ctx, fn)
	if again {
		return view(ctx, fn)
	}
	return err
}
