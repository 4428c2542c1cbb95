package sqlbuild_test

import (
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/internal/sqlbuild"
)

// TestPatterns: T-SQL wildcard patterns (wildcard-characters.md) in the
// three forms the stores take.
func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		in, like, glob, similar string
		set                     bool
	}{
		{"abc%", `abc%`, `abc*`, `abc%`, false},
		{"a_c", `a_c`, `a?c`, `a_c`, false},
		{"[a-c]%", `_%`, `[a-c]*`, `[a-c]%`, true},
		{"[^a-c]x", `_x`, `[^a-c]x`, `[^a-c]x`, true},
		{"100[%]", `100\%`, `100%`, `100\%`, false},
		{"[_]x[[]", `\_x[`, `_x[[]`, `\_x\[`, false},
		{"a[b", `a[b`, `a[[]b`, `a\[b`, false},
		{"[]]", `_`, `]`, `\]`, true},
		{"[^]]x", `_x`, `[^]]x`, `[^]]x`, true},
		{"[-a]", `_`, `[a-]`, `[a-]`, true},
		{"[^a]", `_`, `[^a]`, `[^a]`, true},
		{"[a^]", `_`, `[a^]`, `[a^]`, true},
		{"[^^]", `_`, `[^^]`, `[^^]`, true},
		{`[\[]`, `_`, `[\[]`, `[\\\[]`, true},
		{`back\slash*?.`, `back\\slash*?.`, `back\slash[*][?].`, `back\\slash\*\?\.`, false},
		{"[^]", `[^]`, `[[]^]`, `\[\^\]`, false},
	} {
		parts := sqlbuild.ParsePattern(tc.in)
		if sqlbuild.MatchesNothing(parts) {
			t.Errorf("%q matches nothing", tc.in)
		}
		if got := sqlbuild.HasSet(parts); got != tc.set {
			t.Errorf("%q: HasSet %v", tc.in, got)
		}
		if got := sqlbuild.LikePattern(parts); got != tc.like {
			t.Errorf("%q: like %q, want %q", tc.in, got, tc.like)
		}
		if got := sqlbuild.GlobPattern(parts); got != tc.glob {
			t.Errorf("%q: glob %q, want %q", tc.in, got, tc.glob)
		}
		if got := sqlbuild.SimilarPattern(parts); got != tc.similar {
			t.Errorf("%q: similar %q, want %q", tc.in, got, tc.similar)
		}
	}
}

// TestPatternNothing: a set of no character ([z-a], reversed as SQL
// Server reads it) matches nothing; a negated one, any character.
func TestPatternNothing(t *testing.T) {
	if !sqlbuild.MatchesNothing(sqlbuild.ParsePattern("a[z-a]%")) {
		t.Error("[z-a] matches something")
	}
	parts := sqlbuild.ParsePattern("[^z-a]")
	if sqlbuild.MatchesNothing(parts) || sqlbuild.GlobPattern(parts) != "?" || sqlbuild.SimilarPattern(parts) != "_" {
		t.Errorf("[^z-a]: %q %q", sqlbuild.GlobPattern(parts), sqlbuild.SimilarPattern(parts))
	}
}

// FuzzParsePattern: any pattern parses; one without brackets reads as
// LIKE read it before sets were known (wildcards kept, the escape
// character doubled).
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"abc%", "[a-c]_", "[^x]", "[%]", "a[b", "[]]", `\`, "[[]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := sqlbuild.ParsePattern(s)
		_ = sqlbuild.GlobPattern(parts)
		_ = sqlbuild.SimilarPattern(parts)
		like := sqlbuild.LikePattern(parts)
		if !strings.Contains(s, "[") {
			if want := strings.ReplaceAll(s, `\`, `\\`); like != want {
				t.Fatalf("%q: like %q, want %q", s, like, want)
			}
		}
	})
}
