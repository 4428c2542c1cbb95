package odata

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Options are the query options of a request, parsed but not yet checked
// against a schema.
type Options struct {
	// Select lists $select items; nil when $select is absent.
	Select []string
	// Filter is the parsed $filter; nil when absent.
	Filter Node
	// FilterText is the $filter text as sent.
	FilterText string
	// OrderBy lists $orderby items; nil when absent.
	OrderBy []OrderItem
	// Top is $top; nil when absent.
	Top *int
	// Skip is $skip; nil when absent. Dataverse does not support it, and
	// the Web API rejects it.
	Skip *int
	// Count is $count=true.
	Count bool
	// Expand lists $expand items.
	Expand []ExpandItem
	// SkipToken and DeltaToken are the paging and change-tracking tokens.
	SkipToken, DeltaToken string
	// HasSkipToken and HasDeltaToken report whether the tokens were given.
	HasSkipToken, HasDeltaToken bool
	// Unsupported names system query options that were given but that
	// Dataverse does not support ($search, $format, $apply, $compute, ...).
	Unsupported []string
	// Aliases holds parameter alias values (@p1=...), unparsed.
	Aliases map[string]string
	// ID is the $id option used by DELETE .../$ref?$id=<uri>.
	ID string
	// Apply is $apply, parsed; nil when absent.
	Apply *Apply
	// FetchXML is the fetchXml parameter, a FetchXML query, unparsed;
	// HasFetchXML reports whether it was given.
	FetchXML    string
	HasFetchXML bool
}

// OnlyProjection reports whether the options shape the records returned
// and nothing else: no system query option but $select and $expand (and
// parameter aliases, which only those could use), as a write's URL may
// carry.
func (o *Options) OnlyProjection() bool {
	return o.Filter == nil && o.OrderBy == nil && o.Top == nil && o.Skip == nil && !o.Count &&
		!o.HasSkipToken && !o.HasDeltaToken && len(o.Unsupported) == 0 && o.ID == "" && o.Apply == nil && !o.HasFetchXML
}

// OrderItem is one $orderby term.
type OrderItem struct {
	Path []string
	Desc bool
}

// ExpandItem is one $expand term with its nested options.
type ExpandItem struct {
	// Path is the navigation property.
	Path string
	// Ref is set for nav/$ref.
	Ref bool
	// Options are the nested options ($select, $filter, $orderby, $top,
	// $expand).
	Options *Options
	// Query lists the nested options as given, "name=value" (decoded),
	// for the URL of the expanded collection.
	Query []string
}

// OptionError is a malformed or unsupported query option.
type OptionError struct {
	Msg string
}

func (e *OptionError) Error() string { return e.Msg }

func optErr(format string, args ...any) error {
	return &OptionError{Msg: fmt.Sprintf(format, args...)}
}

// MaxExpandDepth bounds the nesting of $expand.
const MaxExpandDepth = 5

var knownOptions = map[string]bool{
	"$select": true, "$filter": true, "$orderby": true, "$top": true, "$skip": true,
	"$count": true, "$expand": true, "$skiptoken": true, "$deltatoken": true,
	"$apply": true, "$search": true, "$format": true, "$compute": true, "$index": true,
	"$schemaversion": true, "$levels": true, "$id": true,
}

// ParseOptions parses a raw query string. Option names are case-sensitive,
// as in Dataverse; unknown $-options and repeated options are errors, other
// parameters are ignored. Names and values that decode to NUL or invalid
// UTF-8 are errors, whatever the parameter.
func ParseOptions(rawQuery string) (*Options, error) {
	o := &Options{}
	seen := map[string]bool{}
	values := map[string]string{}
	var order []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return nil, optErr("The query string is not correctly escaped: '%s'.", name)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, optErr("The value of query option '%s' is not correctly escaped.", printable(n))
		}
		if !validText(n) || !validText(v) {
			return nil, optErr("The query option '%s' contains a NUL character or invalid UTF-8.", printable(n))
		}
		switch {
		case strings.HasPrefix(n, "$"):
			if !knownOptions[n] {
				if knownOptions[strings.ToLower(n)] {
					return nil, optErr("The query parameter '%s' is not supported. Query option names are case-sensitive; use '%s'.", n, strings.ToLower(n))
				}
				return nil, optErr("The query parameter '%s' is not supported.", n)
			}
			if seen[n] {
				return nil, optErr("Query option '%s' was specified more than once, but it must be specified at most once.", n)
			}
			seen[n] = true
			values[n] = v
			order = append(order, n)
		case n == "fetchXml":
			if o.HasFetchXML {
				return nil, optErr("Query option '%s' was specified more than once, but it must be specified at most once.", n)
			}
			o.FetchXML, o.HasFetchXML = v, true
		case strings.HasPrefix(n, "@"):
			if o.Aliases == nil {
				o.Aliases = map[string]string{}
			}
			if _, dup := o.Aliases[n]; dup {
				return nil, optErr("The parameter alias '%s' was specified more than once.", n)
			}
			o.Aliases[n] = v
		}
	}
	for _, n := range order {
		if err := o.set(n, values[n], 0); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// set reads one system query option.
func (o *Options) set(name, v string, depth int) error {
	switch name {
	case "$select":
		return o.setSelect(v)
	case "$filter":
		n, err := ParseFilter(v)
		if err != nil {
			return err
		}
		o.Filter, o.FilterText = n, v
	case "$orderby":
		return o.setOrderBy(v)
	case "$top", "$skip":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return optErr("Invalid value '%s' for %s query option found. The %s query option requires a non-negative integer value.", v, name, name)
		}
		if name == "$top" {
			o.Top = &n
		} else {
			o.Skip = &n
		}
	case "$count":
		switch v {
		case "true":
			o.Count = true
		case "false":
		default:
			return optErr("'%s' is not a valid count option.", v)
		}
	case "$expand":
		if depth >= MaxExpandDepth {
			return optErr("The $expand option is nested more than %d levels deep.", MaxExpandDepth)
		}
		items, err := parseExpand(v, depth)
		if err != nil {
			return err
		}
		o.Expand = items
	case "$skiptoken":
		o.SkipToken, o.HasSkipToken = v, true
	case "$apply":
		a, err := ParseApply(v)
		if err != nil {
			return err
		}
		o.Apply = a
	case "$deltatoken":
		o.DeltaToken, o.HasDeltaToken = v, true
	case "$id":
		o.ID = v
	default:
		o.Unsupported = append(o.Unsupported, name)
	}
	return nil
}

// setSelect reads $select: property paths, comma-separated.
func (o *Options) setSelect(v string) error {
	items, err := splitTop(v, ',')
	if err != nil {
		return optErr("The $select option '%s' is not valid: %v", v, err)
	}
	o.Select = []string{}
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" || !validPath(it) {
			return optErr("Syntax error in $select: '%s' is not a valid property name.", it)
		}
		o.Select = append(o.Select, it)
	}
	return nil
}

// setOrderBy reads $orderby: property paths, each optionally followed by
// asc or desc.
func (o *Options) setOrderBy(v string) error {
	items, err := splitTop(v, ',')
	if err != nil {
		return optErr("The $orderby option '%s' is not valid: %v", v, err)
	}
	o.OrderBy = []OrderItem{}
	for _, it := range items {
		f := strings.Fields(it)
		if len(f) > 0 && strings.HasPrefix(f[0], "@") {
			// A parameter alias standing for the property path
			// (query-data-web-api.md: "$orderby=@p1 asc,@p2 desc").
			a, ok := o.Aliases[f[0]]
			if !ok || !validPath(strings.TrimSpace(a)) {
				return optErr("Syntax error in $orderby: the parameter alias '%s' does not name a property.", f[0])
			}
			f[0] = strings.TrimSpace(a)
		}
		if len(f) == 0 || len(f) > 2 || !validPath(f[0]) {
			return optErr("Syntax error in $orderby: '%s' is not valid.", strings.TrimSpace(it))
		}
		item := OrderItem{Path: strings.Split(f[0], "/")}
		if len(f) == 2 {
			switch f[1] {
			case "asc":
			case "desc":
				item.Desc = true
			default:
				return optErr("Syntax error in $orderby: expected 'asc' or 'desc' but found '%s'.", f[1])
			}
		}
		o.OrderBy = append(o.OrderBy, item)
	}
	return nil
}

func validPath(s string) bool {
	for _, seg := range strings.Split(s, "/") {
		if seg == "" {
			return false
		}
		if seg == "*" {
			continue
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(isIdentPart(c) || (i == 0 && c == '$')) || (i == 0 && isDigit(c)) {
				return false
			}
		}
	}
	return true
}

// splitTop splits s on sep where sep is outside parentheses and quotes.
func splitTop(s string, sep byte) ([]string, error) {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced parentheses")
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || inQuote {
		return nil, fmt.Errorf("unbalanced parentheses or quotes")
	}
	return append(out, s[start:]), nil
}

func parseExpand(v string, depth int) ([]ExpandItem, error) {
	items, err := splitTop(v, ',')
	if err != nil {
		return nil, optErr("The $expand option '%s' is not valid: %v.", v, err)
	}
	var out []ExpandItem
	for _, it := range items {
		it = strings.TrimSpace(it)
		item := ExpandItem{Options: &Options{}}
		name := it
		if i := strings.IndexByte(it, '('); i >= 0 {
			if !strings.HasSuffix(it, ")") {
				return nil, optErr("Syntax error in $expand: '%s' is not valid.", it)
			}
			name = strings.TrimSpace(it[:i])
			inner := it[i+1 : len(it)-1]
			opts, err := splitTop(inner, ';')
			if err != nil {
				return nil, optErr("Syntax error in $expand: '%s' is not valid.", it)
			}
			seen := map[string]bool{}
			for _, opt := range opts {
				opt = strings.TrimSpace(opt)
				if opt == "" {
					continue
				}
				n, val, ok := strings.Cut(opt, "=")
				if !ok {
					return nil, optErr("Syntax error in $expand: '%s' is not a query option.", opt)
				}
				switch n {
				case "$select", "$filter", "$orderby", "$top", "$expand":
				case "$count", "$skip", "$levels", "$search":
					return nil, optErr("The query option '%s' is not supported inside $expand.", n)
				default:
					return nil, optErr("The query parameter '%s' is not supported.", n)
				}
				if seen[n] {
					return nil, optErr("Query option '%s' was specified more than once in $expand.", n)
				}
				seen[n] = true
				item.Query = append(item.Query, n+"="+val)
				if err := item.Options.set(n, val, depth+1); err != nil {
					return nil, err
				}
			}
		}
		if strings.HasSuffix(name, "/$ref") {
			item.Ref = true
			name = strings.TrimSuffix(name, "/$ref")
		}
		if name == "" || !validPath(name) || strings.Contains(name, "/") {
			return nil, optErr("Syntax error in $expand: '%s' is not a valid navigation property.", name)
		}
		item.Path = name
		out = append(out, item)
	}
	return out, nil
}
