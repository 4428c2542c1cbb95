package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// shutdownLog records the steps of a shutdown in order.
type shutdownLog struct {
	steps       []string
	drainErr    error
	closeErr    error
	deadline    time.Duration
	hasDeadline bool
}

type fakeLoops struct{ l *shutdownLog }

func (f fakeLoops) Stop() { f.l.steps = append(f.l.steps, "stop loops") }

type fakeServer struct{ l *shutdownLog }

func (f fakeServer) Shutdown(ctx context.Context) error {
	f.l.steps = append(f.l.steps, "drain HTTP")
	d, ok := ctx.Deadline()
	f.l.hasDeadline, f.l.deadline = ok, time.Until(d)
	return f.l.drainErr
}

type fakeStore struct{ l *shutdownLog }

func (f fakeStore) Close() error {
	f.l.steps = append(f.l.steps, "close store")
	return f.l.closeErr
}

// serve stops the background loops (and waits for them) before it drains
// the HTTP server, and closes the store last, whatever fails.
func TestShutdownOrder(t *testing.T) {
	want := []string{"stop loops", "drain HTTP", "close store"}
	for _, tc := range []struct {
		name            string
		drainErr, close error
		wantErr         string
	}{
		{name: "OK"},
		{name: "DrainFails", drainErr: context.DeadlineExceeded, close: errors.New("close failed"), wantErr: "shutdown: context deadline exceeded"},
		{name: "CloseFails", close: errors.New("close failed"), wantErr: "close database: close failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &shutdownLog{drainErr: tc.drainErr, closeErr: tc.close}
			err := shutdown(fakeLoops{l}, fakeServer{l}, fakeStore{l}, time.Minute)
			if !slices.Equal(l.steps, want) {
				t.Errorf("shutdown steps %q, want %q", l.steps, want)
			}
			if !l.hasDeadline || l.deadline > time.Minute {
				t.Errorf("drain deadline set %v, in %v; want within the timeout", l.hasDeadline, l.deadline)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("shutdown: %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("shutdown: %v, want %q", err, tc.wantErr)
			}
		})
	}
}
