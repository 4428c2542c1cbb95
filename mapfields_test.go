package eventual_test

import (
	"reflect"
	"testing"

	"github.com/eventual-pp/eventual"
)

// TestMapFields: every field of a filter is rewritten, through and, or
// and not; a filter with an any() is refused unchanged.
func TestMapFields(t *testing.T) {
	a := &eventual.Column{LogicalName: "a"}
	b := &eventual.Column{LogicalName: "b"}
	r := &eventual.Relationship{SchemaName: "r"}
	f := func(c *eventual.Column) eventual.Field { return eventual.Field{Column: c} }
	x := eventual.Or{Left: eventual.Not{X: eventual.Compare{Op: eventual.OpEq, Left: f(a), Right: f(b)}},
		Right: eventual.And{Left: eventual.Match{Field: f(a), Pattern: "x"}, Right: eventual.In{Field: f(b), Values: []any{1}}}}
	got, ok := eventual.MapFields(x, func(fl eventual.Field) eventual.Field { fl.Path = []*eventual.Relationship{r}; return fl })
	p := func(c *eventual.Column) eventual.Field {
		return eventual.Field{Path: []*eventual.Relationship{r}, Column: c}
	}
	want := eventual.Or{Left: eventual.Not{X: eventual.Compare{Op: eventual.OpEq, Left: p(a), Right: p(b)}},
		Right: eventual.And{Left: eventual.Match{Field: p(a), Pattern: "x"}, Right: eventual.In{Field: p(b), Values: []any{1}}}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("MapFields = %#v, %v", got, ok)
	}
	withAny := eventual.And{Left: x, Right: eventual.Any{Relationship: r}}
	if got, ok := eventual.MapFields(withAny, func(fl eventual.Field) eventual.Field { return fl }); ok || !reflect.DeepEqual(got, withAny) {
		t.Errorf("MapFields of a filter with any() = %v, %v", got, ok)
	}
}
