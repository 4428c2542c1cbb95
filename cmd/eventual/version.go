package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/eventual-pp/eventual"
)

// VersionCommand prints the version and the build it came from, so that
// a bug report names the build.
type VersionCommand struct {
	Stdout io.Writer
	// Build returns the build information; nil reads the binary's own
	// (runtime/debug.ReadBuildInfo).
	Build func() (*debug.BuildInfo, bool)
}

// buildFacts is what version prints.
type buildFacts struct {
	Version  string `json:"version"`            // the module version, or eventual.Version for a build from a work tree
	Revision string `json:"revision,omitempty"` // the VCS revision
	Modified bool   `json:"modified,omitempty"` // the work tree had changes
	Time     string `json:"time,omitempty"`     // the revision's commit time
	Go       string `json:"go"`                 // the Go toolchain
}

// Run runs the command.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eventual version", flag.ContinueOnError)
	fs.SetOutput(c.Stdout)
	asJSON := fs.Bool("json", false, "print the build facts as a JSON object")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: eventual version [-json]

Prints the version of eventual, the VCS revision and commit time it was built from and the Go
toolchain, so that a bug report names the build.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Examples:
  eventual version
  eventual version -json
`)
	}
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	f := c.facts()
	if *asJSON {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, string(b))
		return nil
	}
	line := "eventual " + f.Version
	if f.Revision != "" {
		line += " (" + f.Revision
		if f.Modified {
			line += ", modified"
		}
		if f.Time != "" {
			line += ", " + f.Time
		}
		line += ")"
	}
	fmt.Fprintln(c.Stdout, line+" "+f.Go)
	return nil
}

// facts reads the build's facts.
func (c *VersionCommand) facts() buildFacts {
	read := c.Build
	if read == nil {
		read = debug.ReadBuildInfo
	}
	f := buildFacts{Version: eventual.Version, Go: "unknown"}
	info, ok := read()
	if !ok {
		return f
	}
	f.Go = info.GoVersion
	if v := info.Main.Version; v != "" && v != "(devel)" {
		f.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			f.Revision = s.Value
		case "vcs.modified":
			f.Modified = s.Value == "true"
		case "vcs.time":
			f.Time = s.Value
		}
	}
	return f
}
