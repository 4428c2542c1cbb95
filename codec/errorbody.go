package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
)

// MaxErrorMessage bounds the bytes of an error message: messages quote
// what the client sent (a segment, a value), which can be tens of
// kilobytes, and an error body need not carry it all back.
const MaxErrorMessage = 4096

// ErrorBody renders Dataverse's error body for an error code and message
// answered with an HTTP status; a message over MaxErrorMessage bytes is cut
// at a character's end, with "…". With annotations it adds the
// Microsoft.PowerApps.CDS annotations Dataverse sends.
func ErrorBody(code, msg string, status int, annotations bool) []byte {
	if len(msg) > MaxErrorMessage {
		cut := MaxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	b := make([]byte, 0, 128+len(msg))
	b = append(b, `{"error":{"code":`...)
	b = AppendString(b, code)
	b = append(b, `,"message":`...)
	b = AppendString(b, msg)
	if annotations {
		b = append(b, `,"@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionHttpStatusCode":`...)
		b = AppendString(b, strconv.Itoa(status))
		b = append(b, `,"@Microsoft.PowerApps.CDS.HelpLink":`...)
		b = AppendString(b, "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a"+trimHex(code)+"&client=platform")
		b = append(b, `,"@Microsoft.PowerApps.CDS.InnerError.Message":`...)
		b = AppendString(b, msg)
	}
	return append(b, "}}"...)
}

func trimHex(code string) string {
	if len(code) > 2 && code[:2] == "0x" {
		return code[2:]
	}
	return code
}

// DecodeError reads a Dataverse error body into an *eventual.Error with
// its code and message. The body does not say the error's kind: that
// comes from the response's HTTP status, which the caller keeps (Kind is
// left KindInternal).
func DecodeError(body []byte) (*eventual.Error, error) {
	var doc struct {
		Error *struct {
			Code    *string `json:"code"`
			Message string  `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode error body: %w", err)
	}
	if doc.Error == nil || doc.Error.Code == nil {
		return nil, errors.New("decode error body: no error object with a code")
	}
	return &eventual.Error{Kind: eventual.KindInternal, Code: *doc.Error.Code, Message: doc.Error.Message}, nil
}
