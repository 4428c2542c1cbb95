package httpserver

import (
	"net/http"
	"testing"
	"time"
)

// The http.Server gets the defaults, or the settings given.
func TestSettings(t *testing.T) {
	s := New(http.NotFoundHandler())
	if _, err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.listener.Close()
	if h := s.http; h.ReadHeaderTimeout != DefaultReadHeaderTimeout || h.ReadTimeout != DefaultReadTimeout ||
		h.IdleTimeout != DefaultIdleTimeout || h.MaxHeaderBytes != 0 || h.ErrorLog == nil {
		t.Errorf("default settings: %+v", h)
	}

	s = New(http.NotFoundHandler())
	s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout, s.MaxHeaderBytes = time.Second, 2*time.Second, 3*time.Second, 1234
	if _, err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.listener.Close()
	if h := s.http; h.ReadHeaderTimeout != time.Second || h.ReadTimeout != 2*time.Second ||
		h.IdleTimeout != 3*time.Second || h.MaxHeaderBytes != 1234 {
		t.Errorf("settings: %+v", h)
	}
}
