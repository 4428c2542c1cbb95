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
