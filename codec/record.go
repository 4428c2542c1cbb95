package codec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Annotations of record properties the server writes: a value's
// formatted form, and a lookup's table and navigation property.
const (
	AnnotationFormatted   = "OData.Community.Display.V1.FormattedValue"
	AnnotationLookupTable = "Microsoft.Dynamics.CRM.lookuplogicalname"
	AnnotationLookupNav   = "Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// DecodeRecord reads a record of table t from a JSON object as the server
// renders it: column properties (lookups as _x_value, their table from the
// lookuplogicalname annotation or, without it, the lookup's only target),
// @odata.etag as the version, expanded navigation properties as Related.
// Other annotations, _x_value properties of lookups the table does not
// have (left out at discovery) and the currency columns it does not have
// (exchangerate, <money>_base) are ignored; any other unknown property is
// an error.
func DecodeRecord(t *eventual.Table, body []byte) (*eventual.Record, error) {
	v, err := DecodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s record: %w", t.LogicalName, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode %s record: not a JSON object", t.LogicalName)
	}
	return RecordFromJSON(t, m)
}

// RecordFromJSON is DecodeRecord for an object DecodeJSON has read.
func RecordFromJSON(t *eventual.Table, m map[string]any) (*eventual.Record, error) {
	rec := &eventual.Record{Table: t, Values: eventual.Values{}}
	for k, v := range m {
		if err := decodeProperty(rec, m, k, v); err != nil {
			return nil, fmt.Errorf("decode %s record: %w", t.LogicalName, err)
		}
	}
	return rec, nil
}

// decodeProperty sets one property of m on rec.
func decodeProperty(rec *eventual.Record, m map[string]any, k string, v any) error {
	t := rec.Table
	if k == "@odata.etag" {
		return decodeVersion(rec, v)
	}
	if strings.Contains(k, "@") {
		return nil // @odata.context, FormattedValue and the other annotations
	}
	if c := t.ColumnByProperty(k); c != nil {
		return decodeColumn(rec, c, m, v)
	}
	if r := t.Navigation(k); r != nil {
		return decodeRelated(rec, k, r, v)
	}
	if strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value") && len(k) > len("__value") {
		// A lookup the table, as discovered, left out: its targets were
		// not among the tables discovered (Dataverse answers createdby,
		// ownerid and the like on every record).
		return nil
	}
	if k == eventual.ColumnExchangeRate || strings.HasSuffix(k, eventual.BaseSuffix) {
		// The currency columns of a table with money, which discovery
		// leaves to the schema builder (revenue_base, exchangerate).
		return nil
	}
	return fmt.Errorf("property %q is not a column or navigation property", k)
}

func decodeVersion(rec *eventual.Record, v any) error {
	s, _ := v.(string)
	ver, ok := ParseETag(s)
	if !ok || ver == "*" {
		return fmt.Errorf("@odata.etag %v is not a row version's ETag", v)
	}
	n, err := strconv.ParseInt(ver, 10, 64)
	if err != nil {
		return fmt.Errorf("@odata.etag %v: %w", v, err)
	}
	rec.Version = n
	return nil
}

// decodeColumn sets a column's value: the primary key as ID, versionnumber
// as Version (when no ETag gave it), everything else in Values.
func decodeColumn(rec *eventual.Record, c *eventual.Column, m map[string]any, v any) error {
	prop := c.ValueProperty()
	var val any
	var err error
	if c.Type.IsLookup() {
		val, err = decodeLookup(c, v, m[prop+"@"+AnnotationLookupTable])
	} else {
		val, err = JSONValue(c, v)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", prop, err)
	}
	switch {
	case c.LogicalName == rec.Table.PrimaryIDAttribute:
		id, _ := val.(uuid.UUID)
		rec.ID = id
	case c.LogicalName == "versionnumber":
		if n, ok := val.(int64); ok && rec.Version == 0 {
			rec.Version = n
		}
	default:
		rec.Values[c.LogicalName] = val
	}
	return nil
}

// decodeLookup reads a lookup's GUID and the table its annotation names.
func decodeLookup(c *eventual.Column, v, table any) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, _ := v.(string)
	id, err := eventual.ParseGUID(s)
	if err != nil {
		return nil, fmt.Errorf("lookup value: %w", err)
	}
	ref := eventual.EntityReference{ID: id}
	switch name, _ := table.(string); {
	case name != "":
		r := c.RelationshipTo(name)
		if r == nil {
			return nil, fmt.Errorf("%s is not a target of the lookup", name)
		}
		ref.Table = r.ReferencedTable
	case len(c.Relationships()) == 1:
		ref.Table = c.Relationships()[0].ReferencedTable
	}
	return ref, nil
}

// decodeRelated reads an expanded navigation property: null, one record
// or an array of records.
func decodeRelated(rec *eventual.Record, nav string, r *eventual.Relationship, v any) error {
	if rec.Related == nil {
		rec.Related = map[string][]*eventual.Record{}
	}
	var items []any
	target := r.ReferencedTable
	switch x := v.(type) {
	case nil:
	case map[string]any:
		items = []any{x}
	case []any:
		items, target = x, r.ReferencingTable
	default:
		return fmt.Errorf("navigation property %s: not an object or an array", nav)
	}
	related := []*eventual.Record{}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("navigation property %s: an item is not an object", nav)
		}
		rr, err := RecordFromJSON(target, m)
		if err != nil {
			return fmt.Errorf("navigation property %s: %w", nav, err)
		}
		related = append(related, rr)
	}
	rec.Related[nav] = related
	return nil
}
