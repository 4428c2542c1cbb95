package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxJSONDepth bounds the nesting of the JSON values DecodeJSON reads.
const MaxJSONDepth = 64

// DecodeJSON parses a JSON body into generic values, keeping numbers as
// json.Number so that decimals stay exact. It fails on invalid UTF-8, on
// duplicate property names (OData's JSON format forbids them) and on
// trailing data.
func DecodeJSON(body []byte) (any, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("Invalid JSON. The request body is not valid UTF-8")
	}
	// Duplicate names are found here, to name them in OData's words.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	v, err := readToken(dec, 0, map[string]string{})
	if err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.New("Invalid JSON. More than one value was found at the root of the JSON content. JSON content can only have one value at the root level, which is an array, an object or a primitive value")
	}
	return v, nil
}

// jsonError words a decoding error as the Web API does.
func jsonError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("Invalid JSON. Unexpected end of input was found in JSON content. Not all object and array scopes were closed")
	}
	if strings.HasPrefix(err.Error(), "Invalid JSON.") || strings.HasPrefix(err.Error(), "Multiple properties") {
		return err
	}
	msg := err.Error()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && se.Err != nil {
		msg = fmt.Sprintf("%v (at byte %d)", se.Err, se.ByteOffset)
	}
	return fmt.Errorf("Invalid JSON. %s", msg)
}

// MaxInternedNames bounds the property names one body's decoding shares.
const MaxInternedNames = 256

// readToken reads one JSON value token by token (jsontext: a token
// costs no allocation but its string). Numbers stay json.Number.
// Property names are interned in names: the records of a bulk body
// repeat them, and share one string each.
func readToken(dec *jsontext.Decoder, depth int, names map[string]string) (any, error) {
	if depth > MaxJSONDepth {
		return nil, errors.New("Invalid JSON. The JSON content is nested too deeply")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			k, err := readName(dec, names)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("Multiple properties with the name '%s' were detected in an entry or a complex value. In OData, duplicate property names are not allowed", k)
			}
			v, err := readToken(dec, depth+1, names)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return m, nil
	case '[':
		arr := []any{}
		for dec.PeekKind() != ']' {
			v, err := readToken(dec, depth+1, names)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return arr, nil
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("Invalid JSON. Unexpected token %v", tok)
}

// readName reads a property name, interned in names when it holds no
// escape (looking a name up by its bytes costs no allocation).
func readName(dec *jsontext.Decoder, names map[string]string) (string, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return "", err
	}
	if raw.Kind() != '"' {
		return "", fmt.Errorf("Invalid JSON. A property name is not a string")
	}
	b := raw[1 : len(raw)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		unq, err := jsontext.AppendUnquote(nil, raw)
		return string(unq), err
	}
	if s, ok := names[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(names) < MaxInternedNames {
		names[s] = s
	}
	return s, nil
}

// DecodeResponse parses a server's JSON answer into generic values,
// numbers kept as json.Number, and fails on trailing data. It is
// DecodeJSON without the checks a server makes of what clients send
// (duplicate property names, a nesting depth of 64, UTF-8) and several
// times faster, as it parses in one pass rather than token by token:
// clients read pages of thousands of records with it.
func DecodeResponse(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("Invalid JSON. %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("Invalid JSON. More than one value was found at the root of the JSON content")
	}
	return v, nil
}
