package eventual

import "time"

// DateArg is what a date query function takes besides the column.
type DateArg int

// The arguments of date query functions.
const (
	DateArgNone  DateArg = iota // Today, ThisMonth, …
	DateArgCount                // LastXDays(PropertyValue=7): a whole number ≥ 0
	DateArgDate                 // On(PropertyValue=2024-05-01): a date
)

// MaxDateCount bounds the count of the X functions (LastXDays and the
// like), so that a range stays within the years a time.Time holds.
const MaxDateCount = 100000

// DateFunction is one of Dataverse's date query functions, shared by the
// Web API's $filter functions (Microsoft.Dynamics.CRM.LastXDays) and
// FetchXML's date operators (last-x-days), which mean the same.
type DateFunction struct {
	Arg DateArg
	// filter builds the condition on f: from the time now, the count n
	// (DateArgCount) or the date d (DateArgDate, its day taken in UTC).
	filter func(f Field, now time.Time, n int, d time.Time) Expr
}

// Filter returns the function's condition on the column f. Days, weeks
// (from Sunday, Dataverse's default), months and years are UTC calendar
// periods; "last X" periods run up to now, "next X" from now.
func (fn DateFunction) Filter(f Field, now time.Time, n int, d time.Time) Expr {
	return fn.filter(f, now.UTC(), n, d)
}

// LookupDateFunction returns a date function by its Web API name (Today,
// LastXDays, OnOrAfter, …, without the Microsoft.Dynamics.CRM prefix).
func LookupDateFunction(name string) (DateFunction, bool) {
	fn, ok := dateFunctions[name]
	return fn, ok
}

func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func weekOf(t time.Time) time.Time {
	d := dayOf(t)
	return d.AddDate(0, 0, -int(d.Weekday()))
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func yearOf(t time.Time) time.Time {
	return time.Date(t.UTC().Year(), 1, 1, 0, 0, 0, 0, time.UTC)
}

// between is from ≤ f < to.
func between(f Field, from, to time.Time) Expr {
	return And{
		Left:  Compare{Op: OpGe, Left: f, Right: Literal{Value: from}},
		Right: Compare{Op: OpLt, Left: f, Right: Literal{Value: to}}}
}

func before(f Field, t time.Time) Expr { return Compare{Op: OpLt, Left: f, Right: Literal{Value: t}} }

// period is a function of no argument: a calendar period relative to now.
func period(start func(now time.Time) (time.Time, time.Time)) DateFunction {
	return DateFunction{Arg: DateArgNone, filter: func(f Field, now time.Time, _ int, _ time.Time) Expr {
		from, to := start(now)
		return between(f, from, to)
	}}
}

// lastX and nextX are the X functions over a unit: last runs from the
// start of the period n units back up to now, next from now to the end of
// the period n units ahead.
func lastX(unit func(t time.Time, n int) time.Time, start func(time.Time) time.Time) DateFunction {
	return DateFunction{Arg: DateArgCount, filter: func(f Field, now time.Time, n int, _ time.Time) Expr {
		return between(f, unit(start(now), -n), now.Add(time.Second))
	}}
}

func nextX(unit func(t time.Time, n int) time.Time, start func(time.Time) time.Time) DateFunction {
	return DateFunction{Arg: DateArgCount, filter: func(f Field, now time.Time, n int, _ time.Time) Expr {
		return between(f, now, unit(start(now), n+1))
	}}
}

// olderThan is before the moment n units ago.
func olderThan(unit func(t time.Time, n int) time.Time) DateFunction {
	return DateFunction{Arg: DateArgCount, filter: func(f Field, now time.Time, n int, _ time.Time) Expr {
		return before(f, unit(now, -n))
	}}
}

func addHours(t time.Time, n int) time.Time   { return t.Add(time.Duration(n) * time.Hour) }
func addMinutes(t time.Time, n int) time.Time { return t.Add(time.Duration(n) * time.Minute) }
func addDays(t time.Time, n int) time.Time    { return t.AddDate(0, 0, n) }
func addWeeks(t time.Time, n int) time.Time   { return t.AddDate(0, 0, 7*n) }
func addMonths(t time.Time, n int) time.Time  { return t.AddDate(0, n, 0) }
func addYears(t time.Time, n int) time.Time   { return t.AddDate(n, 0, 0) }
func exact(t time.Time) time.Time             { return t }

func onDay(build func(f Field, day time.Time) Expr) DateFunction {
	return DateFunction{Arg: DateArgDate, filter: func(f Field, _ time.Time, _ int, d time.Time) Expr {
		return build(f, dayOf(d))
	}}
}

var dateFunctions = map[string]DateFunction{
	"Today":     period(func(now time.Time) (time.Time, time.Time) { d := dayOf(now); return d, d.AddDate(0, 0, 1) }),
	"Yesterday": period(func(now time.Time) (time.Time, time.Time) { d := dayOf(now); return d.AddDate(0, 0, -1), d }),
	"Tomorrow": period(func(now time.Time) (time.Time, time.Time) {
		d := dayOf(now)
		return d.AddDate(0, 0, 1), d.AddDate(0, 0, 2)
	}),
	"LastSevenDays": DateFunction{Arg: DateArgNone, filter: func(f Field, now time.Time, _ int, _ time.Time) Expr {
		return between(f, dayOf(now).AddDate(0, 0, -7), now.Add(time.Second))
	}},
	"NextSevenDays": DateFunction{Arg: DateArgNone, filter: func(f Field, now time.Time, _ int, _ time.Time) Expr {
		return between(f, now, dayOf(now).AddDate(0, 0, 8))
	}},
	"LastWeek": period(func(now time.Time) (time.Time, time.Time) { w := weekOf(now); return w.AddDate(0, 0, -7), w }),
	"ThisWeek": period(func(now time.Time) (time.Time, time.Time) { w := weekOf(now); return w, w.AddDate(0, 0, 7) }),
	"NextWeek": period(func(now time.Time) (time.Time, time.Time) {
		w := weekOf(now)
		return w.AddDate(0, 0, 7), w.AddDate(0, 0, 14)
	}),
	"LastMonth": period(func(now time.Time) (time.Time, time.Time) { m := monthOf(now); return m.AddDate(0, -1, 0), m }),
	"ThisMonth": period(func(now time.Time) (time.Time, time.Time) { m := monthOf(now); return m, m.AddDate(0, 1, 0) }),
	"NextMonth": period(func(now time.Time) (time.Time, time.Time) {
		m := monthOf(now)
		return m.AddDate(0, 1, 0), m.AddDate(0, 2, 0)
	}),
	"LastYear": period(func(now time.Time) (time.Time, time.Time) { y := yearOf(now); return y.AddDate(-1, 0, 0), y }),
	"ThisYear": period(func(now time.Time) (time.Time, time.Time) { y := yearOf(now); return y, y.AddDate(1, 0, 0) }),
	"NextYear": period(func(now time.Time) (time.Time, time.Time) {
		y := yearOf(now)
		return y.AddDate(1, 0, 0), y.AddDate(2, 0, 0)
	}),

	"LastXHours": lastX(addHours, exact),
	"NextXHours": DateFunction{Arg: DateArgCount, filter: func(f Field, now time.Time, n int, _ time.Time) Expr {
		return between(f, now, addHours(now, n))
	}},
	"LastXDays":   lastX(addDays, dayOf),
	"NextXDays":   nextX(addDays, dayOf),
	"LastXWeeks":  lastX(addWeeks, weekOf),
	"NextXWeeks":  nextX(addWeeks, weekOf),
	"LastXMonths": lastX(addMonths, monthOf),
	"NextXMonths": nextX(addMonths, monthOf),
	"LastXYears":  lastX(addYears, yearOf),
	"NextXYears":  nextX(addYears, yearOf),

	"OlderThanXMinutes": olderThan(addMinutes),
	"OlderThanXHours":   olderThan(addHours),
	"OlderThanXDays":    DateFunction{Arg: DateArgCount, filter: func(f Field, now time.Time, n int, _ time.Time) Expr { return before(f, dayOf(now).AddDate(0, 0, -n)) }},
	"OlderThanXWeeks":   olderThan(addWeeks),
	"OlderThanXMonths":  olderThan(addMonths),
	"OlderThanXYears":   olderThan(addYears),

	"On":         onDay(func(f Field, d time.Time) Expr { return between(f, d, d.AddDate(0, 0, 1)) }),
	"NotOn":      onDay(func(f Field, d time.Time) Expr { return Not{X: between(f, d, d.AddDate(0, 0, 1))} }),
	"OnOrAfter":  onDay(func(f Field, d time.Time) Expr { return Compare{Op: OpGe, Left: f, Right: Literal{Value: d}} }),
	"OnOrBefore": onDay(func(f Field, d time.Time) Expr { return before(f, d.AddDate(0, 0, 1)) }),
}
