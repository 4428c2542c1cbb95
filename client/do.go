package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
)

// Request is one Web API call. Its body is bytes, so an attempt can be sent
// again.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is relative to the Web API root ("accounts(00000000-…)",
	// "contacts?$select=fullname", "$batch"), or an absolute URL on the
	// same host, such as an @odata.nextLink or @odata.deltaLink.
	Path string
	// Header is added to the request. The client sets Authorization,
	// and Accept, OData-Version, OData-MaxVersion and (with a body)
	// Content-Type unless Header sets them.
	Header http.Header
	// Body is the request body; nil for none.
	Body []byte
	// Replay classifies the request for retries; see Replay.
	Replay Replay
}

// Response is a successful (2xx) answer, its body read in full.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// Attempts is how many times the request was sent.
	Attempts int
}

// call is the state of one Do across its attempts.
type call struct {
	req       *Request
	url       string
	policy    *jitter
	attempts  int
	refreshed bool // a 401 has already cost the token
	replayed  bool // an earlier attempt may have been applied
}

// Do sends req until it succeeds, fails for good, or runs out of attempts
// or context. A 2xx answer is a *Response; anything else is an *Error
// (304 included: KindNotModified), or the context's error wrapping the last
// attempt's.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	u, err := c.resolve(req.Path)
	if err != nil {
		return nil, err
	}
	cl := &call{req: req, url: u, policy: newJitter(c.opts.RetryBase, c.opts.RetryMax)}
	cl.policy.gate = c.breaker.remaining
	var last error
	resp, err := backoff.Retry(ctx, func() (*Response, error) {
		cl.attempts++
		r, err := c.attempt(ctx, cl)
		last = err
		return r, err
	},
		backoff.WithBackOff(cl.policy),
		backoff.WithMaxTries(uint(c.opts.MaxAttempts)),
		backoff.WithMaxElapsedTime(0), // the context bounds the call
		backoff.WithNotify(func(err error, wait time.Duration) {
			if c.opts.OnRetry != nil {
				status, code := 0, ""
				if e, ok := errors.AsType[*Error](err); ok {
					status, code = e.StatusCode, e.Code
				}
				c.opts.OnRetry(status, code)
			}
			c.log.Debug("client: retrying", "method", req.Method, "url", u, "attempt", cl.attempts, "wait", wait, "err", err)
		}),
	)
	if err != nil {
		if last != nil && !errors.Is(err, last) {
			err = fmt.Errorf("%w (last attempt: %w)", err, last)
		}
		return nil, err
	}
	return resp, nil
}

// attempt sends the request once, through the breaker and the governor.
// It returns a backoff.Permanent error when no retry should follow.
func (c *Client) attempt(ctx context.Context, cl *call) (*Response, error) {
	if c.breaker.open() {
		return nil, backoff.Permanent(c.openError(cl))
	}
	auth, err := c.auth.token(ctx)
	if err != nil {
		e := &Error{Method: cl.req.Method, URL: cl.url, Err: fmt.Errorf("getting a token: %w", err)}
		return nil, backoff.Permanent(e.finish())
	}
	start, err := c.gov.acquire(ctx)
	if err != nil {
		return nil, backoff.Permanent(err)
	}
	done, err := c.breaker.allow()
	if err != nil {
		c.gov.release(start, false, false, "")
		return nil, backoff.Permanent(c.openError(cl))
	}
	status, header, body, wrote, err := c.send(ctx, cl, auth)
	if err != nil {
		return nil, c.transportFailure(ctx, cl, start, done, wrote, err)
	}
	dop := header.Get("x-ms-dop-hint")
	if status >= 200 && status < 300 {
		done(nil, time.Time{})
		c.gov.release(start, false, true, dop)
		return &Response{StatusCode: status, Header: header, Body: body, Attempts: cl.attempts}, nil
	}
	return nil, c.errorResponse(cl, start, done, status, header, body, auth)
}

// openError is the refusal of an open breaker.
func (c *Client) openError(cl *call) *Error {
	e := &Error{Method: cl.req.Method, URL: cl.url, Retryable: true, Err: ErrOpen}
	return e.finish()
}

// send makes one HTTP exchange and reads the whole body, within the
// per-attempt timeout. wrote reports whether the request was written to a
// connection, so a failure may have been applied.
func (c *Client) send(ctx context.Context, cl *call, auth string) (status int, header http.Header, body []byte, wrote bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { written.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
	})
	var rd io.Reader
	if cl.req.Body != nil {
		rd = bytes.NewReader(cl.req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, cl.req.Method, cl.url, rd)
	if err != nil {
		return 0, nil, nil, false, err
	}
	c.setHeaders(hr, cl.req, auth)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, nil, nil, written.Load(), err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, true, err
	}
	return resp.StatusCode, resp.Header, body, true, nil
}

// setHeaders sets the request's headers: the Web API's defaults, then the
// caller's, then auth.
func (c *Client) setHeaders(hr *http.Request, req *Request, auth string) {
	h := hr.Header
	h.Set("Accept", "application/json")
	h.Set(codec.HeaderODataVersion, "4.0")
	h.Set("OData-MaxVersion", "4.0")
	if req.Body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, vs := range req.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if eventual.AdoptPlaceholders(hr.Context()) {
		h.Set(codec.HeaderAdoptPlaceholders, "true")
	}
	if auth != "" {
		h.Set("Authorization", auth)
	}
}

// transportFailure handles an attempt that got no response.
func (c *Client) transportFailure(ctx context.Context, cl *call, start time.Time, done func(error, time.Time), wrote bool, err error) error {
	c.gov.release(start, false, false, "")
	e := &Error{Method: cl.req.Method, URL: cl.url, MaybeApplied: wrote, Replayed: cl.replayed, Err: err}
	if ctx.Err() != nil { // the caller gave up: nothing learnt of the endpoint
		done(errExcluded, time.Time{})
		return backoff.Permanent(e.finish())
	}
	done(errFailed, time.Time{})
	e.Retryable = true
	if wrote && !cl.req.Replay.idempotent(cl.req.Method) {
		return backoff.Permanent(e.finish())
	}
	cl.replayed = cl.replayed || wrote
	return e.finish()
}

// errorResponse handles a non-2xx answer: it feeds the breaker and the
// governor, pauses the client on a 429 with Retry-After, and decides on a
// retry.
func (c *Client) errorResponse(cl *call, start time.Time, done func(error, time.Time), status int, header http.Header, body []byte, auth string) error {
	now := time.Now()
	code, msg := decodeErrorBody(body)
	ra, hasRA := parseRetryAfter(header.Get("Retry-After"), now)
	var retryAt time.Time
	if hasRA {
		retryAt = now.Add(ra)
	}
	e := &Error{Method: cl.req.Method, URL: cl.url, StatusCode: status, Code: code, Message: msg, RetryAfter: ra, Header: header, Body: body, Replayed: cl.replayed}
	failed := breakerFailure(status)
	if failed {
		done(errFailed, retryAt)
	} else {
		done(nil, time.Time{})
	}
	if status == http.StatusTooManyRequests && hasRA {
		c.gov.pause(retryAt) // before release wakes the waiters
	}
	c.gov.release(start, status == http.StatusTooManyRequests, !failed, header.Get("x-ms-dop-hint"))
	if status == http.StatusUnauthorized && c.auth.refreshable() && !cl.refreshed {
		cl.refreshed = true
		c.auth.invalidate(auth)
		cl.policy.set(0)
		e.Retryable = true
		return e.finish()
	}
	e.Retryable, e.MaybeApplied = c.classify(status, code)
	if !e.Retryable || e.MaybeApplied && !cl.req.Replay.idempotent(cl.req.Method) {
		return backoff.Permanent(e.finish())
	}
	if hasRA {
		cl.policy.set(time.Until(retryAt))
	}
	cl.replayed = cl.replayed || e.MaybeApplied
	return e.finish()
}
