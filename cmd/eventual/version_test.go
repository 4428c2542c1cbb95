package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionNamesTheBuild(t *testing.T) {
	build := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/eventual-pp/eventual", Version: "v0.4.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-03T08:00:00Z"}}}, true
	}
	var out bytes.Buffer
	if err := (&VersionCommand{Stdout: &out, Build: build}).Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out.String()), "eventual v0.4.0 (abc123, modified, 2026-12-03T08:00:00Z) go1.26.8"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	out.Reset()
	if err := (&VersionCommand{Stdout: &out, Build: build}).Run(context.Background(), []string{"-json"}); err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		t.Fatalf("version -json: %v: %s", err, out.Bytes())
	}
	if f["version"] != "v0.4.0" || f["revision"] != "abc123" || f["modified"] != true || f["go"] != "go1.26.8" {
		t.Errorf("version -json = %v", f)
	}
	// A build from a work tree has no module version: the package's own.
	out.Reset()
	devel := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true
	}
	if err := (&VersionCommand{Stdout: &out, Build: devel}).Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "eventual dev go1.26.8" {
		t.Errorf("version of a work-tree build = %q", got)
	}
}
