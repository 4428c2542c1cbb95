package odata

import (
	"strings"
)

// Node is a node of a $filter syntax tree. String prints the node back as
// OData text that parses to an equal tree.
type Node interface {
	String() string
	node()
}

// LiteralKind is the kind of a literal.
type LiteralKind int

// Literal kinds.
const (
	LitString LiteralKind = iota
	LitNumber
	LitGUID
	LitDateTime
	LitBool
	LitNull
	LitAlias
)

// Literal is a constant. For strings, Value is the unescaped text; for the
// other kinds it is the source text (a number, a GUID, a date, "true",
// "null", "@p1").
type Literal struct {
	Kind  LiteralKind
	Value string
	Pos   int
}

// Path is a property path: "name", "primarycontactid/fullname", or a
// lambda variable path "t/subject".
type Path struct {
	Segments []string
	Pos      int
}

// Binary is a binary operation: comparison (eq ne gt ge lt le) or logical
// (and or).
type Binary struct {
	Op          string
	Left, Right Node
	Pos         int
}

// Not is a logical negation.
type Not struct {
	X   Node
	Pos int
}

// Call is a function call: contains(name,'x') with positional arguments, or
// Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["a"]) with
// named ones.
type Call struct {
	Name  string
	Args  []Node
	Named []NamedArg
	Pos   int
}

// NamedArg is a named function argument.
type NamedArg struct {
	Name  string
	Value Node
}

// Lambda is an any or all operator over a collection path:
// Account_Tasks/any(t:t/statecode eq 1). Body is nil for any().
type Lambda struct {
	Collection Path
	Op         string
	Var        string
	Body       Node
	Pos        int
}

// Array is a JSON array of literals, as in PropertyValues=["a","b"].
type Array struct {
	Items []Node
	Pos   int
}

func (*Literal) node() {}
func (*Path) node()    {}
func (*Binary) node()  {}
func (*Not) node()     {}
func (*Call) node()    {}
func (*Lambda) node()  {}
func (*Array) node()   {}

func (l *Literal) String() string {
	if l.Kind == LitString {
		return Quote(l.Value)
	}
	return l.Value
}

func (p *Path) String() string { return strings.Join(p.Segments, "/") }

func (b *Binary) String() string {
	return "(" + b.Left.String() + " " + b.Op + " " + b.Right.String() + ")"
}

func (n *Not) String() string { return "not (" + n.X.String() + ")" }

func (c *Call) String() string {
	parts := make([]string, 0, len(c.Args)+len(c.Named))
	for _, a := range c.Args {
		parts = append(parts, a.String())
	}
	for _, a := range c.Named {
		parts = append(parts, a.Name+"="+a.Value.String())
	}
	return c.Name + "(" + strings.Join(parts, ",") + ")"
}

func (l *Lambda) String() string {
	if l.Body == nil {
		return l.Collection.String() + "/" + l.Op + "()"
	}
	return l.Collection.String() + "/" + l.Op + "(" + l.Var + ":" + l.Body.String() + ")"
}

func (a *Array) String() string {
	parts := make([]string, len(a.Items))
	for i, x := range a.Items {
		if l, ok := x.(*Literal); ok && l.Kind == LitString {
			parts[i] = jsonQuote(l.Value)
			continue
		}
		parts[i] = x.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				const hex = "0123456789abcdef"
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&15])
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Limits on $filter expressions, so that hostile input cannot exhaust the
// stack or the database.
const (
	// MaxFilterDepth bounds the nesting of a $filter expression.
	MaxFilterDepth = 64
	// MaxFilterNodes bounds the number of nodes in a $filter expression.
	MaxFilterNodes = 2000
)

var comparisonOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

// ParseFilter parses a $filter expression.
func ParseFilter(src string) (Node, error) {
	p := &filterParser{lx: newLexer(src)}
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Msg: "Syntax error: the expression is empty", Pos: 0, Input: src}
	}
	// Lexical errors win over syntax errors, as in ODataLib: in
	// "lastname eq 'O'Bryan'" the unterminated literal is the error.
	for lx := newLexer(src); ; {
		t, err := lx.Next()
		if err != nil {
			return nil, err
		}
		if t.Kind == TokEOF {
			break
		}
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	t, err := p.lx.Next()
	if err != nil {
		return nil, err
	}
	if t.Kind != TokEOF {
		return nil, p.lx.errorf(t.Pos, "Syntax error: unexpected %s '%s'", t.Kind, t.Text)
	}
	return n, nil
}

type filterParser struct {
	lx    *lexer
	depth int
	nodes int
}

func (p *filterParser) enter(pos int) error {
	p.depth++
	p.nodes++
	if p.depth > MaxFilterDepth {
		return p.lx.errorf(pos, "The query nesting depth exceeds the limit of %d", MaxFilterDepth)
	}
	if p.nodes > MaxFilterNodes {
		return p.lx.errorf(pos, "The query has more than %d terms", MaxFilterNodes)
	}
	return nil
}

func (p *filterParser) leave() { p.depth-- }

func precedence(op string) int {
	switch op {
	case "or":
		return 1
	case "and":
		return 2
	}
	if comparisonOps[op] {
		return 3
	}
	return -1
}

// expr parses an expression whose binary operators bind at least as
// tightly as minPrec.
func (p *filterParser) expr(minPrec int) (Node, error) {
	t, err := p.lx.Peek()
	if err != nil {
		return nil, err
	}
	if err := p.enter(t.Pos); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.lx.Peek()
		if err != nil {
			return nil, err
		}
		if t.Kind != TokIdent {
			return left, nil
		}
		prec := precedence(t.Text)
		if prec < 0 || prec < minPrec {
			if prec < 0 && t.Kind == TokIdent {
				return nil, p.lx.errorf(t.Pos, "')' or operator expected; '%s' is not a supported operator", t.Text)
			}
			return left, nil
		}
		p.lx.Next()
		right, err := p.expr(prec + 1)
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: t.Text, Left: left, Right: right, Pos: t.Pos}
		if prec == 3 {
			// Comparisons do not chain: a eq b eq c is an error.
			n, err := p.lx.Peek()
			if err != nil {
				return nil, err
			}
			if n.Kind == TokIdent && comparisonOps[n.Text] {
				return nil, p.lx.errorf(n.Pos, "Syntax error: comparisons cannot be chained")
			}
		}
	}
}

func (p *filterParser) unary() (Node, error) {
	t, err := p.lx.Peek()
	if err != nil {
		return nil, err
	}
	if t.Kind == TokIdent && t.Text == "not" {
		p.lx.Next()
		// not applies to a comparison or a boolean call:
		// "not name eq 'x'" is "not (name eq 'x')".
		x, err := p.expr(3)
		if err != nil {
			return nil, err
		}
		return &Not{X: x, Pos: t.Pos}, nil
	}
	return p.primary()
}

func (p *filterParser) expect(k TokenKind) (Token, error) {
	t, err := p.lx.Next()
	if err != nil {
		return t, err
	}
	if t.Kind != k {
		if t.Kind == TokEOF {
			return t, p.lx.errorf(t.Pos, "%s expected", k)
		}
		return t, p.lx.errorf(t.Pos, "%s expected but found '%s'", k, t.Text)
	}
	return t, nil
}

func (p *filterParser) primary() (Node, error) {
	t, err := p.lx.Next()
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case TokLParen:
		n, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(TokRParen); err != nil {
			return nil, err
		}
		return n, nil
	case TokString:
		return &Literal{Kind: LitString, Value: t.Value, Pos: t.Pos}, nil
	case TokNumber:
		return &Literal{Kind: LitNumber, Value: t.Text, Pos: t.Pos}, nil
	case TokGUID:
		return &Literal{Kind: LitGUID, Value: t.Text, Pos: t.Pos}, nil
	case TokDateTime:
		return &Literal{Kind: LitDateTime, Value: t.Text, Pos: t.Pos}, nil
	case TokAlias:
		return &Literal{Kind: LitAlias, Value: t.Text, Pos: t.Pos}, nil
	case TokLBracket:
		return p.array(t)
	case TokIdent:
		switch t.Text {
		case "true", "false":
			return &Literal{Kind: LitBool, Value: t.Text, Pos: t.Pos}, nil
		case "null":
			return &Literal{Kind: LitNull, Value: t.Text, Pos: t.Pos}, nil
		}
		if precedence(t.Text) > 0 || t.Text == "not" {
			return nil, p.lx.errorf(t.Pos, "Expression expected before '%s'", t.Text)
		}
		n, err := p.lx.Peek()
		if err != nil {
			return nil, err
		}
		if n.Kind == TokLParen {
			return p.call(t)
		}
		return p.path(t)
	case TokEOF:
		return nil, p.lx.errorf(t.Pos, "Expression expected")
	}
	return nil, p.lx.errorf(t.Pos, "Syntax error: unexpected %s '%s'", t.Kind, t.Text)
}

func (p *filterParser) path(first Token) (Node, error) {
	path := &Path{Segments: []string{first.Text}, Pos: first.Pos}
	for {
		n, err := p.lx.Peek()
		if err != nil {
			return nil, err
		}
		if n.Kind != TokSlash {
			return path, nil
		}
		p.lx.Next()
		seg, err := p.expect(TokIdent)
		if err != nil {
			return nil, err
		}
		if seg.Text == "any" || seg.Text == "all" {
			if n, _ := p.lx.Peek(); n.Kind == TokLParen {
				return p.lambda(path, seg)
			}
		}
		path.Segments = append(path.Segments, seg.Text)
	}
}

func (p *filterParser) lambda(coll *Path, op Token) (Node, error) {
	p.lx.Next() // (
	l := &Lambda{Collection: *coll, Op: op.Text, Pos: op.Pos}
	t, err := p.lx.Peek()
	if err != nil {
		return nil, err
	}
	if t.Kind == TokRParen {
		p.lx.Next()
		if op.Text == "all" {
			return nil, p.lx.errorf(t.Pos, "Syntax error: all() needs a lambda expression")
		}
		return l, nil
	}
	v, err := p.expect(TokIdent)
	if err != nil {
		return nil, err
	}
	if strings.Contains(v.Text, ".") {
		return nil, p.lx.errorf(v.Pos, "Syntax error: '%s' is not a valid lambda variable", v.Text)
	}
	l.Var = v.Text
	if _, err := p.expect(TokColon); err != nil {
		return nil, err
	}
	body, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	l.Body = body
	if _, err := p.expect(TokRParen); err != nil {
		return nil, err
	}
	return l, nil
}

func (p *filterParser) call(name Token) (Node, error) {
	p.lx.Next() // (
	c := &Call{Name: name.Text, Pos: name.Pos}
	err := p.list(TokRParen, "',' or ')' expected", func() error { return p.argument(c) })
	if err != nil {
		return nil, err
	}
	return c, nil
}

// argument parses one argument of a call: named (name=value) or, before
// any named one, positional.
func (p *filterParser) argument(c *Call) error {
	t, err := p.lx.Peek()
	if err != nil {
		return err
	}
	if t.Kind == TokIdent {
		// A named argument is an identifier followed by '='. Peek two
		// tokens ahead by saving the lexer state.
		save := *p.lx
		p.lx.Next()
		n, err := p.lx.Peek()
		if err == nil && n.Kind == TokEquals {
			p.lx.Next()
			v, err := p.expr(0)
			if err != nil {
				return err
			}
			c.Named = append(c.Named, NamedArg{Name: t.Text, Value: v})
			return nil
		}
		*p.lx = save
	}
	if len(c.Named) > 0 {
		return p.lx.errorf(t.Pos, "Syntax error: positional argument after named arguments")
	}
	a, err := p.expr(0)
	if err != nil {
		return err
	}
	c.Args = append(c.Args, a)
	return nil
}

// list parses a comma-separated list whose opening token is read, up to
// and including the closing token end, with item parsing each element.
// sepErr is the message when neither a comma nor end follows an element.
func (p *filterParser) list(end TokenKind, sepErr string, item func() error) error {
	t, err := p.lx.Peek()
	if err != nil {
		return err
	}
	if t.Kind == end {
		p.lx.Next()
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		t, err := p.lx.Next()
		if err != nil {
			return err
		}
		switch t.Kind {
		case TokComma:
			continue
		case end:
			return nil
		}
		return p.lx.errorf(t.Pos, "%s", sepErr)
	}
}

func (p *filterParser) array(open Token) (Node, error) {
	a := &Array{Pos: open.Pos}
	err := p.list(TokRBracket, "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas", func() error {
		if err := p.enter(open.Pos); err != nil {
			return err
		}
		p.leave()
		item, err := p.arrayItem()
		if err != nil {
			return err
		}
		a.Items = append(a.Items, item)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// arrayItem parses one literal of an array.
func (p *filterParser) arrayItem() (Node, error) {
	t, err := p.lx.Next()
	if err != nil {
		return nil, err
	}
	var item Node
	switch t.Kind {
	case TokString:
		item = &Literal{Kind: LitString, Value: t.Value, Pos: t.Pos}
	case TokNumber:
		item = &Literal{Kind: LitNumber, Value: t.Text, Pos: t.Pos}
	case TokGUID:
		item = &Literal{Kind: LitGUID, Value: t.Text, Pos: t.Pos}
	case TokDateTime:
		item = &Literal{Kind: LitDateTime, Value: t.Text, Pos: t.Pos}
	case TokIdent:
		switch t.Text {
		case "true", "false":
			item = &Literal{Kind: LitBool, Value: t.Text, Pos: t.Pos}
		case "null":
			item = &Literal{Kind: LitNull, Value: t.Text, Pos: t.Pos}
		}
	}
	if item == nil {
		return nil, p.lx.errorf(t.Pos, "Invalid JSON. A literal was expected in scope 'Array'")
	}
	return item, nil
}

// ParseValue parses a parameter alias's value (@p1='x', @p2=["a","b"],
// @p3=revenue): a single literal, an array, or a property path, which
// query-data-web-api.md's example of aliases in $filter and $orderby
// uses (@p1=revenue).
func ParseValue(src string) (Node, error) {
	p := &filterParser{lx: newLexer(src)}
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	switch x := n.(type) {
	case *Literal:
		if x.Kind == LitAlias {
			return nil, &SyntaxError{Msg: "Syntax error: a parameter alias cannot stand for another alias", Pos: 0, Input: src}
		}
	case *Array, *Path:
	default:
		return nil, &SyntaxError{Msg: "Syntax error: a literal value was expected", Pos: 0, Input: src}
	}
	t, err := p.lx.Next()
	if err != nil {
		return nil, err
	}
	if t.Kind != TokEOF {
		return nil, p.lx.errorf(t.Pos, "Syntax error: unexpected '%s'", t.Text)
	}
	return n, nil
}
