package odata

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// TokenKind is the kind of a lexical token.
type TokenKind int

// Token kinds.
const (
	TokEOF TokenKind = iota
	TokIdent
	TokString   // 'single quoted' or "double quoted" (inside arrays)
	TokNumber   // 12, -3.5, 1e10
	TokGUID     // 8-4-4-4-12 hex, bare
	TokDateTime // 2020-01-01 or 2020-01-01T10:00:00Z
	TokAlias    // @p1
	TokLParen
	TokRParen
	TokLBracket
	TokRBracket
	TokLBrace
	TokRBrace
	TokComma
	TokSlash
	TokColon
	TokEquals
)

var tokenNames = [...]string{"end of input", "identifier", "string", "number", "GUID", "date", "alias",
	"'('", "')'", "'['", "']'", "'{'", "'}'", "','", "'/'", "':'", "'='"}

func (k TokenKind) String() string { return tokenNames[k] }

// Token is a lexical token. Text is the source text; for strings, Value is
// the unquoted, unescaped value.
type Token struct {
	Kind  TokenKind
	Text  string
	Value string
	Pos   int
}

// SyntaxError is an error in OData syntax. Its message follows the wording
// Dataverse uses for $filter errors.
type SyntaxError struct {
	Msg   string
	Pos   int
	Input string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at position %d in '%s'.", e.Msg, e.Pos, e.Input)
}

// lexer splits OData expressions (filters, key predicates, parameters)
// into tokens.
type lexer struct {
	src  string
	pos  int
	peek *Token
}

func newLexer(src string) *lexer { return &lexer{src: src} }

func (l *lexer) errorf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Pos: pos, Input: l.src}
}

// Peek returns the next token without consuming it.
func (l *lexer) Peek() (Token, error) {
	if l.peek != nil {
		return *l.peek, nil
	}
	t, err := l.scan()
	if err != nil {
		return t, err
	}
	l.peek = &t
	return t, nil
}

// Next consumes and returns the next token.
func (l *lexer) Next() (Token, error) {
	if l.peek != nil {
		t := *l.peek
		l.peek = nil
		return t, nil
	}
	return l.scan()
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// guidAt reports whether a bare GUID starts at i.
func guidAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for j := 0; j < 36; j++ {
		c := s[i+j]
		switch j {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return len(s) == i+36 || !isIdentPart(s[i+36])
}

// dateAt returns the length of a date or date-time literal at i, or 0.
func dateAt(s string, i int) int {
	d := func(j, n int) bool {
		if i+j+n > len(s) {
			return false
		}
		for k := 0; k < n; k++ {
			if !isDigit(s[i+j+k]) {
				return false
			}
		}
		return true
	}
	at := func(j int, c byte) bool { return i+j < len(s) && s[i+j] == c }
	if !(d(0, 4) && at(4, '-') && d(5, 2) && at(7, '-') && d(8, 2)) {
		return 0
	}
	n := 10
	if !(at(n, 'T') && d(n+1, 2) && at(n+3, ':') && d(n+4, 2)) {
		return n
	}
	n += 6
	if at(n, ':') && d(n+1, 2) {
		n += 3
		if at(n, '.') && d(n+1, 1) {
			n++
			for i+n < len(s) && isDigit(s[i+n]) {
				n++
			}
		}
	}
	switch {
	case at(n, 'Z'):
		n++
	case (at(n, '+') || at(n, '-')) && d(n+1, 2) && at(n+3, ':') && d(n+4, 2):
		n += 6
	}
	return n
}

// singleTokens maps the one-character tokens to their kinds (TokEOF for
// other characters).
var singleTokens = [256]TokenKind{'(': TokLParen, ')': TokRParen, '[': TokLBracket, ']': TokRBracket,
	'{': TokLBrace, '}': TokRBrace, ',': TokComma, '/': TokSlash, ':': TokColon, '=': TokEquals}

func (l *lexer) scan() (Token, error) {
	s := l.src
	for l.pos < len(s) && (s[l.pos] == ' ' || s[l.pos] == '\t' || s[l.pos] == '\r' || s[l.pos] == '\n') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(s) {
		return Token{Kind: TokEOF, Pos: start}, nil
	}
	c := s[l.pos]
	if k := singleTokens[c]; k != TokEOF {
		l.pos++
		return Token{Kind: k, Text: s[start:l.pos], Pos: start}, nil
	}
	switch {
	case c == '\'':
		return l.scanQuoted()
	case c == '"':
		return l.scanJSONString()
	case c == '@':
		l.pos++
		for l.pos < len(s) && isIdentPart(s[l.pos]) && s[l.pos] != '.' {
			l.pos++
		}
		if l.pos == start+1 {
			return Token{}, l.errorf(start, "Syntax error: character '@' is not valid")
		}
		return Token{Kind: TokAlias, Text: s[start:l.pos], Pos: start}, nil
	case guidAt(s, l.pos):
		l.pos += 36
		return Token{Kind: TokGUID, Text: s[start:l.pos], Pos: start}, nil
	case dateAt(s, l.pos) > 0:
		l.pos += dateAt(s, l.pos)
		return Token{Kind: TokDateTime, Text: s[start:l.pos], Pos: start}, nil
	case isDigit(c) || (c == '-' && l.pos+1 < len(s) && isDigit(s[l.pos+1])):
		return l.scanNumber()
	case isIdentStart(c):
		for l.pos < len(s) && isIdentPart(s[l.pos]) {
			l.pos++
		}
		return Token{Kind: TokIdent, Text: s[start:l.pos], Pos: start}, nil
	}
	r, _ := utf8.DecodeRuneInString(s[l.pos:])
	return Token{}, l.errorf(start, "Syntax error: character '%c' is not valid", r)
}

func (l *lexer) scanNumber() (Token, error) {
	s, start := l.src, l.pos
	if s[l.pos] == '-' {
		l.pos++
	}
	for l.pos < len(s) && isDigit(s[l.pos]) {
		l.pos++
	}
	if l.pos+1 < len(s) && s[l.pos] == '.' && isDigit(s[l.pos+1]) {
		l.pos++
		for l.pos < len(s) && isDigit(s[l.pos]) {
			l.pos++
		}
	}
	if l.pos < len(s) && (s[l.pos] == 'e' || s[l.pos] == 'E') {
		j := l.pos + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			l.pos = j
			for l.pos < len(s) && isDigit(s[l.pos]) {
				l.pos++
			}
		}
	}
	// Type suffixes (1.5M, 2L, 3.0d, 1f) are accepted and dropped.
	if l.pos < len(s) && strings.IndexByte("mMlLdDfF", s[l.pos]) >= 0 && (l.pos+1 == len(s) || !isIdentPart(s[l.pos+1])) {
		l.pos++
		return Token{Kind: TokNumber, Text: s[start : l.pos-1], Pos: start}, nil
	}
	if l.pos < len(s) && isIdentPart(s[l.pos]) {
		return Token{}, l.errorf(start, "Syntax error: '%s' is not a valid number", s[start:l.pos+1])
	}
	return Token{Kind: TokNumber, Text: s[start:l.pos], Pos: start}, nil
}

// unterminated is the error of a string literal that the input ends in.
func (l *lexer) unterminated() *SyntaxError {
	return &SyntaxError{Msg: "There is an unterminated literal", Pos: len(l.src), Input: l.src}
}

// stringToken returns the string token from start to the current position
// with its decoded value, which must be valid text.
func (l *lexer) stringToken(start int, value string) (Token, error) {
	if !validText(value) {
		return Token{}, l.errorf(start, errInvalidText)
	}
	return Token{Kind: TokString, Text: l.src[start:l.pos], Value: value, Pos: start}, nil
}

// scanQuoted scans an OData string literal: single quotes, with a quote
// inside written as two.
func (l *lexer) scanQuoted() (Token, error) {
	s, start := l.src, l.pos
	var b strings.Builder
	l.pos++
	for {
		if l.pos >= len(s) {
			return Token{}, l.unterminated()
		}
		c := s[l.pos]
		if c == '\'' {
			if l.pos+1 < len(s) && s[l.pos+1] == '\'' {
				b.WriteByte('\'')
				l.pos += 2
				continue
			}
			l.pos++
			return l.stringToken(start, b.String())
		}
		b.WriteByte(c)
		l.pos++
	}
}

// scanJSONString scans a double-quoted JSON string, as used in the
// PropertyValues arrays of Dataverse query functions.
func (l *lexer) scanJSONString() (Token, error) {
	s, start := l.src, l.pos
	var b strings.Builder
	l.pos++
	for {
		if l.pos >= len(s) {
			return Token{}, l.unterminated()
		}
		c := s[l.pos]
		switch c {
		case '"':
			l.pos++
			// \u0000 decodes to NUL even when the URL holds none.
			return l.stringToken(start, b.String())
		case '\\':
			if l.pos+1 >= len(s) {
				return Token{}, l.unterminated()
			}
			e := s[l.pos+1]
			switch e {
			case '"', '\\', '/', '\'':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if l.pos+6 > len(s) {
					return Token{}, l.errorf(l.pos, "Syntax error: invalid escape sequence")
				}
				var r rune
				for _, h := range s[l.pos+2 : l.pos+6] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= h - '0'
					case h >= 'a' && h <= 'f':
						r |= h - 'a' + 10
					case h >= 'A' && h <= 'F':
						r |= h - 'A' + 10
					default:
						return Token{}, l.errorf(l.pos, "Syntax error: invalid escape sequence")
					}
				}
				b.WriteRune(r)
				l.pos += 4
			default:
				return Token{}, l.errorf(l.pos, "Syntax error: invalid escape sequence")
			}
			l.pos += 2
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
}

// validText reports whether decoded URL text may reach a query: it must be
// valid UTF-8 without NUL. Neither can be stored or compared faithfully
// (PostgreSQL rejects NUL in text with SQLSTATE 22021, SQLite's C strings
// end at it, and invalid UTF-8 is not a string at all), so the parser
// refuses both wherever it decodes a path segment, a query option or a
// string literal.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// printable renders text for an error message: NUL and bytes that are not
// UTF-8 are shown percent-encoded, as they were sent.
func printable(s string) string {
	if validText(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// errInvalidText is the message of a literal holding NUL or invalid UTF-8.
const errInvalidText = "Syntax error: the string literal contains a NUL character or invalid UTF-8"

// Quote returns s as an OData string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
