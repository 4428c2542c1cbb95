package codec_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventual-pp/eventual/codec"
)

// TestErrorBody: the body the server writes, with and without the
// annotations, is the fixture's; DecodeError reads the fixture back.
func TestErrorBody(t *testing.T) {
	for _, tc := range []struct {
		file, code, msg string
		status          int
		annotations     bool
	}{
		{"error_annotated.json", "0x80040217", "Entity 'account' With Id = 1 Does Not Exist", 404, true},
		{"error_plain.json", "0x0", "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.", 400, false},
	} {
		want := fixture(t, tc.file)
		if got := codec.ErrorBody(tc.code, tc.msg, tc.status, tc.annotations); !bytes.Equal(got, want) {
			t.Errorf("%s: ErrorBody =\n%s\nwant\n%s", tc.file, got, want)
		}
		e, err := codec.DecodeError(want)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%s: DecodeError = %q, %q", tc.file, e.Code, e.Message)
		}
	}
}

// TestErrorBodyLongMessage: a message quoting a huge value is cut at a
// character's end, not carried back whole.
func TestErrorBodyLongMessage(t *testing.T) {
	msg := "Resource not found for the segment '" + strings.Repeat("é", 40000) + "'."
	e, err := codec.DecodeError(codec.ErrorBody("0x0", msg, 404, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Message) > codec.MaxErrorMessage+len("…") || !strings.HasSuffix(e.Message, "é…") || !utf8.ValidString(e.Message) {
		t.Errorf("message of %d bytes: …%q", len(e.Message), e.Message[len(e.Message)-10:])
	}
}

func TestDecodeErrorRejects(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"error":{"message":"m"}}`, `[1]`, `{"error":`} {
		if e, err := codec.DecodeError([]byte(body)); err == nil {
			t.Errorf("DecodeError(%q) = %v, want an error", body, e)
		}
	}
}
