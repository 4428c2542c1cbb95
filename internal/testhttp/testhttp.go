package testhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// SetODataHeaders sets on req the headers a Dataverse client sends with
// every request: Accept: application/json, OData-MaxVersion: 4.0 and
// OData-Version: 4.0, and Content-Type: contentType unless contentType is
// "".
func SetODataHeaders(req *http.Request, contentType string) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
}

// SetPairs sets the headers given as name, value pairs on h, each
// replacing what h had under that name; an odd name at the end is
// ignored.
func SetPairs(h http.Header, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
}

// JSONBody returns body encoded as JSON to send, or a nil reader (no
// body) when body is nil.
func JSONBody(body any) (io.Reader, error) {
	if body == nil {
		return nil, nil
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(data), nil
}

// Do sends req with c and reads the whole response body, which it
// closes. err is the error of sending (resp is then nil) or of reading
// (resp and what was read are returned with it).
func Do(c *http.Client, req *http.Request) (resp *http.Response, body []byte, err error) {
	resp, err = c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp, body, err
}

// NewRequest builds a request to url with body encoded by JSONBody, the
// headers of SetODataHeaders (Content-Type: contentType only when there
// is a body), then headers, name, value pairs, set by SetPairs.
func NewRequest(method, url string, body any, contentType string, headers ...string) (*http.Request, error) {
	rd, err := JSONBody(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body == nil {
		contentType = ""
	}
	SetODataHeaders(req, contentType)
	SetPairs(req.Header, headers...)
	return req, nil
}
