package codec_test

import (
	"bytes"
	"os"
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

// fixture returns a file of testdata without its surrounding white space.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}
