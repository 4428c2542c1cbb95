package eventual

import (
	"github.com/google/uuid"
)

// Record is a stored row of a table.
type Record struct {
	// Table is the record's table.
	Table *Table
	// ID is the primary key.
	ID uuid.UUID
	// Version is the row version (versionnumber). It changes on every
	// write and is the record's ETag; it grows monotonically across the
	// whole store, so it also orders changes for change tracking.
	Version int64
	// Values holds column values by logical name. The primary key and
	// versionnumber are not in Values; they are ID and Version.
	Values Values
	// SortKey holds, for records returned by ReadTx.Query, the values the
	// query's OrderBy terms sorted on (for a lookup, the referenced primary
	// name). With ID it forms the keyset that continues after the record.
	SortKey []any
	// Related holds expanded related records by navigation property, when
	// a retrieve asked for them: zero or one record for a single-valued
	// navigation, any number for a collection-valued one.
	Related map[string][]*Record
}

// Values maps column logical names to values (see the value types in
// value.go). A nil value means null.
type Values map[string]any

// Clone returns a shallow copy of v.
func (v Values) Clone() Values {
	out := make(Values, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}

// Get returns the value of a column of the record, including the primary
// key and versionnumber.
func (r *Record) Get(column string) any {
	switch column {
	case r.Table.PrimaryIDAttribute:
		return r.ID
	case "versionnumber":
		return r.Version
	}
	return r.Values[column]
}

// Reference returns a reference to the record.
func (r *Record) Reference() EntityReference { return Ref(r.Table, r.ID) }

// Entity is a record to write: the target of a create, update or upsert,
// with related records to create in the same operation (deep insert).
type Entity struct {
	// Table is the entity's table.
	Table *Table
	// ID is the primary key; uuid.Nil lets the instance choose one.
	ID uuid.UUID
	// Values are the columns to write. A lookup column holds an
	// EntityReference (by ID or by alternate key), nil to clear it, or an
	// *Entity to create and bind (deep insert of a single-valued
	// navigation property).
	Values Values
	// Related lists records to create that reference this one through a
	// one-to-many relationship (deep insert of a collection-valued
	// navigation property).
	Related []RelatedEntities
}

// RelatedEntities are records of Relationship.ReferencingTable linked to
// the parent entity through the relationship's lookup: Entities are created
// with the lookup set, References name existing records whose lookup is
// set (collection-valued @odata.bind).
type RelatedEntities struct {
	Relationship *Relationship
	Entities     []*Entity
	References   []EntityReference
}

// PrimaryKeyValue returns the primary key a value of the table's primary
// id column names, or an error unless it is a non-empty GUID.
func (t *Table) PrimaryKeyValue(v any) (uuid.UUID, error) {
	id, ok := v.(uuid.UUID)
	if !ok || id == uuid.Nil {
		return uuid.Nil, Errorf(KindInvalid, CodeInvalidArgument,
			"The value of %s must be a non-empty GUID.", t.PrimaryIDAttribute)
	}
	return id, nil
}
