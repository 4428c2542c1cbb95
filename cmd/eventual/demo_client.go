package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/eventual-pp/eventual/codec"
)

// demoClient is the demo's integrated system: a plain Web API client over
// net/http and encoding/json, a stand-in for a real client.
type demoClient struct {
	http *http.Client
}

func newDemoClient(timeout time.Duration) *demoClient {
	return &demoClient{http: &http.Client{Timeout: timeout, Transport: &http.Transport{}}}
}

// demoResponse is a response read whole.
type demoResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with body (if not nil) as JSON.
func (c *demoClient) do(ctx context.Context, method, url string, body any) (*demoResponse, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode: %w", method, url, err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(codec.HeaderODataVersion, "4.0")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return &demoResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// expect sends a request and fails unless it gets status.
func (c *demoClient) expect(ctx context.Context, status int, method, url string, body any) (*demoResponse, error) {
	r, err := c.do(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if r.status != status {
		return r, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, url, r.status, status, r.body)
	}
	return r, nil
}

// list GETs a collection and returns its records (the first page: the
// demo's tables are small).
func (c *demoClient) list(ctx context.Context, url string) ([]map[string]any, error) {
	r, err := c.expect(ctx, http.StatusOK, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	var page struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		return nil, fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return page.Value, nil
}

// errorCode returns the error.code of a Dataverse error body.
func (r *demoResponse) errorCode() string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &b)
	return b.Error.Code
}

// errorMessage returns the error.message of a Dataverse error body.
func (r *demoResponse) errorMessage() string {
	var b struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &b)
	return b.Error.Message
}

var demoEntityID = regexp.MustCompile(`\(([0-9a-fA-F-]{36})\)$`)

// entityID returns the GUID in the OData-EntityId header of a create.
func (r *demoResponse) entityID() (string, error) {
	loc := r.header.Get(codec.HeaderEntityID)
	m := demoEntityID.FindStringSubmatch(loc)
	if m == nil {
		return "", fmt.Errorf("no record id in OData-EntityId %q", loc)
	}
	return m[1], nil
}

// decodeJSON decodes a JSON body into v.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %.100s: %w", body, err)
	}
	return nil
}
