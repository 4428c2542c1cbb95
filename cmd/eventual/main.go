package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "eventual:", err)
		os.Exit(1)
	}
}

// Main runs the program; tests build it with their own streams.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
}

// NewMain returns a Main writing to the process's streams.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage()
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return (&ServeCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "sync":
		return (&SyncCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "demo":
		return (&DemoCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "version":
		return (&VersionCommand{Stdout: m.Stdout}).Run(ctx, args[1:])
	case "placeholders":
		return (&PlaceholdersCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "help", "-h", "--help":
		m.usage()
		return nil
	}
	m.usage()
	return fmt.Errorf("unknown command %q", args[0])
}

func (m *Main) usage() {
	fmt.Fprint(m.Stderr, `eventual: Dataverse-compatible instances and the eventual-consistency pattern.

Usage:

	eventual <command> [flags]

Commands:

	serve          run an instance that speaks the Dataverse Web API
	sync           replicate tables from one instance to another, hydrating placeholders
	placeholders   list or count the placeholders waiting for their real data
	demo           play the pattern's journeys on child instances and check the invariants
	version        print the version

Run "eventual <command> -h" for a command's flags.
`)
}
