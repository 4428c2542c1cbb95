package eventual

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// ColumnType is the type of a column, named as Dataverse names attribute
// types in its metadata (AttributeTypeName without the "Type" suffix).
type ColumnType string

// The column types a table may declare.
const (
	TypeString           ColumnType = "string"
	TypeMemo             ColumnType = "memo"
	TypeInteger          ColumnType = "integer"
	TypeBigInt           ColumnType = "bigint"
	TypeDecimal          ColumnType = "decimal"
	TypeMoney            ColumnType = "money"
	TypeDouble           ColumnType = "double"
	TypeBoolean          ColumnType = "boolean"
	TypeDateTime         ColumnType = "datetime"
	TypeUniqueIdentifier ColumnType = "uniqueidentifier"
	TypeChoice           ColumnType = "choice"
	TypeLookup           ColumnType = "lookup"
	TypeCustomer         ColumnType = "customer"
)

// ColumnTypes lists every column type, in documentation order.
var ColumnTypes = []ColumnType{
	TypeString, TypeMemo, TypeInteger, TypeBigInt, TypeDecimal, TypeMoney,
	TypeDouble, TypeBoolean, TypeDateTime, TypeUniqueIdentifier, TypeChoice,
	TypeLookup, TypeCustomer,
}

// IsLookup reports whether values of the type reference another record.
func (t ColumnType) IsLookup() bool { return t == TypeLookup || t == TypeCustomer }

// IsText reports whether values of the type are strings.
func (t ColumnType) IsText() bool { return t == TypeString || t == TypeMemo }

// IsNumeric reports whether values of the type are numbers.
func (t ColumnType) IsNumeric() bool {
	switch t {
	case TypeInteger, TypeBigInt, TypeDecimal, TypeMoney, TypeDouble, TypeChoice:
		return true
	}
	return false
}

// IsDecimal reports whether values of the type are exact decimals.
func (t ColumnType) IsDecimal() bool { return t == TypeDecimal || t == TypeMoney }

// DateTimeFormat is the format of a datetime column.
type DateTimeFormat string

// Datetime formats. DateAndTime values carry a time of day in UTC; DateOnly
// values are calendar dates, written and read as "2006-01-02".
const (
	DateAndTime DateTimeFormat = "dateandtime"
	DateOnly    DateTimeFormat = "dateonly"
)

// Option is one value of a choice column.
type Option struct {
	// Value is the integer stored for the option.
	Value int64
	// Label is the option's display label, returned as its formatted value.
	Label string
}

// Column describes one column (Dataverse attribute) of a table.
type Column struct {
	// LogicalName is the column's name in URLs, bodies and SQL, lower case.
	LogicalName string
	// SchemaName is the column's schema name; it defaults to LogicalName.
	SchemaName string
	// DisplayName is the column's label.
	DisplayName string
	// Type is the column's type.
	Type ColumnType
	// MaxLength bounds string and memo values, in characters.
	MaxLength int
	// Precision is the number of decimal places kept for decimal and money
	// values. Values are rounded to it on write.
	Precision int
	// MinValue and MaxValue bound numeric values. Both zero means the
	// type's default range.
	MinValue, MaxValue float64
	// Format is the format of a datetime column.
	Format DateTimeFormat
	// Options lists the values of a choice column.
	Options []Option
	// Targets lists the logical names of the tables a lookup may reference:
	// exactly one for a lookup, one or more for a customer lookup.
	Targets []string
	// Required makes the column mandatory on create (ApplicationRequired).
	Required bool
	// System marks the columns the instance maintains (createdon,
	// modifiedon, versionnumber, the primary key). Clients cannot write
	// them; values sent for them are ignored, as Dataverse ignores
	// attributes that are not valid for create or update.
	System bool
	// Computed marks a column whose value the instance derives from other
	// columns (contact.fullname). Writes to it are ignored.
	Computed bool
	// Default is the value a create stores when the body does not set the
	// column. Only statecode and statuscode use it in the built-in schema.
	Default any

	table *Table
	// relationships of a lookup, one per target, in Targets order.
	rels []*Relationship
	// relNames are the declared relationship names, used while building.
	relNames []string
}

// Table returns the table that owns the column.
func (c *Column) Table() *Table { return c.table }

// Relationships returns the many-to-one relationships of a lookup column,
// one per target table, in Targets order.
func (c *Column) Relationships() []*Relationship { return c.rels }

// RelationshipTo returns the relationship of a lookup column to the target
// table, or nil if the table is not one of its targets.
func (c *Column) RelationshipTo(target string) *Relationship {
	for _, r := range c.rels {
		if r.ReferencedTable.LogicalName == target {
			return r
		}
	}
	return nil
}

// ValueProperty returns the name of the column's property in Web API
// payloads: the logical name, or "_name_value" for a lookup.
func (c *Column) ValueProperty() string {
	if c.Type.IsLookup() {
		return "_" + c.LogicalName + "_value"
	}
	return c.LogicalName
}

// OptionLabel returns the label of a choice value.
func (c *Column) OptionLabel(v int64) (string, bool) {
	for _, o := range c.Options {
		if o.Value == v {
			return o.Label, true
		}
	}
	return "", false
}

// Key is an alternate key: a set of columns whose values identify a record.
// A unique index enforces it.
type Key struct {
	// LogicalName is the key's name, for example "accountnumber_key".
	LogicalName string
	// Columns are the key's columns, in declaration order.
	Columns []*Column

	table *Table
}

// Table returns the table that owns the key.
func (k *Key) Table() *Table { return k.table }

// ColumnNames returns the logical names of the key's columns.
func (k *Key) ColumnNames() []string {
	names := make([]string, len(k.Columns))
	for i, c := range k.Columns {
		names[i] = c.LogicalName
	}
	return names
}

// Relationship is a one-to-many relationship: a lookup column on the
// referencing (many) table pointing at the referenced (one) table's primary
// key. A customer lookup has one relationship per target table.
type Relationship struct {
	// SchemaName is the relationship's name, for example
	// "contact_customer_accounts". It is also the name of the
	// collection-valued navigation property on the referenced table.
	SchemaName string
	// ReferencedTable is the "one" side.
	ReferencedTable *Table
	// ReferencingTable is the "many" side, which holds the lookup.
	ReferencingTable *Table
	// Lookup is the lookup column on the referencing table.
	Lookup *Column
	// ReferencingNavigation is the single-valued navigation property on the
	// referencing table: the lookup's name for a plain lookup, or
	// "lookup_target" for a customer lookup.
	ReferencingNavigation string
	// ReferencedNavigation is the collection-valued navigation property on
	// the referenced table.
	ReferencedNavigation string
}

// Table describes one table (Dataverse entity).
type Table struct {
	// LogicalName is the table's name, for example "account".
	LogicalName string
	// SchemaName defaults to LogicalName with its first letter upper case.
	SchemaName string
	// EntitySetName is the table's name in Web API URLs, for example
	// "accounts".
	EntitySetName string
	// DisplayName and DisplayCollectionName are labels.
	DisplayName, DisplayCollectionName string
	// PrimaryIDAttribute names the primary key column, "<table>id".
	PrimaryIDAttribute string
	// PrimaryNameAttribute names the primary name column.
	PrimaryNameAttribute string
	// ObjectTypeCode is the table's type code.
	ObjectTypeCode int
	// IsCustom marks tables that are not part of Dataverse's own schema.
	IsCustom bool
	// ChangeTracking enables change tracking for the table.
	ChangeTracking bool
	// Columns lists the table's columns, system columns included.
	Columns []*Column
	// Keys lists the table's alternate keys.
	Keys []*Key

	columns    map[string]*Column
	byProperty map[string]*Column
	manyToOne  []*Relationship
	oneToMany  []*Relationship
	navs       map[string]*Relationship
}

// Column returns the column with the logical name, or nil.
func (t *Table) Column(name string) *Column { return t.columns[name] }

// ColumnByProperty returns the column whose Web API property name (see
// Column.ValueProperty) is name, or nil.
func (t *Table) ColumnByProperty(name string) *Column { return t.byProperty[name] }

// PrimaryKey returns the primary key column.
func (t *Table) PrimaryKey() *Column { return t.columns[t.PrimaryIDAttribute] }

// PrimaryName returns the primary name column, or nil if it has none.
func (t *Table) PrimaryName() *Column { return t.columns[t.PrimaryNameAttribute] }

// Key returns the alternate key with the logical name, or nil.
func (t *Table) Key(name string) *Key {
	for _, k := range t.Keys {
		if k.LogicalName == name {
			return k
		}
	}
	return nil
}

// KeyFor returns the alternate key whose columns are exactly the named
// columns, in any order, or nil.
func (t *Table) KeyFor(columns []string) *Key {
	for _, k := range t.Keys {
		if len(k.Columns) != len(columns) {
			continue
		}
		match := true
		for _, c := range k.Columns {
			if !slices.Contains(columns, c.LogicalName) {
				match = false
				break
			}
		}
		if match {
			return k
		}
	}
	return nil
}

// ManyToOne returns the relationships in which this table holds the lookup.
func (t *Table) ManyToOne() []*Relationship { return t.manyToOne }

// OneToMany returns the relationships in which other tables reference this
// one.
func (t *Table) OneToMany() []*Relationship { return t.oneToMany }

// Navigation returns the relationship behind a navigation property of the
// table (single-valued or collection-valued), or nil.
func (t *Table) Navigation(name string) *Relationship { return t.navs[name] }

// IsCollectionNavigation reports whether the named navigation property of
// the table is collection-valued.
func (t *Table) IsCollectionNavigation(name string) bool {
	r := t.navs[name]
	return r != nil && r.ReferencedTable == t && r.ReferencedNavigation == name
}

// MetadataID returns a stable identifier for the table's metadata, derived
// from its logical name so that it survives restarts.
func (t *Table) MetadataID() uuid.UUID {
	return uuid.NewSHA1(metadataNamespace, []byte("table:"+t.LogicalName))
}

// MetadataIDFor returns a stable metadata identifier for a part of the
// schema (a column, a key, a relationship) named by kind and name.
func MetadataIDFor(kind, name string) uuid.UUID {
	return uuid.NewSHA1(metadataNamespace, []byte(kind+":"+name))
}

var metadataNamespace = uuid.MustParse("5b0f6a52-3c0e-4b8e-9a55-0d3f2c1e7a10")

// Schema is a validated, indexed set of tables.
type Schema struct {
	tables []*Table
	byName map[string]*Table
	bySet  map[string]*Table
	rels   map[string]*Relationship
}

// Tables returns the schema's tables in declaration order.
func (s *Schema) Tables() []*Table { return s.tables }

// Table returns the table with the logical name, or nil.
func (s *Schema) Table(logicalName string) *Table { return s.byName[logicalName] }

// TableBySet returns the table with the entity set name, or nil. Entity set
// names are case-sensitive, as in Dataverse.
func (s *Schema) TableBySet(set string) *Table { return s.bySet[set] }

// Relationship returns the relationship with the schema name, or nil.
func (s *Schema) Relationship(name string) *Relationship { return s.rels[name] }

// Relationships returns every relationship, sorted by schema name.
func (s *Schema) Relationships() []*Relationship {
	out := make([]*Relationship, 0, len(s.rels))
	for _, r := range s.rels {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SchemaName < out[j].SchemaName })
	return out
}

// The placeholder lifecycle columns every table has. They are system
// columns: readable and filterable, written only by the instance.
const (
	// ColumnHydrationState is HydrationRecord for a record created with
	// its data, HydrationPlaceholder for a placeholder created because a
	// write bound a lookup to a record that did not exist yet, and
	// HydrationHydrated once a write brought a placeholder its real data.
	ColumnHydrationState = "eventual_hydrationstate"
	// ColumnPlaceholderOn is when the placeholder was created.
	ColumnPlaceholderOn = "eventual_placeholderon"
	// ColumnPlaceholderCorrelation is the correlation id of the request
	// that caused the placeholder.
	ColumnPlaceholderCorrelation = "eventual_placeholdercorrelationid"
	// ColumnHydratedOn is when the placeholder was hydrated.
	ColumnHydratedOn = "eventual_hydratedon"
)

// Hydration states.
const (
	HydrationRecord      int64 = 0
	HydrationPlaceholder int64 = 1
	HydrationHydrated    int64 = 2
)

// Limits that Dataverse documents for alternate keys and names. Keys:
// "the total key size doesn't violate SQL-based index constraints like 900
// bytes per key and 16 columns per key", and up to ten keys per table
// (powerapps-docs, developer/data-platform/define-alternate-keys-entity.md).
const (
	MaxKeysPerTable   = 10
	MaxColumnsPerKey  = 16
	MaxKeyBytes       = 900
	DefaultStringLen  = 100
	DefaultMemoLen    = 2000
	MaxStringLen      = 4000
	MaxMemoLen        = 1048576
	DefaultPrecision  = 2
	MoneyPrecision    = 4
	maxNameLength     = 128
	minInteger        = -2147483648
	maxInteger        = 2147483647
	defaultMaxDecimal = 100000000000
	defaultMaxMoney   = 922337203685477
	defaultMaxDouble  = 100000000000
	defaultObjectCode = 10000
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// TableDef is the definition of a table before validation: what schema
// files and the built-in schema declare. NewSchema turns definitions into a
// Schema, adding the system columns every table has.
type TableDef struct {
	LogicalName           string
	SchemaName            string
	EntitySetName         string
	DisplayName           string
	DisplayCollectionName string
	PrimaryNameAttribute  string
	ObjectTypeCode        int
	IsCustom              bool
	ChangeTracking        bool
	Columns               []ColumnDef
	Keys                  []KeyDef
	// StateOptions and StatusOptions replace the options of statecode and
	// statuscode (Active/Inactive by default); DefaultState and
	// DefaultStatus replace their defaults.
	StateOptions, StatusOptions []Option
	DefaultState, DefaultStatus *int64
}

// ColumnDef is the definition of a column.
type ColumnDef struct {
	LogicalName string
	SchemaName  string
	DisplayName string
	Type        ColumnType
	MaxLength   int
	Precision   *int
	MinValue    *float64
	MaxValue    *float64
	Format      DateTimeFormat
	Options     []Option
	Targets     []string
	Required    bool
	// Relationships names the relationship to each target, in Targets
	// order. Empty entries get a generated name.
	Relationships []string
	// Computed marks a derived column (only contact.fullname is derived).
	Computed bool
}

// KeyDef is the definition of an alternate key.
type KeyDef struct {
	LogicalName string
	Columns     []string
}

// NewSchema validates table definitions and builds a schema. It adds to
// every table its primary key ("<table>id") and the system columns
// createdon, modifiedon, versionnumber, statecode and statuscode, resolves
// lookup targets and derives the relationships and navigation properties.
func NewSchema(defs []TableDef) (*Schema, error) {
	s := &Schema{
		byName: map[string]*Table{},
		bySet:  map[string]*Table{},
		rels:   map[string]*Relationship{},
	}
	for i, d := range defs {
		t, err := buildTable(d, i)
		if err != nil {
			return nil, err
		}
		if s.byName[t.LogicalName] != nil {
			return nil, fmt.Errorf("table %q is defined twice", t.LogicalName)
		}
		if s.bySet[t.EntitySetName] != nil {
			return nil, fmt.Errorf("table %q: entity set name %q is already used", t.LogicalName, t.EntitySetName)
		}
		s.tables = append(s.tables, t)
		s.byName[t.LogicalName] = t
		s.bySet[t.EntitySetName] = t
	}
	// Resolve lookups into relationships.
	for _, t := range s.tables {
		for _, c := range t.Columns {
			if !c.Type.IsLookup() {
				continue
			}
			if err := s.linkLookup(t, c); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range s.tables {
		if err := t.index(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func buildTable(d TableDef, pos int) (*Table, error) {
	if !nameRE.MatchString(d.LogicalName) || len(d.LogicalName) > maxNameLength-2 {
		return nil, fmt.Errorf("table %d: logical name %q must be lower case letters, digits and underscores, starting with a letter", pos+1, d.LogicalName)
	}
	t := &Table{
		LogicalName:           d.LogicalName,
		SchemaName:            d.SchemaName,
		EntitySetName:         d.EntitySetName,
		DisplayName:           d.DisplayName,
		DisplayCollectionName: d.DisplayCollectionName,
		PrimaryIDAttribute:    d.LogicalName + "id",
		PrimaryNameAttribute:  d.PrimaryNameAttribute,
		ObjectTypeCode:        d.ObjectTypeCode,
		IsCustom:              d.IsCustom,
		ChangeTracking:        d.ChangeTracking,
	}
	if t.SchemaName == "" {
		t.SchemaName = upperFirst(t.LogicalName)
	}
	if t.EntitySetName == "" {
		t.EntitySetName = Pluralize(t.LogicalName)
	}
	if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`).MatchString(t.EntitySetName) {
		return nil, fmt.Errorf("table %q: entity set name %q is not a valid identifier", t.LogicalName, t.EntitySetName)
	}
	if t.DisplayName == "" {
		t.DisplayName = t.SchemaName
	}
	if t.DisplayCollectionName == "" {
		t.DisplayCollectionName = t.DisplayName + "s"
	}
	if t.ObjectTypeCode == 0 {
		t.ObjectTypeCode = defaultObjectCode + pos
	}
	// System columns first, in a fixed order (NewSchema relies on their
	// number to map columns back to definitions).
	t.Columns = []*Column{
		{LogicalName: t.PrimaryIDAttribute, Type: TypeUniqueIdentifier, System: true, DisplayName: t.DisplayName},
		{LogicalName: "createdon", Type: TypeDateTime, Format: DateAndTime, System: true, DisplayName: "Created On"},
		{LogicalName: "modifiedon", Type: TypeDateTime, Format: DateAndTime, System: true, DisplayName: "Modified On"},
		{LogicalName: "versionnumber", Type: TypeBigInt, System: true, DisplayName: "Version Number"},
		{LogicalName: "statecode", Type: TypeChoice, DisplayName: "Status", Default: int64(0),
			Options: []Option{{0, "Active"}, {1, "Inactive"}}},
		{LogicalName: "statuscode", Type: TypeChoice, DisplayName: "Status Reason", Default: int64(1),
			Options: []Option{{1, "Active"}, {2, "Inactive"}}},
		// The placeholder lifecycle (see ColumnHydrationState).
		{LogicalName: ColumnHydrationState, Type: TypeChoice, System: true, DisplayName: "Hydration State", Default: int64(HydrationRecord),
			Options: []Option{{HydrationRecord, "Record"}, {HydrationPlaceholder, "Placeholder"}, {HydrationHydrated, "Hydrated"}}},
		{LogicalName: ColumnPlaceholderOn, Type: TypeDateTime, Format: DateAndTime, System: true, DisplayName: "Placeholder Created On"},
		{LogicalName: ColumnPlaceholderCorrelation, Type: TypeUniqueIdentifier, System: true, DisplayName: "Placeholder Correlation Id"},
		{LogicalName: ColumnHydratedOn, Type: TypeDateTime, Format: DateAndTime, System: true, DisplayName: "Hydrated On"},
	}
	if d.StateOptions != nil {
		t.Columns[4].Options = d.StateOptions
	}
	if d.StatusOptions != nil {
		t.Columns[5].Options = d.StatusOptions
	}
	if d.DefaultState != nil {
		t.Columns[4].Default = *d.DefaultState
	}
	if d.DefaultStatus != nil {
		t.Columns[5].Default = *d.DefaultStatus
	}
	for _, cd := range d.Columns {
		c, err := buildColumn(t, cd)
		if err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, c)
	}
	t.columns = map[string]*Column{}
	for _, c := range t.Columns {
		if t.columns[c.LogicalName] != nil {
			return nil, fmt.Errorf("table %q: column %q is defined twice (or clashes with a system column)", t.LogicalName, c.LogicalName)
		}
		if c.SchemaName == "" {
			c.SchemaName = upperFirst(c.LogicalName)
		}
		if c.DisplayName == "" {
			c.DisplayName = c.SchemaName
		}
		c.table = t
		t.columns[c.LogicalName] = c
	}
	if t.PrimaryNameAttribute != "" {
		pn := t.columns[t.PrimaryNameAttribute]
		if pn == nil || pn.Type != TypeString {
			return nil, fmt.Errorf("table %q: primary name %q must be a string column of the table", t.LogicalName, t.PrimaryNameAttribute)
		}
	}
	if len(d.Keys) > MaxKeysPerTable {
		return nil, fmt.Errorf("table %q: at most %d alternate keys are allowed", t.LogicalName, MaxKeysPerTable)
	}
	for _, kd := range d.Keys {
		k, err := buildKey(t, kd)
		if err != nil {
			return nil, err
		}
		t.Keys = append(t.Keys, k)
	}
	return t, nil
}

func buildColumn(t *Table, d ColumnDef) (*Column, error) {
	where := fmt.Sprintf("table %q column %q", t.LogicalName, d.LogicalName)
	if !nameRE.MatchString(d.LogicalName) || len(d.LogicalName) > maxNameLength-7 {
		return nil, fmt.Errorf("%s: logical name must be lower case letters, digits and underscores, starting with a letter", where)
	}
	if !slices.Contains(ColumnTypes, d.Type) {
		return nil, fmt.Errorf("%s: unknown type %q (want one of %v)", where, d.Type, ColumnTypes)
	}
	c := &Column{
		LogicalName: d.LogicalName,
		SchemaName:  d.SchemaName,
		DisplayName: d.DisplayName,
		Type:        d.Type,
		MaxLength:   d.MaxLength,
		Format:      d.Format,
		Options:     d.Options,
		Targets:     d.Targets,
		Required:    d.Required,
		Computed:    d.Computed,
		relNames:    d.Relationships,
	}
	switch d.Type {
	case TypeString, TypeMemo:
		limit, def := MaxStringLen, DefaultStringLen
		if d.Type == TypeMemo {
			limit, def = MaxMemoLen, DefaultMemoLen
		}
		if c.MaxLength == 0 {
			c.MaxLength = def
		}
		if c.MaxLength < 1 || c.MaxLength > limit {
			return nil, fmt.Errorf("%s: maxLength must be between 1 and %d", where, limit)
		}
	case TypeDecimal, TypeMoney:
		c.Precision = DefaultPrecision
		if d.Type == TypeMoney {
			c.Precision = MoneyPrecision
		}
		if d.Precision != nil {
			c.Precision = *d.Precision
		}
		if c.Precision < 0 || c.Precision > 10 {
			return nil, fmt.Errorf("%s: precision must be between 0 and 10", where)
		}
		max := float64(defaultMaxDecimal)
		if d.Type == TypeMoney {
			max = defaultMaxMoney
		}
		c.MinValue, c.MaxValue = -max, max
		// Exact decimals are stored as 64-bit integers scaled by
		// 10^precision, so the range must fit in an int64 once scaled. For
		// money (precision 4) that is exactly Dataverse's money range.
		limit := float64(math.MaxInt64)
		for range c.Precision {
			limit /= 10
		}
		if c.MaxValue > math.Floor(limit) {
			c.MinValue, c.MaxValue = -math.Floor(limit), math.Floor(limit)
		}
	case TypeInteger, TypeChoice:
		c.MinValue, c.MaxValue = minInteger, maxInteger
	case TypeBigInt:
		c.MinValue, c.MaxValue = -9223372036854775808, 9223372036854775807
	case TypeDouble:
		c.Precision = 2
		if d.Precision != nil {
			c.Precision = *d.Precision
		}
		c.MinValue, c.MaxValue = -defaultMaxDouble, defaultMaxDouble
	case TypeDateTime:
		if c.Format == "" {
			c.Format = DateAndTime
		}
		if c.Format != DateAndTime && c.Format != DateOnly {
			return nil, fmt.Errorf("%s: format must be %q or %q", where, DateAndTime, DateOnly)
		}
	case TypeLookup:
		if len(d.Targets) != 1 {
			return nil, fmt.Errorf("%s: a lookup needs exactly one target table", where)
		}
	case TypeCustomer:
		if len(d.Targets) < 1 {
			return nil, fmt.Errorf("%s: a customer lookup needs at least one target table", where)
		}
	}
	if d.MinValue != nil || d.MaxValue != nil {
		if !d.Type.IsNumeric() || d.Type == TypeChoice {
			return nil, fmt.Errorf("%s: minValue and maxValue apply to numeric columns only", where)
		}
		lo, hi := c.MinValue, c.MaxValue
		if d.MinValue != nil {
			lo = *d.MinValue
		}
		if d.MaxValue != nil {
			hi = *d.MaxValue
		}
		if lo < c.MinValue || hi > c.MaxValue || lo > hi {
			return nil, fmt.Errorf("%s: range [%v, %v] must lie within [%v, %v]", where, lo, hi, c.MinValue, c.MaxValue)
		}
		c.MinValue, c.MaxValue = lo, hi
	}
	if d.Type == TypeChoice {
		if len(c.Options) == 0 {
			return nil, fmt.Errorf("%s: a choice column needs options", where)
		}
		seen := map[int64]bool{}
		for _, o := range c.Options {
			if seen[o.Value] {
				return nil, fmt.Errorf("%s: option value %d is listed twice", where, o.Value)
			}
			seen[o.Value] = true
		}
	} else if len(c.Options) > 0 {
		return nil, fmt.Errorf("%s: only choice columns take options", where)
	}
	if !d.Type.IsLookup() && (len(d.Targets) > 0 || len(d.Relationships) > 0) {
		return nil, fmt.Errorf("%s: only lookup columns take targets", where)
	}
	if d.Computed && d.Type != TypeString {
		return nil, fmt.Errorf("%s: only string columns can be computed", where)
	}
	return c, nil
}

func buildKey(t *Table, d KeyDef) (*Key, error) {
	if d.LogicalName == "" || !nameRE.MatchString(d.LogicalName) {
		return nil, fmt.Errorf("table %q: alternate key name %q must be lower case letters, digits and underscores", t.LogicalName, d.LogicalName)
	}
	if len(d.Columns) == 0 || len(d.Columns) > MaxColumnsPerKey {
		return nil, fmt.Errorf("table %q key %q: a key has 1 to %d columns", t.LogicalName, d.LogicalName, MaxColumnsPerKey)
	}
	if t.Key(d.LogicalName) != nil {
		return nil, fmt.Errorf("table %q: key %q is defined twice", t.LogicalName, d.LogicalName)
	}
	k := &Key{LogicalName: d.LogicalName, table: t}
	for _, name := range d.Columns {
		c := t.columns[name]
		if c == nil {
			return nil, fmt.Errorf("table %q key %q: no column %q", t.LogicalName, d.LogicalName, name)
		}
		switch c.Type {
		case TypeString, TypeInteger, TypeBigInt, TypeDecimal, TypeDateTime, TypeChoice, TypeLookup, TypeUniqueIdentifier:
		default:
			return nil, fmt.Errorf("table %q key %q: column %q of type %s cannot be part of a key (allowed: string, integer, bigint, decimal, datetime, choice, lookup, uniqueidentifier)", t.LogicalName, d.LogicalName, name, c.Type)
		}
		if c.System {
			return nil, fmt.Errorf("table %q key %q: system column %q cannot be part of a key", t.LogicalName, d.LogicalName, name)
		}
		if slices.Contains(k.Columns, c) {
			return nil, fmt.Errorf("table %q key %q: column %q is listed twice", t.LogicalName, d.LogicalName, name)
		}
		k.Columns = append(k.Columns, c)
	}
	if n := k.Size(); n > MaxKeyBytes {
		return nil, fmt.Errorf("table %q key %q: the key's columns take up to %d bytes in Dataverse's SQL index (text takes 2 bytes per character of maxLength), over the documented limit of %d bytes per key; lower the maxLength of its text columns",
			t.LogicalName, d.LogicalName, n, MaxKeyBytes)
	}
	for _, other := range t.Keys {
		if other.table != nil && sameColumns(other.Columns, k.Columns) {
			return nil, fmt.Errorf("table %q: keys %q and %q have the same columns", t.LogicalName, other.LogicalName, k.LogicalName)
		}
	}
	return k, nil
}

// Size returns the largest size of the key's values in Dataverse's SQL
// Server index, in bytes: nvarchar text 2 bytes per character of
// maxLength, int and choice 4, bigint and datetime 8, decimal 13
// (decimal(23,10)), lookups and GUIDs 16. Dataverse refuses keys over
// MaxKeyBytes.
func (k *Key) Size() int {
	n := 0
	for _, c := range k.Columns {
		switch c.Type {
		case TypeString, TypeMemo:
			n += 2 * c.MaxLength
		case TypeInteger, TypeChoice:
			n += 4
		case TypeBigInt, TypeDateTime:
			n += 8
		case TypeDecimal, TypeMoney:
			n += 13
		default: // lookups and GUIDs
			n += 16
		}
	}
	return n
}

func sameColumns(a, b []*Column) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}

func (s *Schema) linkLookup(t *Table, c *Column) error {
	where := fmt.Sprintf("table %q column %q", t.LogicalName, c.LogicalName)
	if len(c.relNames) > 0 && len(c.relNames) != len(c.Targets) {
		return fmt.Errorf("%s: give one relationship name per target (%d targets, %d names)", where, len(c.Targets), len(c.relNames))
	}
	seen := map[string]bool{}
	for i, target := range c.Targets {
		ref := s.byName[target]
		if ref == nil {
			return fmt.Errorf("%s: target table %q is not defined", where, target)
		}
		if seen[target] {
			return fmt.Errorf("%s: target %q is listed twice", where, target)
		}
		seen[target] = true
		name := ""
		if i < len(c.relNames) {
			name = c.relNames[i]
		}
		if name == "" {
			name = fmt.Sprintf("%s_%s_%s", target, t.LogicalName, c.LogicalName)
		}
		if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`).MatchString(name) {
			return fmt.Errorf("%s: relationship name %q is not a valid identifier", where, name)
		}
		if s.rels[name] != nil {
			return fmt.Errorf("%s: relationship %q is already defined", where, name)
		}
		nav := c.LogicalName
		if c.Type == TypeCustomer {
			nav = c.LogicalName + "_" + target
		}
		r := &Relationship{
			SchemaName:            name,
			ReferencedTable:       ref,
			ReferencingTable:      t,
			Lookup:                c,
			ReferencingNavigation: nav,
			ReferencedNavigation:  name,
		}
		s.rels[name] = r
		c.rels = append(c.rels, r)
		t.manyToOne = append(t.manyToOne, r)
		ref.oneToMany = append(ref.oneToMany, r)
	}
	return nil
}

// index builds the property and navigation indexes and checks that names
// do not collide.
func (t *Table) index() error {
	t.byProperty = map[string]*Column{}
	t.navs = map[string]*Relationship{}
	for _, c := range t.Columns {
		t.byProperty[c.ValueProperty()] = c
	}
	add := func(name string, r *Relationship) error {
		if t.navs[name] != nil || (t.byProperty[name] != nil && !t.byProperty[name].Type.IsLookup()) {
			return fmt.Errorf("table %q: navigation property %q clashes with another property", t.LogicalName, name)
		}
		t.navs[name] = r
		return nil
	}
	for _, r := range t.manyToOne {
		if err := add(r.ReferencingNavigation, r); err != nil {
			return err
		}
	}
	for _, r := range t.oneToMany {
		if r.ReferencingTable == t && r.ReferencedTable == t && r.ReferencedNavigation == r.ReferencingNavigation {
			return fmt.Errorf("table %q: relationship %q needs a name different from its lookup", t.LogicalName, r.SchemaName)
		}
		if err := add(r.ReferencedNavigation, r); err != nil {
			return err
		}
	}
	return nil
}

// Pluralize returns the default entity set name for a logical name, the
// way Dataverse derives LogicalCollectionName: "account" → "accounts",
// "opportunity" → "opportunities", "address" → "addresses".
func Pluralize(name string) string {
	switch {
	case strings.HasSuffix(name, "y") && len(name) > 1 && !strings.ContainsRune("aeiou", rune(name[len(name)-2])):
		return name[:len(name)-1] + "ies"
	case strings.HasSuffix(name, "s"), strings.HasSuffix(name, "x"), strings.HasSuffix(name, "ch"), strings.HasSuffix(name, "sh"):
		return name + "es"
	}
	return name + "s"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
