package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneRuntime(t *testing.T) {
	before := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(before)
	tests := []struct {
		name string
		env  map[string]string
		set  int // GC percent in force before tuneRuntime
		want int
	}{
		{"GOGC unset raises the target", nil, 100, defaultGCPercent},
		{"GOGC set keeps the runtime's reading of it", map[string]string{"GOGC": "150"}, 150, 150},
		{"GOGC=off stays off", map[string]string{"GOGC": "off"}, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(tt.set)
			got := tuneRuntime(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Fatalf("tuneRuntime: GC percent %d, want %d", got, tt.want)
			}
			if now := debug.SetGCPercent(tt.want); now != tt.want {
				t.Fatalf("GC percent in force %d, want %d", now, tt.want)
			}
		})
	}
}
