package eventual_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
)

// TestDateFunctions: each date function's range, for a fixed now
// (Wednesday 2026-12-02 15:30 UTC). A range is [from, to); "before" has
// no from.
func TestDateFunctions(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	f := eventual.Field{Column: &eventual.Column{LogicalName: "createdon", Type: eventual.TypeDateTime}}
	for _, tc := range []struct {
		fn       string
		n        int
		d        time.Time
		from, to time.Time // zero from: only "before to"
		not      bool
	}{
		{fn: "Today", from: day(2026, 12, 2), to: day(2026, 12, 3)},
		{fn: "Yesterday", from: day(2026, 12, 1), to: day(2026, 12, 2)},
		{fn: "Tomorrow", from: day(2026, 12, 3), to: day(2026, 12, 4)},
		{fn: "ThisWeek", from: day(2026, 11, 29), to: day(2026, 12, 6)}, // Sunday to Sunday
		{fn: "LastWeek", from: day(2026, 11, 22), to: day(2026, 11, 29)},
		{fn: "NextWeek", from: day(2026, 12, 6), to: day(2026, 12, 13)},
		{fn: "ThisMonth", from: day(2026, 12, 1), to: day(2027, 1, 1)},
		{fn: "LastMonth", from: day(2026, 11, 1), to: day(2026, 12, 1)},
		{fn: "NextYear", from: day(2027, 1, 1), to: day(2028, 1, 1)},
		{fn: "LastSevenDays", from: day(2026, 11, 25), to: now.Add(time.Second)},
		{fn: "NextSevenDays", from: now, to: day(2026, 12, 10)},
		{fn: "LastXDays", n: 3, from: day(2026, 11, 29), to: now.Add(time.Second)},
		{fn: "NextXDays", n: 3, from: now, to: day(2026, 12, 6)},
		{fn: "LastXHours", n: 2, from: now.Add(-2 * time.Hour), to: now.Add(time.Second)},
		{fn: "NextXHours", n: 2, from: now, to: now.Add(2 * time.Hour)},
		{fn: "LastXMonths", n: 2, from: day(2026, 10, 1), to: now.Add(time.Second)},
		{fn: "NextXMonths", n: 1, from: now, to: day(2027, 2, 1)},
		{fn: "OlderThanXDays", n: 2, to: day(2026, 11, 30)},
		{fn: "OlderThanXMonths", n: 1, to: now.AddDate(0, -1, 0)},
		{fn: "OlderThanXMinutes", n: 30, to: now.Add(-30 * time.Minute)},
		{fn: "On", d: time.Date(2026, 5, 1, 22, 0, 0, 0, time.UTC), from: day(2026, 5, 1), to: day(2026, 5, 2)},
		{fn: "NotOn", d: day(2026, 5, 1), from: day(2026, 5, 1), to: day(2026, 5, 2), not: true},
		{fn: "OnOrBefore", d: day(2026, 5, 1), to: day(2026, 5, 2)},
	} {
		fn, ok := eventual.LookupDateFunction(tc.fn)
		if !ok {
			t.Errorf("%s: not a date function", tc.fn)
			continue
		}
		var want eventual.Expr = eventual.Compare{Op: eventual.OpLt, Left: f, Right: eventual.Literal{Value: tc.to}}
		if !tc.from.IsZero() {
			want = eventual.And{Left: eventual.Compare{Op: eventual.OpGe, Left: f, Right: eventual.Literal{Value: tc.from}}, Right: want}
		}
		if tc.not {
			want = eventual.Not{X: want}
		}
		if got := fn.Filter(f, now, tc.n, tc.d); !reflect.DeepEqual(got, want) {
			t.Errorf("%s(%d, %v) = %v, want %v", tc.fn, tc.n, tc.d, got, want)
		}
	}
	if fn, _ := eventual.LookupDateFunction("OnOrAfter"); fn.Arg != eventual.DateArgDate {
		t.Errorf("OnOrAfter takes %v, want a date", fn.Arg)
	}
	if _, ok := eventual.LookupDateFunction("Someday"); ok {
		t.Errorf("Someday is a date function")
	}
}
