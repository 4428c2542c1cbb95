package codec_test

import (
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
)

var schema = metadata.Builtin()

// col returns a column of the built-in schema.
func col(t testing.TB, table, name string) *eventual.Column {
	t.Helper()
	c := schema.Table(table).Column(name)
	if c == nil {
		t.Fatalf("no column %s.%s", table, name)
	}
	return c
}
