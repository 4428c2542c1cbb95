package placeholder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Lookup configures placeholders for one lookup column.
type Lookup struct {
	// Table and Column name the lookup, on the referencing table.
	Table, Column string
	// Stage is PreValidation (default) or PreOperation.
	Stage eventual.Stage
	// Name is the template of the placeholder's primary name: {id} is the
	// bound GUID, {key} the bound key values, {column} one key column's
	// value. Empty: "Placeholder {key}".
	Name string
	// Values are set on every placeholder (column: value).
	Values map[string]any
	// FromRequest copies values of the binding request into the
	// placeholder (placeholder column: request column).
	FromRequest map[string]string
}

// DefaultName is the default template of placeholder names.
const DefaultName = "Placeholder {key}"

// Defaults returns placeholder lookups for every lookup of the given
// tables (all tables when none are given), at PreValidation, but for the
// user stamps (createdby, modifiedby, ownerid): users are not records a
// sync brings, so a bind to a missing user fails as in Dataverse.
func Defaults(s *eventual.Schema, tables ...string) []Lookup {
	var out []Lookup
	for _, t := range s.Tables() {
		if len(tables) > 0 && !contains(tables, t.LogicalName) {
			continue
		}
		for _, c := range t.Columns {
			if c.Type.IsLookup() && !c.Stamp {
				out = append(out, Lookup{Table: t.LogicalName, Column: c.LogicalName, Stage: eventual.PreValidation})
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lookup is a validated Lookup.
type lookup struct {
	Lookup
	column *eventual.Column
}

// Plugin creates placeholders for the configured lookups of one table.
type Plugin struct {
	schema  *eventual.Schema
	lookups []lookup
}

var (
	_ eventual.Plugin     = (*Plugin)(nil)
	_ eventual.BulkPlugin = (*Plugin)(nil)
)

// Steps validates the lookups and returns the steps to register: for each
// table and stage, one step on each of Create, Update and Upsert, named
// "eventual.placeholder.<table>.<stage>.<message>", with rank -1000 so
// that it runs before other steps of its stage.
func Steps(s *eventual.Schema, lookups []Lookup) ([]eventual.Step, error) {
	type group struct {
		table string
		stage eventual.Stage
	}
	plugins := map[group]*Plugin{}
	var order []group
	for _, l := range lookups {
		t := s.Table(l.Table)
		if t == nil {
			return nil, fmt.Errorf("placeholder: unknown table %q", l.Table)
		}
		c := t.Column(l.Column)
		if c == nil || !c.Type.IsLookup() {
			return nil, fmt.Errorf("placeholder: %s.%s is not a lookup column", l.Table, l.Column)
		}
		if c.Stamp {
			return nil, fmt.Errorf("placeholder: %s.%s references the instance's users, which no sync hydrates: it takes no placeholders", l.Table, l.Column)
		}
		if l.Stage == 0 {
			l.Stage = eventual.PreValidation
		}
		if l.Stage != eventual.PreValidation && l.Stage != eventual.PreOperation {
			return nil, fmt.Errorf("placeholder: %s.%s: stage %s: a placeholder step runs at PreValidation or PreOperation", l.Table, l.Column, l.Stage)
		}
		for _, target := range c.Targets {
			tt := s.Table(target)
			for col := range l.Values {
				if tt.Column(col) == nil {
					return nil, fmt.Errorf("placeholder: %s.%s: value column %q is not a column of %s", l.Table, l.Column, col, target)
				}
			}
			for col, from := range l.FromRequest {
				if tt.Column(col) == nil {
					return nil, fmt.Errorf("placeholder: %s.%s: column %q is not a column of %s", l.Table, l.Column, col, target)
				}
				if t.Column(from) == nil {
					return nil, fmt.Errorf("placeholder: %s.%s: request column %q is not a column of %s", l.Table, l.Column, from, t.LogicalName)
				}
			}
		}
		g := group{l.Table, l.Stage}
		if plugins[g] == nil {
			plugins[g] = &Plugin{schema: s}
			order = append(order, g)
		}
		plugins[g].lookups = append(plugins[g].lookups, lookup{Lookup: l, column: c})
	}
	var steps []eventual.Step
	for _, g := range order {
		for _, m := range []string{eventual.MessageCreate, eventual.MessageUpdate, eventual.MessageUpsert} {
			steps = append(steps, eventual.Step{
				Name:    fmt.Sprintf("eventual.placeholder.%s.%s.%s", g.table, strings.ToLower(g.stage.String()), strings.ToLower(m)),
				Message: m, Table: g.table, Stage: g.stage, Rank: -1000, Plugin: plugins[g],
			})
		}
	}
	return steps, nil
}

// Execute ensures a record exists for every configured lookup the target
// binds.
func (p *Plugin) Execute(ctx context.Context, ec *eventual.ExecutionContext) error {
	e := ec.Target()
	if e == nil {
		return nil
	}
	if up := ec.ParentContext; up != nil && up.MessageName == eventual.MessageUpsert &&
		up.PrimaryEntityName == ec.PrimaryEntityName && up.Depth == ec.Depth {
		// The Create or Update inside an Upsert: the Upsert's own step,
		// at the same stage, has already seen these binds.
		return nil
	}
	refs, vals, err := p.binds(e)
	if err != nil {
		return err
	}
	// A record that binds itself (by the key it is created with) needs no
	// placeholder, which would take its key: the write then fails as
	// Dataverse's does, the referenced record not existing yet.
	for i := 0; i < len(refs); i++ {
		if names(refs[i], e) {
			refs, vals = slices.Delete(refs, i, i+1), slices.Delete(vals, i, i+1)
			i--
		}
	}
	if len(refs) == 0 {
		return nil
	}
	return ec.Service.EnsurePlaceholders(ctx, refs, vals)
}

// ExecuteMany ensures, set-wise, a record for every bind of the targets.
func (p *Plugin) ExecuteMany(ctx context.Context, ec *eventual.ExecutionContext, targets []*eventual.Entity) error {
	var refs []eventual.EntityReference
	var vals []eventual.Values
	for _, e := range targets {
		r, v, err := p.binds(e)
		if err != nil {
			return err
		}
		for i := range r {
			// A record the same request creates needs no placeholder.
			if !slices.ContainsFunc(targets, func(t *eventual.Entity) bool { return names(r[i], t) }) {
				refs, vals = append(refs, r[i]), append(vals, v[i])
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	return ec.Service.EnsurePlaceholders(ctx, refs, vals)
}

// names reports whether a reference names the record an entity writes:
// by its primary key, or by alternate key values it carries (compared by
// Key.KeyValueText, as the stores compare them).
func names(r eventual.EntityReference, e *eventual.Entity) bool {
	if r.Table != e.Table {
		return false
	}
	if !r.ByKey() {
		if id, ok := e.Values[e.Table.PrimaryIDAttribute].(uuid.UUID); ok && id == r.ID {
			return true // the id in the body of a create
		}
		return e.ID != uuid.Nil && e.ID == r.ID
	}
	vals := make([]any, len(r.Key.Columns))
	for i, c := range r.Key.Columns {
		v, ok := e.Values[c.LogicalName]
		if !ok {
			return false
		}
		vals[i] = v
	}
	return r.Key.KeyValueText(vals) == r.Key.KeyValueText(r.KeyValues)
}

// binds returns the configured lookups an entity binds, with the values
// of the placeholders they would need.
func (p *Plugin) binds(e *eventual.Entity) ([]eventual.EntityReference, []eventual.Values, error) {
	var refs []eventual.EntityReference
	var vals []eventual.Values
	for _, l := range p.lookups {
		r, ok := e.Values[l.Column].(eventual.EntityReference)
		if !ok || r.Table == nil || (!r.ByKey() && r.ID == uuid.Nil) {
			// The nil GUID names no record, and no placeholder can
			// hold it: the write fails as with any missing record.
			continue
		}
		v, err := l.values(r, e)
		if err != nil {
			return nil, nil, err
		}
		refs, vals = append(refs, r), append(vals, v)
	}
	return refs, vals, nil
}

// values builds the values of a placeholder for a reference.
func (l lookup) values(r eventual.EntityReference, e *eventual.Entity) (eventual.Values, error) {
	t := r.Table
	out := eventual.Values{}
	for col, v := range l.Values {
		cv, err := Convert(t.Column(col), v)
		if err != nil {
			return nil, fmt.Errorf("placeholder for %s: %w", l.Column, err)
		}
		out[col] = cv
	}
	for col, from := range l.FromRequest {
		if v, ok := e.Values[from]; ok && t.Column(col) != nil {
			out[col] = v
		}
	}
	if pn := t.PrimaryName(); pn != nil {
		if _, set := out[pn.LogicalName]; !set {
			name := l.Name
			if name == "" {
				name = DefaultName
			}
			name = expand(name, r)
			// MaxLength counts UTF-16 units; the cut keeps whole characters.
			name = eventual.TruncateUTF16(name, pn.MaxLength)
			if name != "" {
				out[pn.LogicalName] = name
			}
		}
	}
	return out, nil
}

// expand fills a name template.
func expand(tmpl string, r eventual.EntityReference) string {
	key := r.ID.String()
	repl := []string{"{id}", r.ID.String()}
	if r.ByKey() {
		parts := make([]string, len(r.KeyValues))
		for i, c := range r.Key.Columns {
			parts[i] = fmt.Sprint(r.KeyValues[i])
			if ref, ok := r.KeyValues[i].(eventual.EntityReference); ok {
				parts[i] = ref.ID.String()
			}
			repl = append(repl, "{"+c.LogicalName+"}", parts[i])
		}
		key = strings.Join(parts, ", ")
		repl[1] = ""
	}
	repl = append(repl, "{key}", key)
	return strings.TrimSpace(strings.NewReplacer(repl...).Replace(tmpl))
}

// Convert turns a configuration value (string, number, bool) into a value
// of the column's type, by eventual.ConvertValue. A date or a GUID that
// does not parse keeps its parse error; any other misfit is reported as
// the value not fitting the column.
func Convert(c *eventual.Column, v any) (any, error) {
	out, err := eventual.ConvertValue(c, v)
	if err == nil {
		return out, nil
	}
	var ce *eventual.ConvertError
	if errors.As(err, &ce) && !ce.Mismatch && (c.Type == eventual.TypeDateTime || c.Type == eventual.TypeUniqueIdentifier) {
		return nil, ce.Err
	}
	return nil, fmt.Errorf("value %v does not fit the %s column %s", v, c.Type, c.LogicalName)
}
