package webapi

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
	"github.com/google/uuid"
)

// This file serves the service's self-description: the service document,
// the CSDL $metadata document, WhoAmI and EntityDefinitions.

func (q *request) serviceDocument() error {
	tables := append([]*eventual.Table{}, q.s.Schema.Tables()...)
	sort.Slice(tables, func(i, j int) bool { return tables[i].EntitySetName < tables[j].EntitySetName })
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata")
	b = append(b, `,"value":[`...)
	for i, t := range tables {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, t.EntitySetName)
		b = append(b, `,"kind":"EntitySet","url":`...)
		b = appendString(b, t.EntitySetName)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return q.writeJSON(http.StatusOK, b)
}

func (q *request) whoAmI() error {
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
	b = append(b, `,"BusinessUnitId":`...)
	b = appendString(b, q.s.Meta.BusinessUnitID.String())
	b = append(b, `,"UserId":`...)
	user := q.s.Meta.UserID
	if c, ok := eventual.CallerFrom(q.ctx); ok {
		user = c.UserID
	}
	b = appendString(b, user.String())
	b = append(b, `,"OrganizationId":`...)
	b = appendString(b, q.s.Meta.OrganizationID.String())
	b = append(b, '}')
	return q.writeJSON(http.StatusOK, b)
}

// Version is what the RetrieveVersion function reports: the Web API
// version eventual follows, in the four parts of a Dataverse version
// (clients parse it as one, e.g. .NET's System.Version).
const Version = "9.2.0.0"

// retrieveVersion answers RetrieveVersion(), the unbound function that
// returns RetrieveVersionResponse {Version}.
func (q *request) retrieveVersion() error {
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse")
	b = append(b, `,"Version":`...)
	b = appendString(b, Version)
	b = append(b, '}')
	return q.writeJSON(http.StatusOK, b)
}

func (q *request) metadataDocument() error {
	return q.writeBody(http.StatusOK, "application/xml", []byte(CSDL(q.s.Schema)))
}

func xmlEsc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// CSDL returns the $metadata document of a schema, in the shape Dataverse
// serves: namespace Microsoft.Dynamics.CRM (alias mscrm), entity types
// deriving from crmbaseentity, lookups as _x_value properties with
// navigation properties and referential constraints, alternate keys as
// OData.Community.Keys.V1.AlternateKeys annotations, and the System
// entity container.
func CSDL(s *eventual.Schema) string {
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	w(`<?xml version="1.0" encoding="utf-8"?>`, "\n",
		`<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">`,
		`<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml"><edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys" /><edmx:IncludeAnnotations TermNamespace="OData.Community.Keys.V1" /></edmx:Reference>`,
		`<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Display.V1.xml"><edmx:Include Namespace="OData.Community.Display.V1" Alias="Display" /><edmx:IncludeAnnotations TermNamespace="OData.Community.Display.V1" /></edmx:Reference>`,
		`<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">`,
		`<EntityType Name="crmbaseentity" Abstract="true" />`)
	for _, t := range s.Tables() {
		w(`<EntityType Name="`, xmlEsc(t.LogicalName), `" BaseType="mscrm.crmbaseentity"><Key><PropertyRef Name="`, xmlEsc(t.PrimaryIDAttribute), `" /></Key>`)
		for _, c := range t.Columns {
			w(`<Property Name="`, xmlEsc(c.ValueProperty()), `" Type="`, codec.EdmType(c), `"`)
			switch {
			case c.Type.IsText():
				w(` Unicode="false"`)
			case c.Type.IsDecimal():
				w(` Scale="Variable"`)
			}
			if c.System || c.Computed || c.Type.IsLookup() {
				w(`><Annotation Term="Org.OData.Core.V1.Computed" Bool="true" /><Annotation Term="Org.OData.Core.V1.Permissions"><EnumMember>Org.OData.Core.V1.PermissionType/Read</EnumMember></Annotation></Property>`)
			} else {
				w(` />`)
			}
		}
		for _, r := range t.ManyToOne() {
			w(`<NavigationProperty Name="`, xmlEsc(r.ReferencingNavigation), `" Type="mscrm.`, xmlEsc(r.ReferencedTable.LogicalName),
				`" Nullable="false" Partner="`, xmlEsc(r.ReferencedNavigation), `"><ReferentialConstraint Property="`,
				xmlEsc(r.Lookup.ValueProperty()), `" ReferencedProperty="`, xmlEsc(r.ReferencedTable.PrimaryIDAttribute), `" /></NavigationProperty>`)
		}
		for _, r := range t.OneToMany() {
			w(`<NavigationProperty Name="`, xmlEsc(r.ReferencedNavigation), `" Type="Collection(mscrm.`, xmlEsc(r.ReferencingTable.LogicalName),
				`)" Partner="`, xmlEsc(r.ReferencingNavigation), `" />`)
		}
		for _, r := range t.ManyToManyRelationships() {
			w(`<NavigationProperty Name="`, xmlEsc(r.ReferencedNavigation), `" Type="Collection(mscrm.`, xmlEsc(r.ReferencingTable.LogicalName),
				`)" Partner="`, xmlEsc(r.ReferencedNavigation), `" />`)
		}
		if len(t.Keys) > 0 {
			w(`<Annotation Term="OData.Community.Keys.V1.AlternateKeys"><Collection>`)
			for _, k := range t.Keys {
				w(`<Record Type="OData.Community.Keys.V1.AlternateKey"><PropertyValue Property="Key"><Collection>`)
				for _, c := range k.Columns {
					w(`<Record Type="OData.Community.Keys.V1.PropertyRef"><PropertyValue Property="Alias" String="`, xmlEsc(c.ValueProperty()),
						`" /><PropertyValue Property="Name" PropertyPath="`, xmlEsc(c.ValueProperty()), `" /></Record>`)
				}
				w(`</Collection></PropertyValue></Record>`)
			}
			w(`</Collection></Annotation>`)
		}
		w(`</EntityType>`)
	}
	w(`<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false" /><Property Name="UserId" Type="Edm.Guid" Nullable="false" /><Property Name="OrganizationId" Type="Edm.Guid" Nullable="false" /></ComplexType>`,
		`<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" /></Function>`,
		`<ComplexType Name="RetrieveVersionResponse"><Property Name="Version" Type="Edm.String" Unicode="false" /></ComplexType>`,
		`<Function Name="RetrieveVersion"><ReturnType Type="mscrm.RetrieveVersionResponse" Nullable="false" /></Function>`,
		`<ComplexType Name="CreateMultipleResponse"><Property Name="Ids" Type="Collection(Edm.Guid)" Nullable="false" /></ComplexType>`,
		`<Action Name="CreateMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /><ReturnType Type="mscrm.CreateMultipleResponse" Nullable="false" /></Action>`,
		`<Action Name="UpdateMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /></Action>`,
		`<Action Name="UpsertMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /></Action>`,
		`<Action Name="DeleteMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false" /></Action>`,
		`<EntityContainer Name="System">`)
	for _, t := range s.Tables() {
		w(`<EntitySet Name="`, xmlEsc(t.EntitySetName), `" EntityType="Microsoft.Dynamics.CRM.`, xmlEsc(t.LogicalName), `">`)
		for _, r := range t.ManyToOne() {
			w(`<NavigationPropertyBinding Path="`, xmlEsc(r.ReferencingNavigation), `" Target="`, xmlEsc(r.ReferencedTable.EntitySetName), `" />`)
		}
		for _, r := range t.OneToMany() {
			w(`<NavigationPropertyBinding Path="`, xmlEsc(r.ReferencedNavigation), `" Target="`, xmlEsc(r.ReferencingTable.EntitySetName), `" />`)
		}
		for _, r := range t.ManyToManyRelationships() {
			w(`<NavigationPropertyBinding Path="`, xmlEsc(r.ReferencedNavigation), `" Target="`, xmlEsc(r.ReferencingTable.EntitySetName), `" />`)
		}
		if t.ChangeTracking {
			w(`<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record><PropertyValue Property="Supported" Bool="true" /></Record></Annotation>`)
		}
		w(`</EntitySet>`)
	}
	w(`<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI" /><FunctionImport Name="RetrieveVersion" Function="Microsoft.Dynamics.CRM.RetrieveVersion" /></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`)
	return b.String()
}

// obj is a JSON object with ordered fields, for metadata responses.
type obj []field

type field struct {
	k string
	v any
}

func (o obj) get(k string) (any, bool) {
	for _, f := range o {
		if f.k == k {
			return f.v, true
		}
	}
	return nil, false
}

func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case obj:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.k)
			b = append(b, ':')
			b = appendAny(b, f.v)
		}
		return append(b, '}')
	case []any:
		return appendArray(b, x, appendAny)
	case []string:
		return appendArray(b, x, appendString)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case uuid.UUID:
		return appendString(b, x.String())
	}
	return append(b, "null"...)
}

func label(text string, id uuid.UUID) obj {
	l := obj{{"Label", text}, {"LanguageCode", 1033}, {"IsManaged", false}, {"MetadataId", id}, {"HasChanged", nil}}
	return obj{{"LocalizedLabels", []any{l}}, {"UserLocalizedLabel", l}}
}

var attributeTypes = map[eventual.ColumnType][2]string{
	eventual.TypeString:           {"String", "StringType"},
	eventual.TypeMemo:             {"Memo", "MemoType"},
	eventual.TypeInteger:          {"Integer", "IntegerType"},
	eventual.TypeBigInt:           {"BigInt", "BigIntType"},
	eventual.TypeDecimal:          {"Decimal", "DecimalType"},
	eventual.TypeMoney:            {"Money", "MoneyType"},
	eventual.TypeDouble:           {"Double", "DoubleType"},
	eventual.TypeBoolean:          {"Boolean", "BooleanType"},
	eventual.TypeDateTime:         {"DateTime", "DateTimeType"},
	eventual.TypeUniqueIdentifier: {"Uniqueidentifier", "UniqueidentifierType"},
	eventual.TypeChoice:           {"Picklist", "PicklistType"},
	eventual.TypeLookup:           {"Lookup", "LookupType"},
	eventual.TypeCustomer:         {"Customer", "CustomerType"},
}

var metadataTypes = map[eventual.ColumnType]string{
	eventual.TypeString: "StringAttributeMetadata", eventual.TypeMemo: "MemoAttributeMetadata",
	eventual.TypeInteger: "IntegerAttributeMetadata", eventual.TypeBigInt: "BigIntAttributeMetadata",
	eventual.TypeDecimal: "DecimalAttributeMetadata", eventual.TypeMoney: "MoneyAttributeMetadata",
	eventual.TypeDouble: "DoubleAttributeMetadata", eventual.TypeBoolean: "BooleanAttributeMetadata",
	eventual.TypeDateTime: "DateTimeAttributeMetadata", eventual.TypeUniqueIdentifier: "UniqueIdentifierAttributeMetadata",
	eventual.TypeChoice: "PicklistAttributeMetadata", eventual.TypeLookup: "LookupAttributeMetadata",
	eventual.TypeCustomer: "LookupAttributeMetadata",
}

func attributeMetadata(t *eventual.Table, c *eventual.Column) obj {
	typ := attributeTypes[c.Type]
	metaType := metadataTypes[c.Type]
	if c.LogicalName == "statecode" {
		typ, metaType = [2]string{"State", "StateType"}, "StateAttributeMetadata"
	} else if c.LogicalName == "statuscode" {
		typ, metaType = [2]string{"Status", "StatusType"}, "StatusAttributeMetadata"
	} else if c.Stamp && c.LogicalName == eventual.ColumnOwner {
		typ = [2]string{"Owner", "OwnerType"} // still a LookupAttributeMetadata, as in Dataverse
	}
	id := eventual.MetadataIDFor("column", t.LogicalName+"."+c.LogicalName)
	required := "None"
	if c.Required || c.LogicalName == t.PrimaryIDAttribute {
		required = "SystemRequired"
	}
	o := obj{
		{"@odata.type", "#Microsoft.Dynamics.CRM." + metaType},
		{"MetadataId", id},
		{"LogicalName", c.LogicalName},
		{"SchemaName", c.SchemaName},
		{"EntityLogicalName", t.LogicalName},
		// AttributeOf names the column a virtual column belongs to
		// (primarycontactidname of primarycontactid); the schema has no
		// virtual columns.
		{"AttributeOf", nil},
		{"AttributeType", typ[0]},
		{"AttributeTypeName", obj{{"Value", typ[1]}}},
		{"IsPrimaryId", c.LogicalName == t.PrimaryIDAttribute},
		{"IsPrimaryName", c.LogicalName == t.PrimaryNameAttribute},
		{"IsCustomAttribute", t.IsCustom || strings.Contains(c.LogicalName, "_")},
		{"IsValidForCreate", !c.System && !c.Computed || c.LogicalName == t.PrimaryIDAttribute},
		{"IsValidForUpdate", !c.System && !c.Computed},
		{"IsValidForRead", true},
		{"IsValidODataAttribute", true},
		{"IsLogical", false},
		{"IsSecured", false},
		{"IsManaged", !t.IsCustom},
		{"RequiredLevel", obj{{"Value", required}, {"CanBeChanged", false}, {"ManagedPropertyLogicalName", "canmodifyrequirementlevelsettings"}}},
		{"DisplayName", label(c.DisplayName, eventual.MetadataIDFor("label", t.LogicalName+"."+c.LogicalName))},
		{"Description", obj{{"LocalizedLabels", []any{}}, {"UserLocalizedLabel", nil}}},
	}
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		o = append(o, field{"MaxLength", c.MaxLength})
	case eventual.TypeDecimal, eventual.TypeMoney, eventual.TypeDouble:
		o = append(o, field{"Precision", c.Precision}, field{"MinValue", c.MinValue}, field{"MaxValue", c.MaxValue})
	case eventual.TypeInteger, eventual.TypeBigInt:
		o = append(o, field{"MinValue", c.MinValue}, field{"MaxValue", c.MaxValue})
	case eventual.TypeDateTime:
		format := "DateAndTime"
		if c.Format == eventual.DateOnly {
			format = "DateOnly"
		}
		o = append(o, field{"Format", format})
	case eventual.TypeLookup, eventual.TypeCustomer:
		o = append(o, field{"Targets", c.Targets})
	case eventual.TypeChoice:
		var opts []any
		for _, op := range c.Options {
			opts = append(opts, obj{{"Value", op.Value}, {"Label", label(op.Label, eventual.MetadataIDFor("option", t.LogicalName+"."+c.LogicalName+"."+strconv.FormatInt(op.Value, 10)))}})
		}
		o = append(o, field{"OptionSet", obj{{"MetadataId", eventual.MetadataIDFor("optionset", t.LogicalName+"."+c.LogicalName)}, {"Options", opts}}})
	}
	return o
}

func keyMetadata(t *eventual.Table, k *eventual.Key) obj {
	return obj{
		{"MetadataId", eventual.MetadataIDFor("key", t.LogicalName+"."+k.LogicalName)},
		{"LogicalName", k.LogicalName},
		{"SchemaName", k.LogicalName},
		{"EntityLogicalName", t.LogicalName},
		{"KeyAttributes", k.ColumnNames()},
		{"EntityKeyIndexStatus", "Active"},
		{"DisplayName", label(k.LogicalName, eventual.MetadataIDFor("label", "key."+t.LogicalName+"."+k.LogicalName))},
	}
}

func relationshipMetadata(r *eventual.Relationship) obj {
	return obj{
		{"MetadataId", eventual.MetadataIDFor("relationship", r.SchemaName)},
		{"SchemaName", r.SchemaName},
		{"RelationshipType", "OneToManyRelationship"},
		{"ReferencedEntity", r.ReferencedTable.LogicalName},
		{"ReferencedAttribute", r.ReferencedTable.PrimaryIDAttribute},
		{"ReferencingEntity", r.ReferencingTable.LogicalName},
		{"ReferencingAttribute", r.Lookup.LogicalName},
		{"ReferencedEntityNavigationPropertyName", r.ReferencedNavigation},
		{"ReferencingEntityNavigationPropertyName", r.ReferencingNavigation},
		{"IsCustomRelationship", r.ReferencingTable.IsCustom},
	}
}

// entityMetadata describes a table; navigation collections (Attributes,
// Keys, relationships) are included only when expanded.
func entityMetadata(t *eventual.Table) obj {
	return obj{
		{"MetadataId", t.MetadataID()},
		{"LogicalName", t.LogicalName},
		{"SchemaName", t.SchemaName},
		{"EntitySetName", t.EntitySetName},
		{"LogicalCollectionName", t.EntitySetName},
		{"CollectionSchemaName", t.SchemaName + "s"},
		{"PrimaryIdAttribute", t.PrimaryIDAttribute},
		{"PrimaryNameAttribute", nilIfEmpty(t.PrimaryNameAttribute)},
		{"ObjectTypeCode", t.ObjectTypeCode},
		{"IsCustomEntity", t.IsCustom},
		{"IsActivity", false},
		{"IsIntersect", false},
		{"IsManaged", !t.IsCustom},
		{"OwnershipType", "OrganizationOwned"},
		{"ChangeTrackingEnabled", t.ChangeTracking},
		{"IsOptimisticConcurrencyEnabled", true},
		{"DisplayName", label(t.DisplayName, eventual.MetadataIDFor("label", "table."+t.LogicalName))},
		{"DisplayCollectionName", label(t.DisplayCollectionName, eventual.MetadataIDFor("label", "tables."+t.LogicalName))},
		{"Description", obj{{"LocalizedLabels", []any{}}, {"UserLocalizedLabel", nil}}},
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// metaCollections are the expandable collections of an entity definition,
// with the type of their items.
var metaCollections = map[string]string{
	"Attributes":             "AttributeMetadata",
	"Keys":                   "EntityKeyMetadata",
	"ManyToOneRelationships": "OneToManyRelationshipMetadata",
	"OneToManyRelationships": "OneToManyRelationshipMetadata",
}

// metadataBaseTypes maps the metadata types of the Microsoft.Dynamics.CRM
// namespace that URLs may cast to onto their base types, as the CSDL
// declares them.
var metadataBaseTypes = map[string]string{
	"MetadataBase":                         "",
	"EntityMetadata":                       "MetadataBase",
	"EntityKeyMetadata":                    "MetadataBase",
	"RelationshipMetadataBase":             "MetadataBase",
	"OneToManyRelationshipMetadata":        "RelationshipMetadataBase",
	"ManyToManyRelationshipMetadata":       "RelationshipMetadataBase",
	"AttributeMetadata":                    "MetadataBase",
	"BigIntAttributeMetadata":              "AttributeMetadata",
	"BooleanAttributeMetadata":             "AttributeMetadata",
	"DateTimeAttributeMetadata":            "AttributeMetadata",
	"DecimalAttributeMetadata":             "AttributeMetadata",
	"DoubleAttributeMetadata":              "AttributeMetadata",
	"FileAttributeMetadata":                "AttributeMetadata",
	"ImageAttributeMetadata":               "AttributeMetadata",
	"IntegerAttributeMetadata":             "AttributeMetadata",
	"LookupAttributeMetadata":              "AttributeMetadata",
	"ManagedPropertyAttributeMetadata":     "AttributeMetadata",
	"MemoAttributeMetadata":                "AttributeMetadata",
	"MoneyAttributeMetadata":               "AttributeMetadata",
	"StringAttributeMetadata":              "AttributeMetadata",
	"UniqueIdentifierAttributeMetadata":    "AttributeMetadata",
	"EnumAttributeMetadata":                "AttributeMetadata",
	"EntityNameAttributeMetadata":          "EnumAttributeMetadata",
	"MultiSelectPicklistAttributeMetadata": "EnumAttributeMetadata",
	"PicklistAttributeMetadata":            "EnumAttributeMetadata",
	"StateAttributeMetadata":               "EnumAttributeMetadata",
	"StatusAttributeMetadata":              "EnumAttributeMetadata",
}

// isMetadataType reports whether metadata type typ is base or derives
// from it.
func isMetadataType(typ, base string) bool {
	for t := typ; t != ""; t = metadataBaseTypes[t] {
		if t == base {
			return true
		}
	}
	return false
}

// metaItemType is the type of a metadata item: its @odata.type, or the
// declared type of its collection.
func metaItemType(o obj, declared string) string {
	if v, ok := o.get("@odata.type"); ok {
		if s, ok := v.(string); ok {
			return strings.TrimPrefix(s, "#Microsoft.Dynamics.CRM.")
		}
	}
	return declared
}

// castMeta applies a type cast segment (Microsoft.Dynamics.CRM.X) to a
// collection of metadata items of the declared type: it keeps the items of
// type X or derived from it and returns the type the items now have.
func castMeta(coll []obj, declared, segment string) ([]obj, string, error) {
	cast := strings.TrimPrefix(segment, "Microsoft.Dynamics.CRM.")
	if _, known := metadataBaseTypes[cast]; !known {
		return nil, "", errSegment(segment)
	}
	if !isMetadataType(cast, declared) && !isMetadataType(declared, cast) {
		return nil, "", errBadRequest("The type 'Microsoft.Dynamics.CRM.%s' specified in the URI is neither a base type nor a sub-type of the previously-specified type 'Microsoft.Dynamics.CRM.%s'.", cast, declared)
	}
	kept := []obj{}
	for _, o := range coll {
		if isMetadataType(metaItemType(o, declared), cast) {
			kept = append(kept, o)
		}
	}
	if isMetadataType(declared, cast) {
		return kept, declared, nil // a cast to a base type keeps every item
	}
	return kept, cast, nil
}

func metaCollection(t *eventual.Table, name string) ([]obj, bool) {
	var out []obj
	switch name {
	case "Attributes":
		for _, c := range t.Columns {
			out = append(out, attributeMetadata(t, c))
		}
	case "Keys":
		for _, k := range t.Keys {
			out = append(out, keyMetadata(t, k))
		}
	case "ManyToOneRelationships":
		for _, r := range t.ManyToOne() {
			out = append(out, relationshipMetadata(r))
		}
	case "OneToManyRelationships":
		for _, r := range t.OneToMany() {
			out = append(out, relationshipMetadata(r))
		}
	default:
		return nil, false
	}
	return out, true
}

// entityDefinitions serves EntityDefinitions, EntityDefinitions(<key>) and
// their Attributes, Keys and relationship collections, with $select,
// $filter (simple comparisons) and $expand. Metadata is never paged.
func (q *request) entityDefinitions() error {
	segs := q.segs
	var t *eventual.Table
	if segs[0].Parens {
		var err error
		if t, err = q.metadataTable(segs[0]); err != nil {
			return err
		}
	}
	contextBase := q.base + "$metadata#EntityDefinitions"
	if t == nil {
		if len(segs) > 1 {
			return errSegment(segs[1].Name)
		}
		var items []obj
		for _, tt := range q.s.Schema.Tables() {
			items = append(items, entityMetadata(tt))
		}
		return q.writeMetaCollection(contextBase, "EntityMetadata", items, func(o obj) (obj, error) {
			tt := q.s.Schema.Table(o[1].v.(string))
			return q.expandMeta(tt, o, q.opts.Expand)
		})
	}
	keyText := "('" + t.LogicalName + "')"
	if len(segs) == 1 {
		o, err := q.expandMeta(t, entityMetadata(t), q.opts.Expand)
		if err != nil {
			return err
		}
		return q.writeMetaEntity(contextBase+selectSuffix(q.opts.Select)+"/$entity", "EntityMetadata", o)
	}
	coll, ok := metaCollection(t, segs[1].Name)
	if !ok {
		return errSegment(segs[1].Name)
	}
	typ := metaCollections[segs[1].Name]
	rest := segs[2:]
	if len(rest) > 0 && strings.HasPrefix(rest[len(rest)-1].Name, "Microsoft.Dynamics.CRM.") && !rest[len(rest)-1].Parens {
		var err error
		if coll, typ, err = castMeta(coll, typ, rest[len(rest)-1].Name); err != nil {
			return err
		}
		rest = rest[:len(rest)-1]
	}
	ctx := contextBase + keyText + "/" + segs[1].Name
	if segs[1].Parens {
		// Attributes(LogicalName='name') or Attributes(<MetadataId>)
		item, err := findMetaItem(coll, segs[1])
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return errSegment(rest[0].Name)
		}
		return q.writeMetaEntity(ctx+selectSuffix(q.opts.Select)+"/$entity", typ, item)
	}
	if len(rest) > 0 {
		return errSegment(rest[0].Name)
	}
	return q.writeMetaCollection(ctx, typ, coll, nil)
}

func selectSuffix(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "(" + strings.Join(items, ",") + ")"
}

// metadataTable resolves EntityDefinitions(LogicalName='x') or
// EntityDefinitions(<MetadataId>).
func (q *request) metadataTable(seg odata.Segment) (*eventual.Table, error) {
	if len(seg.Args) == 1 {
		a := seg.Args[0]
		lit, ok := a.Value.(*odata.Literal)
		if !ok {
			return nil, errBadRequest("Bad Request - Error in query syntax.")
		}
		switch {
		case a.Name == "" && lit.Kind == odata.LitGUID, a.Name == "MetadataId":
			for _, t := range q.s.Schema.Tables() {
				if strings.EqualFold(t.MetadataID().String(), lit.Value) {
					return t, nil
				}
			}
			return nil, eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist, "Could not find entity with id %s.", lit.Value)
		case a.Name == "LogicalName" && lit.Kind == odata.LitString:
			if t := q.s.Schema.Table(lit.Value); t != nil {
				return t, nil
			}
			return nil, eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist, "Could not find entity with logical name %s.", lit.Value)
		}
	}
	return nil, errBadRequest("Bad Request - Error in query syntax.")
}

func findMetaItem(coll []obj, seg odata.Segment) (obj, error) {
	if len(seg.Args) == 1 {
		if lit, ok := seg.Args[0].Value.(*odata.Literal); ok {
			for _, o := range coll {
				id, _ := o.get("MetadataId")
				name, _ := o.get("LogicalName")
				if (seg.Args[0].Name == "" || seg.Args[0].Name == "MetadataId") && lit.Kind == odata.LitGUID && strings.EqualFold(id.(uuid.UUID).String(), lit.Value) {
					return o, nil
				}
				if seg.Args[0].Name == "LogicalName" && lit.Kind == odata.LitString && name == lit.Value {
					return o, nil
				}
			}
			return nil, eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist, "The metadata item %s does not exist.", seg.String())
		}
	}
	return nil, errBadRequest("Bad Request - Error in query syntax.")
}

// expandMeta adds expanded collections to an entity definition, with their
// nested $select and $filter.
func (q *request) expandMeta(t *eventual.Table, o obj, items []odata.ExpandItem) (obj, error) {
	for _, it := range items {
		coll, ok := metaCollection(t, it.Path)
		if !ok {
			return nil, errNoPropertyOn("EntityMetadata", it.Path)
		}
		typ := metaCollections[it.Path]
		var arr []any
		for _, c := range coll {
			if err := checkMetaSelect(c, typ, it.Options.Select); err != nil {
				return nil, err
			}
			if it.Options.Filter != nil {
				ok, err := evalMeta(c, typ, it.Options.Filter)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
			}
			arr = append(arr, selectMeta(c, it.Options.Select))
		}
		if arr == nil {
			arr = []any{}
		}
		o = append(o, field{it.Path, arr})
	}
	return o, nil
}

// selectMeta keeps the selected fields (and MetadataId, always returned).
func selectMeta(o obj, sel []string) obj {
	if len(sel) == 0 {
		return o
	}
	var out obj
	for _, f := range o {
		if f.k == "MetadataId" || f.k == "@odata.type" {
			out = append(out, f)
			continue
		}
		for _, s := range sel {
			if s == f.k {
				out = append(out, f)
			}
		}
	}
	return out
}

// checkMetaSelect checks that a metadata item of type typ has the selected
// properties (an entity definition's collections count).
func checkMetaSelect(o obj, typ string, sel []string) error {
	for _, s := range sel {
		if _, ok := o.get(s); ok {
			continue
		}
		if _, isColl := metaCollections[s]; isColl && typ == "EntityMetadata" {
			continue
		}
		return errNoPropertyOn(typ, s)
	}
	return nil
}

func (q *request) writeMetaEntity(context, typ string, o obj) error {
	if err := checkMetaSelect(o, typ, q.opts.Select); err != nil {
		return err
	}
	out := append(obj{{"@odata.context", context}}, selectMeta(o, keepExpanded(q.opts.Select, q.opts.Expand))...)
	return q.writeJSON(http.StatusOK, appendAny(nil, out))
}

func keepExpanded(sel []string, exp []odata.ExpandItem) []string {
	if len(sel) == 0 {
		return nil
	}
	out := append([]string{}, sel...)
	for _, e := range exp {
		out = append(out, e.Path)
	}
	return out
}

func (q *request) writeMetaCollection(context, typ string, items []obj, expand func(obj) (obj, error)) error {
	var arr []any
	for _, o := range items {
		if err := checkMetaSelect(o, typ, q.opts.Select); err != nil {
			return err
		}
		if q.opts.Filter != nil {
			ok, err := evalMeta(o, typ, q.opts.Filter)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		if expand != nil {
			var err error
			if o, err = expand(o); err != nil {
				return err
			}
		}
		arr = append(arr, selectMeta(o, keepExpanded(q.opts.Select, q.opts.Expand)))
	}
	if arr == nil {
		arr = []any{}
	}
	return q.writeJSON(http.StatusOK, appendAny(nil, obj{{"@odata.context", context + selectSuffix(q.opts.Select)}, {"value", arr}}))
}

// evalMeta evaluates a simple $filter (comparisons of properties with
// literals, and, or, not) on a metadata item of type typ.
func evalMeta(o obj, typ string, n odata.Node) (bool, error) {
	switch x := n.(type) {
	case *odata.Binary:
		switch x.Op {
		case "and", "or":
			l, err := evalMeta(o, typ, x.Left)
			if err != nil {
				return false, err
			}
			r, err := evalMeta(o, typ, x.Right)
			if err != nil {
				return false, err
			}
			if x.Op == "and" {
				return l && r, nil
			}
			return l || r, nil
		case "eq", "ne":
			p, ok := x.Left.(*odata.Path)
			lit, ok2 := x.Right.(*odata.Literal)
			if !ok || !ok2 {
				return false, errBadRequest("Metadata filters compare a property with a literal.")
			}
			v, err := metaPath(o, typ, p.Segments)
			if err != nil {
				return false, err
			}
			eq := metaEqual(v, lit)
			if x.Op == "ne" {
				return !eq, nil
			}
			return eq, nil
		}
		return false, errBadRequest("The operator '%s' is not supported in metadata queries.", x.Op)
	case *odata.Not:
		v, err := evalMeta(o, typ, x.X)
		return !v, err
	}
	return false, errBadRequest("The $filter expression is not supported in metadata queries.")
}

// metaPath reads a property path of a metadata item of type typ.
// Properties of nested values (DisplayName/UserLocalizedLabel/Label) are
// reported on the item's type, which is as precise as the item model goes.
func metaPath(o obj, typ string, segs []string) (any, error) {
	var cur any = o
	for _, s := range segs {
		m, ok := cur.(obj)
		if !ok {
			return nil, errNoPropertyOn(typ, s)
		}
		v, ok := m.get(s)
		if !ok {
			return nil, errNoPropertyOn(typ, s)
		}
		cur = v
	}
	return cur, nil
}

func metaEqual(v any, lit *odata.Literal) bool {
	switch x := v.(type) {
	case nil:
		return lit.Kind == odata.LitNull
	case string:
		return lit.Kind == odata.LitString && x == lit.Value
	case bool:
		return lit.Kind == odata.LitBool && strconv.FormatBool(x) == lit.Value
	case int:
		return lit.Kind == odata.LitNumber && strconv.Itoa(x) == lit.Value
	case uuid.UUID:
		return (lit.Kind == odata.LitGUID || lit.Kind == odata.LitString) && strings.EqualFold(x.String(), lit.Value)
	}
	return false
}

// appendArray appends a JSON array of items, each appended by item.
func appendArray[T any](b []byte, items []T, item func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, it)
	}
	return append(b, ']')
}
