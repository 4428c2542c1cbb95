package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
)

func TestNewNormalisesBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8765", "http://127.0.0.1:8765/api/data/v9.2"},
		{"http://127.0.0.1:8765/", "http://127.0.0.1:8765/api/data/v9.2"},
		{"https://org.crm.dynamics.com/api/data/v9.2", "https://org.crm.dynamics.com/api/data/v9.2"},
		{"https://org.crm.dynamics.com/api/data/v9.2/", "https://org.crm.dynamics.com/api/data/v9.2"},
		{"http://host/prefix", "http://host/prefix/api/data/v9.2"},
	}
	for _, tt := range tests {
		c, err := New(tt.in, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if c.Root() != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, c.Root(), tt.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:8765", "ftp://host", "http://host/?x=1", "http://"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := New("http://h", Options{Token: "a", TokenSource: nil, ClientCredentials: nil}); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	c, _ := New("http://h:1", Options{})
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"accounts", "http://h:1/api/data/v9.2/accounts", true},
		{"/$batch", "http://h:1/api/data/v9.2/$batch", true},
		{"http://h:1/api/data/v9.2/accounts?$skiptoken=x", "http://h:1/api/data/v9.2/accounts?$skiptoken=x", true},
		{"http://other/api/data/v9.2/accounts", "", false},
	}
	for _, tt := range tests {
		got, err := c.resolve(tt.path)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: %q %v", tt.path, got, err)
		}
	}
}

func TestReplayClassification(t *testing.T) {
	tests := []struct {
		r      Replay
		method string
		want   bool
	}{
		{ReplayAuto, http.MethodGet, true},
		{ReplayAuto, http.MethodPut, true},
		{ReplayAuto, http.MethodPatch, true},
		{ReplayAuto, http.MethodDelete, true},
		{ReplayAuto, http.MethodPost, false},
		{ReplaySafe, http.MethodPost, true},
		{ReplayNever, http.MethodGet, false},
	}
	for _, tt := range tests {
		if got := tt.r.idempotent(tt.method); got != tt.want {
			t.Errorf("%v %s: %v", tt.r, tt.method, got)
		}
	}
}

// TestAdoptHeader: a call whose context asks for placeholder adoption
// carries eventual's header; others do not.
func TestAdoptHeader(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(codec.HeaderAdoptPlaceholders))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctx := range []context.Context{context.Background(), eventual.WithAdoptPlaceholders(context.Background())} {
		if _, err := c.Do(ctx, &Request{Method: http.MethodPatch, Path: "accounts(00000000-0000-0000-0000-000000000001)", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0] != "" || got[1] != "true" {
		t.Errorf("adopt headers sent: %q, want [\"\" \"true\"]", got)
	}
}
