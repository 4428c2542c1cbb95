package sqlbuild

import (
	"strings"
	"unicode/utf8"
)

// This file reads the wildcard patterns of Dataverse's text conditions
// (wildcard-characters.md): T-SQL's LIKE syntax, % for any run of
// characters, _ for one, [abc], [a-c] and [^a-c] for one of (or none of)
// a set, and a wildcard in brackets ([%], [_], [[]) for itself.

// PatternPart is one element of a wildcard pattern.
type PatternPart struct {
	// Kind is '%' (any run of characters), '_' (any one character), '['
	// (one character of Set, or not of it when Negated), or 0 for Text,
	// literal characters.
	Kind    byte
	Text    string
	Set     []CharRange
	Negated bool
}

// CharRange is a run of characters of a set, Lo to Hi (one character
// when they are equal).
type CharRange struct{ Lo, Hi rune }

// ParsePattern splits a wildcard pattern into its parts. A '[' without
// its ']' is a literal character, as SQL Server reads it; the first
// character of a set (after ^) belongs to it even when it is ']'. A
// reversed range ([z-a]) matches nothing, as in SQL Server.
func ParsePattern(p string) []PatternPart {
	var out []PatternPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, PatternPart{Text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%', '_':
			flush()
			out = append(out, PatternPart{Kind: c})
		case '[':
			j, neg := i+1, false
			if j < len(p) && p[j] == '^' && j+1 < len(p) {
				j, neg = j+1, true
			}
			end := -1
			if j < len(p) {
				if e := strings.IndexByte(p[j+1:], ']'); e >= 0 {
					end = j + 1 + e
				}
			}
			if end < 0 {
				lit.WriteByte(c)
				continue
			}
			content := p[j:end]
			i = end
			if !neg && (content == "%" || content == "_" || content == "[") {
				lit.WriteString(content)
				continue
			}
			flush()
			out = append(out, PatternPart{Kind: '[', Set: parseSet(content), Negated: neg})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// parseSet reads a set's characters and ranges; a '-' at either end is a
// character, a reversed range is dropped.
func parseSet(s string) []CharRange {
	rs := []rune(s)
	var out []CharRange
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			if rs[i] <= rs[i+2] {
				out = append(out, CharRange{rs[i], rs[i+2]})
			}
			i += 2
			continue
		}
		out = append(out, CharRange{rs[i], rs[i]})
	}
	return out
}

// HasSet reports whether a pattern holds a bracket expression, which SQL's
// LIKE cannot say: a literal in brackets alone ([%]) does not count.
func HasSet(parts []PatternPart) bool {
	for _, p := range parts {
		if p.Kind == '[' {
			return true
		}
	}
	return false
}

// MatchesNothing reports whether a pattern can match no text: it holds a
// set with no character ([z-a]).
func MatchesNothing(parts []PatternPart) bool {
	for _, p := range parts {
		if p.Kind == '[' && !p.Negated && len(p.Set) == 0 {
			return true
		}
	}
	return false
}

// LikePattern renders parts as a LIKE pattern with backslash as escape
// character. A set renders as any one character: callers use it only
// for patterns without sets.
func LikePattern(parts []PatternPart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.Kind {
		case '%', '_':
			b.WriteByte(p.Kind)
		case '[':
			b.WriteByte('_')
		default:
			for i := 0; i < len(p.Text); i++ {
				if c := p.Text[i]; c == '%' || c == '_' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(p.Text[i])
			}
		}
	}
	return b.String()
}

// appendSet writes a set as a bracket expression both GLOB and POSIX
// read alike: ']' first, '-' last, '^' not first, each character through
// char (which escapes what the syntax needs); an empty negated set is
// any one character (any).
func appendSet(b *strings.Builder, p PatternPart, any string, char func(rune) string) {
	if len(p.Set) == 0 {
		b.WriteString(any) // [^] of nothing: any character
		return
	}
	var first, middle, last []string
	for _, r := range p.Set {
		switch {
		case r.Lo == r.Hi && r.Lo == ']':
			first = append(first, "]")
		case r.Lo == r.Hi && r.Lo == '-':
			last = append(last, "-")
		case r.Lo == r.Hi:
			middle = append(middle, char(r.Lo))
		default:
			// A range from ']' or '-', or to them, is written as its
			// ends' escapes where the syntax has them.
			middle = append(middle, char(r.Lo)+"-"+char(r.Hi))
		}
	}
	if !p.Negated && len(first) == 0 && len(middle) > 0 && strings.HasPrefix(middle[0], "^") {
		// A leading '^' would negate: move it behind another member.
		if len(middle) > 1 || len(last) > 0 {
			middle = append(middle[1:], middle[0])
		}
	}
	b.WriteByte('[')
	if p.Negated {
		b.WriteByte('^')
	}
	for _, s := range [][]string{first, middle, last} {
		for _, x := range s {
			b.WriteString(x)
		}
	}
	b.WriteByte(']')
}

// GlobPattern renders parts as an SQLite GLOB pattern: * and ? for the
// wildcards, sets as they are, GLOB's own special characters in brackets.
func GlobPattern(parts []PatternPart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.Kind {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		case '[':
			if len(p.Set) == 1 && p.Set[0].Lo == p.Set[0].Hi && !p.Negated {
				writeGlobLiteral(&b, p.Set[0].Lo)
				continue
			}
			appendSet(&b, p, "?", func(r rune) string { return string(r) })
		default:
			for _, r := range p.Text {
				writeGlobLiteral(&b, r)
			}
		}
	}
	return b.String()
}

func writeGlobLiteral(b *strings.Builder, r rune) {
	switch r {
	case '*', '?', '[':
		b.WriteString("[" + string(r) + "]")
	default:
		b.WriteRune(r)
	}
}

// SimilarPattern renders parts as a pattern of SQL's SIMILAR TO (with
// backslash as escape character): % and _ for the wildcards, sets as
// bracket expressions, every other special character escaped.
func SimilarPattern(parts []PatternPart) string {
	var b strings.Builder
	literal := func(r rune) {
		if r < utf8.RuneSelf && strings.IndexByte(`%_|*+?{}()[]\^$.`, byte(r)) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	for _, p := range parts {
		switch p.Kind {
		case '%', '_':
			b.WriteByte(p.Kind)
		case '[':
			if len(p.Set) == 1 && p.Set[0].Lo == p.Set[0].Hi && !p.Negated {
				literal(p.Set[0].Lo)
				continue
			}
			// Inside PostgreSQL's bracket expressions a backslash escapes
			// and "[:" opens a class: both are escaped.
			appendSet(&b, p, "_", func(r rune) string {
				if r == '\\' || r == '[' {
					return `\` + string(r)
				}
				return string(r)
			})
		default:
			for _, r := range p.Text {
				literal(r)
			}
		}
	}
	return b.String()
}
