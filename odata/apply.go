package odata

import (
	"strings"
)

// Apply is a parsed $apply: the filter transformations (anded, in order),
// then one groupby or aggregate.
type Apply struct {
	// Filters are the filter(...) transformations before the grouping.
	Filters []Node
	// GroupBy lists the groupby((...)) property paths; Grouped reports a
	// groupby transformation (which may aggregate nothing).
	GroupBy []string
	Grouped bool
	// Aggregates are the aggregate(...) items, of the groupby or alone.
	Aggregates []Aggregation
}

// Aggregation is one aggregate item: "path with method as alias", or
// "$count as alias" (Count set, Path empty).
type Aggregation struct {
	Path, Method, Alias string
	Count               bool
}

// maxApplyItems bounds the group-by paths and aggregates of one $apply.
const maxApplyItems = 100

// ParseApply parses a $apply value: transformations joined by "/", of
// which Dataverse supports filter(...), groupby((paths)[,aggregate(...)])
// and aggregate(...).
func ParseApply(src string) (*Apply, error) {
	a := &Apply{}
	rest := strings.TrimSpace(src)
	if rest == "" {
		return nil, optErr("The $apply query option is empty.")
	}
	for rest != "" {
		name, inner, after, err := transformation(rest)
		if err != nil {
			return nil, err
		}
		if a.Grouped || a.Aggregates != nil {
			return nil, optErr("In $apply, a groupby or aggregate transformation must be the last one.")
		}
		switch name {
		case "filter":
			n, err := ParseFilter(inner)
			if err != nil {
				return nil, err
			}
			a.Filters = append(a.Filters, n)
		case "groupby":
			if err := a.groupBy(inner); err != nil {
				return nil, err
			}
		case "aggregate":
			items, err := aggregations(inner)
			if err != nil {
				return nil, err
			}
			a.Aggregates = items
		default:
			return nil, optErr("The $apply transformation '%s' is not supported: use filter, groupby or aggregate.", printable(name))
		}
		rest = strings.TrimSpace(after)
		if rest != "" {
			if rest[0] != '/' {
				return nil, optErr("In $apply, transformations are separated by '/'.")
			}
			rest = strings.TrimSpace(rest[1:])
			if rest == "" {
				return nil, optErr("The $apply query option ends with '/'.")
			}
		}
	}
	return a, nil
}

// transformation reads "name(inner)" at the start of s.
func transformation(s string) (name, inner, rest string, err error) {
	open := strings.IndexByte(s, '(')
	if open <= 0 {
		return "", "", "", optErr("The $apply transformation '%s' is not valid: write name(...).", printable(s))
	}
	name = strings.TrimSpace(s[:open])
	end, err := closing(s, open)
	if err != nil {
		return "", "", "", err
	}
	return name, s[open+1 : end], s[end+1:], nil
}

// closing returns the index of the parenthesis that closes the one at
// open, skipping quoted strings.
func closing(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\'':
			for i++; i < len(s); i++ {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, optErr("The $apply query option has unbalanced parentheses.")
}

// groupBy reads "(paths)" or "(paths),aggregate(...)".
func (a *Apply) groupBy(inner string) error {
	inner = strings.TrimSpace(inner)
	if !strings.HasPrefix(inner, "(") {
		return optErr("groupby takes a parenthesized list of properties: groupby((name,statecode)).")
	}
	end, err := closing(inner, 0)
	if err != nil {
		return err
	}
	for _, p := range strings.Split(inner[1:end], ",") {
		p = strings.TrimSpace(p)
		if !validPath(p) {
			return optErr("The groupby property '%s' is not a property path.", printable(p))
		}
		a.GroupBy = append(a.GroupBy, p)
	}
	if len(a.GroupBy) > maxApplyItems {
		return optErr("groupby takes at most %d properties.", maxApplyItems)
	}
	a.Grouped = true
	rest := strings.TrimSpace(inner[end+1:])
	if rest == "" {
		return nil
	}
	if rest[0] != ',' {
		return optErr("In groupby, the properties are followed by ',aggregate(...)'.")
	}
	name, agg, after, err := transformation(strings.TrimSpace(rest[1:]))
	if err != nil {
		return err
	}
	if name != "aggregate" || strings.TrimSpace(after) != "" {
		return optErr("In groupby, only one aggregate(...) may follow the properties.")
	}
	a.Aggregates, err = aggregations(agg)
	return err
}

// aggregations reads the items of aggregate(...).
func aggregations(inner string) ([]Aggregation, error) {
	var out []Aggregation
	for _, item := range strings.Split(inner, ",") {
		f := strings.Fields(item)
		switch {
		case len(f) == 3 && f[0] == "$count" && f[1] == "as":
			out = append(out, Aggregation{Count: true, Alias: f[2]})
		case len(f) == 5 && f[1] == "with" && f[3] == "as":
			if !validPath(f[0]) {
				return nil, optErr("The aggregate property '%s' is not a property path.", printable(f[0]))
			}
			out = append(out, Aggregation{Path: f[0], Method: f[2], Alias: f[4]})
		default:
			return nil, optErr("The aggregate expression '%s' is not valid: write 'property with sum as alias' or '$count as alias'.", printable(strings.TrimSpace(item)))
		}
		if !validPath(out[len(out)-1].Alias) || strings.Contains(out[len(out)-1].Alias, "/") {
			return nil, optErr("The aggregate alias '%s' is not a name.", printable(out[len(out)-1].Alias))
		}
	}
	if len(out) > maxApplyItems {
		return nil, optErr("aggregate takes at most %d expressions.", maxApplyItems)
	}
	return out, nil
}
