package webapi

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// renderer writes records as Web API JSON.
type renderer struct {
	base  string
	ann   annotationFilter
	names map[uuid.UUID]string
	// inSet is true when rendering the records of a collection: nested
	// single-valued records then carry no @odata.etag, and collection
	// expansions get a <nav>@odata.nextLink, as in Dataverse.
	inSet bool
}

// newRenderer prepares rendering of recs: it looks up the primary names of
// referenced records when formatted values are asked for.
func (q *request) newRenderer(ctx context.Context, recs []*eventual.Record, inSet bool) (*renderer, error) {
	rd := &renderer{base: q.base, ann: q.prefs.annotations, inSet: inSet}
	if rd.ann.match(annFormatted) {
		var refs []eventual.EntityReference
		var walk func([]*eventual.Record)
		walk = func(rs []*eventual.Record) {
			for _, r := range rs {
				for _, v := range r.Values {
					if ref, ok := v.(eventual.EntityReference); ok {
						refs = append(refs, ref)
					}
				}
				for _, rel := range r.Related {
					walk(rel)
				}
			}
		}
		walk(recs)
		names, err := q.ops.PrimaryNames(ctx, refs)
		if err != nil {
			return nil, err
		}
		rd.names = names
	}
	return rd, nil
}

// columnsToRender returns the columns a record shows: all of them, or the
// selected ones followed by the primary key, which is always returned.
func columnsToRender(t *eventual.Table, cols []*eventual.Column) []*eventual.Column {
	if cols == nil {
		return t.Columns
	}
	out := make([]*eventual.Column, 0, len(cols)+1)
	hasPK := false
	for _, c := range cols {
		out = append(out, c)
		if c.LogicalName == t.PrimaryIDAttribute {
			hasPK = true
		}
	}
	if !hasPK {
		out = append(out, t.PrimaryKey())
	}
	return out
}

// appendRecord appends a record as a JSON object. context, if not empty,
// is written as @odata.context first.
func (rd *renderer) appendRecord(b []byte, rec *eventual.Record, cols []*eventual.Column, expands []expandSpec, etag bool, context string) []byte {
	o := codec.NewObject(b)
	if context != "" {
		o.Key("@odata.context")
		o.B = appendString(o.B, context)
	}
	if etag {
		o.Key("@odata.etag")
		o.B = appendString(o.B, codec.ETag(rec.Version))
	}
	render := columnsToRender(rec.Table, cols)
	for _, x := range expands {
		// nav/$ref also returns the lookup value.
		if x.ref && !slices.Contains(render, x.Relationship.Lookup) {
			render = append(render, x.Relationship.Lookup)
		}
	}
	for _, c := range render {
		rd.appendProperty(&o, c, rec.Get(c.LogicalName))
	}
	for _, x := range expands {
		rd.appendExpansion(&o, rec, x)
	}
	return o.Close()
}

// appendProperty appends a column's value, after the annotations asked for
// (formatted value, lookup navigation and table).
func (rd *renderer) appendProperty(o *codec.Object, c *eventual.Column, v any) {
	rd.appendNamed(o, c.ValueProperty(), c, v)
}

// appendNamed is appendProperty under another property name (a FetchXML
// link-entity's "alias.column").
func (rd *renderer) appendNamed(o *codec.Object, prop string, c *eventual.Column, v any) {
	if v != nil {
		if rd.ann.match(annFormatted) {
			if f, ok := rd.formatted(c, v); ok {
				o.Key(prop + "@" + annFormatted)
				o.B = appendString(o.B, f)
			}
		}
		if ref, ok := v.(eventual.EntityReference); ok && ref.Table != nil {
			if rd.ann.match(annLookupNav) {
				o.Key(prop + "@" + annLookupNav)
				nav := c.LogicalName
				if c.Type == eventual.TypeCustomer {
					nav = c.LogicalName + "_" + ref.Table.LogicalName
				}
				o.B = appendString(o.B, nav)
			}
			if rd.ann.match(annLookupTable) {
				o.Key(prop + "@" + annLookupTable)
				o.B = appendString(o.B, ref.Table.LogicalName)
			}
		}
	}
	o.Key(prop)
	o.B = appendValue(o.B, c, v)
}

// appendExpansion appends an expanded navigation property: the related
// record (or its @odata.id for $ref, or null), or the related collection
// with, in a collection response, its next link.
func (rd *renderer) appendExpansion(o *codec.Object, rec *eventual.Record, x expandSpec) {
	related := rec.Related[x.Navigation]
	o.Key(x.Navigation)
	if !x.Collection {
		switch {
		case len(related) == 0:
			o.B = append(o.B, "null"...)
		case x.ref:
			rr := related[0]
			o.B = append(o.B, `{"@odata.id":`...)
			o.B = appendString(o.B, rd.base+rr.Table.EntitySetName+"("+rr.ID.String()+")")
			o.B = append(o.B, '}')
		default:
			o.B = rd.appendRecord(o.B, related[0], x.Columns, x.children, !rd.inSet, "")
		}
		return
	}
	o.B = append(o.B, '[')
	for i, rr := range related {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		cols := x.Columns
		if cols != nil && x.Relationship.Lookup != nil {
			// Dataverse returns the back-reference lookup of expanded
			// collection records.
			cols = append(append([]*eventual.Column{}, cols...), x.Relationship.Lookup)
		}
		o.B = rd.appendRecord(o.B, rr, dedupe(cols), x.children, true, "")
	}
	o.B = append(o.B, ']')
	if rd.inSet {
		o.Key(x.Navigation + "@odata.nextLink")
		// The filtered collection with the expansion's options, which
		// returns the same rows (join-tables.md).
		link := rd.base + rec.Table.EntitySetName + "(" + rec.ID.String() + ")/" + x.Navigation
		for i, opt := range x.query {
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			link += sep + percentEncode(opt, "&+")
		}
		o.B = appendString(o.B, link)
	}
}

func dedupe(cols []*eventual.Column) []*eventual.Column {
	if cols == nil {
		return nil
	}
	out := cols[:0:0]
	for _, c := range cols {
		dup := false
		for _, o := range out {
			if o == c {
				dup = true
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// The JSON writers of codec, under the names the webapi files that write
// JSON use.
var (
	appendString = codec.AppendString
	appendFloat  = codec.AppendFloat
	appendValue  = codec.AppendValue
)

// formatted returns the formatted value Dataverse gives a column value
// (OData.Community.Display.V1.FormattedValue), in en-US format and UTC.
func (rd *renderer) formatted(c *eventual.Column, v any) (string, bool) {
	switch x := v.(type) {
	case eventual.EntityReference:
		n, ok := rd.names[x.ID]
		return n, ok
	case bool:
		if x {
			return "Yes", true
		}
		return "No", true
	case int64:
		if c.Type == eventual.TypeChoice {
			return c.OptionLabel(x)
		}
		if c.LogicalName == "versionnumber" {
			return "", false
		}
		return group(strconv.FormatInt(x, 10)), true
	case eventual.Decimal:
		if c.Type == eventual.TypeMoney {
			d, err := x.Rescale(2)
			if err != nil {
				return "", false
			}
			s := group(d.String())
			if strings.HasPrefix(s, "-") {
				return "-$" + s[1:], true
			}
			return "$" + s, true
		}
		return group(x.String()), true
	case float64:
		return group(strconv.FormatFloat(x, 'f', c.Precision, 64)), true
	case time.Time:
		if c.Format == eventual.DateOnly {
			return x.Format("1/2/2006"), true
		}
		return x.UTC().Format("1/2/2006 3:04 PM"), true
	}
	return "", false
}

// group inserts thousands separators into a decimal number.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// contextSelect renders the select-and-expand part of a context URL:
// "(name,primarycontactid(fullname))", or "" without $select and $expand.
func contextSelect(selectItems []string, expands []expandSpec) string {
	parts := append([]string{}, selectItems...)
	for _, x := range expands {
		if x.ref {
			parts = append(parts, x.Navigation+"/$ref()")
			continue
		}
		inner := contextSelect(x.selectText, x.children)
		if inner == "" {
			inner = "()"
		}
		parts = append(parts, x.Navigation+inner)
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}
