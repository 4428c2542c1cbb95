package instance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// lookupCache maps the refKey of a record this write already resolved or
// made (in the same transaction) to its id, so a lookup that binds it
// needs no second read. The write path passes it down explicitly; nil is
// an empty cache.
type lookupCache map[string]uuid.UUID

// lookup returns the id of a record the cache holds.
func (c lookupCache) lookup(r eventual.EntityReference) (uuid.UUID, bool) {
	if c == nil || r.Table == nil {
		return uuid.Nil, false
	}
	id, ok := c[refKey(r)]
	return id, ok
}

// create inserts a record and its deep-insert relatives inside tx.
func (in *Instance) create(ctx context.Context, tx eventual.Tx, e *eventual.Entity, lookups lookupCache) (uuid.UUID, error) {
	rec, err := in.buildCreate(ctx, tx, e, lookups)
	if err != nil {
		return uuid.Nil, err
	}
	if err := tx.Insert(ctx, rec); err != nil {
		return uuid.Nil, conflictError(err, e.Table, rec.ID)
	}
	if err := in.createRelated(ctx, tx, e.Table, rec.ID, e.Related, lookups); err != nil {
		return uuid.Nil, err
	}
	return rec.ID, nil
}

// buildCreate checks an entity to create and returns the record to store:
// its id, validated values with lookups resolved, defaults, timestamps and
// derived columns. Lookups the cache holds are not read again.
func (in *Instance) buildCreate(ctx context.Context, tx eventual.Tx, e *eventual.Entity, lookups lookupCache) (*eventual.Record, error) {
	t := e.Table
	if isJobTable(t) {
		return nil, errCreateJob()
	}
	id := e.ID
	if id == uuid.Nil {
		if v, ok := e.Values[t.PrimaryIDAttribute]; ok && v != nil {
			pk, err := t.PrimaryKeyValue(v)
			if err != nil {
				return nil, err
			}
			id = pk
		} else {
			id = in.newID()
		}
	}
	vals, err := in.prepare(ctx, tx, t, e.Values, nil, lookups)
	if err != nil {
		return nil, err
	}
	if err := createState(t, vals); err != nil {
		return nil, err
	}
	in.stampCreate(ctx, t, vals)
	if err := in.currencyCreate(ctx, tx, t, vals); err != nil {
		return nil, err
	}
	for _, c := range t.Columns {
		if _, ok := vals[c.LogicalName]; !ok && c.Default != nil {
			vals[c.LogicalName] = c.Default
		}
		if c.Required && vals[c.LogicalName] == nil {
			return nil, requiredMissing(t, c)
		}
	}
	var now any = in.now() // boxed once for both
	vals["createdon"], vals["modifiedon"] = now, now
	computeFullName(t, vals, nil)
	return &eventual.Record{Table: t, ID: id, Values: vals}, nil
}

func (in *Instance) createRelated(ctx context.Context, tx eventual.Tx, t *eventual.Table, id uuid.UUID, related []eventual.RelatedEntities, lookups lookupCache) error {
	for _, rel := range related {
		r := rel.Relationship
		if m := r.ManyToMany; m != nil {
			// Associations: an intersect record per related record, each
			// created first when it is new.
			for _, child := range rel.Entities {
				cid, err := in.createMessage(ctx, tx, child, true, lookups)
				if err != nil {
					return err
				}
				rel.References = append(rel.References, eventual.Ref(child.Table, cid))
			}
			for _, ref := range rel.References {
				if _, err := in.createMessage(ctx, tx, &eventual.Entity{Table: m.Intersect, Values: eventual.Values{
					m.From.Lookup.LogicalName: eventual.Ref(t, id), m.To.Lookup.LogicalName: ref}}, true, lookups); err != nil {
					return err
				}
			}
			continue
		}
		for _, ref := range rel.References {
			if _, err := in.updateMessage(ctx, tx, ref, &eventual.Entity{Table: ref.Table, Values: eventual.Values{r.Lookup.LogicalName: eventual.Ref(t, id)}}, eventual.Condition{IfMatch: "*"}, true, lookups); err != nil {
				return err
			}
		}
		for _, child := range rel.Entities {
			cv := child.Values.Clone()
			cv[r.Lookup.LogicalName] = eventual.Ref(t, id)
			if _, err := in.createMessage(ctx, tx, &eventual.Entity{Table: child.Table, ID: child.ID, Values: cv, Related: child.Related}, true, lookups); err != nil {
				return err
			}
		}
	}
	return nil
}

// update writes values to an existing record inside tx.
func (in *Instance) update(ctx context.Context, tx eventual.Tx, existing *eventual.Record, values eventual.Values, related []eventual.RelatedEntities, lookups lookupCache) error {
	t := existing.Table
	vals, hydrated, err := in.buildUpdate(ctx, tx, existing, values, lookups)
	if err != nil {
		return err
	}
	if _, err := tx.Update(ctx, t, existing.ID, vals); err != nil {
		return conflictError(err, t, existing.ID)
	}
	if err := in.createRelated(ctx, tx, t, existing.ID, related, lookups); err != nil {
		return err
	}
	if hydrated {
		return in.hydrate(ctx, tx, existing, &eventual.Entity{Table: t, ID: existing.ID, Values: vals}, lookups)
	}
	return nil
}

// buildUpdate checks values to write to an existing record and returns
// the values to store, with lookups resolved, the modification time and
// derived columns. A write that brings data to a placeholder hydrates it:
// buildUpdate flips its state and reports it.
func (in *Instance) buildUpdate(ctx context.Context, tx eventual.Tx, existing *eventual.Record, values eventual.Values, lookups lookupCache) (eventual.Values, bool, error) {
	t := existing.Table
	vals, err := in.prepare(ctx, tx, t, values, existing, lookups)
	if err != nil {
		return nil, false, err
	}
	for _, c := range t.Columns {
		if v, ok := vals[c.LogicalName]; ok && v == nil && c.Required {
			return nil, false, requiredMissing(t, c)
		}
	}
	if cur, ok := existing.Values["statecode"].(int64); ok {
		if err := checkState(t, vals, cur, existing.ID); err != nil {
			return nil, false, err
		}
	}
	if err := in.currencyUpdate(ctx, tx, existing, vals); err != nil {
		return nil, false, err
	}
	hydrated := len(vals) > 0 && existing.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder
	now := in.now()
	vals["modifiedon"] = now
	in.stampUpdate(ctx, t, vals)
	if hydrated {
		vals[eventual.ColumnHydrationState] = eventual.HydrationHydrated
		vals[eventual.ColumnHydratedOn] = now
		since, _ := existing.Values[eventual.ColumnPlaceholderOn].(time.Time)
		note(ctx, event{hydrated: true, table: t.LogicalName, id: existing.ID, since: since, at: now})
	}
	computeFullName(t, vals, existing)
	return vals, hydrated, nil
}

func requiredMissing(t *eventual.Table, c *eventual.Column) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeRequiredFieldMissing,
		"A validation error occurred. The %s attribute of the %s entity is required.", c.LogicalName, t.LogicalName)
}

// textProblem words a ValidText error for a message about a value.
func textProblem(err error) string {
	if errors.Is(err, eventual.ErrNUL) {
		return "not valid text: it contains the character U+0000 (NUL)"
	}
	return "not valid UTF-8 text"
}

// createState completes the statecode and statuscode of a record to
// create: neither given, the default state with its default status;
// statecode alone, that state's default status; statuscode alone, a status
// of the default state. A pair that does not belong together is refused.
func createState(t *eventual.Table, vals eventual.Values) error {
	if !t.HasStateModel() {
		return nil
	}
	state, _ := t.Column("statecode").Default.(int64)
	_, setState := vals["statecode"]
	_, setStatus := vals["statuscode"]
	if !setState && !setStatus {
		vals["statecode"] = state
		vals["statuscode"], _ = t.DefaultStatus(state)
		return nil
	}
	return checkState(t, vals, state, uuid.Nil)
}

// checkState checks the statecode and statuscode a write sets against the
// table's state model; current is the state the record is in (or starts
// from). Setting statecode alone sets its default status, as Dataverse
// does (special-update-operation-behavior.md); setting statuscode alone
// keeps the state, so the status must be one of it: Dataverse does not
// infer the state from the status. Neither can be null.
func checkState(t *eventual.Table, vals eventual.Values, current int64, id uuid.UUID) error {
	if !t.HasStateModel() {
		return nil
	}
	sv, setState := vals["statecode"]
	uv, setStatus := vals["statuscode"]
	if !setState && !setStatus {
		return nil
	}
	if setState && sv == nil {
		return requiredMissing(t, t.Column("statecode"))
	}
	if setStatus && uv == nil {
		return requiredMissing(t, t.Column("statuscode"))
	}
	state := current
	if setState {
		state = sv.(int64)
	}
	if !setStatus {
		vals["statuscode"], _ = t.DefaultStatus(state)
		return nil
	}
	status := uv.(int64)
	if s, ok := t.StatusState(status); ok && s == state {
		return nil
	}
	msg := fmt.Sprintf("%d is not a valid status code for state code %s on %s", status, t.StateName(state), t.LogicalName)
	if id != uuid.Nil {
		msg += " with Id " + id.String()
	}
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidStateCodeStatusCode, "%s.", msg)
}

// conflictError maps store conflicts to Dataverse's errors.
func conflictError(err error, t *eventual.Table, id uuid.UUID) error {
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Key == nil {
		if id == uuid.Nil {
			return eventual.Errorf(eventual.KindPrecondition, eventual.CodeDuplicateRecord,
				"A record with matching key values already exists. Cannot insert duplicate key: a record of %s with that id already exists.", t.LogicalName)
		}
		return eventual.Errorf(eventual.KindPrecondition, eventual.CodeDuplicateRecord,
			"A record with matching key values already exists. Cannot insert duplicate key: %s With Id = %s already exists.", t.LogicalName, id)
	}
	return DuplicateKey(ce.Key)
}

// DuplicateKey returns Dataverse's error for a duplicate alternate key.
func DuplicateKey(k *eventual.Key) error {
	return eventual.Errorf(eventual.KindPrecondition, eventual.CodeDuplicateRecordEntityKey,
		"Entity Key %s violated. A record with the same value for %s already exists. A duplicate record cannot be created. Select one or more unique values and try again.",
		k.LogicalName, strings.Join(k.ColumnNames(), ","))
}

// computeFullName derives contact.fullname ("First Last") from the
// first and last names, Dataverse's default full name format.
func computeFullName(t *eventual.Table, vals eventual.Values, existing *eventual.Record) {
	c := t.Column("fullname")
	if c == nil || !c.Computed || t.Column("firstname") == nil || t.Column("lastname") == nil {
		return
	}
	_, f := vals["firstname"]
	_, l := vals["lastname"]
	if existing != nil && !f && !l {
		return
	}
	part := func(name string) string {
		if v, ok := vals[name]; ok {
			s, _ := v.(string)
			return s
		}
		if existing != nil {
			s, _ := existing.Values[name].(string)
			return s
		}
		return ""
	}
	full := strings.TrimSpace(part("firstname") + " " + part("lastname"))
	if full == "" {
		vals["fullname"] = nil
		return
	}
	vals["fullname"] = eventual.TruncateUTF16(full, c.MaxLength)
}

// prepare checks values against the table's columns, resolves lookup
// references (by alternate key, and deep inserts) and returns the values
// to store. System and computed columns are ignored, as Dataverse ignores
// attributes that are not valid for create or update.
func (in *Instance) prepare(ctx context.Context, tx eventual.Tx, t *eventual.Table, values eventual.Values, existing *eventual.Record, lookups lookupCache) (eventual.Values, error) {
	out := make(eventual.Values, len(values)+10) // room for the columns the instance adds (times, state, lifecycle, stamps)
	// Deterministic order: errors name the first bad column of the schema.
	for _, c := range t.Columns {
		v, ok := values[c.LogicalName]
		if !ok || c.System || c.Computed {
			continue
		}
		nv, err := in.checkValue(ctx, tx, t, c, v, lookups)
		if err != nil {
			return nil, err
		}
		out[c.LogicalName] = nv
	}
	for name := range values {
		if t.Column(name) == nil {
			return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidPayload,
				"Invalid property '%s' was found in entity 'Microsoft.Dynamics.CRM.%s'.", name, t.LogicalName)
		}
	}
	return out, nil
}

func outOfRange(t *eventual.Table, c *eventual.Column, v any) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeOutOfRange,
		"A validation error occurred. The value %v of '%s' on record of type '%s' is outside the valid range. Accepted range: %s to %s",
		v, c.LogicalName, t.LogicalName, formatBound(c.MinValue), formatBound(c.MaxValue))
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func wrongType(t *eventual.Table, c *eventual.Column, v any) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidPayload,
		"The value %v (%T) is not valid for the %s column '%s' of entity '%s'.", v, v, c.Type, c.LogicalName, t.LogicalName)
}

// checkValue validates one value and returns it normalized.
func (in *Instance) checkValue(ctx context.Context, tx eventual.Tx, t *eventual.Table, c *eventual.Column, v any, lookups lookupCache) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		return checkText(t, c, s)
	case eventual.TypeInteger, eventual.TypeBigInt:
		n, ok := v.(int64)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		if c.Type == eventual.TypeInteger && (float64(n) < c.MinValue || float64(n) > c.MaxValue) {
			return nil, outOfRange(t, c, n)
		}
		return n, nil
	case eventual.TypeChoice:
		n, ok := v.(int64)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		if _, ok := c.OptionLabel(n); !ok {
			return nil, notAnOption(t, c, n)
		}
		return n, nil
	case eventual.TypeDecimal, eventual.TypeMoney:
		d, ok := v.(eventual.Decimal)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		r, err := d.Rescale(c.Precision)
		if err != nil {
			return nil, outOfRange(t, c, d)
		}
		if f := r.Float64(); f < c.MinValue || f > c.MaxValue {
			return nil, outOfRange(t, c, r)
		}
		return r, nil
	case eventual.TypeDouble:
		f, ok := v.(float64)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		if math.IsNaN(f) || f < c.MinValue || f > c.MaxValue {
			return nil, outOfRange(t, c, f)
		}
		return f, nil
	case eventual.TypeBoolean:
		if _, ok := v.(bool); !ok {
			return nil, wrongType(t, c, v)
		}
		return v, nil
	case eventual.TypeDateTime:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, wrongType(t, c, v)
		}
		return checkDateTime(c, tm)
	case eventual.TypeUniqueIdentifier:
		if _, ok := v.(uuid.UUID); !ok {
			return nil, wrongType(t, c, v)
		}
		return v, nil
	case eventual.TypeLookup, eventual.TypeCustomer:
		return in.resolveLookup(ctx, tx, t, c, v, lookups)
	}
	return nil, wrongType(t, c, v)
}

// checkText checks a text value: valid text, at most MaxLength UTF-16 code
// units (as Dataverse counts).
func checkText(t *eventual.Table, c *eventual.Column, s string) (any, error) {
	if err := eventual.ValidText(s); err != nil {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidPayload, "The value of '%s' is %v.", c.LogicalName, textProblem(err))
	}
	if eventual.UTF16Len(s) > c.MaxLength {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeValidation,
			"A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.",
			c.LogicalName, t.LogicalName, c.MaxLength)
	}
	return s, nil
}

// notAnOption is Dataverse's error for a choice value the column lacks.
func notAnOption(t *eventual.Table, c *eventual.Column, n int64) error {
	vals := make([]string, len(c.Options))
	for i, o := range c.Options {
		vals[i] = strconv.FormatInt(o.Value, 10)
	}
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeOutOfRange,
		"A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s",
		n, c.LogicalName, t.LogicalName, strings.Join(vals, ","))
}

// checkDateTime stores times in UTC to the second (a date alone for
// DateOnly columns) and keeps them in SQL Server's datetime range.
func checkDateTime(c *eventual.Column, tm time.Time) (any, error) {
	tm = tm.UTC().Truncate(time.Second)
	if c.Format == eventual.DateOnly {
		tm = time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
	}
	if tm.Year() < 1753 || tm.Year() > 9999 {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeOutOfRange,
			"A validation error occurred. The date %s of '%s' is outside the supported range (1753-01-01 to 9999-12-31).", tm.Format(time.RFC3339), c.LogicalName)
	}
	return tm, nil
}

// resolveLookup turns a lookup value into a reference by primary key to an
// existing record of one of the column's targets. A reference by alternate
// key is looked up, unless the write's cache holds it; a nested entity
// (deep insert) is created first.
func (in *Instance) resolveLookup(ctx context.Context, tx eventual.Tx, t *eventual.Table, c *eventual.Column, v any, lookups lookupCache) (any, error) {
	if tx == nil {
		// Values are checked before their transaction only when none is a
		// lookup (readsNothing); this one was.
		return nil, fmt.Errorf("instance: the lookup %s.%s was to be resolved outside a transaction", t.LogicalName, c.LogicalName)
	}
	switch x := v.(type) {
	case *eventual.Entity:
		if x.Table == nil || !slices.Contains(c.Targets, x.Table.LogicalName) {
			return nil, wrongType(t, c, v)
		}
		id, err := in.createMessage(ctx, tx, x, true, lookups)
		if err != nil {
			return nil, err
		}
		return eventual.Ref(x.Table, id), nil
	case eventual.EntityReference:
		if x.Table == nil || !slices.Contains(c.Targets, x.Table.LogicalName) {
			target := "?"
			if x.Table != nil {
				target = x.Table.LogicalName
			}
			return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidArgument,
				"The lookup '%s' of entity '%s' cannot reference a record of entity '%s'.", c.LogicalName, t.LogicalName, target)
		}
		if id, ok := lookups.lookup(x); ok {
			return eventual.Ref(x.Table, id), nil
		}
		rec, err := in.find(ctx, tx, x, []*eventual.Column{})
		if err != nil {
			return nil, err
		}
		return eventual.Ref(x.Table, rec.ID), nil
	}
	return nil, wrongType(t, c, v)
}
