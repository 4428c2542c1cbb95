package codec_test

import (
	"testing"

	"github.com/eventual-pp/eventual/codec"
)

func TestETag(t *testing.T) {
	if got := codec.ETag(123); got != `W/"123"` {
		t.Fatalf("ETag(123) = %s", got)
	}
	for in, want := range map[string]string{
		`W/"123"`: "123", ` "7" `: "7", "*": "*", `W/"x"`: "", `123`: "", `W/"`: "", "": "",
	} {
		got, ok := codec.ParseETag(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseETag(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
