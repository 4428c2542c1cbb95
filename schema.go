package eventual

import (
	"slices"
	"sort"

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
	// Stamp marks the columns that reference records of this instance
	// alone: the user columns the instance stamps with the caller,
	// createdby, modifiedby (both System too) and ownerid (settable, as in
	// Dataverse, with ownerid@odata.bind), and the currency of money,
	// transactioncurrencyid (the base currency unless a write binds
	// another). Another instance does not share those records, so the
	// sync does not copy these columns (the target stamps its own), no
	// placeholder is made for them, and the stores do not index them.
	Stamp bool
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
	// ManyToMany is set for one side of a many-to-many relationship: the
	// collection-valued navigation property (ReferencedNavigation, the
	// relationship's name) on ReferencedTable to the records of
	// ReferencingTable associated with it through the intersect table.
	// Lookup is nil.
	ManyToMany *ManyToMany
}

// ManyToMany is a many-to-many relationship seen from one side: the
// intersect table whose records associate two records, its lookup to this
// side's table (From) and to the other side's (To).
type ManyToMany struct {
	Intersect *Table
	From, To  *Relationship
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
	manyToMany []*Relationship
	navs       map[string]*Relationship
	intersect  string // the many-to-many relationship it is the intersect of
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

// Hierarchical returns the table's hierarchical relationship: its first
// self-referencing many-to-one relationship through a plain lookup
// (account's parentaccountid), which the hierarchy query operators
// (Under, Above, …) walk; nil when it has none.
func (t *Table) Hierarchical() *Relationship {
	for _, r := range t.manyToOne {
		if r.ReferencedTable == t && r.Lookup != nil && r.Lookup.Type == TypeLookup {
			return r
		}
	}
	return nil
}

// ManyToManyRelationships returns the table's sides of many-to-many
// relationships.
func (t *Table) ManyToManyRelationships() []*Relationship { return t.manyToMany }

// IntersectOf names the many-to-many relationship whose intersect table
// this is ("" for other tables).
func (t *Table) IntersectOf() string { return t.intersect }

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

	// ColumnCreatedBy, ColumnModifiedBy and ColumnOwner are the lookups to
	// systemuser every table has when the schema holds the systemuser
	// table: who created the record, who last modified it, and who owns it
	// (the creator unless a write assigns another user).
	ColumnCreatedBy  = "createdby"
	ColumnModifiedBy = "modifiedby"
	ColumnOwner      = "ownerid"
	// UserTable is the table of users the stamp columns reference.
	UserTable = "systemuser"
)

// The currency of money: every table with a money column has, when the
// schema holds the transactioncurrency table, the record's currency (a
// lookup, the base currency unless a write binds another), the exchange
// rate its money was converted at, and for each money column its value
// in the base currency, "<column>_base". The instance maintains the rate
// and the base values on every write, as Dataverse does.
const (
	ColumnCurrency     = "transactioncurrencyid"
	ColumnExchangeRate = "exchangerate"
	// CurrencyTable is the table of currencies.
	CurrencyTable = "transactioncurrency"
	// BaseSuffix ends the name of a money column's base-currency twin.
	BaseSuffix = "_base"
	// ExchangeRatePrecision is the scale of exchange rates.
	ExchangeRatePrecision = 10
)

// StampColumns are the names of the user columns NewSchema adds to every
// table of a schema that has the systemuser table (see Column.Stamp).
var StampColumns = []string{ColumnCreatedBy, ColumnModifiedBy, ColumnOwner}

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
