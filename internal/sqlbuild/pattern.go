package sqlbuild

import "strings"

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
	Set     string
	Negated bool
}

// ParsePattern splits a wildcard pattern into its parts. A '[' without
// its ']' is a literal character, as SQL Server reads it.
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
			// The set runs to the first ']' after at least one character.
			end := strings.IndexByte(p[i+1:], ']')
			if end == 0 && i+2 < len(p) {
				if e := strings.IndexByte(p[i+2:], ']'); e >= 0 {
					end = e + 1
				} else {
					end = -1
				}
			}
			if end <= 0 {
				lit.WriteByte(c)
				continue
			}
			set := p[i+1 : i+1+end]
			i += end + 1
			if len(set) == 1 && (set == "%" || set == "_" || set == "[") {
				lit.WriteString(set)
				continue
			}
			flush()
			part := PatternPart{Kind: '[', Set: set}
			if strings.HasPrefix(set, "^") && len(set) > 1 {
				part.Set, part.Negated = set[1:], true
			}
			out = append(out, part)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
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
			b.WriteByte('[')
			if p.Negated {
				b.WriteByte('^')
			}
			b.WriteString(p.Set)
			b.WriteByte(']')
		default:
			for i := 0; i < len(p.Text); i++ {
				switch c := p.Text[i]; c {
				case '*', '?', '[':
					b.WriteString("[" + string(c) + "]")
				default:
					b.WriteByte(c)
				}
			}
		}
	}
	return b.String()
}

// SimilarPattern renders parts as a pattern of SQL's SIMILAR TO (with
// backslash as escape character): % and _ for the wildcards, sets as
// bracket expressions, every other special character escaped.
func SimilarPattern(parts []PatternPart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.Kind {
		case '%', '_':
			b.WriteByte(p.Kind)
		case '[':
			b.WriteByte('[')
			if p.Negated {
				b.WriteByte('^')
			}
			b.WriteString(strings.ReplaceAll(p.Set, `\`, `\\`))
			b.WriteByte(']')
		default:
			for i := 0; i < len(p.Text); i++ {
				if strings.IndexByte(`%_|*+?{}()[]\^$.`, p.Text[i]) >= 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(p.Text[i])
			}
		}
	}
	return b.String()
}
