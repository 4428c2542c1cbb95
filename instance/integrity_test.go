package instance_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
)

// This file tests integrity rules below the Web API, where every caller
// (the Web API, steps, embedding programs) meets them.

func TestUTF16Len(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"é", 1},          // two UTF-8 bytes, one unit
		{"€", 1},          // three UTF-8 bytes, one unit
		{"\U0001F600", 2}, // four UTF-8 bytes, a surrogate pair
		{"a\U0001F600b", 4},
		{"\xff", 1}, // an invalid byte counts as U+FFFD
	} {
		if got := eventual.UTF16Len(c.s); got != c.want {
			t.Errorf("UTF16Len(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

func TestTruncateUTF16(t *testing.T) {
	e := "\U0001F600"
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abc", 2, "ab"},
		{"abc", 0, ""},
		{e + e, 4, e + e},
		{e + e, 3, e}, // the second emoji would be cut in half
		{"a" + e, 2, "a"},
		{"a" + e, 1, "a"},
		{"é" + e + "x", 3, "é" + e},
	} {
		got := eventual.TruncateUTF16(c.s, c.n)
		if got != c.want || !utf8.ValidString(got) || eventual.UTF16Len(got) > c.n {
			t.Errorf("TruncateUTF16(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestValidText(t *testing.T) {
	for _, c := range []struct {
		s    string
		want error
	}{
		{"", nil},
		{"plain", nil},
		{"\U0001F600 ok", nil},
		{"a\x00b", eventual.ErrNUL},
		{"\x00", eventual.ErrNUL},
		{"caf\xe9", eventual.ErrInvalidUTF8},
	} {
		if got := eventual.ValidText(c.s); !errors.Is(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("ValidText(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestStateModel(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		for _, c := range []struct {
			t      *eventual.Table
			status int64
			state  int64
		}{
			{e.account, 1, 0}, {e.account, 2, 1},
			{e.jobs, 0, 0}, {e.jobs, 10, 1}, {e.jobs, 22, 2}, {e.jobs, 32, 3},
		} {
			if got, ok := c.t.StatusState(c.status); !ok || got != c.state {
				t.Errorf("%s: StatusState(%d) = %d, %v; want %d", c.t.LogicalName, c.status, got, ok, c.state)
			}
		}
		// Through the instance API too, not only the Web API.
		_, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "x", "statecode": int64(1), "statuscode": int64(1)}})
		if eventual.ErrorCode(err) != eventual.CodeInvalidStateCodeStatusCode || eventual.ErrorKind(err) != eventual.KindInvalid {
			t.Errorf("create with statecode 1 and statuscode 1: %v, want InvalidStateCodeStatusCode", err)
		}
		id := e.mustCreate(t, e.account, eventual.Values{"name": "y", "statecode": int64(1)})
		if rec := e.get(t, e.account, id); rec.Values["statuscode"] != int64(2) {
			t.Errorf("statecode 1 alone gave statuscode %v, want 2 (Inactive)", rec.Values["statuscode"])
		}
	})
}

// jobAt queues a job of a step for a new account and returns it.
func (e *env) jobAt(tb testing.TB, step string) *eventual.Record {
	tb.Helper()
	e.mustCreate(tb, e.account, eventual.Values{"name": step})
	jobs := e.jobsOf(tb, step)
	return jobs[len(jobs)-1]
}

// A step's error is the job's message: text the column can hold, however
// the step words it.
func TestJobsMessageText(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, c := range []struct {
			name, err string
			check     func(msg string) bool
		}{
			{"NUL", "bad\x00thing", func(msg string) bool { return msg == "bad\uFFFDthing" }},
			{"InvalidUTF8", "caf\xe9", func(msg string) bool { return utf8.ValidString(msg) && strings.HasPrefix(msg, "caf") }},
			{"Emoji", strings.Repeat("\U0001F600", 10000), func(msg string) bool {
				return eventual.UTF16Len(msg) <= 10000 && utf8.ValidString(msg) && strings.HasSuffix(msg, "…")
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := open(t)
				ctx := testContext(t)
				e.register(t, asyncStep("fails", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
					return &eventual.PluginError{Message: c.err}
				}))
				job := e.jobAt(t, "fails")
				if n := e.in.RunJobs(ctx); n != 1 {
					t.Fatalf("RunJobs ran %d jobs, want 1", n)
				}
				got := e.get(t, e.jobs, job.ID)
				msg, _ := got.Values["message"].(string)
				if got.Values["statuscode"] != instance.JobWaiting || got.Values["retrycount"] != int64(1) || !c.check(msg) {
					t.Errorf("job status %v retrycount %v message of %d units %.40q; want a recorded failed attempt", got.Values["statuscode"], got.Values["retrycount"], eventual.UTF16Len(msg), msg)
				}
			})
		}
	})
}
