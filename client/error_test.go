package client

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
)

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		status int
		kind   eventual.Kind
		is     func(error) bool
	}{
		{http.StatusNotModified, eventual.KindNotModified, nil},
		{http.StatusBadRequest, eventual.KindInvalid, nil},
		{http.StatusNotFound, eventual.KindNotFound, IsNotFound},
		{http.StatusMethodNotAllowed, eventual.KindNotSupported, nil},
		{http.StatusPreconditionFailed, eventual.KindPrecondition, IsPreconditionFailed},
		{http.StatusTooManyRequests, eventual.KindThrottled, IsThrottled},
		{http.StatusNotImplemented, eventual.KindNotImplemented, nil},
		{http.StatusServiceUnavailable, eventual.KindUnavailable, nil},
		{http.StatusInternalServerError, eventual.KindInternal, nil},
		{http.StatusUnauthorized, eventual.KindInternal, nil},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := (&Error{Method: "GET", URL: "u", StatusCode: tt.status, Code: "0x80040217", Message: "m", RetryAfter: 3 * time.Second}).finish()
			var err error = e
			if got := eventual.ErrorKind(err); got != tt.kind {
				t.Fatalf("kind %v, want %v", got, tt.kind)
			}
			de, ok := errors.AsType[*eventual.Error](err)
			if !ok || de.Code != "0x80040217" || de.Message != "m" || de.RetryAfter != 3*time.Second {
				t.Fatalf("domain error %+v", de)
			}
			if tt.is != nil && !tt.is(err) {
				t.Fatalf("helper says no")
			}
			if IsBreakerOpen(err) {
				t.Fatal("IsBreakerOpen on a response error")
			}
		})
	}
}

func TestErrorOpenUnwraps(t *testing.T) {
	err := error((&Error{Method: "GET", URL: "u", Retryable: true, Err: ErrOpen}).finish())
	if !errors.Is(err, ErrOpen) || !IsBreakerOpen(err) {
		t.Fatal("not ErrOpen")
	}
	if eventual.ErrorKind(err) != eventual.KindUnavailable {
		t.Fatalf("kind %v", eventual.ErrorKind(err))
	}
}

func TestDecodeErrorBody(t *testing.T) {
	tests := []struct{ body, code, msg string }{
		{`{"error":{"code":"0x80072322","message":"Number of requests exceeded"}}`, "0x80072322", "Number of requests exceeded"},
		{`{"error":{"code":"0x0"}}`, "0x0", ""},
		{`<html>bad gateway</html>`, "", ""},
		{``, "", ""},
	}
	for _, tt := range tests {
		code, msg := decodeErrorBody([]byte(tt.body))
		if code != tt.code || msg != tt.msg {
			t.Errorf("%q: %q %q", tt.body, code, msg)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.v, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: %v %v, want %v %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
