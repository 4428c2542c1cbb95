package codec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/codec"
)

func TestDecodeJSON(t *testing.T) {
	v, err := codec.DecodeJSON([]byte(`{"a":1.10,"b":[true,null,"x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["a"] != json.Number("1.10") {
		t.Errorf("a = %#v, want the exact number", m["a"])
	}
	for _, tc := range []struct{ body, err string }{
		{`{"a":1,"a":2}`, "Multiple properties with the name 'a'"},
		{`{"a":1} 2`, "More than one value was found at the root"},
		{`{"a":`, "Unexpected end of input"},
		{"\"\xff\"", "not valid UTF-8"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "nested too deeply"},
		{`{"a" 1}`, "Invalid JSON."},
	} {
		_, err := codec.DecodeJSON([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("DecodeJSON(%.20q) = %v, want %q", tc.body, err, tc.err)
		}
	}
}
