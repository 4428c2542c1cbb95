package eventual

import "context"

// AggregateFunc is an aggregate of a grouped query.
type AggregateFunc int

// The aggregates: FetchXML's count, countcolumn, countcolumn distinct,
// sum, avg, min and max; $apply's $count, countdistinct, sum, average,
// min and max.
const (
	AggCount         AggregateFunc = iota // the rows of the group (no column)
	AggCountColumn                        // the rows whose column is not null
	AggCountDistinct                      // the distinct values of the column
	AggSum
	AggAvg
	AggMin
	AggMax
)

// DatePart groups a datetime column by a part of its UTC date instead of
// its value (FetchXML's dategrouping): day of month, week of year (SQL
// Server's numbering, as Dataverse's: weeks start on Sunday and 1 January
// is in week 1), month, quarter or year, as whole numbers.
type DatePart int

// The date parts.
const (
	DateValue DatePart = iota // no date grouping: the value itself
	DateDay
	DateWeek
	DateMonth
	DateQuarter
	DateYear
)

// Grouping is one group-by term: a column, or a part of a date column.
// Alias names it in the rows.
type Grouping struct {
	// Joined is true for a column of the Aggregate's Join, the related
	// table, false for one of the queried table.
	Joined bool
	// Path reaches the column through many-to-one relationships from
	// that table ($apply's groupby((primarycontactid/fullname))).
	Path   []*Relationship
	Column *Column
	Date   DatePart
	Alias  string
}

// AggregateValue is one aggregate of each group. Column is nil for
// AggCount. Alias names it in the rows; Joined and Path place the column
// as a Grouping's.
type AggregateValue struct {
	Func   AggregateFunc
	Joined bool
	Path   []*Relationship
	Column *Column
	Alias  string
}

// AggregateJoin joins the records related through a one-to-many
// relationship to the grouped table's (FetchXML's link-entity to a
// child's lookup): a row per record and related record matching Filter
// (fields relative to the related table), and with Outer one with nulls
// for a record without any, as SQL's joins do.
type AggregateJoin struct {
	Relationship *Relationship
	Outer        bool
	Filter       Expr
}

// AggregateOrder orders groups by one of the aliases.
type AggregateOrder struct {
	Alias string
	Desc  bool
}

// Aggregate is a grouped query: the rows of Table that Filter selects,
// grouped by GroupBy (one group of all rows when empty), with Values
// computed for each group. Groups are ordered by OrderBy, then by the
// group-by terms; Limit bounds them (0: no bound).
type Aggregate struct {
	Table *Table
	// Join, when set, groups the rows of Table joined with its related
	// records instead of Table's alone.
	Join    *AggregateJoin
	Filter  Expr
	GroupBy []Grouping
	Values  []AggregateValue
	OrderBy []AggregateOrder
	Limit   int
	// RecordLimit lowers the number of records the query may aggregate
	// below MaxAggregateRecords (FetchXML's aggregatelimit; 0: the
	// maximum).
	RecordLimit int
}

// AggregateRow is one group: its group-by values and aggregates by alias.
// Counts are int64; a sum or min or max is of the column's type; an
// average of a whole number is an int64 (truncated, as SQL Server's AVG
// is for Dataverse), of a double a float64, of a decimal or money a
// Decimal of the column's precision; a date part is an int64. An
// aggregate of no value (a sum of nulls) is nil.
type AggregateRow map[string]any

// MaxAggregateRecords is the number of records an aggregate may read,
// Dataverse's limit.
const MaxAggregateRecords = 50000

// CodeAggregateLimit is AggregateQueryRecordLimitExceeded.
const CodeAggregateLimit = "0x8004E023"

// ErrAggregateLimit is Dataverse's error for an aggregate over more than
// MaxAggregateRecords records.
var ErrAggregateLimit = &Error{Kind: KindInvalid, Code: CodeAggregateLimit,
	Message: "AggregateQueryRecordLimit exceeded. Cannot perform this operation."}

// Aggregator runs grouped queries. The instance is one; a RecordService
// that is not (a remote Web API through the client) does not offer them.
type Aggregator interface {
	// Aggregate runs the query. More than MaxAggregateRecords records
	// selected is ErrAggregateLimit.
	Aggregate(ctx context.Context, a *Aggregate) ([]AggregateRow, error)
}

// Fits reports whether the aggregate applies to its column's type, as
// Dataverse allows: sums and averages of numbers (not choices), minimum
// and maximum of numbers and dates, counts of anything.
func (v AggregateValue) Fits() bool {
	c := v.Column
	if c == nil {
		return true
	}
	numeric := c.Type.IsNumeric() && c.Type != TypeChoice
	switch v.Func {
	case AggSum, AggAvg:
		return numeric
	case AggMin, AggMax:
		return numeric || c.Type == TypeDateTime
	}
	return true
}
