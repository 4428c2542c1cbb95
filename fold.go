package eventual

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// FoldCase returns s with letter case folded: the one rule by which
// eventual compares text, as Dataverse's case-insensitive collation does.
// Two strings are equal without regard to case when their folds are equal
// ("ä1" and "Ä1" are the same alternate key; name eq 'ÄRGER1' finds
// "ärger1").
//
// Each code point r maps to unicode.ToLower(unicode.ToUpper(r)): Unicode's
// simple (one code point to one) case mappings, which also unite letters
// with more than one lower-case form (σ and ς, s and ſ, k and the Kelvin
// sign). The rule is deliberately per code point, so that a SQL store can
// compute exactly the same fold in SQL (PostgreSQL's upper and lower
// under a UTF-8 "C" collation; see FoldCheck). Accents are significant:
// "cafe" and "café" differ, as in Dataverse's accent-sensitive (_CI_AS)
// collations. Invalid UTF-8 is left as it is.
//
// FoldCase is idempotent: FoldCase(FoldCase(s)) == FoldCase(s).
func FoldCase(s string) string {
	// Fast path: ASCII text without upper-case letters folds to itself.
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteRune(FoldRune(r))
		i += n
	}
	return b.String()
}

// FoldRune is FoldCase for one code point.
func FoldRune(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

// FoldCheck returns text that exercises every code point FoldCase changes,
// and more: a store that folds text in SQL compares its fold of
// FoldCheck() with FoldCase(FoldCheck()) to prove it applies the same
// rule. It holds every valid code point from U+0001 to U+FFFF and every
// cased code point above.
func FoldCheck() string { return foldCheck() }

var foldCheck = sync.OnceValue(func() string {
	var b strings.Builder
	for r := rune(1); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates are not valid in UTF-8
		}
		if r > 0xFFFF && !cased(r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
})

// cased reports whether a code point has a case or a case mapping.
func cased(r rune) bool {
	return FoldRune(r) != r || unicode.ToUpper(r) != r || unicode.ToLower(r) != r ||
		unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

// FirstFoldDifference returns the first code point at which got (a store's
// fold of FoldCheck()) differs from FoldCase(FoldCheck()), described for an
// error message, or "" when they agree.
func FirstFoldDifference(got string) string {
	in := []rune(FoldCheck())
	want := []rune(FoldCase(FoldCheck()))
	g := []rune(got)
	for i := range want {
		if i >= len(g) {
			return fmt.Sprintf("the fold ends after %d of %d code points", len(g), len(want))
		}
		if g[i] != want[i] {
			return fmt.Sprintf("%U folds to %U, want %U", in[i], g[i], want[i])
		}
	}
	if len(g) > len(want) {
		return fmt.Sprintf("the fold has %d code points, want %d", len(g), len(want))
	}
	return ""
}

// KeyValueText returns the normalized form of alternate-key values for
// matching: text folded by FoldCase, lookups by the referenced id, other
// values as they are. Two value lists name the same record of the key
// exactly when their KeyValueText is equal, as the stores compare them.
func (k *Key) KeyValueText(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok && i < len(k.Columns) && k.Columns[i].Type.IsText() {
			parts[i] = "s:" + FoldCase(s)
			continue
		}
		if ref, ok := v.(EntityReference); ok {
			v = ref.ID
		}
		parts[i] = fmt.Sprintf("%T:%v", v, v)
	}
	return strings.Join(parts, "\x00")
}
