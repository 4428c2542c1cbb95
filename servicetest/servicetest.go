package servicetest

import (
	"context"
	"testing"

	"github.com/eventual-pp/eventual"
)

// Opener returns a service over an empty instance with the built-in
// schema (metadata.Builtin), and that schema. The test's cleanup stops it.
type Opener func(t *testing.T) (eventual.RecordService, *eventual.Schema)

// Run runs the contract suite, each test on a service of its own.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"ValuesRoundTrip", testValues},
		{"CreateConflicts", testCreateConflicts},
		{"Conditions", testConditions},
		{"UpsertByKey", testUpsertByKey},
		{"Delete", testDelete},
		{"QueryAndPaging", testQuery},
		{"ExpandAndDeepInsert", testExpand},
		{"BulkMessages", testBulk},
		{"BulkAtomicity", testBulkAtomicity},
		{"Changes", testChanges},
		{"ChangesBadToken", testChangesBadToken},
		{"PrimaryNames", testPrimaryNames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, schema := open(t)
			tt.fn(t, &suite{t: t, svc: svc, s: schema, ctx: context.Background()})
		})
	}
}

// suite is one test's service and helpers over it.
type suite struct {
	t   *testing.T
	svc eventual.RecordService
	s   *eventual.Schema
	ctx context.Context
}

func (s *suite) table(name string) *eventual.Table { return s.s.Table(name) }

func (s *suite) col(t *eventual.Table, name string) *eventual.Column { return t.Column(name) }

// create creates a record or fails the test.
func (s *suite) create(t *eventual.Table, values eventual.Values) eventual.EntityReference {
	s.t.Helper()
	id, err := s.svc.Create(s.ctx, &eventual.Entity{Table: t, Values: values})
	if err != nil {
		s.t.Fatalf("create %s: %v", t.LogicalName, err)
	}
	return eventual.Ref(t, id)
}

// get retrieves a record or fails the test.
func (s *suite) get(ref eventual.EntityReference) *eventual.Record {
	s.t.Helper()
	rec, err := s.svc.Retrieve(s.ctx, ref, nil, nil, "")
	if err != nil {
		s.t.Fatalf("retrieve %v: %v", ref, err)
	}
	return rec
}

// gone reports whether a retrieve of ref is KindNotFound.
func (s *suite) gone(ref eventual.EntityReference) bool {
	_, err := s.svc.Retrieve(s.ctx, ref, nil, nil, "")
	return eventual.ErrorKind(err) == eventual.KindNotFound
}

// count counts a table's records or fails the test.
func (s *suite) count(t *eventual.Table, filter eventual.Expr) int64 {
	s.t.Helper()
	n, err := s.svc.Count(s.ctx, t, filter)
	if err != nil {
		s.t.Fatalf("count %s: %v", t.LogicalName, err)
	}
	return n
}

// wantKind fails the test unless err is of the kind.
func (s *suite) wantKind(what string, err error, kind eventual.Kind) {
	s.t.Helper()
	if got := eventual.ErrorKind(err); err == nil || got != kind {
		s.t.Errorf("%s: %v (kind %v), want kind %v", what, err, got, kind)
	}
}

// eq is a filter column = value.
func eq(c *eventual.Column, v any) eventual.Expr {
	return eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: c}, Right: eventual.Literal{Value: v}}
}

// byKey names a record by a one-column or composite alternate key.
func byKey(t *eventual.Table, key string, values ...any) eventual.EntityReference {
	return eventual.EntityReference{Table: t, Key: t.Key(key), KeyValues: values}
}
