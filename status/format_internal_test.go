package status

import (
	"testing"
	"time"
)

// The page's script formats durations and times as these do (status.js:
// duration, clock); keep the two in step.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0ms"},
		{0, "0ms"},
		{999 * time.Millisecond, "999ms"},
		{time.Second, "1.0s"},
		{9999 * time.Millisecond, "9.9s"},
		{10 * time.Second, "10s"},
		{59*time.Second + 999*time.Millisecond, "59s"},
		{time.Minute + 7*time.Second, "1m07s"},
		{59*time.Minute + 59*time.Second, "59m59s"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "2h05m"},
		{49 * time.Hour, "49h00m"},
	} {
		if got := duration(tc.d); got != tc.want {
			t.Errorf("duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	paris := time.FixedZone("Paris", 3600)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{time.Date(2026, 3, 1, 13, 4, 5, 600, paris), "2026-03-01 12:04:05 UTC"},
	} {
		if got := clock(tc.t); got != tc.want {
			t.Errorf("clock(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
