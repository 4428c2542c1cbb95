package eventual_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
)

func intp(v int) *int               { return &v }
func floatp(v float64) *float64     { return &v }
func int64p(v int64) *int64         { return &v }
func cols(names ...string) []string { return names }

// thingDefs returns a valid two-table schema for tests to break: new_thing
// with a name and a number, and new_part with a lookup to new_thing.
func thingDefs() []eventual.TableDef {
	return []eventual.TableDef{
		{
			LogicalName: "new_thing", PrimaryNameAttribute: "new_name",
			Columns: []eventual.ColumnDef{
				{LogicalName: "new_name", Type: eventual.TypeString},
				{LogicalName: "new_number", Type: eventual.TypeInteger},
			},
		},
		{
			LogicalName: "new_part",
			Columns: []eventual.ColumnDef{
				{LogicalName: "new_thingid", Type: eventual.TypeLookup, Targets: []string{"new_thing"}},
			},
		},
	}
}

// withColumn returns thingDefs with one more column on new_thing.
func withColumn(c eventual.ColumnDef) []eventual.TableDef {
	defs := thingDefs()
	defs[0].Columns = append(defs[0].Columns, c)
	return defs
}

// withKeys returns thingDefs with extra columns and keys on new_thing.
func withKeys(extra []eventual.ColumnDef, keys ...eventual.KeyDef) []eventual.TableDef {
	defs := thingDefs()
	defs[0].Columns = append(defs[0].Columns, extra...)
	defs[0].Keys = keys
	return defs
}

// TestNewSchema_Errors checks that NewSchema refuses each kind of invalid
// definition with an error that names the table, the column or key, and
// what is wrong.
func TestNewSchema_Errors(t *testing.T) {
	long := "a" + strings.Repeat("b", 130)
	manyKeys := func() []eventual.TableDef {
		var extra []eventual.ColumnDef
		var keys []eventual.KeyDef
		for i := range eventual.MaxKeysPerTable + 1 {
			name := "new_k" + string(rune('a'+i))
			extra = append(extra, eventual.ColumnDef{LogicalName: name, Type: eventual.TypeInteger})
			keys = append(keys, eventual.KeyDef{LogicalName: name + "_key", Columns: cols(name)})
		}
		return withKeys(extra, keys...)
	}
	wideKey := func(n int) []eventual.TableDef {
		var extra []eventual.ColumnDef
		var names []string
		for i := range n {
			name := "new_c" + string(rune('a'+i))
			extra = append(extra, eventual.ColumnDef{LogicalName: name, Type: eventual.TypeInteger})
			names = append(names, name)
		}
		return withKeys(extra, eventual.KeyDef{LogicalName: "new_wide", Columns: names})
	}
	withDefs := func(f func([]eventual.TableDef)) []eventual.TableDef {
		defs := thingDefs()
		f(defs)
		return defs
	}
	for _, tc := range []struct {
		name string
		defs []eventual.TableDef
		want []string // substrings of the error
	}{
		// Tables.
		{"ErrTableNameUpperCase", withDefs(func(d []eventual.TableDef) { d[1].LogicalName = "New_Part" }),
			[]string{"table 2", `"New_Part"`, "lower case"}},
		{"ErrTableNameDigitFirst", withDefs(func(d []eventual.TableDef) { d[0].LogicalName = "1thing" }),
			[]string{"table 1", `"1thing"`, "starting with a letter"}},
		{"ErrTableNameEmpty", withDefs(func(d []eventual.TableDef) { d[0].LogicalName = "" }),
			[]string{"table 1", `""`}},
		{"ErrTableNameTooLong", withDefs(func(d []eventual.TableDef) { d[0].LogicalName = long }),
			[]string{"table 1", long}},
		{"ErrEntitySetName", withDefs(func(d []eventual.TableDef) { d[0].EntitySetName = "new-things" }),
			[]string{`table "new_thing"`, `"new-things"`, "not a valid identifier"}},
		{"ErrTableTwice", withDefs(func(d []eventual.TableDef) { d[1] = d[0] }),
			[]string{`table "new_thing" is defined twice`}},
		{"ErrEntitySetUsed", withDefs(func(d []eventual.TableDef) { d[1].EntitySetName = "new_things" }),
			[]string{`table "new_part"`, `entity set name "new_things" is already used`}},
		{"ErrPrimaryNameMissing", withDefs(func(d []eventual.TableDef) { d[0].PrimaryNameAttribute = "new_title" }),
			[]string{`table "new_thing"`, `primary name "new_title"`, "string column"}},
		{"ErrPrimaryNameNotString", withDefs(func(d []eventual.TableDef) { d[0].PrimaryNameAttribute = "new_number" }),
			[]string{`table "new_thing"`, `primary name "new_number"`, "string column"}},

		// Column names and types.
		{"ErrColumnNameUpperCase", withColumn(eventual.ColumnDef{LogicalName: "new_Title", Type: eventual.TypeString}),
			[]string{`table "new_thing" column "new_Title"`, "lower case"}},
		{"ErrColumnNameTooLong", withColumn(eventual.ColumnDef{LogicalName: long, Type: eventual.TypeString}),
			[]string{`column "` + long + `"`, "logical name"}},
		{"ErrUnknownType", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: "text"}),
			[]string{`column "new_x"`, `unknown type "text"`}},
		{"ErrColumnTwice", withColumn(eventual.ColumnDef{LogicalName: "new_name", Type: eventual.TypeString}),
			[]string{`table "new_thing"`, `column "new_name" is defined twice`}},
		{"ErrSystemColumnClash", withColumn(eventual.ColumnDef{LogicalName: "createdon", Type: eventual.TypeDateTime}),
			[]string{`column "createdon" is defined twice`, "system column"}},
		{"ErrPrimaryKeyClash", withColumn(eventual.ColumnDef{LogicalName: "new_thingid", Type: eventual.TypeUniqueIdentifier}),
			[]string{`column "new_thingid" is defined twice`}},

		// maxLength.
		{"ErrStringMaxLengthNegative", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeString, MaxLength: -1}),
			[]string{`column "new_x"`, "maxLength must be between 1 and 4000"}},
		{"ErrStringMaxLengthOver", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeString, MaxLength: eventual.MaxStringLen + 1}),
			[]string{`column "new_x"`, "maxLength must be between 1 and 4000"}},
		{"ErrMemoMaxLengthOver", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeMemo, MaxLength: eventual.MaxMemoLen + 1}),
			[]string{`column "new_x"`, "maxLength must be between 1 and 1048576"}},

		// Precision.
		{"ErrPrecisionNegative", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeDecimal, Precision: intp(-1)}),
			[]string{`column "new_x"`, "precision must be between 0 and 10"}},
		{"ErrMoneyPrecisionOver", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeMoney, Precision: intp(11)}),
			[]string{`column "new_x"`, "precision must be between 0 and 10"}},

		// minValue and maxValue.
		{"ErrRangeOnString", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeString, MinValue: floatp(0)}),
			[]string{`column "new_x"`, "minValue and maxValue apply to numeric columns only"}},
		{"ErrRangeOnChoice", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeChoice, MaxValue: floatp(5),
			Options: []eventual.Option{{Value: 1, Label: "One"}}}),
			[]string{`column "new_x"`, "numeric columns only"}},
		{"ErrRangeBelowType", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeInteger, MinValue: floatp(-3e9)}),
			[]string{`column "new_x"`, "range [-3e+09, 2.147483647e+09] must lie within [-2.147483648e+09, 2.147483647e+09]"}},
		{"ErrRangeAboveType", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeMoney, MaxValue: floatp(1e15)}),
			[]string{`column "new_x"`, "must lie within"}},
		{"ErrRangeInverted", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeDouble, MinValue: floatp(10), MaxValue: floatp(1)}),
			[]string{`column "new_x"`, "range [10, 1]"}},

		// Formats.
		{"ErrDateTimeFormat", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeDateTime, Format: "timeonly"}),
			[]string{`column "new_x"`, `format must be "dateandtime" or "dateonly"`}},

		// Options.
		{"ErrChoiceWithoutOptions", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeChoice}),
			[]string{`column "new_x"`, "a choice column needs options"}},
		{"ErrOptionTwice", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeChoice,
			Options: []eventual.Option{{Value: 7, Label: "A"}, {Value: 7, Label: "B"}}}),
			[]string{`column "new_x"`, "option value 7 is listed twice"}},
		{"ErrOptionsOnInteger", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeInteger,
			Options: []eventual.Option{{Value: 1, Label: "One"}}}),
			[]string{`column "new_x"`, "only choice columns take options"}},

		// Targets.
		{"ErrTargetsOnString", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeString, Targets: []string{"new_part"}}),
			[]string{`column "new_x"`, "only lookup columns take targets"}},
		{"ErrRelationshipsOnString", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeString, Relationships: []string{"new_rel"}}),
			[]string{`column "new_x"`, "only lookup columns take targets"}},
		{"ErrLookupWithoutTarget", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup}),
			[]string{`column "new_x"`, "a lookup needs exactly one target table"}},
		{"ErrLookupTwoTargets", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup, Targets: []string{"new_thing", "new_part"}}),
			[]string{`column "new_x"`, "exactly one target"}},
		{"ErrCustomerWithoutTarget", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeCustomer}),
			[]string{`column "new_x"`, "a customer lookup needs at least one target table"}},
		{"ErrUnknownTarget", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup, Targets: []string{"new_nothing"}}),
			[]string{`table "new_thing" column "new_x"`, `target table "new_nothing" is not defined`}},
		{"ErrCustomerTargetTwice", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeCustomer, Targets: []string{"new_part", "new_part"}}),
			[]string{`column "new_x"`, `target "new_part" is listed twice`}},
		{"ErrRelationshipNameCount", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeCustomer,
			Targets: []string{"new_thing", "new_part"}, Relationships: []string{"new_x_things"}}),
			[]string{`column "new_x"`, "one relationship name per target (2 targets, 1 names)"}},
		{"ErrRelationshipNameInvalid", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup,
			Targets: []string{"new_part"}, Relationships: []string{"new-rel"}}),
			[]string{`column "new_x"`, `relationship name "new-rel" is not a valid identifier`}},
		{"ErrRelationshipNameTwice", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup,
			Targets: []string{"new_part"}, Relationships: []string{"new_thing_new_part_new_thingid"}}),
			[]string{`relationship "new_thing_new_part_new_thingid" is already defined`}},
		{"ErrNavigationClash", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeLookup,
			Targets: []string{"new_part"}, Relationships: []string{"new_thingid"}}),
			[]string{`table "new_part"`, `navigation property "new_thingid" clashes`}},
		{"ErrSelfRelationshipNamedAsLookup", withColumn(eventual.ColumnDef{LogicalName: "new_parentid", Type: eventual.TypeLookup,
			Targets: []string{"new_thing"}, Relationships: []string{"new_parentid"}}),
			[]string{`table "new_thing"`, `relationship "new_parentid" needs a name different from its lookup`}},

		// Computed columns.
		{"ErrComputedInteger", withColumn(eventual.ColumnDef{LogicalName: "new_x", Type: eventual.TypeInteger, Computed: true}),
			[]string{`column "new_x"`, "only string columns can be computed"}},

		// Keys.
		{"ErrTooManyKeys", manyKeys(), []string{`table "new_thing"`, "at most 10 alternate keys"}},
		{"ErrKeyNameEmpty", withKeys(nil, eventual.KeyDef{Columns: cols("new_number")}),
			[]string{`table "new_thing"`, `alternate key name ""`}},
		{"ErrKeyNameInvalid", withKeys(nil, eventual.KeyDef{LogicalName: "Number Key", Columns: cols("new_number")}),
			[]string{`alternate key name "Number Key"`, "lower case"}},
		{"ErrKeyWithoutColumns", withKeys(nil, eventual.KeyDef{LogicalName: "new_key"}),
			[]string{`table "new_thing" key "new_key"`, "1 to 16 columns"}},
		{"ErrKeyTooManyColumns", wideKey(eventual.MaxColumnsPerKey + 1),
			[]string{`key "new_wide"`, "1 to 16 columns"}},
		{"ErrKeyTwice", withKeys(nil, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_number")},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_name")}),
			[]string{`table "new_thing"`, `key "new_key" is defined twice`}},
		{"ErrKeyUnknownColumn", withKeys(nil, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_missing")}),
			[]string{`key "new_key"`, `no column "new_missing"`}},
		{"ErrKeyMemo", withKeys([]eventual.ColumnDef{{LogicalName: "new_notes", Type: eventual.TypeMemo}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_notes")}),
			[]string{`key "new_key"`, `column "new_notes" of type memo cannot be part of a key`}},
		{"ErrKeyBoolean", withKeys([]eventual.ColumnDef{{LogicalName: "new_flag", Type: eventual.TypeBoolean}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_flag")}),
			[]string{`column "new_flag" of type boolean cannot be part of a key`}},
		{"ErrKeyMoney", withKeys([]eventual.ColumnDef{{LogicalName: "new_amount", Type: eventual.TypeMoney}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_amount")}),
			[]string{`column "new_amount" of type money cannot be part of a key`}},
		{"ErrKeyDouble", withKeys([]eventual.ColumnDef{{LogicalName: "new_weight", Type: eventual.TypeDouble}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_weight")}),
			[]string{`column "new_weight" of type double cannot be part of a key`}},
		{"ErrKeyCustomer", withKeys([]eventual.ColumnDef{{LogicalName: "new_customer", Type: eventual.TypeCustomer, Targets: []string{"new_part"}}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_customer")}),
			[]string{`column "new_customer" of type customer cannot be part of a key`}},
		{"ErrKeySystemColumn", withKeys(nil, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_name", "createdon")}),
			[]string{`key "new_key"`, `system column "createdon" cannot be part of a key`}},
		{"ErrKeyPrimaryKey", withKeys(nil, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_thingid")}),
			[]string{`system column "new_thingid"`}},
		{"ErrKeyColumnTwice", withKeys(nil, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_number", "new_number")}),
			[]string{`key "new_key"`, `column "new_number" is listed twice`}},
		{"ErrKeyTooLarge", withKeys([]eventual.ColumnDef{{LogicalName: "new_code", Type: eventual.TypeString, MaxLength: 451}},
			eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_code")}),
			[]string{`key "new_key"`, "up to 902 bytes", "900 bytes"}},
		{"ErrKeysSameColumns", withKeys(nil, eventual.KeyDef{LogicalName: "new_a", Columns: cols("new_name", "new_number")},
			eventual.KeyDef{LogicalName: "new_b", Columns: cols("new_number", "new_name")}),
			[]string{`table "new_thing"`, `keys "new_a" and "new_b" have the same columns`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := eventual.NewSchema(tc.defs)
			if err == nil {
				t.Fatalf("NewSchema = %v, nil; want an error containing %q", s, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewSchema error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestNewSchema_Limits checks that the documented bounds themselves are
// accepted.
func TestNewSchema_Limits(t *testing.T) {
	var extra []eventual.ColumnDef
	var keys []eventual.KeyDef
	for i := range eventual.MaxKeysPerTable {
		name := "new_k" + string(rune('a'+i))
		extra = append(extra, eventual.ColumnDef{LogicalName: name, Type: eventual.TypeInteger})
		keys = append(keys, eventual.KeyDef{LogicalName: name + "_key", Columns: cols(name)})
	}
	var wide []string
	for i := range eventual.MaxColumnsPerKey {
		name := "new_c" + string(rune('a'+i))
		extra = append(extra, eventual.ColumnDef{LogicalName: name, Type: eventual.TypeInteger})
		wide = append(wide, name)
	}
	keys[0].Columns = wide
	extra = append(extra,
		eventual.ColumnDef{LogicalName: "new_s1", Type: eventual.TypeString, MaxLength: 1},
		eventual.ColumnDef{LogicalName: "new_s2", Type: eventual.TypeString, MaxLength: eventual.MaxStringLen},
		eventual.ColumnDef{LogicalName: "new_m", Type: eventual.TypeMemo, MaxLength: eventual.MaxMemoLen},
		eventual.ColumnDef{LogicalName: "new_p0", Type: eventual.TypeDecimal, Precision: intp(0)},
		eventual.ColumnDef{LogicalName: "new_p10", Type: eventual.TypeDecimal, Precision: intp(10)},
		eventual.ColumnDef{LogicalName: "new_i", Type: eventual.TypeInteger, MinValue: floatp(-2147483648), MaxValue: floatp(2147483647)},
		eventual.ColumnDef{LogicalName: "new_" + strings.Repeat("x", 117), Type: eventual.TypeString},
	)
	defs := withKeys(extra, keys...)
	defs[0].LogicalName = "new_" + strings.Repeat("t", 122)
	defs[0].EntitySetName = "new_things"
	defs[1].Columns[0].Targets = []string{defs[0].LogicalName}
	defs[1].Columns[0].Relationships = []string{"new_thing_parts"}
	s, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	if got, want := len(s.Table(defs[0].LogicalName).Keys), eventual.MaxKeysPerTable; got != want {
		t.Errorf("keys = %d, want %d", got, want)
	}
}

// TestNewSchema_SystemColumns checks the columns NewSchema adds to every
// table: the primary key <table>id, createdon, modifiedon, versionnumber,
// statecode, statuscode and the placeholder lifecycle columns.
func TestNewSchema_SystemColumns(t *testing.T) {
	s, err := eventual.NewSchema(thingDefs())
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	tbl := s.Table("new_thing")
	if got, want := tbl.PrimaryIDAttribute, "new_thingid"; got != want {
		t.Errorf("PrimaryIDAttribute = %q, want %q", got, want)
	}
	if pk := tbl.PrimaryKey(); pk == nil || pk.LogicalName != "new_thingid" {
		t.Errorf("PrimaryKey() = %+v, want column new_thingid", pk)
	}
	for _, tc := range []struct {
		name   string
		typ    eventual.ColumnType
		system bool
	}{
		{"new_thingid", eventual.TypeUniqueIdentifier, true},
		{"createdon", eventual.TypeDateTime, true},
		{"modifiedon", eventual.TypeDateTime, true},
		{"versionnumber", eventual.TypeBigInt, true},
		{"statecode", eventual.TypeChoice, false},
		{"statuscode", eventual.TypeChoice, false},
		{eventual.ColumnHydrationState, eventual.TypeChoice, true},
		{eventual.ColumnPlaceholderOn, eventual.TypeDateTime, true},
		{eventual.ColumnPlaceholderCorrelation, eventual.TypeUniqueIdentifier, true},
		{eventual.ColumnHydratedOn, eventual.TypeDateTime, true},
		{"new_name", eventual.TypeString, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tbl.Column(tc.name)
			if c == nil {
				t.Fatalf("Column(%q) = nil", tc.name)
			}
			if got, want := c.Type, tc.typ; got != want {
				t.Errorf("Type = %s, want %s", got, want)
			}
			if got, want := c.System, tc.system; got != want {
				t.Errorf("System = %v, want %v", got, want)
			}
			if got, want := c.Table(), tbl; got != want {
				t.Errorf("Table() = %v, want new_thing", got)
			}
			if c.Type == eventual.TypeDateTime && c.Format != eventual.DateAndTime {
				t.Errorf("Format = %q, want %q", c.Format, eventual.DateAndTime)
			}
		})
	}
	t.Run("StateAndStatusDefaults", func(t *testing.T) {
		state, status := tbl.Column("statecode"), tbl.Column("statuscode")
		if got, want := state.Default, any(int64(0)); got != want {
			t.Errorf("statecode default = %v, want %v", got, want)
		}
		if got, want := status.Default, any(int64(1)); got != want {
			t.Errorf("statuscode default = %v, want %v", got, want)
		}
		if got, want := state.Options, []eventual.Option{{Value: 0, Label: "Active"}, {Value: 1, Label: "Inactive"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("statecode options = %v, want %v", got, want)
		}
		if got, want := status.Options, []eventual.Option{{Value: 1, Label: "Active"}, {Value: 2, Label: "Inactive"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("statuscode options = %v, want %v", got, want)
		}
		if got, want := tbl.Column(eventual.ColumnHydrationState).Default, any(eventual.HydrationRecord); got != want {
			t.Errorf("%s default = %v, want %v", eventual.ColumnHydrationState, got, want)
		}
	})
	t.Run("StateAndStatusOverridden", func(t *testing.T) {
		defs := thingDefs()
		defs[0].StateOptions = []eventual.Option{{Value: 0, Label: "Open"}, {Value: 3, Label: "Done"}}
		defs[0].StatusOptions = []eventual.Option{{Value: 10, Label: "New"}, {Value: 30, Label: "Closed"}}
		defs[0].DefaultState, defs[0].DefaultStatus = int64p(3), int64p(10)
		s, err := eventual.NewSchema(defs)
		if err != nil {
			t.Fatalf("NewSchema: %v", err)
		}
		tbl := s.Table("new_thing")
		state, status := tbl.Column("statecode"), tbl.Column("statuscode")
		if got, want := state.Options, defs[0].StateOptions; !reflect.DeepEqual(got, want) {
			t.Errorf("statecode options = %v, want %v", got, want)
		}
		if got, want := status.Options, defs[0].StatusOptions; !reflect.DeepEqual(got, want) {
			t.Errorf("statuscode options = %v, want %v", got, want)
		}
		if got, want := state.Default, any(int64(3)); got != want {
			t.Errorf("statecode default = %v, want %v", got, want)
		}
		if got, want := status.Default, any(int64(10)); got != want {
			t.Errorf("statuscode default = %v, want %v", got, want)
		}
		// The other table keeps the standard options.
		if got, want := len(s.Table("new_part").Column("statecode").Options), 2; got != want {
			t.Errorf("new_part statecode options = %d, want %d", got, want)
		}
	})
	t.Run("OrderSystemFirst", func(t *testing.T) {
		var names []string
		for _, c := range tbl.Columns {
			names = append(names, c.LogicalName)
		}
		want := []string{"new_thingid", "createdon", "modifiedon", "versionnumber", "statecode", "statuscode",
			eventual.ColumnHydrationState, eventual.ColumnPlaceholderOn, eventual.ColumnPlaceholderCorrelation, eventual.ColumnHydratedOn,
			"new_name", "new_number"}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("columns = %v, want %v", names, want)
		}
	})
}

// TestNewSchema_TableDefaults checks the names and codes NewSchema derives
// for a table that declares only its logical name.
func TestNewSchema_TableDefaults(t *testing.T) {
	defs := []eventual.TableDef{
		{LogicalName: "new_thing"},
		{LogicalName: "new_category"},
		{LogicalName: "new_box"},
		{LogicalName: "new_label", SchemaName: "new_Label", EntitySetName: "new_labelset", DisplayName: "Label",
			DisplayCollectionName: "Labels", ObjectTypeCode: 10500},
	}
	s, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	for _, tc := range []struct {
		table                               string
		schema, set, display, displayPlural string
		code                                int
	}{
		{"new_thing", "New_thing", "new_things", "New_thing", "New_things", 10000},
		{"new_category", "New_category", "new_categories", "New_category", "New_categorys", 10001},
		{"new_box", "New_box", "new_boxes", "New_box", "New_boxs", 10002},
		{"new_label", "new_Label", "new_labelset", "Label", "Labels", 10500},
	} {
		t.Run(tc.table, func(t *testing.T) {
			tbl := s.Table(tc.table)
			if tbl == nil {
				t.Fatalf("Table(%q) = nil", tc.table)
			}
			if got, want := tbl.SchemaName, tc.schema; got != want {
				t.Errorf("SchemaName = %q, want %q", got, want)
			}
			if got, want := tbl.EntitySetName, tc.set; got != want {
				t.Errorf("EntitySetName = %q, want %q", got, want)
			}
			if got, want := s.TableBySet(tc.set), tbl; got != want {
				t.Errorf("TableBySet(%q) = %v, want %s", tc.set, got, tc.table)
			}
			if got, want := tbl.DisplayName, tc.display; got != want {
				t.Errorf("DisplayName = %q, want %q", got, want)
			}
			if got, want := tbl.DisplayCollectionName, tc.displayPlural; got != want {
				t.Errorf("DisplayCollectionName = %q, want %q", got, want)
			}
			if got, want := tbl.ObjectTypeCode, tc.code; got != want {
				t.Errorf("ObjectTypeCode = %d, want %d", got, want)
			}
			if got, want := tbl.PrimaryName(), (*eventual.Column)(nil); got != want {
				t.Errorf("PrimaryName() = %v, want nil", got)
			}
		})
	}
	if got, want := len(s.Tables()), len(defs); got != want {
		t.Errorf("Tables() has %d tables, want %d", got, want)
	}
	for i, tbl := range s.Tables() {
		if got, want := tbl.LogicalName, defs[i].LogicalName; got != want {
			t.Errorf("Tables()[%d] = %q, want %q (declaration order)", i, got, want)
		}
	}
}

// TestNewSchema_ColumnDefaults checks the defaults NewSchema applies to a
// column for each type: lengths, precisions, ranges, formats and names.
func TestNewSchema_ColumnDefaults(t *testing.T) {
	money := float64(922337203685477)
	for _, tc := range []struct {
		name     string
		def      eventual.ColumnDef
		length   int
		prec     int
		min, max float64
		format   eventual.DateTimeFormat
	}{
		{"string", eventual.ColumnDef{Type: eventual.TypeString}, eventual.DefaultStringLen, 0, 0, 0, ""},
		{"string with length", eventual.ColumnDef{Type: eventual.TypeString, MaxLength: 42}, 42, 0, 0, 0, ""},
		{"memo", eventual.ColumnDef{Type: eventual.TypeMemo}, eventual.DefaultMemoLen, 0, 0, 0, ""},
		{"integer", eventual.ColumnDef{Type: eventual.TypeInteger}, 0, 0, math.MinInt32, math.MaxInt32, ""},
		{"integer with range", eventual.ColumnDef{Type: eventual.TypeInteger, MinValue: floatp(0), MaxValue: floatp(10)}, 0, 0, 0, 10, ""},
		{"integer with min only", eventual.ColumnDef{Type: eventual.TypeInteger, MinValue: floatp(1)}, 0, 0, 1, math.MaxInt32, ""},
		{"bigint", eventual.ColumnDef{Type: eventual.TypeBigInt}, 0, 0, math.MinInt64, math.MaxInt64, ""},
		{"choice", eventual.ColumnDef{Type: eventual.TypeChoice, Options: []eventual.Option{{Value: 1, Label: "One"}}}, 0, 0, math.MinInt32, math.MaxInt32, ""},
		{"decimal", eventual.ColumnDef{Type: eventual.TypeDecimal}, 0, eventual.DefaultPrecision, -1e11, 1e11, ""},
		// 10 places leave floor(MaxInt64 / 10^10) whole units.
		{"decimal precision 10", eventual.ColumnDef{Type: eventual.TypeDecimal, Precision: intp(10)}, 0, 10, -922337203, 922337203, ""},
		{"money", eventual.ColumnDef{Type: eventual.TypeMoney}, 0, eventual.MoneyPrecision, -money, money, ""},
		{"money precision 2", eventual.ColumnDef{Type: eventual.TypeMoney, Precision: intp(2)}, 0, 2, -money, money, ""},
		{"money precision 6", eventual.ColumnDef{Type: eventual.TypeMoney, Precision: intp(6)}, 0, 6, -9223372036854, 9223372036854, ""},
		{"double", eventual.ColumnDef{Type: eventual.TypeDouble}, 0, 2, -1e11, 1e11, ""},
		{"double precision 5", eventual.ColumnDef{Type: eventual.TypeDouble, Precision: intp(5)}, 0, 5, -1e11, 1e11, ""},
		{"datetime", eventual.ColumnDef{Type: eventual.TypeDateTime}, 0, 0, 0, 0, eventual.DateAndTime},
		{"dateonly", eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateOnly}, 0, 0, 0, 0, eventual.DateOnly},
		{"boolean", eventual.ColumnDef{Type: eventual.TypeBoolean}, 0, 0, 0, 0, ""},
		{"uniqueidentifier", eventual.ColumnDef{Type: eventual.TypeUniqueIdentifier}, 0, 0, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.def
			d.LogicalName = "new_x"
			s, err := eventual.NewSchema(withColumn(d))
			if err != nil {
				t.Fatalf("NewSchema: %v", err)
			}
			c := s.Table("new_thing").Column("new_x")
			if got, want := c.MaxLength, tc.length; got != want {
				t.Errorf("MaxLength = %d, want %d", got, want)
			}
			if got, want := c.Precision, tc.prec; got != want {
				t.Errorf("Precision = %d, want %d", got, want)
			}
			if got, want := c.MinValue, tc.min; got != want {
				t.Errorf("MinValue = %v, want %v", got, want)
			}
			if got, want := c.MaxValue, tc.max; got != want {
				t.Errorf("MaxValue = %v, want %v", got, want)
			}
			if got, want := c.Format, tc.format; got != want {
				t.Errorf("Format = %q, want %q", got, want)
			}
			if got, want := c.SchemaName, "New_x"; got != want {
				t.Errorf("SchemaName = %q, want %q", got, want)
			}
			if got, want := c.DisplayName, "New_x"; got != want {
				t.Errorf("DisplayName = %q, want %q", got, want)
			}
			if got, want := c.ValueProperty(), "new_x"; got != want {
				t.Errorf("ValueProperty() = %q, want %q", got, want)
			}
		})
	}
}

// TestNewSchema_Relationships checks the relationships and navigation
// properties NewSchema derives: a lookup without a declared relationship
// name gets "<target>_<table>_<lookup>"; its single-valued navigation is
// the lookup's name (a customer lookup's is "<lookup>_<target>") and the
// referenced table's collection-valued navigation is the relationship's
// name.
func TestNewSchema_Relationships(t *testing.T) {
	defs := thingDefs()
	defs[1].Columns = append(defs[1].Columns,
		eventual.ColumnDef{LogicalName: "new_ownerid", Type: eventual.TypeCustomer, Targets: []string{"new_thing", "new_part"}},
		eventual.ColumnDef{LogicalName: "new_mainthingid", Type: eventual.TypeLookup, Targets: []string{"new_thing"}, Relationships: []string{"new_main_parts"}},
	)
	s, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	thing, part := s.Table("new_thing"), s.Table("new_part")
	for _, tc := range []struct {
		rel        string
		lookup     string
		referenced *eventual.Table
		single     string // navigation on new_part
	}{
		{"new_thing_new_part_new_thingid", "new_thingid", thing, "new_thingid"},
		{"new_thing_new_part_new_ownerid", "new_ownerid", thing, "new_ownerid_new_thing"},
		{"new_part_new_part_new_ownerid", "new_ownerid", part, "new_ownerid_new_part"},
		{"new_main_parts", "new_mainthingid", thing, "new_mainthingid"},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			r := s.Relationship(tc.rel)
			if r == nil {
				t.Fatalf("Relationship(%q) = nil; have %v", tc.rel, relNames(s.Relationships()))
			}
			if got, want := r.SchemaName, tc.rel; got != want {
				t.Errorf("SchemaName = %q, want %q", got, want)
			}
			if got, want := r.ReferencedTable, tc.referenced; got != want {
				t.Errorf("ReferencedTable = %s, want %s", got.LogicalName, want.LogicalName)
			}
			if got, want := r.ReferencingTable, part; got != want {
				t.Errorf("ReferencingTable = %s, want new_part", got.LogicalName)
			}
			if got, want := r.Lookup, part.Column(tc.lookup); got != want {
				t.Errorf("Lookup = %v, want column %s", got, tc.lookup)
			}
			if got, want := r.ReferencingNavigation, tc.single; got != want {
				t.Errorf("ReferencingNavigation = %q, want %q", got, want)
			}
			if got, want := r.ReferencedNavigation, tc.rel; got != want {
				t.Errorf("ReferencedNavigation = %q, want %q", got, want)
			}
			if got, want := part.Navigation(tc.single), r; got != want {
				t.Errorf("new_part.Navigation(%q) = %v, want %s", tc.single, got, tc.rel)
			}
			if part.IsCollectionNavigation(tc.single) {
				t.Errorf("new_part.IsCollectionNavigation(%q) = true, want false", tc.single)
			}
			if got, want := tc.referenced.Navigation(tc.rel), r; got != want {
				t.Errorf("%s.Navigation(%q) = %v, want %s", tc.referenced.LogicalName, tc.rel, got, tc.rel)
			}
			if !tc.referenced.IsCollectionNavigation(tc.rel) {
				t.Errorf("%s.IsCollectionNavigation(%q) = false, want true", tc.referenced.LogicalName, tc.rel)
			}
			if got, want := part.Column(tc.lookup).RelationshipTo(tc.referenced.LogicalName), r; got != want {
				t.Errorf("RelationshipTo(%q) = %v, want %s", tc.referenced.LogicalName, got, tc.rel)
			}
		})
	}
	t.Run("Lookups", func(t *testing.T) {
		owner := part.Column("new_ownerid")
		if got, want := relNames(owner.Relationships()), []string{"new_thing_new_part_new_ownerid", "new_part_new_part_new_ownerid"}; !reflect.DeepEqual(got, want) {
			t.Errorf("new_ownerid.Relationships() = %v, want %v (Targets order)", got, want)
		}
		if got := owner.RelationshipTo("account"); got != nil {
			t.Errorf("RelationshipTo(account) = %s, want nil", got.SchemaName)
		}
		if got, want := owner.ValueProperty(), "_new_ownerid_value"; got != want {
			t.Errorf("ValueProperty() = %q, want %q", got, want)
		}
		if got, want := part.ColumnByProperty("_new_ownerid_value"), owner; got != want {
			t.Errorf("ColumnByProperty(_new_ownerid_value) = %v, want new_ownerid", got)
		}
		if got := part.ColumnByProperty("new_ownerid"); got != nil {
			t.Errorf("ColumnByProperty(new_ownerid) = %s, want nil (lookups use _name_value)", got.LogicalName)
		}
	})
	t.Run("Sides", func(t *testing.T) {
		if got, want := relNames(part.ManyToOne()), []string{"new_thing_new_part_new_thingid", "new_thing_new_part_new_ownerid",
			"new_part_new_part_new_ownerid", "new_main_parts"}; !reflect.DeepEqual(got, want) {
			t.Errorf("new_part.ManyToOne() = %v, want %v", got, want)
		}
		if got, want := relNames(thing.OneToMany()), []string{"new_thing_new_part_new_thingid", "new_thing_new_part_new_ownerid",
			"new_main_parts"}; !reflect.DeepEqual(got, want) {
			t.Errorf("new_thing.OneToMany() = %v, want %v", got, want)
		}
		if got, want := relNames(part.OneToMany()), []string{"new_part_new_part_new_ownerid"}; !reflect.DeepEqual(got, want) {
			t.Errorf("new_part.OneToMany() = %v, want %v", got, want)
		}
		if got := thing.ManyToOne(); len(got) != 0 {
			t.Errorf("new_thing.ManyToOne() = %v, want none", relNames(got))
		}
		if got, want := relNames(s.Relationships()), []string{"new_main_parts", "new_part_new_part_new_ownerid",
			"new_thing_new_part_new_ownerid", "new_thing_new_part_new_thingid"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Relationships() = %v, want %v (sorted)", got, want)
		}
		if got := thing.Navigation("new_thingid"); got != nil {
			t.Errorf("new_thing.Navigation(new_thingid) = %s, want nil (the lookup is on new_part)", got.SchemaName)
		}
	})
}

func relNames(rs []*eventual.Relationship) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.SchemaName)
	}
	return out
}

// TestNewSchema_Keys checks the keys NewSchema builds and the lookups by
// name and by columns.
func TestNewSchema_Keys(t *testing.T) {
	defs := withKeys([]eventual.ColumnDef{{LogicalName: "new_code", Type: eventual.TypeString, MaxLength: 20}},
		eventual.KeyDef{LogicalName: "new_code_key", Columns: cols("new_code")},
		eventual.KeyDef{LogicalName: "new_pair_key", Columns: cols("new_number", "new_name")})
	s, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	tbl := s.Table("new_thing")
	pair := tbl.Key("new_pair_key")
	if pair == nil {
		t.Fatal("Key(new_pair_key) = nil")
	}
	if got, want := pair.ColumnNames(), []string{"new_number", "new_name"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ColumnNames() = %v, want %v (declaration order)", got, want)
	}
	if got, want := pair.Table(), tbl; got != want {
		t.Errorf("Table() = %v, want new_thing", got)
	}
	for _, tc := range []struct {
		name    string
		columns []string
		want    string
	}{
		{"OneColumn", cols("new_code"), "new_code_key"},
		{"InOrder", cols("new_number", "new_name"), "new_pair_key"},
		{"AnyOrder", cols("new_name", "new_number"), "new_pair_key"},
		{"NoneForPart", cols("new_name"), ""},
		{"NoneForMore", cols("new_name", "new_number", "new_code"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if k := tbl.KeyFor(tc.columns); k != nil {
				got = k.LogicalName
			}
			if got != tc.want {
				t.Errorf("KeyFor(%v) = %q, want %q", tc.columns, got, tc.want)
			}
		})
	}
	if got := tbl.Key("new_missing"); got != nil {
		t.Errorf("Key(new_missing) = %v, want nil", got)
	}
}

// TestKey_Size checks the bytes each column type takes in Dataverse's SQL
// index: 2 per character of text, 4 for int and choice, 8 for bigint and
// datetime, 13 for decimals, 16 for GUIDs and lookups.
func TestKey_Size(t *testing.T) {
	for _, tc := range []struct {
		name    string
		columns []*eventual.Column
		want    int
	}{
		{"Empty", nil, 0},
		{"String", []*eventual.Column{{Type: eventual.TypeString, MaxLength: 100}}, 200},
		{"Memo", []*eventual.Column{{Type: eventual.TypeMemo, MaxLength: 10}}, 20},
		{"Integer", []*eventual.Column{{Type: eventual.TypeInteger}}, 4},
		{"Choice", []*eventual.Column{{Type: eventual.TypeChoice}}, 4},
		{"BigInt", []*eventual.Column{{Type: eventual.TypeBigInt}}, 8},
		{"DateTime", []*eventual.Column{{Type: eventual.TypeDateTime}}, 8},
		{"Decimal", []*eventual.Column{{Type: eventual.TypeDecimal}}, 13},
		{"Money", []*eventual.Column{{Type: eventual.TypeMoney}}, 13},
		{"Lookup", []*eventual.Column{{Type: eventual.TypeLookup}}, 16},
		{"Customer", []*eventual.Column{{Type: eventual.TypeCustomer}}, 16},
		{"UniqueIdentifier", []*eventual.Column{{Type: eventual.TypeUniqueIdentifier}}, 16},
		{"Sum", []*eventual.Column{{Type: eventual.TypeString, MaxLength: 50}, {Type: eventual.TypeInteger},
			{Type: eventual.TypeDateTime}, {Type: eventual.TypeLookup}}, 100 + 4 + 8 + 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &eventual.Key{LogicalName: "k", Columns: tc.columns}
			if got, want := k.Size(), tc.want; got != want {
				t.Errorf("Size() = %d, want %d", got, want)
			}
		})
	}
	t.Run("BuiltKey", func(t *testing.T) {
		s, err := eventual.NewSchema(withKeys([]eventual.ColumnDef{
			{LogicalName: "new_code", Type: eventual.TypeString}, // default 100 characters
			{LogicalName: "new_when", Type: eventual.TypeDateTime},
			{LogicalName: "new_ref", Type: eventual.TypeLookup, Targets: []string{"new_part"}},
		}, eventual.KeyDef{LogicalName: "new_key", Columns: cols("new_code", "new_when", "new_ref", "new_number")}))
		if err != nil {
			t.Fatalf("NewSchema: %v", err)
		}
		if got, want := s.Table("new_thing").Key("new_key").Size(), 200+8+16+4; got != want {
			t.Errorf("Size() = %d, want %d", got, want)
		}
	})
}

// TestPluralize checks the default entity set names.
func TestPluralize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"account", "accounts"},
		{"opportunity", "opportunities"},
		{"day", "days"},
		{"address", "addresses"},
		{"box", "boxes"},
		{"church", "churches"},
		{"wish", "wishes"},
		{"y", "ys"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got, want := eventual.Pluralize(tc.in), tc.want; got != want {
				t.Errorf("Pluralize(%q) = %q, want %q", tc.in, got, want)
			}
		})
	}
}
