package webapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/httpserver"
	"github.com/eventual-pp/eventual/webapi"
)

// TestContentType checks the media types of request bodies: every form of
// application/json that clients send works (dynamics-web-api sends
// "application/json; charset=utf-8" when, and only when, it has a body),
// requests without a body need no Content-Type, and $batch keeps
// multipart/mixed with its parts checked like requests. The refusals are
// in TestBadInput/ContentType.
func TestContentType(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for i, ct := range []string{
			"application/json",
			"application/json; charset=utf-8",
			"application/json;charset=UTF-8",
			"application/json; charset=utf8",
			"application/json;odata.metadata=minimal",
			"application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false",
			"Application/JSON; type=entry",
		} {
			id := s.create("accounts", map[string]any{"name": "ct"})
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "patched"}, "Content-Type", ct)
			s.must(http.StatusNoContent, "POST", "accounts", map[string]any{"name": "posted"}, "Content-Type", ct)
			s.must(http.StatusNoContent, "PUT", "accounts("+id+")/name", map[string]any{"value": "put"}, "Content-Type", ct)
			if n := s.count("accounts", "name eq 'posted'"); n != i+1 {
				t.Errorf("Content-Type %q: %d posted accounts, want %d", ct, n, i+1)
			}
		}
		// No body, no Content-Type: DELETE, GET, and a $ref removal.
		id := s.create("accounts", map[string]any{"name": "no body"})
		con := s.create("contacts", map[string]any{"lastname": "L"})
		s.must(http.StatusNoContent, "PUT", "accounts("+id+")/primarycontactid/$ref", map[string]any{"@odata.id": "contacts(" + con + ")"})
		s.must(http.StatusNoContent, "DELETE", "accounts("+id+")/primarycontactid/$ref", nil)
		s.must(http.StatusOK, "GET", "accounts("+id+")", nil)
		s.must(http.StatusNoContent, "DELETE", "accounts("+id+")", nil)
		// A Content-Type on a request without a body is not read.
		s.must(http.StatusOK, "GET", "accounts?$top=1", nil, "Content-Type", "text/plain")
		s.must(http.StatusNoContent, "DELETE", "contacts("+con+")", nil, "Content-Type", "text/plain")

		t.Run("Batch", func(t *testing.T) {
			s := s.withTB(t)
			before := s.count("accounts", "")
			res := s.batch(nil,
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "batch json"}},
				batchOp{Method: "POST", URL: "accounts", Headers: []string{"Content-Type", "text/plain"}, Body: `{"name":"batch text"}`},
			)
			if got := res.Statuses(); len(got) != 2 || got[0] != http.StatusNoContent || got[1] != http.StatusUnsupportedMediaType {
				t.Fatalf("batch statuses %v, want [204 415]\n%s", got, res.Body)
			}
			expectError(t, &res.Parts()[1].response, http.StatusUnsupportedMediaType, "0x80048d19", "'text/plain'")
			if after := s.count("accounts", ""); after != before+1 {
				t.Errorf("accounts went from %d to %d, want one created", before, after)
			}
			// The $batch itself must be multipart/mixed.
			r := s.postBatch("application/json", `{"requests":[]}`)
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "multipart/mixed")
		})
	})
}

// listenServer serves the instance of s as eventual serve does: the Web
// API's handler in the process's HTTP server (internal/httpserver) on a
// real listener, which tests of what net/http answers itself need. mount,
// if set, adds routes beside the Web API before the server listens. root
// has no trailing slash.
func listenServer(tb testing.TB, s *testServer, mount func(*httpserver.Server)) (root string, srv *webapi.Server) {
	tb.Helper()
	srv = webapi.NewServer(s.Instance, s.Instance.Schema, s.Store.Meta())
	srv.Now = s.Instance.Time
	srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	hs := httpserver.New(srv.Handler())
	hs.Logger = srv.Logger
	hs.MaxHeaderBytes = srv.MaxHeadBytes()
	if mount != nil {
		mount(hs)
	}
	base, err := hs.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve() }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	return strings.TrimSuffix(base, "/"), srv
}

// rawRequest writes a request as is on a new connection and reads the
// response.
func rawRequest(tb testing.TB, root, raw string) *response {
	tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(root, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	go io.WriteString(conn, raw) // the server may answer before reading all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// TestServerResponses checks what the process's HTTP server, with the Web
// API mounted, answers before routing: header fields over the limit get Dataverse's body, and
// no path is redirected. What net/http answers itself, in plain text,
// is pinned too, so that a change of it is seen: a malformed request
// line (400) and a header block past MaxHeaderBytes (431).
func TestServerResponses(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		// A route beside the Web API, as /metrics will be.
		extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "extra") })
		root, srv := listenServer(t, s, func(hs *httpserver.Server) { hs.Handle("GET /extra", extra) })
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		send := func(method, url, body string, headers ...string) *response {
			t.Helper()
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequest(method, url, rd)
			if err != nil {
				t.Fatal(err)
			}
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, url, err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
		}
		before := s.count("accounts", "")

		t.Run("HeadersTooLarge", func(t *testing.T) {
			big := strings.Repeat("h", webapi.DefaultMaxHeaderBytes)
			r := send("GET", root+"/api/data/v9.2/accounts", "", "X-Big", big)
			expectError(t, r, http.StatusRequestHeaderFieldsTooLarge, "0x80060888", "The request header fields are larger than the limit of 65536 bytes.")
			r = send("POST", root+"/api/data/v9.2/accounts", `{"name":"big headers"}`, "X-Big", big)
			expectError(t, r, http.StatusRequestHeaderFieldsTooLarge, "0x80060888", "larger than the limit")
			// Many small headers add up the same.
			var many []string
			for i := range 2000 {
				many = append(many, fmt.Sprintf("X-H%d", i), strings.Repeat("v", 40))
			}
			expectError(t, send("GET", root+"/api/data/v9.2/accounts", "", many...), http.StatusRequestHeaderFieldsTooLarge, "", "larger than the limit")
			// Just under the limit is served.
			if r := send("GET", root+"/api/data/v9.2/accounts?$top=1", "", "X-Big", strings.Repeat("h", webapi.DefaultMaxHeaderBytes/2)); r.Status != http.StatusOK {
				t.Errorf("headers under the limit: %d %s", r.Status, r.Body)
			}
			// The limit is configurable.
			srv.MaxHeaderBytes = 1024
			defer func() { srv.MaxHeaderBytes = 0 }()
			expectError(t, send("GET", root+"/api/data/v9.2/accounts", "", "X-Big", strings.Repeat("h", 2048)), http.StatusRequestHeaderFieldsTooLarge, "", "limit of 1024 bytes")
		})

		t.Run("URLTooLong", func(t *testing.T) {
			r := send("GET", root+"/api/data/v9.2/accounts?$filter=name%20eq%20'"+strings.Repeat("a", webapi.DefaultMaxURLLength)+"'", "")
			expectError(t, r, http.StatusRequestURITooLong, "", "too long")
		})

		t.Run("NoRedirect", func(t *testing.T) {
			for _, c := range []struct {
				method, path string
				status       int
			}{
				{"GET", "//accounts", 404},
				{"POST", "//accounts", 404},
				{"POST", "/api/data/v9.2//accounts", 400},
				{"GET", "/api/data/v9.2//accounts", 400},
				{"POST", "/api/data/v9.2/./accounts", 404},
				{"POST", "/api/data/v9.2/x/../accounts", 404},
				{"GET", "/api/data", 404},
				{"GET", "/api/data/v9.2", 200},
				{"GET", "/healthz", 200},
				{"HEAD", "/healthz", 200},
				{"POST", "/healthz", 404},
				{"GET", "//healthz", 404},
				{"GET", "/healthz/", 404},
			} {
				body := ""
				if c.method == "POST" {
					body = `{"name":"redirected"}`
				}
				r := send(c.method, root+c.path, body)
				if r.Status != c.status || r.Header.Get("Location") != "" {
					t.Errorf("%s %s: %d (Location %q), want %d: %s", c.method, c.path, r.Status, r.Header.Get("Location"), c.status, r.Body)
					continue
				}
				if r.Status >= 400 {
					checkDataverseErrorBody(t, r)
				}
			}
		})

		t.Run("BesideTheWebAPI", func(t *testing.T) {
			// The added route answers, for its method only.
			if r := send("GET", root+"/extra", ""); r.Status != http.StatusOK || string(r.Body) != "extra" {
				t.Errorf("GET /extra: %d %s", r.Status, r.Body)
			}
			// Other methods and near paths are the Web API's: its 404.
			for _, c := range []struct{ method, path string }{
				{"POST", "/extra"}, {"GET", "/extra/"}, {"GET", "//extra"}, {"GET", "/api/data/v9.2/extra"},
			} {
				body := ""
				if c.method == "POST" {
					body = `{"name":"extra"}`
				}
				expectError(t, send(c.method, root+c.path, body), http.StatusNotFound, "", "")
			}
			// The Web API is unchanged beside it.
			if r := send("GET", root+"/api/data/v9.2/accounts?$top=1", ""); r.Status != http.StatusOK {
				t.Errorf("GET accounts beside /extra: %d %s", r.Status, r.Body)
			}
		})

		t.Run("WrittenByNetHTTP", func(t *testing.T) {
			// A malformed request line never reaches the handler.
			r := rawRequest(t, root, "GARBAGE\r\n\r\n")
			if r.Status != http.StatusBadRequest {
				t.Errorf("malformed request line: %d %s", r.Status, r.Body)
			}
			// Past MaxHeaderBytes net/http stops reading and answers 431.
			big := strings.Repeat("h", webapi.DefaultMaxURLLength+webapi.DefaultMaxHeaderBytes+(2<<20))
			r = rawRequest(t, root, "GET /api/data/v9.2/accounts HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n")
			if r.Status != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("huge header block: %d %s", r.Status, r.Body)
			}
		})

		if after := s.count("accounts", ""); after != before {
			t.Errorf("accounts went from %d to %d", before, after)
		}
	})
}
