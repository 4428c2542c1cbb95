package eventual_test

import (
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
)

func TestFoldCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc-123", "abc-123"},
		{"ABC", "abc"},
		{"Ä1", "ä1"},
		{"ÄRGER1", "ärger1"},
		{"Émile", "émile"},
		{"ΣΟΦΊΑ", "σοφία"},
		{"ς", "σ"},                   // final sigma folds with sigma
		{"ſ", "s"},                   // long s
		{"\u212a", "k"},              // Kelvin sign
		{"İ", "i"},                   // dotted capital I (simple mapping)
		{"ı", "i"},                   // dotless i folds with i
		{"ǅ", "ǆ"},                   // title case digraph
		{"café", "café"},             // accents are kept
		{"\U00010400", "\U00010428"}, // Deseret, outside the BMP
		{"a\xffB", "a\xffb"},         // invalid UTF-8 kept as is
		{"MIXED ascii ÜND mehr", "mixed ascii ünd mehr"},
	} {
		if got := eventual.FoldCase(tc.in); got != tc.want {
			t.Errorf("FoldCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFoldCaseIdempotent checks every code point: a folded value (a sort
// key read back from a store, say) folds to itself.
func TestFoldCaseIdempotent(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		f := eventual.FoldRune(r)
		if g := eventual.FoldRune(f); g != f {
			t.Errorf("fold of %U is %U, whose fold is %U", r, f, g)
		}
		if s := string(r); eventual.FoldCase(s) != string(f) {
			t.Errorf("FoldCase(%U) = %q, want %q", r, eventual.FoldCase(s), string(f))
		}
	}
}

func TestFirstFoldDifference(t *testing.T) {
	check := eventual.FoldCheck()
	if d := eventual.FirstFoldDifference(eventual.FoldCase(check)); d != "" {
		t.Errorf("the rule's own fold differs: %s", d)
	}
	if d := eventual.FirstFoldDifference(check); d == "" {
		t.Error("the unfolded text passed as a fold")
	}
	if d := eventual.FirstFoldDifference(eventual.FoldCase(check)[:10]); d == "" {
		t.Error("a truncated fold passed")
	}
}

func TestKeyValueText(t *testing.T) {
	s := mustSchema(t)
	k := s.Table("account").Keys[0]
	if a, b := k.KeyValueText([]any{"ä1"}), k.KeyValueText([]any{"Ä1"}); a != b {
		t.Errorf("ä1 and Ä1 normalize differently: %q, %q", a, b)
	}
	if a, b := k.KeyValueText([]any{"a1"}), k.KeyValueText([]any{"ä1"}); a == b {
		t.Errorf("a1 and ä1 normalize alike: %q", a)
	}
}

func mustSchema(tb testing.TB) *eventual.Schema {
	tb.Helper()
	s, err := eventual.NewSchema([]eventual.TableDef{{
		LogicalName: "account", SchemaName: "Account", EntitySetName: "accounts", PrimaryNameAttribute: "name",
		Columns: []eventual.ColumnDef{
			{LogicalName: "name", SchemaName: "Name", Type: eventual.TypeString, MaxLength: 100},
			{LogicalName: "accountnumber", SchemaName: "AccountNumber", Type: eventual.TypeString, MaxLength: 20},
		},
		Keys: []eventual.KeyDef{{LogicalName: "accountnumber_key", Columns: []string{"accountnumber"}}},
	}})
	if err != nil {
		tb.Fatalf("NewSchema: %v", err)
	}
	return s
}
