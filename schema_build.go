package eventual

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
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
	// Intersect makes the table the intersect of a many-to-many
	// relationship of that name between the tables its two lookups
	// reference: each of them gets a collection-valued navigation property
	// of the name to the other's records, associated and disassociated
	// through $ref (a record of the intersect table each). The table must
	// have exactly two lookups, to two different tables; NewSchema gives
	// it the alternate key of both.
	Intersect string
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
	if s.byName[UserTable] != nil {
		for _, t := range s.tables {
			if err := t.addStamps(); err != nil {
				return nil, err
			}
		}
	}
	if s.byName[CurrencyTable] != nil {
		for _, t := range s.tables {
			if err := t.addCurrency(); err != nil {
				return nil, err
			}
		}
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
		if t.intersect == "" {
			continue
		}
		if err := s.linkManyToMany(t); err != nil {
			return nil, err
		}
	}
	for _, t := range s.tables {
		if err := t.index(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// linkManyToMany builds both sides of the many-to-many relationship an
// intersect table stands for.
func (s *Schema) linkManyToMany(t *Table) error {
	var lookups []*Column
	for _, c := range t.Columns {
		if c.Type.IsLookup() && !c.Stamp {
			lookups = append(lookups, c)
		}
	}
	if len(lookups) != 2 || lookups[0].Type != TypeLookup || lookups[1].Type != TypeLookup || lookups[0].Targets[0] == lookups[1].Targets[0] {
		return fmt.Errorf("table %q: the intersect of %q needs exactly two lookups, to two different tables", t.LogicalName, t.intersect)
	}
	if s.rels[t.intersect] != nil {
		return fmt.Errorf("table %q: relationship %q is already defined", t.LogicalName, t.intersect)
	}
	a, b := lookups[0].rels[0], lookups[1].rels[0]
	side := func(from, to *Relationship) *Relationship {
		r := &Relationship{SchemaName: t.intersect, ReferencedTable: from.ReferencedTable, ReferencingTable: to.ReferencedTable,
			ReferencedNavigation: t.intersect, ManyToMany: &ManyToMany{Intersect: t, From: from, To: to}}
		from.ReferencedTable.manyToMany = append(from.ReferencedTable.manyToMany, r)
		return r
	}
	s.rels[t.intersect] = side(a, b)
	side(b, a)
	return nil
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
	t.Columns = systemColumns(t, d)
	for _, cd := range d.Columns {
		c, err := buildColumn(t, cd)
		if err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, c)
	}
	if err := t.indexColumns(); err != nil {
		return nil, err
	}
	if t.PrimaryNameAttribute != "" {
		pn := t.columns[t.PrimaryNameAttribute]
		if pn == nil || pn.Type != TypeString {
			return nil, fmt.Errorf("table %q: primary name %q must be a string column of the table", t.LogicalName, t.PrimaryNameAttribute)
		}
	}
	if d.Intersect != "" {
		if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`).MatchString(d.Intersect) {
			return nil, fmt.Errorf("table %q: relationship name %q is not a valid identifier", t.LogicalName, d.Intersect)
		}
		t.intersect = d.Intersect
		var names []string
		for _, cd := range d.Columns {
			if cd.Type == TypeLookup {
				names = append(names, cd.LogicalName)
			}
		}
		if len(names) == 2 {
			d.Keys = append(append([]KeyDef{}, d.Keys...), KeyDef{LogicalName: t.LogicalName + "_association", Columns: names})
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

// systemColumns returns the columns every table has, first and in a
// fixed order (NewSchema relies on their number to map columns back to
// definitions), with the definition's state and status options.
func systemColumns(t *Table, d TableDef) []*Column {
	cols := []*Column{
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
		cols[4].Options = d.StateOptions
	}
	if d.StatusOptions != nil {
		cols[5].Options = d.StatusOptions
	}
	if d.DefaultState != nil {
		cols[4].Default = *d.DefaultState
	}
	if d.DefaultStatus != nil {
		cols[5].Default = *d.DefaultStatus
	}
	return cols
}

// addStamps adds the user columns (createdby, modifiedby and, but to the
// users themselves, ownerid) with Dataverse's relationship names:
// lk_accountbase_createdby and owner_accounts for a system table,
// lk_new_order_createdby and owner_new_order for a custom one.
func (t *Table) addStamps() error {
	base, set := t.LogicalName+"base", t.EntitySetName
	if t.IsCustom {
		base, set = t.LogicalName, t.LogicalName
	}
	stamp := func(name, display, rel string, system bool) *Column {
		return &Column{LogicalName: name, Type: TypeLookup, System: system, Stamp: true, DisplayName: display,
			Targets: []string{UserTable}, relNames: []string{rel}}
	}
	t.Columns = append(t.Columns,
		stamp(ColumnCreatedBy, "Created By", "lk_"+base+"_createdby", true),
		stamp(ColumnModifiedBy, "Modified By", "lk_"+base+"_modifiedby", true))
	if t.LogicalName != UserTable {
		owner := stamp(ColumnOwner, "Owner", "owner_"+set, false)
		owner.Required = true
		t.Columns = append(t.Columns, owner)
	}
	return t.indexColumns()
}

// addCurrency gives a table with money columns its currency, exchange
// rate and base-currency twins (see ColumnCurrency), with Dataverse's
// relationship name TransactionCurrency_<SchemaName>.
func (t *Table) addCurrency() error {
	var money []*Column
	for _, c := range t.Columns {
		if c.Type == TypeMoney && !c.System {
			money = append(money, c)
		}
	}
	if len(money) == 0 || t.LogicalName == CurrencyTable {
		return nil
	}
	t.Columns = append(t.Columns,
		&Column{LogicalName: ColumnCurrency, Type: TypeLookup, Stamp: true, DisplayName: "Currency", Targets: []string{CurrencyTable},
			relNames: []string{"TransactionCurrency_" + t.SchemaName}},
		&Column{LogicalName: ColumnExchangeRate, Type: TypeDecimal, System: true, DisplayName: "Exchange Rate",
			Precision: ExchangeRatePrecision, MinValue: 0.0000000001, MaxValue: 100000000000 / 1e3})
	for _, c := range money {
		if len(c.LogicalName)+len(BaseSuffix) > maxNameLength {
			return fmt.Errorf("table %q column %q: its base-currency twin's name would be too long", t.LogicalName, c.LogicalName)
		}
		t.Columns = append(t.Columns, &Column{LogicalName: c.LogicalName + BaseSuffix, SchemaName: c.SchemaName + "_Base", Type: TypeMoney, System: true,
			DisplayName: c.DisplayName + " (Base)", Precision: c.Precision, MinValue: c.MinValue, MaxValue: c.MaxValue})
	}
	return t.indexColumns()
}

// HasCurrency reports whether the table's money is in a currency: it has
// the transactioncurrencyid lookup (the currency table's own primary key
// has that name too, and is not one).
func (t *Table) HasCurrency() bool {
	c := t.columns[ColumnCurrency]
	return c != nil && c.Type == TypeLookup
}

// BaseColumn returns the base-currency twin of a money column, or nil.
func (t *Table) BaseColumn(c *Column) *Column {
	if c.Type != TypeMoney || c.System {
		return nil
	}
	return t.columns[c.LogicalName+BaseSuffix]
}

// indexColumns indexes the table's columns by logical name, fills in
// their schema and display names, and refuses a name defined twice.
func (t *Table) indexColumns() error {
	t.columns = map[string]*Column{}
	for _, c := range t.Columns {
		if t.columns[c.LogicalName] != nil {
			return fmt.Errorf("table %q: column %q is defined twice (or clashes with a system column)", t.LogicalName, c.LogicalName)
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
	return nil
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
	if err := c.setTypeDefaults(d, where); err != nil {
		return nil, err
	}
	if err := c.setRange(d, where); err != nil {
		return nil, err
	}
	if err := c.checkOptions(where); err != nil {
		return nil, err
	}
	if !d.Type.IsLookup() && (len(d.Targets) > 0 || len(d.Relationships) > 0) {
		return nil, fmt.Errorf("%s: only lookup columns take targets", where)
	}
	if d.Computed && d.Type != TypeString {
		return nil, fmt.Errorf("%s: only string columns can be computed", where)
	}
	return c, nil
}

// setTypeDefaults sets what the column's type implies: text lengths,
// decimal precision and ranges, date formats, lookup targets.
func (c *Column) setTypeDefaults(d ColumnDef, where string) error {
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
			return fmt.Errorf("%s: maxLength must be between 1 and %d", where, limit)
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
			return fmt.Errorf("%s: precision must be between 0 and 10", where)
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
			return fmt.Errorf("%s: format must be %q or %q", where, DateAndTime, DateOnly)
		}
	case TypeLookup:
		if len(d.Targets) != 1 {
			return fmt.Errorf("%s: a lookup needs exactly one target table", where)
		}
	case TypeCustomer:
		if len(d.Targets) < 1 {
			return fmt.Errorf("%s: a customer lookup needs at least one target table", where)
		}
	}
	return nil
}

// setRange narrows the type's range to the definition's minValue and
// maxValue, which must lie within it.
func (c *Column) setRange(d ColumnDef, where string) error {
	if d.MinValue != nil || d.MaxValue != nil {
		if !c.Type.IsNumeric() || c.Type == TypeChoice {
			return fmt.Errorf("%s: minValue and maxValue apply to numeric columns only", where)
		}
		lo, hi := c.MinValue, c.MaxValue
		if d.MinValue != nil {
			lo = *d.MinValue
		}
		if d.MaxValue != nil {
			hi = *d.MaxValue
		}
		if lo < c.MinValue || hi > c.MaxValue || lo > hi {
			return fmt.Errorf("%s: range [%v, %v] must lie within [%v, %v]", where, lo, hi, c.MinValue, c.MaxValue)
		}
		c.MinValue, c.MaxValue = lo, hi
	}
	return nil
}

// checkOptions checks that choice columns, and only they, have options,
// each value once.
func (c *Column) checkOptions(where string) error {
	if c.Type == TypeChoice {
		if len(c.Options) == 0 {
			return fmt.Errorf("%s: a choice column needs options", where)
		}
		seen := map[int64]bool{}
		for _, o := range c.Options {
			if seen[o.Value] {
				return fmt.Errorf("%s: option value %d is listed twice", where, o.Value)
			}
			seen[o.Value] = true
		}
	} else if len(c.Options) > 0 {
		return fmt.Errorf("%s: only choice columns take options", where)
	}
	return nil
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
	for _, r := range t.manyToMany {
		if err := add(r.ReferencedNavigation, r); err != nil {
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
