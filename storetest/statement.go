package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// testViewStatement: a store that runs single-statement reads without a
// transaction (eventual.StatementViewer) answers as View does, for a read
// of one statement and for one of several (which runs again in View), even
// when fn swallows the second statement's error.
func testViewStatement(t *testing.T, open Opener) {
	s := mustOpen(t, open, "viewstatement", schema)
	defer s.Close()
	sv, ok := s.(eventual.StatementViewer)
	if !ok {
		t.Skip("the store has no ViewStatement")
	}
	ctx := context.Background()
	acct := table("account")
	a := insert(t, s, "account", eventual.Values{"name": "first"})
	b := insert(t, s, "account", eventual.Values{"name": "second"})

	runs := 0
	var got *eventual.Record
	err := sv.ViewStatement(ctx, func(tx eventual.ReadTx) error {
		runs++
		var err error
		got, err = tx.Get(ctx, acct, a.ID, nil)
		return err
	})
	if err != nil || got == nil || got.Values["name"] != "first" || runs != 1 {
		t.Fatalf("one statement: %v, %v, %d runs", got, err, runs)
	}

	runs = 0
	var names []any
	err = sv.ViewStatement(ctx, func(tx eventual.ReadTx) error {
		runs++
		names = names[:0]
		for _, id := range []uuid.UUID{a.ID, b.ID} {
			r, err := tx.Get(ctx, acct, id, nil)
			if err != nil {
				continue // swallowed: the store must notice all the same
			}
			names = append(names, r.Values["name"])
		}
		return nil
	})
	if err != nil || len(names) != 2 || names[0] != "first" || names[1] != "second" || runs != 2 {
		t.Fatalf("two statements: names %v, %v, %d runs (want both names, 2 runs)", names, err, runs)
	}

	err = sv.ViewStatement(ctx, func(tx eventual.ReadTx) error {
		_, err := tx.Get(ctx, acct, uuid.New(), nil)
		return err
	})
	if !errors.Is(err, eventual.ErrNotFound) {
		t.Errorf("missing record: %v, want ErrNotFound", err)
	}

	testViewStatementPanics(t, open)
}

// testViewStatementPanics: a read that panics (net/http recovers a
// handler's panic) hands its connection back: after more panics than any
// pool holds connections, reads still get one.
func testViewStatementPanics(t *testing.T, open Opener) {
	s := mustOpen(t, open, "viewstatement-panics", schema)
	sv := s.(eventual.StatementViewer)
	ctx := context.Background()
	acct := table("account")
	a := insert(t, s, "account", eventual.Values{"name": "read"})
	for range 64 {
		func() {
			defer func() { _ = recover() }()
			_ = sv.ViewStatement(ctx, func(tx eventual.ReadTx) error {
				if _, err := tx.Get(ctx, acct, a.ID, nil); err != nil {
					return err
				}
				panic("a read's fn panics")
			})
		}()
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sv.ViewStatement(wait, func(tx eventual.ReadTx) error { _, err := tx.Get(wait, acct, a.ID, nil); return err }); err != nil {
		t.Errorf("a read after panicking reads: %v (the store is left open: it would wait for its lost connections)", err)
		return
	}
	if err := s.View(wait, func(tx eventual.ReadTx) error { _, err := tx.Get(wait, acct, a.ID, nil); return err }); err != nil {
		t.Errorf("a View after panicking reads: %v (the store is left open)", err)
		return
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// testUpdateStatement: a store that runs single-statement writes without
// a transaction (eventual.StatementStore) commits one statement, refuses a
// second without running it, and writes nothing for a statement that
// fails.
func testUpdateStatement(t *testing.T, open Opener) {
	s := mustOpen(t, open, "updatestatement", schema)
	defer s.Close()
	ss, ok := s.(eventual.StatementStore)
	if !ok {
		t.Skip("the store has no UpdateStatement")
	}
	ctx := context.Background()
	acct := table("account")
	rec := func(number string) *eventual.Record {
		return &eventual.Record{Table: acct, ID: uuid.New(), Values: eventual.Values{"name": "one statement", "accountnumber": number}}
	}
	has := func(id uuid.UUID) bool { return exists(t, s, acct, id) }
	one := rec("ST-1")
	if err := ss.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, one) }); err != nil {
		t.Fatalf("one insert: %v", err)
	}
	if !has(one.ID) || one.Version == 0 {
		t.Fatalf("the insert did not commit (version %d)", one.Version)
	}
	first, second := rec("ST-2"), rec("ST-3")
	err := ss.UpdateStatement(ctx, func(tx eventual.Tx) error {
		if err := tx.Insert(ctx, first); err != nil {
			return err
		}
		return tx.Insert(ctx, second)
	})
	if err == nil {
		t.Fatal("a second statement ran")
	}
	if !has(first.ID) || has(second.ID) {
		t.Errorf("after a second statement: first exists %v (want true), second %v (want false)", has(first.ID), has(second.ID))
	}
	dup := rec("ST-1") // the alternate key of the first record
	err = ss.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, dup) })
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("duplicate key: %v, want a *eventual.ConflictError", err)
	}
	if has(dup.ID) {
		t.Error("the failed insert persisted")
	}
}

// exists reports whether the store holds the record of t with the id.
func exists(tb testing.TB, s eventual.Store, t *eventual.Table, id uuid.UUID) bool {
	tb.Helper()
	ctx := context.Background()
	err := s.View(ctx, func(tx eventual.ReadTx) error { _, err := tx.Get(ctx, t, id, nil); return err })
	if err != nil && !errors.Is(err, eventual.ErrNotFound) {
		tb.Fatal(err)
	}
	return err == nil
}
