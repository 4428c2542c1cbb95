package client

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/metadata"
)

// FuzzDecodeResponses feeds arbitrary bytes to every decoder of a server
// answer: a server sending garbage must give an error, never a panic.
func FuzzDecodeResponses(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"0x80040217","message":"x"}}`), "multipart/mixed; boundary=b", "5")
	f.Add([]byte(`{"value":[{"accountid":"11111111-2222-3333-4444-555555555555","name":"a"}],"@odata.nextLink":"http://x/accounts?$skiptoken=1","@odata.count":3}`), "application/json", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add([]byte(`{"value":[{"@odata.context":"x/$deletedEntity","id":"11111111-2222-3333-4444-555555555555"}],"@odata.deltaLink":"http://x/accounts?$deltatoken=1%212"}`), "", "99999999999999999")
	f.Add([]byte("--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nOData-EntityId: http://x/accounts(11111111-2222-3333-4444-555555555555)\r\n\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n{}\r\n--c--\r\n--b--\r\n"), "multipart/mixed; boundary=b", "-1")
	f.Add([]byte("--b\r\nContent-Type: multipart/mixed\r\n\r\n--b--"), "", "")
	f.Add([]byte(`{"Ids":["11111111-2222-3333-4444-555555555555"]}`), "text/plain", "1.5")
	schema := metadata.Builtin()
	acc := schema.Table("account")
	f.Fuzz(func(t *testing.T, body []byte, contentType, header string) {
		decodeErrorBody(body)
		decodePage(acc, body)
		decodeChanges(acc, body)
		deltaToken(string(body))
		decodeContToken(string(body))
		decodeContToken(contPrefix + string(body))
		if d, ok := parseRetryAfter(header, time.Now()); ok && d < 0 {
			t.Errorf("Retry-After %q: negative wait %v", header, d)
		}
		h := http.Header{"Content-Type": {contentType}, "Odata-Entityid": {header}}
		entityID(&Response{Header: h})

		c, err := New("http://dataverse.test", Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := NewBatch(c)
		b.Get("accounts", nil)
		cs := b.ChangeSet()
		cs.Add(&Request{Method: http.MethodPost, Path: "accounts", Body: []byte("{}")})
		cs.Add(&Request{Method: http.MethodDelete, Path: "$1"})
		b.Get("contacts", nil)
		if res, err := b.decode(http.StatusOK, h, body); err == nil {
			if len(res.Responses) != b.Len() {
				t.Errorf("%d responses for %d requests", len(res.Responses), b.Len())
			}
			for _, r := range res.Responses {
				r.Record(acc)
				r.Page(acc)
			}
			res.Err()
		}
		var w wireTable
		if jsonErr := json.Unmarshal(body, &w); jsonErr == nil {
			if td := w.definition(); td != nil {
				TableDefs([]*TableDefinition{td})
			}
		}
	})
}
