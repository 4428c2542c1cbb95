package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

// referenceDecode is what DecodeJSON must agree with: the standard
// library's token decoder (numbers as json.Number), rejecting invalid
// UTF-8, duplicate names, nesting past MaxJSONDepth and trailing data,
// as DecodeJSON did before it read with jsontext.
func referenceDecode(body []byte) (any, bool) {
	if !utf8.Valid(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := referenceValue(dec, 0)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return v, true
}

func referenceValue(dec *json.Decoder, depth int) (any, error) {
	if depth > MaxJSONDepth {
		return nil, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("name expected")
				}
				if _, dup := m[k]; dup {
					return nil, errors.New("duplicate")
				}
				if m[k], err = referenceValue(dec, depth+1); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token()
			return m, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := referenceValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		return nil, errors.New("unexpected delimiter")
	}
	return tok, nil
}

// FuzzDecodeJSON: DecodeJSON accepts what the standard library accepts
// and decodes it to the same values; what it rejects, it rejects with an
// "Invalid JSON." or duplicate-name message, never a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":1,"b":[true,false,null,"x\u00e9"],"c":{"d":-1.5e3}}`, `"s"`, `12345678901234567890.5`,
		`{"a":1,"a":2}`, `{"a" 1}`, `[1,]`, `{"a":"\ud800"}`, ` {"x":"y"} `, `{"x":1}{}`, "\"\xff\"", `[[[[[[[[[[]]]]]]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeJSON(body)
		want, ok := referenceDecode(body)
		dup := err != nil && bytes.HasPrefix([]byte(err.Error()), []byte("Multiple properties"))
		switch {
		case err == nil && !ok:
			t.Fatalf("DecodeJSON(%q) = %v, the standard library rejects it", body, got)
		case err != nil && ok && !loneSurrogate(body):
			t.Fatalf("DecodeJSON(%q): %v; the standard library reads %v", body, err, want)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("DecodeJSON(%q) = %#v, standard library %#v", body, got, want)
		case err != nil && !dup && !bytes.HasPrefix([]byte(err.Error()), []byte("Invalid JSON.")):
			t.Fatalf("DecodeJSON(%q): %v, want an Invalid JSON. message", body, err)
		}
	})
}

// loneSurrogate reports an escaped UTF-16 surrogate in body: the standard
// library turns an unpaired one into U+FFFD, DecodeJSON refuses it as
// text that is not valid Unicode.
func loneSurrogate(body []byte) bool {
	return bytes.Contains(bytes.ToLower(body), []byte(`\ud8`)) || bytes.Contains(bytes.ToLower(body), []byte(`\ud9`)) ||
		bytes.Contains(bytes.ToLower(body), []byte(`\uda`)) || bytes.Contains(bytes.ToLower(body), []byte(`\udb`)) ||
		bytes.Contains(bytes.ToLower(body), []byte(`\udc`)) || bytes.Contains(bytes.ToLower(body), []byte(`\udd`)) ||
		bytes.Contains(bytes.ToLower(body), []byte(`\ude`)) || bytes.Contains(bytes.ToLower(body), []byte(`\udf`))
}
