package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
)

// DiscoveryNote is a part of a table definition that DiscoverDefinitions
// left out or could not carry over as Dataverse describes it, and why.
type DiscoveryNote struct {
	// Table is the table's logical name; Name the column's or key's.
	Table, Name string
	Note        string
}

// String renders the note as "table.name: note".
func (n DiscoveryNote) String() string { return n.Table + "." + n.Name + ": " + n.Note }

// DiscoverSchema reads the definitions of the named tables from the
// endpoint, one TableDefinition each, and builds a schema of them with
// eventual.NewSchema, as a local instance builds its configured schema.
// Records built on it (NewRecords) encode and decode the endpoint's
// records.
//
// What the schema cannot hold is left out and logged at Info (see
// DiscoverDefinitions, which returns the notes): columns of unsupported
// types, lookups whose targets are all outside the named tables (the
// lookup's value could not be read or written as a reference), targets
// outside them of the other lookups, keys over left-out columns and keys
// whose index is not Active. A table whose primary key or primary name
// cannot be carried over is an error, and so is an unknown table
// (KindNotFound).
func DiscoverSchema(ctx context.Context, c *Client, tables ...string) (*eventual.Schema, error) {
	defs, notes, err := DiscoverDefinitions(ctx, c, tables...)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		c.log.Info("client: schema discovery", "table", n.Table, "name", n.Name, "note", n.Note)
	}
	s, err := eventual.NewSchema(defs)
	if err != nil {
		return nil, fmt.Errorf("client: the discovered schema is invalid: %w", err)
	}
	return s, nil
}

// DiscoverDefinitions reads the named tables' definitions and converts
// them with TableDefs: the table definitions DiscoverSchema builds a
// schema from, and the notes on what they leave out.
func DiscoverDefinitions(ctx context.Context, c *Client, tables ...string) ([]eventual.TableDef, []DiscoveryNote, error) {
	if len(tables) == 0 {
		return nil, nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidArgument, "client: name at least one table to discover")
	}
	tds := make([]*TableDefinition, 0, len(tables))
	for _, t := range tables {
		td, err := c.TableDefinition(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		tds = append(tds, td)
	}
	return TableDefs(tds)
}

// TableDefs converts Dataverse table definitions into the root's table
// definitions. Lookups may reference only the tables among tds. The
// columns every table of the root has (the primary key, createdon,
// modifiedon, versionnumber, statecode, statuscode, the placeholder
// columns and the user stamps createdby, modifiedby and ownerid) are added by eventual.NewSchema and not converted, but the
// options of statecode and statuscode are kept.
func TableDefs(tds []*TableDefinition) ([]eventual.TableDef, []DiscoveryNote, error) {
	known := map[string]bool{}
	for _, td := range tds {
		known[td.LogicalName] = true
	}
	var defs []eventual.TableDef
	var notes []DiscoveryNote
	for _, td := range tds {
		d, n, err := tableDef(td, known)
		if err != nil {
			return nil, nil, err
		}
		defs = append(defs, d)
		notes = append(notes, n...)
	}
	return defs, notes, nil
}

// tableDef converts one table definition.
func tableDef(td *TableDefinition, known map[string]bool) (eventual.TableDef, []DiscoveryNote, error) {
	d := eventual.TableDef{
		LogicalName: td.LogicalName, SchemaName: td.SchemaName, EntitySetName: td.EntitySetName,
		DisplayName: td.DisplayName, DisplayCollectionName: td.DisplayCollectionName,
		PrimaryNameAttribute: td.PrimaryNameAttribute, ObjectTypeCode: td.ObjectTypeCode,
		IsCustom: td.IsCustomEntity, ChangeTracking: td.ChangeTrackingEnabled,
	}
	if td.PrimaryIDAttribute != td.LogicalName+"id" {
		return d, nil, fmt.Errorf("client: table %s: its primary key is %q; a schema names it %q", td.LogicalName, td.PrimaryIDAttribute, td.LogicalName+"id")
	}
	system, err := builtColumns(td.LogicalName)
	if err != nil {
		return d, nil, fmt.Errorf("client: table %s: %w", td.LogicalName, err)
	}
	var notes []DiscoveryNote
	note := func(name, format string, args ...any) {
		notes = append(notes, DiscoveryNote{Table: td.LogicalName, Name: name, Note: fmt.Sprintf(format, args...)})
	}
	rels := map[string]RelationshipDefinition{}
	for _, r := range td.ManyToOneRelationships {
		rels[r.ReferencingAttribute+"→"+r.ReferencedEntity] = r
	}
	have := map[string]bool{}
	for _, a := range td.Attributes {
		if system[a.LogicalName] || (td.LogicalName != eventual.CurrencyTable && currencyColumn(a)) {
			systemOptions(&d, a)
			continue
		}
		cd, why := columnDef(a, known, rels, note)
		if why != "" {
			if a.LogicalName == td.PrimaryNameAttribute {
				return d, nil, fmt.Errorf("client: table %s: primary name %s: %s", td.LogicalName, a.LogicalName, why)
			}
			note(a.LogicalName, "left out: %s", why)
			continue
		}
		have[a.LogicalName] = true
		d.Columns = append(d.Columns, cd)
	}
	if td.PrimaryNameAttribute != "" && !have[td.PrimaryNameAttribute] {
		return d, nil, fmt.Errorf("client: table %s: primary name %q is not among its columns", td.LogicalName, td.PrimaryNameAttribute)
	}
	d.Keys = keyDefs(td.Keys, have, note)
	return d, notes, nil
}

// builtColumns are the names of the columns eventual.NewSchema gives
// every table, learnt from the builder itself.
func builtColumns(table string) (map[string]bool, error) {
	s, err := eventual.NewSchema([]eventual.TableDef{{LogicalName: table}})
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, c := range s.Table(table).Columns {
		names[c.LogicalName] = true
	}
	// The user stamps too, which the builder adds when the schema has
	// systemuser: each instance keeps its own users.
	for _, name := range eventual.StampColumns {
		names[name] = true
	}
	return names, nil
}

// systemOptions keeps the options of statecode and statuscode, and the
// default status of the default state (0) when Dataverse reports it.
func systemOptions(d *eventual.TableDef, a AttributeDefinition) {
	if len(a.Options) == 0 {
		return
	}
	opts := options(a.Options)
	switch a.LogicalName {
	case "statecode":
		d.StateOptions = opts
		for _, o := range a.Options {
			if o.Value == 0 && o.DefaultStatus != nil {
				v := *o.DefaultStatus
				d.DefaultStatus = &v
			}
		}
	case "statuscode":
		d.StatusOptions = opts
	}
}

// options converts option definitions.
func options(in []OptionDefinition) []eventual.Option {
	out := make([]eventual.Option, len(in))
	for i, o := range in {
		out[i] = eventual.Option{Value: o.Value, Label: o.Label}
	}
	return out
}

// keyDefs converts the active keys whose columns were all kept.
func keyDefs(keys []KeyDefinition, have map[string]bool, note func(string, string, ...any)) []eventual.KeyDef {
	var out []eventual.KeyDef
	for _, k := range keys {
		if k.IndexStatus != "" && k.IndexStatus != "Active" {
			note(k.LogicalName, "key left out: its index is %s, not Active", k.IndexStatus)
			continue
		}
		ok := true
		for _, a := range k.KeyAttributes {
			if !have[a] {
				note(k.LogicalName, "key left out: its column %s was left out", a)
				ok = false
				break
			}
		}
		if ok {
			out = append(out, eventual.KeyDef{LogicalName: k.LogicalName, Columns: append([]string(nil), k.KeyAttributes...)})
		}
	}
	return out
}

// AttributeTypes maps Dataverse's AttributeType values onto the root's
// column types. An entry without a type is unsupported, for the reason
// given; an AttributeType missing from the table is unsupported too.
//
//	AttributeType     column type        notes
//	String            string             MaxLength kept; computed if valid neither for create nor update
//	Memo              memo               MaxLength kept
//	Integer           integer            MinValue, MaxValue kept (clamped to the root's range)
//	BigInt            bigint
//	Decimal           decimal            Precision, MinValue, MaxValue kept
//	Money             money              Precision kept (whatever PrecisionSource says)
//	Double            double             Precision, MinValue, MaxValue kept
//	Boolean           boolean            the option labels are dropped
//	DateTime          datetime           dateonly for DateTimeBehavior DateOnly (or, with no
//	                                     behavior reported, Format DateOnly); dateandtime otherwise
//	Uniqueidentifier  uniqueidentifier
//	Lookup            lookup             customer if more than one target is kept
//	Customer, Owner   customer           targets outside the discovered tables dropped
//	Picklist          choice             options kept; left out if it has none
//	State, Status     (system column)    options kept as the table's StateOptions, StatusOptions
//	EntityName        -                  the type of a polymorphic lookup's value
//	Virtual           -                  images, files, multi-select choices, names
//	PartyList, CalendarRules, ManagedProperty  -  not supported
//
// Any column with AttributeOf set is left out: it describes another
// column (a lookup's name, its entity type). ApplicationRequired and
// SystemRequired make a column Required.
var AttributeTypes = []struct {
	AttributeType string
	Type          eventual.ColumnType
	Why           string
}{
	{"String", eventual.TypeString, ""},
	{"Memo", eventual.TypeMemo, ""},
	{"Integer", eventual.TypeInteger, ""},
	{"BigInt", eventual.TypeBigInt, ""},
	{"Decimal", eventual.TypeDecimal, ""},
	{"Money", eventual.TypeMoney, ""},
	{"Double", eventual.TypeDouble, ""},
	{"Boolean", eventual.TypeBoolean, ""},
	{"DateTime", eventual.TypeDateTime, ""},
	{"Uniqueidentifier", eventual.TypeUniqueIdentifier, ""},
	{"Lookup", eventual.TypeLookup, ""},
	{"Customer", eventual.TypeCustomer, ""},
	{"Owner", eventual.TypeCustomer, ""},
	{"Picklist", eventual.TypeChoice, ""},
	{"State", eventual.TypeChoice, ""},
	{"Status", eventual.TypeChoice, ""},
	{"EntityName", "", "an EntityName column (the table of a polymorphic lookup's value) has no column type"},
	{"Virtual", "", "virtual columns (images, files, multi-select choices) have no column type"},
	{"PartyList", "", "activity parties have no column type"},
	{"CalendarRules", "", "calendar rules have no column type"},
	{"ManagedProperty", "", "managed properties have no column type"},
}

// columnType looks an attribute's type up in AttributeTypes.
func columnType(a AttributeDefinition) (eventual.ColumnType, string) {
	for _, e := range AttributeTypes {
		if e.AttributeType == a.AttributeType {
			return e.Type, e.Why
		}
	}
	return "", fmt.Sprintf("attribute type %q is not supported", a.AttributeType)
}

// columnDef converts a column. A non-empty reason says why it is left
// out; note records what is kept only in part.
func columnDef(a AttributeDefinition, known map[string]bool, rels map[string]RelationshipDefinition, note func(string, string, ...any)) (eventual.ColumnDef, string) {
	if a.AttributeOf != "" {
		return eventual.ColumnDef{}, "it describes column " + a.AttributeOf
	}
	typ, why := columnType(a)
	if typ == "" {
		return eventual.ColumnDef{}, why
	}
	cd := eventual.ColumnDef{
		LogicalName: a.LogicalName, SchemaName: a.SchemaName, DisplayName: a.DisplayName, Type: typ,
		Required: a.RequiredLevel == "ApplicationRequired" || a.RequiredLevel == "SystemRequired",
	}
	switch {
	case typ.IsText():
		if a.MaxLength != nil {
			cd.MaxLength = *a.MaxLength
		}
		cd.Computed = typ == eventual.TypeString && !a.IsValidForCreate && !a.IsValidForUpdate
	case typ == eventual.TypeDateTime:
		cd.Format = dateFormat(a, note)
	case typ.IsLookup():
		return lookupDef(cd, a, known, rels, note)
	case typ == eventual.TypeChoice:
		if len(a.Options) == 0 {
			return cd, "a choice column without options"
		}
		cd.Options = options(a.Options)
	case typ.IsNumeric():
		return numberDef(cd, a, note)
	}
	return cd, ""
}

// dateFormat is the format of a datetime column. Only DateTimeBehavior
// DateOnly travels as a calendar date ("2006-01-02"); a DateOnly format
// with behavior UserLocal or TimeZoneIndependent travels as a date-time.
func dateFormat(a AttributeDefinition, note func(string, string, ...any)) eventual.DateTimeFormat {
	switch a.DateTimeBehavior {
	case "DateOnly":
		return eventual.DateOnly
	case "":
		if a.Format == "DateOnly" {
			return eventual.DateOnly
		}
		return eventual.DateAndTime
	}
	if a.Format == "DateOnly" {
		note(a.LogicalName, "format DateOnly with behavior %s: values travel as date-times, kept as dateandtime", a.DateTimeBehavior)
	}
	return eventual.DateAndTime
}

// lookupDef keeps the targets among the discovered tables, each with its
// relationship's schema name. The schema derives the lookup's navigation
// properties (the lookup's name, or name_target for a customer lookup);
// a differing name Dataverse reports is noted, since @odata.bind would
// use the derived one.
func lookupDef(cd eventual.ColumnDef, a AttributeDefinition, known map[string]bool, rels map[string]RelationshipDefinition, note func(string, string, ...any)) (eventual.ColumnDef, string) {
	var dropped []string
	for _, t := range a.Targets {
		if !known[t] {
			dropped = append(dropped, t)
			continue
		}
		cd.Targets = append(cd.Targets, t)
	}
	if len(cd.Targets) == 0 {
		return cd, fmt.Sprintf("its targets %v are not among the discovered tables", a.Targets)
	}
	if len(dropped) > 0 {
		note(a.LogicalName, "targets %v are not among the discovered tables; kept %v", dropped, cd.Targets)
	}
	if cd.Type == eventual.TypeLookup && len(cd.Targets) > 1 {
		cd.Type = eventual.TypeCustomer
	}
	for _, t := range cd.Targets {
		r := rels[a.LogicalName+"→"+t]
		cd.Relationships = append(cd.Relationships, r.SchemaName)
		nav := a.LogicalName
		if cd.Type == eventual.TypeCustomer {
			nav += "_" + t
		}
		if r.ReferencingEntityNavigationPropertyName != "" && r.ReferencingEntityNavigationPropertyName != nav {
			note(a.LogicalName, "Dataverse names the navigation property to %s %q; the schema derives %q", t, r.ReferencingEntityNavigationPropertyName, nav)
		}
	}
	return cd, ""
}

// numberDef keeps a numeric column's precision and range. The range is
// clamped to what the root allows for the type and precision, which the
// builder itself reports for a column without a range.
func numberDef(cd eventual.ColumnDef, a AttributeDefinition, note func(string, string, ...any)) (eventual.ColumnDef, string) {
	if cd.Type.IsDecimal() || cd.Type == eventual.TypeDouble {
		cd.Precision = a.Precision
	}
	s, err := eventual.NewSchema([]eventual.TableDef{{LogicalName: "probe", Columns: []eventual.ColumnDef{{LogicalName: "probe", Type: cd.Type, Precision: cd.Precision}}}})
	if err != nil {
		return cd, err.Error()
	}
	c := s.Table("probe").Column("probe")
	lo, hi := c.MinValue, c.MaxValue
	if a.MinValue != nil && *a.MinValue > lo {
		lo = *a.MinValue
	}
	if a.MaxValue != nil && *a.MaxValue < hi {
		hi = *a.MaxValue
	}
	if a.MinValue != nil && *a.MinValue < c.MinValue || a.MaxValue != nil && *a.MaxValue > c.MaxValue {
		note(a.LogicalName, "range narrowed to [%v, %v], the type's", lo, hi)
	}
	if lo > hi {
		return cd, fmt.Sprintf("its range [%v, %v] is outside [%v, %v]", lo, hi, c.MinValue, c.MaxValue)
	}
	if lo != c.MinValue {
		cd.MinValue = &lo
	}
	if hi != c.MaxValue {
		cd.MaxValue = &hi
	}
	return cd, ""
}

// currencyColumn reports the columns the schema builder adds to a table
// with money when the schema has currencies: transactioncurrencyid,
// exchangerate and the money columns' "_base" twins.
func currencyColumn(a AttributeDefinition) bool {
	switch {
	case a.LogicalName == eventual.ColumnCurrency, a.LogicalName == eventual.ColumnExchangeRate && a.AttributeType == "Decimal":
		return true
	case strings.HasSuffix(a.LogicalName, eventual.BaseSuffix) && a.AttributeType == "Money":
		return true
	}
	return false
}
