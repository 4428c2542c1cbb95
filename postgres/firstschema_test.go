package postgres

import "testing"

func TestFirstSchema(t *testing.T) {
	tests := []struct{ searchPath, want string }{
		{"", ""},
		{"$user, public", ""},
		{"app", "app"},
		{" app , public", "app"},
		{"App", "app"}, // unquoted names fold to lower case, as PostgreSQL reads them
		{`"App",public`, "App"},
		{`"a""b"`, `a"b`},
	}
	for _, tc := range tests {
		if got := firstSchema(tc.searchPath); got != tc.want {
			t.Errorf("firstSchema(%q) = %q, want %q", tc.searchPath, got, tc.want)
		}
	}
}
