package odata

import (
	"fmt"
	"net/url"
	"strings"
)

// Segment is one segment of a resource path: a name with an optional
// parenthesised part. "accounts(accountnumber='A1')" is the segment named
// "accounts" with one named argument; "WhoAmI()" has parentheses and no
// arguments; "$ref" has neither.
type Segment struct {
	// Name is the identifier or system segment ($ref, $count, $value,
	// $metadata, $batch) before any parentheses.
	Name string
	// Parens reports whether the segment had a parenthesised part.
	Parens bool
	// Args are the arguments: one unnamed argument for a key given alone
	// ("accounts(<guid>)"), or named ones for a named or composite key and
	// for function parameters.
	Args []Arg
}

// Arg is one argument of a segment. Name is empty for a key given alone.
type Arg struct {
	Name  string
	Value Node
}

// String prints the segment back as OData text.
func (s Segment) String() string {
	if !s.Parens {
		return s.Name
	}
	parts := make([]string, len(s.Args))
	for i, a := range s.Args {
		v := ""
		if a.Value != nil {
			v = a.Value.String()
		}
		if a.Name == "" {
			parts[i] = v
		} else {
			parts[i] = a.Name + "=" + v
		}
	}
	return s.Name + "(" + strings.Join(parts, ",") + ")"
}

// PathError is a malformed resource path.
type PathError struct {
	Msg string
}

func (e *PathError) Error() string { return e.Msg }

// MaxPathSegments bounds the number of segments in a resource path.
const MaxPathSegments = 16

// ParsePath parses the resource path that follows the service root, in its
// escaped form (as r.URL.EscapedPath() gives it): "accounts(<guid>)/name",
// "contacts(firstname='Joe',emailaddress1='a%40b.c')". Slashes inside
// quoted literals do not split segments, and percent-escapes are decoded
// inside each segment, so %2F and %27 in key values are safe. A segment
// that decodes to NUL or invalid UTF-8 is an error.
func ParsePath(escaped string) ([]Segment, error) {
	raw, err := splitSegments(escaped)
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxPathSegments {
		return nil, &PathError{Msg: fmt.Sprintf("The resource path has more than %d segments.", MaxPathSegments)}
	}
	segs := make([]Segment, 0, len(raw))
	for _, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil {
			return nil, &PathError{Msg: fmt.Sprintf("The resource path segment '%s' is not correctly escaped.", printable(r))}
		}
		if !validText(s) {
			return nil, &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax: the resource path segment '%s' contains a NUL character or invalid UTF-8.", printable(s))}
		}
		seg, err := ParseSegment(s)
		if err != nil {
			return nil, err
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

// splitSegments splits an escaped path on slashes that are outside quoted
// literals. A quote may appear as ' or %27.
func splitSegments(p string) ([]string, error) {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil, nil
	}
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\'':
			inQuote = !inQuote
		case p[i] == '%' && i+2 < len(p) && p[i+1] == '2' && p[i+2] == '7':
			inQuote = !inQuote
			i += 2
		case p[i] == '/' && !inQuote:
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	out = append(out, p[start:])
	for _, s := range out[:len(out)-1] {
		if s == "" {
			return nil, &PathError{Msg: "The resource path has an empty segment."}
		}
	}
	if out[len(out)-1] == "" { // trailing slash
		out = out[:len(out)-1]
	}
	return out, nil
}

// ParseSegment parses one unescaped segment.
func ParseSegment(s string) (Segment, error) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if s == "" || strings.ContainsAny(s, ")'") {
			return Segment{}, &PathError{Msg: fmt.Sprintf("Resource not found for the segment '%s'.", s)}
		}
		return Segment{Name: s}, nil
	}
	seg := Segment{Name: s[:open], Parens: true}
	if seg.Name == "" {
		return Segment{}, &PathError{Msg: fmt.Sprintf("Resource not found for the segment '%s'.", s)}
	}
	p := &filterParser{lx: newLexer(s)}
	p.lx.pos = open + 1
	t, err := p.lx.Peek()
	if err != nil {
		return Segment{}, keyError(s, err)
	}
	if t.Kind == TokRParen {
		p.lx.Next()
	} else {
		for {
			arg, err := p.segmentArg()
			if err != nil {
				return Segment{}, keyError(s, err)
			}
			seg.Args = append(seg.Args, arg)
			t, err := p.lx.Next()
			if err != nil {
				return Segment{}, keyError(s, err)
			}
			if t.Kind == TokRParen {
				break
			}
			if t.Kind != TokComma {
				return Segment{}, &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax: ',' or ')' expected at position %d in '%s'.", t.Pos, s)}
			}
		}
	}
	t, err = p.lx.Next()
	if err != nil || t.Kind != TokEOF {
		return Segment{}, &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax: unexpected text after ')' in '%s'.", s)}
	}
	named := 0
	for _, a := range seg.Args {
		if a.Name != "" {
			named++
		}
	}
	if named != 0 && named != len(seg.Args) {
		return Segment{}, &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax: mixed named and unnamed key values in '%s'.", s)}
	}
	return seg, nil
}

func keyError(s string, err error) error {
	if se, ok := err.(*SyntaxError); ok {
		return &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax: %s at position %d in '%s'.", strings.TrimSuffix(se.Msg, "."), se.Pos, s)}
	}
	return &PathError{Msg: fmt.Sprintf("Bad Request - Error in query syntax in '%s'.", s)}
}

// segmentArg parses "value" or "name=value", where value is a literal, an
// alias, an array or a JSON-like record ({'@odata.id':'contacts(...)'}).
func (p *filterParser) segmentArg() (Arg, error) {
	t, err := p.lx.Peek()
	if err != nil {
		return Arg{}, err
	}
	var arg Arg
	if t.Kind == TokIdent && t.Text != "true" && t.Text != "false" && t.Text != "null" {
		p.lx.Next()
		if _, err := p.expect(TokEquals); err != nil {
			return Arg{}, err
		}
		arg.Name = t.Text
	}
	t, err = p.lx.Peek()
	if err != nil {
		return Arg{}, err
	}
	if t.Kind == TokLBrace {
		v, err := p.record()
		if err != nil {
			return Arg{}, err
		}
		arg.Value = v
		return arg, nil
	}
	v, err := p.primary()
	if err != nil {
		return Arg{}, err
	}
	switch v.(type) {
	case *Literal, *Array:
	default:
		return Arg{}, p.lx.errorf(t.Pos, "Syntax error: a literal value was expected")
	}
	arg.Value = v
	return arg, nil
}

// Record is a JSON-like object literal used for entity parameters of
// functions: {'@odata.id':'contacts(<id>)'}.
type Record struct {
	Fields []NamedArg
	Pos    int
}

func (*Record) node() {}

func (r *Record) String() string {
	parts := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		parts[i] = Quote(f.Name) + ":" + f.Value.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (p *filterParser) record() (Node, error) {
	open, _ := p.lx.Next()
	r := &Record{Pos: open.Pos}
	for {
		k, err := p.lx.Next()
		if err != nil {
			return nil, err
		}
		if k.Kind == TokRBrace && len(r.Fields) == 0 {
			return r, nil
		}
		if k.Kind != TokString {
			return nil, p.lx.errorf(k.Pos, "Syntax error: a property name was expected")
		}
		if _, err := p.expect(TokColon); err != nil {
			return nil, err
		}
		v, err := p.primary()
		if err != nil {
			return nil, err
		}
		r.Fields = append(r.Fields, NamedArg{Name: k.Value, Value: v})
		t, err := p.lx.Next()
		if err != nil {
			return nil, err
		}
		if t.Kind == TokRBrace {
			return r, nil
		}
		if t.Kind != TokComma {
			return nil, p.lx.errorf(t.Pos, "Syntax error: ',' or '}' expected")
		}
	}
}
