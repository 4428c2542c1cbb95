package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/eventual-pp/eventual"
)

// VersionCommand prints the version.
type VersionCommand struct {
	Stdout io.Writer
}

// Run runs the command.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eventual version", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, "eventual", eventual.Version)
	return nil
}
