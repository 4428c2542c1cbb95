package codec_test

import (
	"encoding/json"
	"fmt"
	"reflect"
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

// TestDecodeResponse: a server's answer decodes to what DecodeJSON gives
// for it, numbers exact; broken JSON and trailing data fail.
func TestDecodeResponse(t *testing.T) {
	body := []byte(`{"value":[{"a":1.10,"b":"x","c":null,"d":[true,{"e":12345678901234567890}]}],"@odata.nextLink":"n"}`)
	want, err := codec.DecodeJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.DecodeResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeResponse = %#v, want %#v", got, want)
	}
	for _, bad := range []string{``, `{`, `{"a":1}{}`, `{"a":1} x`, `[1,]`} {
		if _, err := codec.DecodeResponse([]byte(bad)); err == nil {
			t.Errorf("DecodeResponse(%q) succeeded", bad)
		}
	}
}

// benchPage is a change page of n records as a server renders it.
func benchPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"@odata.context":"x","value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.etag":"W/\"%d\"","accountid":"01a236f3-a55b-70ed-99f4-c8e0cde8%04d","name":"account %d","accountnumber":"N%d","telephone1":null,"revenue":12.50,"numberofemployees":%d,"creditonhold":false,"_parentaccountid_value":null,"modifiedon":"2026-12-02T13:31:08Z"}`, i, i%10000, i, i, i)
	}
	b.WriteString(`],"@odata.deltaLink":"d"}`)
	return []byte(b.String())
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := benchPage(500)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := codec.DecodeJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResponse(b *testing.B) {
	body := benchPage(500)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := codec.DecodeResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}
