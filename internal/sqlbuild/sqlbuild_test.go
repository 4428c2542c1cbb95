package sqlbuild_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the SQL the builder renders")

// dialect is a test dialect: "$n" placeholders, text folded by fold(),
// standard NULLS FIRST/LAST, TRUE/FALSE, booleans and RFC 3339 times as
// themselves, and everything else encoded by sqlbuild.EncodeScalar.
type dialect struct{}

var _ sqlbuild.Dialect = dialect{}

func (dialect) Placeholder(n int) string             { return "$" + strconv.Itoa(n) }
func (dialect) ColumnType(c *eventual.Column) string { return strings.ToUpper(string(c.Type)) }
func (dialect) Text(expr string) string              { return "fold(" + expr + ")" }
func (d dialect) Like(expr, pattern string) string {
	return sqlbuild.LikeFolded(d.Text(expr), pattern)
}
func (dialect) SetMatch(expr string, parts []sqlbuild.PatternPart, arg func(any) string) string {
	return "(" + expr + " GLOB " + arg(sqlbuild.GlobPattern(parts)) + ")"
}
func (dialect) NullsOrder(desc bool) string { return sqlbuild.StandardNullsOrder(desc) }
func (dialect) Bool(v bool) string          { return sqlbuild.StandardBool(v) }
func (dialect) Binary(expr string) string   { return expr }
func (dialect) DatePart(expr, part string) string {
	return "part(" + part + ", " + expr + ")"
}

func (dialect) Encode(c *eventual.Column, v any) (any, error) {
	return sqlbuild.EncodeWith(c, v, func(b bool) any { return b },
		func(t time.Time) any { return t.UTC().Format(time.RFC3339) })
}

func (dialect) Decode(c *eventual.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if x, ok := sqlbuild.DecodeScalar(c, v); ok {
		return x, nil
	}
	switch c.Type {
	case eventual.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case eventual.TypeDateTime:
		if s, ok := v.(string); ok {
			return time.Parse(time.RFC3339, s)
		}
	case eventual.TypeUniqueIdentifier:
		if s, ok := v.(string); ok {
			return uuid.Parse(s)
		}
	case eventual.TypeLookup, eventual.TypeCustomer:
		if s, ok := v.(string); ok {
			id, err := uuid.Parse(s)
			return eventual.EntityReference{ID: id}, err
		}
	}
	return nil, fmt.Errorf("column %s: stored value %v (%T) is not a %s", c.LogicalName, v, v, c.Type)
}

var (
	schema  = metadata.Builtin()
	account = schema.Table("account")
	contact = schema.Table("contact")
	order   = schema.Table("new_order")

	id1 = uuid.MustParse("11111111-1111-1111-1111-111111111111")
	id2 = uuid.MustParse("22222222-2222-2222-2222-222222222222")
)

// col returns a column of a table; it panics if there is none.
func col(t *eventual.Table, name string) *eventual.Column {
	c := t.Column(name)
	if c == nil {
		panic("no column " + t.LogicalName + "." + name)
	}
	return c
}

func rel(name string) *eventual.Relationship {
	r := schema.Relationship(name)
	if r == nil {
		panic("no relationship " + name)
	}
	return r
}

func field(t *eventual.Table, name string) eventual.Field {
	return eventual.Field{Column: col(t, name)}
}

func cmp(f eventual.Field, op eventual.CompareOp, v any) eventual.Compare {
	return eventual.Compare{Op: op, Left: f, Right: eventual.Literal{Value: v}}
}

// render is what a golden file holds: the SQL, then the arguments with
// their Go types, one a line.
func render(b *sqlbuild.Builder) string {
	var sb strings.Builder
	sb.WriteString(b.String())
	sb.WriteString("\n-- args\n")
	for i, a := range b.Args {
		fmt.Fprintf(&sb, "$%d %T %#v\n", i+1, a, a)
	}
	return sb.String()
}

// golden compares got with testdata/name.golden, or rewrites the file
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestSelect renders representative queries and compares the SQL and
// arguments with testdata/select_*.golden.
func TestSelect(t *testing.T) {
	name := []*eventual.Column{col(account, "name")}
	for _, tc := range []struct {
		name string
		q    eventual.Query
	}{
		{"all", eventual.Query{Table: account}},
		{"columns_limit", eventual.Query{Table: contact,
			Columns: []*eventual.Column{col(contact, "fullname"), col(contact, "parentcustomerid")}, Limit: 50}},
		{"eq_text_folded", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "name"), eventual.OpEq, "ÄB")}},
		{"ne_text_includes_null", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "name"), eventual.OpNe, "Contoso")}},
		{"lt_integer", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "numberofemployees"), eventual.OpLt, int64(10))}},
		{"literal_field_flipped", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Compare{Op: eventual.OpLt, Left: eventual.Literal{Value: int64(10)}, Right: field(account, "numberofemployees")}}},
		{"eq_null", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "name"), eventual.OpEq, nil)}},
		{"ne_null", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "name"), eventual.OpNe, nil)}},
		{"gt_null", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "numberofemployees"), eventual.OpGt, nil)}},
		// Literals at or below the column's precision scale exactly (12 is
		// 1200 hundredths).
		{"ge_money_scaled", eventual.Query{Table: account, Columns: name,
			Filter: eventual.And{
				Left:  cmp(field(account, "revenue"), eventual.OpGe, eventual.Decimal{Units: 12, Scale: 0}),
				Right: cmp(field(account, "revenue"), eventual.OpLt, eventual.Decimal{Units: 1234, Scale: 2}),
			}}},
		{"eq_boolean", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "creditonhold"), eventual.OpEq, true)}},
		{"eq_datetime", eventual.Query{Table: order, Columns: []*eventual.Column{col(order, "new_name")},
			Filter: cmp(field(order, "new_orderdate"), eventual.OpGt, time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)))}},
		{"eq_lookup", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "primarycontactid"), eventual.OpEq, eventual.Ref(contact, id1))}},
		{"eq_customer_checks_type", eventual.Query{Table: contact, Columns: []*eventual.Column{col(contact, "fullname")},
			Filter: cmp(field(contact, "parentcustomerid"), eventual.OpEq, eventual.Ref(account, id1))}},
		{"ne_customer_checks_type", eventual.Query{Table: contact, Columns: []*eventual.Column{col(contact, "fullname")},
			Filter: cmp(field(contact, "parentcustomerid"), eventual.OpNe, eventual.Ref(contact, id1))}},
		{"field_eq_field_text", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Compare{Op: eventual.OpEq, Left: field(account, "name"), Right: field(account, "accountnumber")}}},
		{"field_gt_field_integer", eventual.Query{Table: order, Columns: []*eventual.Column{col(order, "new_name")},
			Filter: eventual.Compare{Op: eventual.OpGt, Left: field(order, "new_quantity"), Right: field(order, "new_sequence")}}},
		{"not_coalesces_null", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Not{X: cmp(field(account, "name"), eventual.OpEq, "x")}}},
		{"and_or", eventual.Query{Table: account, Columns: name,
			Filter: eventual.And{
				Left: eventual.Or{
					Left:  cmp(field(account, "name"), eventual.OpEq, "A"),
					Right: cmp(field(account, "numberofemployees"), eventual.OpGt, int64(5)),
				},
				Right: cmp(field(account, "creditonhold"), eventual.OpEq, false),
			}}},
		{"const", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Or{Left: eventual.Const{Value: false}, Right: eventual.Const{Value: true}}}},
		{"in_text_folded", eventual.Query{Table: account, Columns: name,
			Filter: eventual.In{Field: field(account, "name"), Values: []any{"Ärger", "b"}}}},
		{"not_in_includes_null", eventual.Query{Table: account, Columns: name,
			Filter: eventual.In{Field: field(account, "numberofemployees"), Values: []any{int64(1), int64(2)}, Not: true}}},
		{"in_empty", eventual.Query{Table: account, Columns: name,
			Filter: eventual.And{
				Left:  eventual.In{Field: field(account, "name")},
				Right: eventual.In{Field: field(account, "name"), Not: true},
			}}},
		{"contains_escapes_backslash", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Match{Kind: eventual.MatchContains, Field: field(account, "name"), Pattern: `A\B_%`}}},
		{"startswith_folded", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Match{Kind: eventual.MatchStartsWith, Field: field(account, "name"), Pattern: "ÖL"}}},
		{"endswith", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Match{Kind: eventual.MatchEndsWith, Field: field(account, "emailaddress1"), Pattern: "@Example.com"}}},
		{"lookup_path", eventual.Query{Table: account, Columns: name,
			Filter: cmp(eventual.Field{Path: []*eventual.Relationship{rel("account_primary_contact")}, Column: col(contact, "lastname")},
				eventual.OpEq, "Smith")}},
		{"lookup_path_two_hops", eventual.Query{Table: order, Columns: []*eventual.Column{col(order, "new_name")},
			Filter: eventual.Match{Kind: eventual.MatchStartsWith,
				Field:   eventual.Field{Path: []*eventual.Relationship{rel("new_account_new_order"), rel("account_parent_account")}, Column: col(account, "name")},
				Pattern: "Fab"}}},
		{"customer_path_checks_type", eventual.Query{Table: contact, Columns: []*eventual.Column{col(contact, "fullname")},
			Filter: cmp(eventual.Field{Path: []*eventual.Relationship{rel("contact_customer_accounts")}, Column: col(account, "numberofemployees")},
				eventual.OpGe, int64(100))}},
		{"any", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Any{Relationship: rel("new_account_new_order"),
				Filter: cmp(field(order, "new_quantity"), eventual.OpGt, int64(3))}}},
		{"any_without_filter", eventual.Query{Table: contact, Columns: []*eventual.Column{col(contact, "fullname")},
			Filter: eventual.Any{Relationship: rel("account_primary_contact")}}},
		{"any_customer_checks_type", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Any{Relationship: rel("contact_customer_accounts"),
				Filter: cmp(field(contact, "firstname"), eventual.OpEq, "Ann")}}},
		{"all_coalesces_null", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Any{Relationship: rel("contact_customer_accounts"), All: true,
				Filter: cmp(field(contact, "jobtitle"), eventual.OpNe, "CEO")}}},
		{"orderby", eventual.Query{Table: account, Columns: name,
			OrderBy: []eventual.Order{{Column: col(account, "name")}, {Column: col(account, "revenue"), Desc: true}}, Limit: 10}},
		{"orderby_lookup", eventual.Query{Table: account, Columns: name,
			OrderBy: []eventual.Order{{Column: col(account, "primarycontactid")}}}},
		{"orderby_customer", eventual.Query{Table: contact, Columns: []*eventual.Column{col(contact, "fullname")},
			OrderBy: []eventual.Order{{Column: col(contact, "parentcustomerid"), Desc: true}}}},
		{"keyset_primary_key_only", eventual.Query{Table: account, Columns: name, Limit: 2,
			After: []any{id1}}},
		{"keyset_values", eventual.Query{Table: account, Columns: name, Limit: 10,
			Filter:  cmp(field(account, "creditonhold"), eventual.OpEq, true),
			OrderBy: []eventual.Order{{Column: col(account, "name")}, {Column: col(account, "revenue"), Desc: true}},
			After:   []any{"Äpfel", eventual.Decimal{Units: 500, Scale: 2}, id2}}},
		{"keyset_nulls", eventual.Query{Table: account, Columns: name, Limit: 10,
			OrderBy: []eventual.Order{{Column: col(account, "name")}, {Column: col(account, "revenue"), Desc: true}},
			After:   []any{nil, nil, id2}}},
		{"keyset_lookup", eventual.Query{Table: account, Columns: name, Limit: 10,
			OrderBy: []eventual.Order{{Column: col(account, "primarycontactid"), Desc: true}},
			After:   []any{"Ärger", id1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sqlbuild.New(dialect{})
			n, err := b.Select(&tc.q)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got, want := n, len(tc.q.OrderBy); got != want {
				t.Errorf("Select = %d sort keys, want %d", got, want)
			}
			if got, want := strings.Count(b.String(), "$"), len(b.Args); got != want {
				t.Errorf("%d placeholders for %d arguments", got, want)
			}
			golden(t, "select_"+tc.name, render(b))
		})
	}
}

// TestSelect_Errors checks the queries Select refuses.
func TestSelect_Errors(t *testing.T) {
	name := []*eventual.Column{col(account, "name")}
	for _, tc := range []struct {
		name string
		q    eventual.Query
		want string
	}{
		{"ErrKeysetLength", eventual.Query{Table: account, Columns: name,
			OrderBy: []eventual.Order{{Column: col(account, "name")}}, After: []any{id1}},
			"keyset has 1 values, want 2"},
		{"ErrKeysetValue", eventual.Query{Table: account, Columns: name,
			OrderBy: []eventual.Order{{Column: col(account, "numberofemployees")}}, After: []any{"ten", id1}},
			"does not fit a integer column"},
		{"ErrLiteralType", eventual.Query{Table: account, Columns: name,
			Filter: cmp(field(account, "numberofemployees"), eventual.OpEq, "ten")},
			"does not fit a integer column"},
		{"ErrOrderConstants", eventual.Query{Table: account, Columns: name,
			Filter: eventual.Compare{Op: eventual.OpGt, Left: eventual.Literal{Value: int64(1)}, Right: eventual.Literal{Value: int64(2)}}},
			"cannot order two constants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlbuild.New(dialect{}).Select(&tc.q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Select error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestConstantFolding checks that comparisons of two literals render as
// constant truth values.
func TestConstantFolding(t *testing.T) {
	lit := func(v any) eventual.Literal { return eventual.Literal{Value: v} }
	for _, tc := range []struct {
		name string
		op   eventual.CompareOp
		l, r any
		want string
	}{
		{"EqualIntegers", eventual.OpEq, int64(1), int64(1), "(1 = 1)"},
		{"UnequalIntegers", eventual.OpEq, int64(1), int64(2), "(1 = 0)"},
		{"NeUnequal", eventual.OpNe, "a", "b", "(1 = 1)"},
		{"NeEqual", eventual.OpNe, "a", "a", "(1 = 0)"},
		{"NullEqNull", eventual.OpEq, nil, nil, "(1 = 1)"},
		{"NullEqValue", eventual.OpEq, nil, int64(1), "(1 = 0)"},
		{"EqualDecimals", eventual.OpEq, eventual.Decimal{Units: 10, Scale: 1}, eventual.Decimal{Units: 100, Scale: 2}, "(1 = 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sqlbuild.New(dialect{})
			if err := b.Count(account, eventual.Compare{Op: tc.op, Left: lit(tc.l), Right: lit(tc.r)}, 0); err != nil {
				t.Fatalf("Count: %v", err)
			}
			want := `SELECT COUNT(*) FROM (SELECT 1 FROM "account" AS t1 WHERE ` + tc.want + `) AS c`
			if got := b.String(); got != want {
				t.Errorf("SQL = %s, want %s", got, want)
			}
			if got := len(b.Args); got != 0 {
				t.Errorf("%d arguments, want none", got)
			}
		})
	}
}

// TestCount compares Count's SQL with testdata/count_*.golden.
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		table  *eventual.Table
		filter eventual.Expr
		limit  int
	}{
		{"all", account, nil, 0},
		{"limit", account, cmp(field(account, "name"), eventual.OpEq, "ÄB"), 5000},
		{"path", contact, cmp(eventual.Field{Path: []*eventual.Relationship{rel("contact_customer_contacts")}, Column: col(contact, "fullname")},
			eventual.OpNe, "X"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sqlbuild.New(dialect{})
			if err := b.Count(tc.table, tc.filter, tc.limit); err != nil {
				t.Fatalf("Count: %v", err)
			}
			golden(t, "count_"+tc.name, render(b))
		})
	}
}

// TestTextArg checks that TextArg folds strings and passes other values
// through.
func TestTextArg(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"ASCII", "ABC", "abc"},
		{"Umlaut", "ÄB", "äb"},
		{"FinalSigma", "ΣΑΣ", "σασ"},
		{"Folded", "abc", "abc"},
		{"Integer", int64(3), int64(3)},
		{"Nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sqlbuild.New(dialect{})
			b.Arg("first")
			if got, want := b.TextArg(tc.in), "$2"; got != want {
				t.Errorf("TextArg = %q, want %q", got, want)
			}
			if got, want := b.Args[1], tc.want; got != want {
				t.Errorf("arg = %#v, want %#v", got, want)
			}
		})
	}
}

// TestEncodeScalar checks the stored forms both stores share, and the
// values that do not fit a column.
func TestEncodeScalar(t *testing.T) {
	revenue := col(account, "revenue") // money, precision 2
	for _, tc := range []struct {
		name string
		col  *eventual.Column
		in   any
		want any
		err  string
	}{
		{"Nil", col(account, "name"), nil, nil, ""},
		{"String", col(account, "name"), "Äb", "Äb", ""},
		{"Memo", col(account, "description"), "text", "text", ""},
		{"Integer", col(account, "numberofemployees"), int64(7), int64(7), ""},
		{"BigInt", col(order, "new_sequence"), int64(1) << 40, int64(1) << 40, ""},
		{"Choice", col(account, "accountcategorycode"), int64(2), int64(2), ""},
		{"MoneyScaled", revenue, eventual.Decimal{Units: 150, Scale: 2}, int64(150), ""},
		{"MoneyRescaledUp", revenue, eventual.Decimal{Units: 3, Scale: 0}, int64(300), ""},
		{"MoneyRoundedHalfAway", revenue, eventual.Decimal{Units: -12345, Scale: 3}, int64(-1235), ""},
		{"DecimalPrecision4", col(order, "new_unitprice"), eventual.Decimal{Units: 15, Scale: 1}, int64(15000), ""},
		{"Double", col(order, "new_weight"), 2.5, 2.5, ""},
		{"UniqueIdentifier", col(order, "new_externalid"), id1, id1.String(), ""},
		{"LookupReference", col(account, "primarycontactid"), eventual.Ref(contact, id2), id2.String(), ""},
		{"LookupUUID", col(account, "primarycontactid"), id2, id2.String(), ""},
		{"CustomerReference", col(contact, "parentcustomerid"), eventual.Ref(account, id1), id1.String(), ""},
		{"ErrStringForInteger", col(account, "numberofemployees"), "7", nil, "does not fit a integer column"},
		{"ErrIntForInteger", col(account, "numberofemployees"), 7, nil, "(int) does not fit"},
		{"ErrFloatForMoney", revenue, 1.5, nil, "does not fit a money column"},
		{"ErrMoneyOverflow", revenue, eventual.Decimal{Units: 1 << 62, Scale: 0}, nil, "out of range"},
		{"ErrIntForString", col(account, "name"), int64(1), nil, "does not fit a string column"},
		{"ErrStringForGUID", col(order, "new_externalid"), id1.String(), nil, "does not fit a uniqueidentifier column"},
		{"ErrStringForLookup", col(account, "primarycontactid"), id1.String(), nil, "does not fit a lookup column"},
		{"ErrBoolean", col(account, "creditonhold"), true, nil, "does not fit a boolean column"},
		{"ErrDateTime", col(order, "new_orderdate"), time.Now(), nil, "does not fit a datetime column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlbuild.EncodeScalar(tc.col, tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("EncodeScalar = %#v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EncodeScalar: %v", err)
			}
			if got != tc.want {
				t.Errorf("EncodeScalar = %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
		})
	}
}

// TestEncodeValue checks that a customer lookup encodes as its id and
// its table, and that other columns encode as one value.
func TestEncodeValue(t *testing.T) {
	customer := col(contact, "parentcustomerid")
	for _, tc := range []struct {
		name string
		col  *eventual.Column
		in   any
		want []any
		err  string
	}{
		{"String", col(account, "name"), "x", []any{"x"}, ""},
		{"Boolean", col(account, "creditonhold"), true, []any{true}, ""},
		{"Lookup", col(account, "primarycontactid"), eventual.Ref(contact, id1), []any{id1.String()}, ""},
		{"CustomerAccount", customer, eventual.Ref(account, id1), []any{id1.String(), "account"}, ""},
		{"CustomerContact", customer, eventual.Ref(contact, id2), []any{id2.String(), "contact"}, ""},
		{"CustomerWithoutTable", customer, eventual.EntityReference{ID: id2}, []any{id2.String(), nil}, ""},
		{"CustomerNull", customer, nil, []any{nil, nil}, ""},
		{"ErrNamesColumn", col(account, "numberofemployees"), "x", nil, "encode numberofemployees: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlbuild.EncodeValue(dialect{}, tc.col, tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("EncodeValue = %#v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			if got, want := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", tc.want); got != want {
				t.Errorf("EncodeValue = %s, want %s", got, want)
			}
			if got, want := len(got), sqlbuild.Width([]*eventual.Column{tc.col}); got != want {
				t.Errorf("EncodeValue gave %d values, Width says %d", got, want)
			}
		})
	}
}

// TestRoundTrip encodes values with EncodeValue and decodes them with
// DecodeRow: each comes back equal, lookups with their table.
func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		table *eventual.Table
		vals  eventual.Values
	}{
		{"EveryType", order, eventual.Values{
			"new_name":       "Örder 1",
			"new_notes":      "long text",
			"new_quantity":   int64(-3),
			"new_sequence":   int64(1) << 50,
			"new_amount":     eventual.Decimal{Units: 123456, Scale: 4},
			"new_unitprice":  eventual.Decimal{Units: 99, Scale: 4},
			"new_weight":     0.125,
			"new_shipped":    true,
			"new_orderdate":  at,
			"new_externalid": id1,
			"new_stage":      int64(100000001),
			"new_customer":   eventual.Ref(account, id2),
		}},
		{"Nulls", order, eventual.Values{
			"new_name": nil, "new_quantity": nil, "new_amount": nil, "new_shipped": nil,
			"new_orderdate": nil, "new_externalid": nil, "new_customer": nil,
		}},
		{"CustomerAccount", contact, eventual.Values{"fullname": "Ann", "parentcustomerid": eventual.Ref(account, id1), "birthdate": at}},
		{"CustomerContact", contact, eventual.Values{"parentcustomerid": eventual.Ref(contact, id2), "jobtitle": "CEO"}},
		{"CustomerNull", contact, eventual.Values{"parentcustomerid": nil, "firstname": "Bo"}},
		{"SelfLookup", account, eventual.Values{"parentaccountid": eventual.Ref(account, id1), "primarycontactid": eventual.Ref(contact, id2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cols []*eventual.Column
			var raw []any
			for _, c := range tc.table.Columns {
				v, ok := tc.vals[c.LogicalName]
				if !ok {
					continue
				}
				enc, err := sqlbuild.EncodeValue(dialect{}, c, v)
				if err != nil {
					t.Fatalf("EncodeValue(%s): %v", c.LogicalName, err)
				}
				cols = append(cols, c)
				raw = append(raw, enc...)
			}
			if got, want := len(raw), sqlbuild.Width(cols); got != want {
				t.Fatalf("%d raw values, Width = %d", got, want)
			}
			if got, want := len(sqlbuild.ColumnList(cols, "t1")), len(raw); got != want {
				t.Fatalf("ColumnList has %d columns for %d raw values", got, want)
			}
			got, err := sqlbuild.DecodeRow(dialect{}, schema, cols, raw)
			if err != nil {
				t.Fatalf("DecodeRow: %v", err)
			}
			if got, want := len(got), len(tc.vals); got != want {
				t.Errorf("DecodeRow gave %d values, want %d", got, want)
			}
			for name, want := range tc.vals {
				v := got[name]
				if !eventual.EqualValues(v, want) {
					t.Errorf("%s = %#v, want %#v", name, v, want)
				}
				if ref, ok := want.(eventual.EntityReference); ok {
					if gotRef, _ := v.(eventual.EntityReference); gotRef.Table != ref.Table {
						t.Errorf("%s table = %v, want %s", name, gotRef.Table, ref.Table.LogicalName)
					}
				}
			}
		})
	}
}

// TestDecodeRow covers the stored forms a driver may hand back for a
// customer lookup's table column, and decoding errors.
func TestDecodeRow(t *testing.T) {
	customer := col(contact, "parentcustomerid")
	for _, tc := range []struct {
		name  string
		raw   []any
		table *eventual.Table // nil: the value is null
		err   string
	}{
		{"TypeString", []any{id1.String(), "contact"}, contact, ""},
		{"TypeBytes", []any{id1.String(), []byte("contact")}, contact, ""},
		// Without a type the first target (account) is assumed.
		{"TypeMissing", []any{id1.String(), nil}, account, ""},
		{"Null", []any{nil, nil}, nil, ""},
		{"ErrBadID", []any{"not-a-guid", "account"}, nil, "invalid UUID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := sqlbuild.DecodeRow(dialect{}, schema, []*eventual.Column{customer}, tc.raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("DecodeRow = %v, %v; want an error containing %q", vals, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRow: %v", err)
			}
			v, ok := vals["parentcustomerid"]
			if !ok {
				t.Fatal("DecodeRow left parentcustomerid out")
			}
			if tc.table == nil {
				if v != nil {
					t.Errorf("parentcustomerid = %#v, want nil", v)
				}
				return
			}
			ref, _ := v.(eventual.EntityReference)
			if got, want := ref.ID, id1; got != want {
				t.Errorf("ID = %s, want %s", got, want)
			}
			if got, want := ref.Table, tc.table; got != want {
				t.Errorf("Table = %v, want %s", got, want.LogicalName)
			}
		})
	}
}

// TestQuote checks identifier quoting.
func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"name", `"name"`},
		{`a"b`, `"a""b"`},
		{"", `""`},
	} {
		if got := sqlbuild.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestKeysetParameters: every parameter a keyset binds is written, in
// order, whatever its null sort keys: a null after which nothing sorts
// (descending) binds none. A parameter bound and not written shifts
// SQLite's positional ones and has no type for PostgreSQL.
func TestKeysetParameters(t *testing.T) {
	name, num := col(account, "name"), col(account, "accountnumber")
	for _, after := range [][]any{
		{nil, "a", id1}, {"x", nil, id1}, {nil, nil, id1}, {"x", "a", id1},
	} {
		for _, desc := range [][2]bool{{true, false}, {false, true}, {true, true}, {false, false}} {
			b := sqlbuild.New(dialect{})
			q := &eventual.Query{Table: account, OrderBy: []eventual.Order{{Column: name, Desc: desc[0]}, {Column: num, Desc: desc[1]}}, After: after}
			if _, err := b.Select(q); err != nil {
				t.Fatal(err)
			}
			sql := b.String()
			for i := range b.Args {
				if !strings.Contains(sql, "$"+strconv.Itoa(i+1)+" ") && !strings.Contains(sql, "$"+strconv.Itoa(i+1)+")") {
					t.Errorf("after %v, desc %v: parameter $%d bound, not written: %s", after, desc, i+1, sql)
				}
			}
			if strings.Contains(sql, "$"+strconv.Itoa(len(b.Args)+1)) {
				t.Errorf("after %v, desc %v: a parameter written, not bound: %s", after, desc, sql)
			}
		}
	}
}
