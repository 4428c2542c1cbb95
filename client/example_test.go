package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/eventual-pp/eventual/client"
)

// ExampleClient_Do reads accounts from a server that is briefly
// unavailable: the first attempt is answered 503, the client retries, and
// the second answer is the result.
func ExampleClient_Do() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != "Bearer example-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[{"name":"Contoso"}]}`)
	}))
	defer srv.Close()

	c, err := client.New(srv.URL, client.Options{
		Token:     "example-token",
		RetryBase: 10 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	resp, err := c.Do(context.Background(), &client.Request{
		Method: http.MethodGet,
		Path:   "accounts?$select=name",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, resp.Attempts, string(resp.Body))
	// Output: 200 2 {"value":[{"name":"Contoso"}]}
}
