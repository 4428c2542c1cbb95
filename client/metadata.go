package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file reads an endpoint's self-description: WhoAmI and the table
// definitions of EntityDefinitions (powerapps-docs, "Query table
// definitions using the Web API"), and DiscoverSchema, which turns table
// definitions into an eventual.Schema.

// WhoAmIResponse is the answer of the WhoAmI function: the caller's
// system user, business unit and organization.
type WhoAmIResponse struct {
	UserID         uuid.UUID `json:"UserId"`
	BusinessUnitID uuid.UUID `json:"BusinessUnitId"`
	OrganizationID uuid.UUID `json:"OrganizationId"`
}

// WhoAmI calls the WhoAmI function. It changes nothing, so it is sent
// again on any transient failure.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmIResponse, error) {
	var w WhoAmIResponse
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "WhoAmI", Replay: ReplaySafe})
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return w, fmt.Errorf("client: WhoAmI: %w", err)
	}
	return w, nil
}

// KeyDefinition is an alternate key as EntityKeyMetadata describes it.
type KeyDefinition struct {
	LogicalName string `json:"LogicalName"`
	SchemaName  string `json:"SchemaName"`
	// KeyAttributes are the logical names of the key's columns.
	KeyAttributes []string `json:"KeyAttributes"`
	// IndexStatus is EntityKeyIndexStatus: Pending, InProgress, Active or
	// Failed. Only an Active key can address records.
	IndexStatus string `json:"EntityKeyIndexStatus"`
}

// RelationshipDefinition is a one-to-many relationship as
// OneToManyRelationshipMetadata describes it (a table's
// ManyToOneRelationships are of this type too).
type RelationshipDefinition struct {
	SchemaName                              string `json:"SchemaName"`
	ReferencedEntity                        string `json:"ReferencedEntity"`
	ReferencedAttribute                     string `json:"ReferencedAttribute"`
	ReferencingEntity                       string `json:"ReferencingEntity"`
	ReferencingAttribute                    string `json:"ReferencingAttribute"`
	ReferencedEntityNavigationPropertyName  string `json:"ReferencedEntityNavigationPropertyName"`
	ReferencingEntityNavigationPropertyName string `json:"ReferencingEntityNavigationPropertyName"`
}

// OptionDefinition is one option of a choice, state or status column.
type OptionDefinition struct {
	Value int64
	Label string
	// DefaultStatus is, for an option of statecode, the statuscode a
	// record in that state gets by default; nil when not reported.
	DefaultStatus *int64
}

// AttributeDefinition is a column as AttributeMetadata and its derived
// types describe it. The type-specific properties are nil or empty when
// the column's type has none.
type AttributeDefinition struct {
	LogicalName string
	SchemaName  string
	DisplayName string
	// AttributeType is Dataverse's AttributeType: String, Lookup, ….
	AttributeType string
	// AttributeTypeName is AttributeTypeName.Value: StringType,
	// MultiSelectPicklistType, ImageType, …, which tells Virtual columns
	// apart.
	AttributeTypeName string
	// AttributeOf names the column a dependent column belongs to (the
	// name of a lookup, the type of a polymorphic lookup).
	AttributeOf      string
	IsPrimaryID      bool
	IsPrimaryName    bool
	IsValidForCreate bool
	IsValidForUpdate bool
	// RequiredLevel is RequiredLevel.Value: None, SystemRequired,
	// ApplicationRequired or Recommended.
	RequiredLevel string
	MaxLength     *int
	Precision     *int
	MinValue      *float64
	MaxValue      *float64
	// Format is the format of a datetime column (DateOnly, DateAndTime).
	Format string
	// DateTimeBehavior is DateTimeBehavior.Value of a datetime column:
	// UserLocal, DateOnly or TimeZoneIndependent.
	DateTimeBehavior string
	// Targets are the tables a lookup may reference.
	Targets []string
	// Options are the options of a choice, state or status column.
	Options []OptionDefinition
}

// TableDefinition is a table as EntityMetadata describes it, with its
// columns, alternate keys and the relationships in which it holds the
// lookup.
type TableDefinition struct {
	LogicalName            string
	SchemaName             string
	EntitySetName          string
	DisplayName            string
	DisplayCollectionName  string
	PrimaryIDAttribute     string
	PrimaryNameAttribute   string
	ObjectTypeCode         int
	IsCustomEntity         bool
	ChangeTrackingEnabled  bool
	Attributes             []AttributeDefinition
	Keys                   []KeyDefinition
	ManyToOneRelationships []RelationshipDefinition
}

// The $select lists sent for table definitions: properties of the
// documented EntityMetadata, EntityKeyMetadata and
// OneToManyRelationshipMetadata types only. Attributes are expanded
// without $select, since the type-specific properties (MaxLength,
// Targets, Format, …) cannot be selected on the AttributeMetadata base
// type.
const (
	selectEntity        = "LogicalName,SchemaName,EntitySetName,DisplayName,DisplayCollectionName,PrimaryIdAttribute,PrimaryNameAttribute,ObjectTypeCode,IsCustomEntity,ChangeTrackingEnabled"
	selectKey           = "LogicalName,SchemaName,KeyAttributes,EntityKeyIndexStatus"
	selectRelationship  = "SchemaName,ReferencedEntity,ReferencedAttribute,ReferencingEntity,ReferencingAttribute,ReferencedEntityNavigationPropertyName,ReferencingEntityNavigationPropertyName"
	metadataTypesPrefix = "Microsoft.Dynamics.CRM."
)

var logicalNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// definitionPath is EntityDefinitions(LogicalName='table') followed by
// rest. Logical names are lower-case identifiers; anything else is refused
// before a request is sent.
func definitionPath(table, rest string) (string, error) {
	if !logicalNameRE.MatchString(table) {
		return "", eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidArgument, "client: %q is not a table logical name", table)
	}
	return "EntityDefinitions(LogicalName='" + table + "')" + rest, nil
}

// getJSON reads a metadata resource into v. Metadata reads change nothing
// and are sent again on any transient failure.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Replay: ReplaySafe})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("client: %s: %w", path, err)
	}
	return nil
}

// Keys returns the alternate keys of a table, with their index status. An
// unknown table is a KindNotFound error.
func (c *Client) Keys(ctx context.Context, table string) ([]KeyDefinition, error) {
	path, err := definitionPath(table, "/Keys?$select="+selectKey)
	if err != nil {
		return nil, err
	}
	var out struct {
		Value []KeyDefinition `json:"value"`
	}
	if err := c.getJSON(ctx, path, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// TableDefinition reads a table's definition with its attributes, keys
// and many-to-one relationships: one request, plus one per kind of choice
// column (Picklist, State, Status) whose options the first did not carry,
// since Dataverse returns an OptionSet only when it is expanded on the
// derived type. An unknown table is a KindNotFound error.
func (c *Client) TableDefinition(ctx context.Context, table string) (*TableDefinition, error) {
	path, err := definitionPath(table, "?$select="+selectEntity+
		"&$expand=Attributes,Keys($select="+selectKey+"),ManyToOneRelationships($select="+selectRelationship+")")
	if err != nil {
		return nil, err
	}
	var w wireTable
	if err := c.getJSON(ctx, path, &w); err != nil {
		return nil, err
	}
	td := w.definition()
	if err := c.fillOptions(ctx, td); err != nil {
		return nil, err
	}
	return td, nil
}

// enumMetadataTypes are the derived attribute types whose options are an
// OptionSet navigation property, by AttributeType.
var enumMetadataTypes = map[string]string{
	"Picklist": "PicklistAttributeMetadata",
	"State":    "StateAttributeMetadata",
	"Status":   "StatusAttributeMetadata",
}

// fillOptions reads the options of the choice columns that have none,
// one request per attribute type, through a cast of the Attributes
// collection with $expand=OptionSet.
func (c *Client) fillOptions(ctx context.Context, td *TableDefinition) error {
	for _, at := range []string{"Picklist", "State", "Status"} {
		missing := false
		for _, a := range td.Attributes {
			missing = missing || a.AttributeType == at && a.Options == nil
		}
		if !missing {
			continue
		}
		opts, err := c.enumOptions(ctx, td.LogicalName, enumMetadataTypes[at])
		if err != nil {
			return err
		}
		for i := range td.Attributes {
			a := &td.Attributes[i]
			if a.AttributeType == at && a.Options == nil {
				a.Options = opts[a.LogicalName]
			}
		}
	}
	return nil
}

// enumOptions reads the options of a table's attributes of a derived
// metadata type, by logical name.
func (c *Client) enumOptions(ctx context.Context, table, metaType string) (map[string][]OptionDefinition, error) {
	path, err := definitionPath(table, "/Attributes/"+metadataTypesPrefix+metaType+"?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)")
	if err != nil {
		return nil, err
	}
	var out struct {
		Value []wireAttribute `json:"value"`
	}
	if err := c.getJSON(ctx, path, &out); err != nil {
		return nil, err
	}
	m := map[string][]OptionDefinition{}
	for _, a := range out.Value {
		m[a.LogicalName] = a.options()
	}
	return m, nil
}

// The wire forms of the metadata types, as the Web API serializes them.

type wireLabel struct {
	UserLocalizedLabel *struct {
		Label string `json:"Label"`
	} `json:"UserLocalizedLabel"`
}

func (l *wireLabel) text() string {
	if l == nil || l.UserLocalizedLabel == nil {
		return ""
	}
	return l.UserLocalizedLabel.Label
}

type wireValue struct {
	Value string `json:"Value"`
}

func (v *wireValue) text() string {
	if v == nil {
		return ""
	}
	return v.Value
}

type wireTable struct {
	LogicalName            string                   `json:"LogicalName"`
	SchemaName             string                   `json:"SchemaName"`
	EntitySetName          string                   `json:"EntitySetName"`
	DisplayName            *wireLabel               `json:"DisplayName"`
	DisplayCollectionName  *wireLabel               `json:"DisplayCollectionName"`
	PrimaryIDAttribute     string                   `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute   *string                  `json:"PrimaryNameAttribute"`
	ObjectTypeCode         int                      `json:"ObjectTypeCode"`
	IsCustomEntity         bool                     `json:"IsCustomEntity"`
	ChangeTrackingEnabled  *bool                    `json:"ChangeTrackingEnabled"`
	Attributes             []wireAttribute          `json:"Attributes"`
	Keys                   []KeyDefinition          `json:"Keys"`
	ManyToOneRelationships []RelationshipDefinition `json:"ManyToOneRelationships"`
}

func (w *wireTable) definition() *TableDefinition {
	td := &TableDefinition{
		LogicalName:            w.LogicalName,
		SchemaName:             w.SchemaName,
		EntitySetName:          w.EntitySetName,
		DisplayName:            w.DisplayName.text(),
		DisplayCollectionName:  w.DisplayCollectionName.text(),
		PrimaryIDAttribute:     w.PrimaryIDAttribute,
		ObjectTypeCode:         w.ObjectTypeCode,
		IsCustomEntity:         w.IsCustomEntity,
		ChangeTrackingEnabled:  w.ChangeTrackingEnabled != nil && *w.ChangeTrackingEnabled,
		Keys:                   w.Keys,
		ManyToOneRelationships: w.ManyToOneRelationships,
	}
	if w.PrimaryNameAttribute != nil {
		td.PrimaryNameAttribute = *w.PrimaryNameAttribute
	}
	for _, a := range w.Attributes {
		td.Attributes = append(td.Attributes, a.definition())
	}
	return td
}

type wireAttribute struct {
	LogicalName       string         `json:"LogicalName"`
	SchemaName        string         `json:"SchemaName"`
	DisplayName       *wireLabel     `json:"DisplayName"`
	AttributeType     string         `json:"AttributeType"`
	AttributeTypeName *wireValue     `json:"AttributeTypeName"`
	AttributeOf       *string        `json:"AttributeOf"`
	IsPrimaryID       bool           `json:"IsPrimaryId"`
	IsPrimaryName     bool           `json:"IsPrimaryName"`
	IsValidForCreate  *bool          `json:"IsValidForCreate"`
	IsValidForUpdate  *bool          `json:"IsValidForUpdate"`
	RequiredLevel     *wireValue     `json:"RequiredLevel"`
	MaxLength         *int           `json:"MaxLength"`
	Precision         *int           `json:"Precision"`
	MinValue          *float64       `json:"MinValue"`
	MaxValue          *float64       `json:"MaxValue"`
	Format            *string        `json:"Format"`
	DateTimeBehavior  *wireValue     `json:"DateTimeBehavior"`
	Targets           []string       `json:"Targets"`
	OptionSet         *wireOptionSet `json:"OptionSet"`
	GlobalOptionSet   *wireOptionSet `json:"GlobalOptionSet"`
}

type wireOptionSet struct {
	Options []struct {
		Value         int64      `json:"Value"`
		Label         *wireLabel `json:"Label"`
		DefaultStatus *int64     `json:"DefaultStatus"`
	} `json:"Options"`
}

func (a *wireAttribute) definition() AttributeDefinition {
	d := AttributeDefinition{
		LogicalName:       a.LogicalName,
		SchemaName:        a.SchemaName,
		DisplayName:       a.DisplayName.text(),
		AttributeType:     a.AttributeType,
		AttributeTypeName: a.AttributeTypeName.text(),
		IsPrimaryID:       a.IsPrimaryID,
		IsPrimaryName:     a.IsPrimaryName,
		IsValidForCreate:  a.IsValidForCreate == nil || *a.IsValidForCreate,
		IsValidForUpdate:  a.IsValidForUpdate == nil || *a.IsValidForUpdate,
		RequiredLevel:     a.RequiredLevel.text(),
		MaxLength:         a.MaxLength,
		Precision:         a.Precision,
		MinValue:          a.MinValue,
		MaxValue:          a.MaxValue,
		DateTimeBehavior:  a.DateTimeBehavior.text(),
		Targets:           a.Targets,
		Options:           a.options(),
	}
	if a.AttributeOf != nil {
		d.AttributeOf = *a.AttributeOf
	}
	if a.Format != nil {
		d.Format = *a.Format
	}
	return d
}

// options are the attribute's options, nil when it carries no OptionSet:
// those of its OptionSet, or of the GlobalOptionSet of a global choice.
func (a *wireAttribute) options() []OptionDefinition {
	set := a.OptionSet
	if (set == nil || len(set.Options) == 0) && a.GlobalOptionSet != nil {
		set = a.GlobalOptionSet
	}
	if set == nil {
		return nil
	}
	out := make([]OptionDefinition, 0, len(set.Options))
	for _, o := range set.Options {
		out = append(out, OptionDefinition{Value: o.Value, Label: o.Label.text(), DefaultStatus: o.DefaultStatus})
	}
	return out
}

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
// modifiedon, versionnumber, statecode, statuscode and the placeholder
// columns) are added by eventual.NewSchema and not converted, but the
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
		if system[a.LogicalName] {
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
