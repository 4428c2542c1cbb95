package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneRuntime(os.Getenv)
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp): // -h, --help: the help was asked for
			os.Exit(0)
		case errors.Is(err, errUsage):
			fmt.Fprintln(os.Stderr, "eventual:", err)
			os.Exit(2)
		case errors.As(err, new(*configError)):
			fmt.Fprintln(os.Stderr, "eventual:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "eventual:", err)
		os.Exit(1)
	}
}

// usageError is a command line eventual cannot run: no command, or an
// unknown one. The process exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// errUsage matches every usageError (errors.Is).
var errUsage = &usageError{}

func (e *usageError) Is(target error) bool { return target == errUsage }

// configError is a configuration eventual cannot use: a file that cannot
// be read or parsed, or values that do not validate. The process exits 3.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// commands are the subcommands, for the hint on a misspelt one.
var commands = []string{"serve", "sync", "placeholders", "demo", "config", "version", "help"}

// unknownCommand is the error for a command that is not one, with a
// did-you-mean hint for a near miss.
func unknownCommand(name string) error {
	best, bestD := "", 3
	for _, c := range commands {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return &usageError{fmt.Sprintf("unknown command %q; did you mean %q? (eventual --help lists the commands)", name, best)}
	}
	return &usageError{fmt.Sprintf("unknown command %q (eventual --help lists the commands)", name)}
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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
		return &usageError{"no command given"}
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
	case "config":
		return (&ConfigCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] != "help" && slices.Contains(commands, args[1]) {
			return m.Run(ctx, []string{args[1], "-h"})
		}
		if len(args) > 1 && !slices.Contains(commands, args[1]) {
			return unknownCommand(args[1])
		}
		m.usageTo(m.Stdout)
		return nil
	}
	return unknownCommand(args[0])
}

func (m *Main) usage() { m.usageTo(m.Stderr) }

// usageTo prints the program's usage to w.
func (m *Main) usageTo(w io.Writer) {
	fmt.Fprint(w, `eventual: Dataverse-compatible instances and the eventual-consistency pattern.

Usage:

	eventual <command> [flags]

Commands:

	serve          run an instance that speaks the Dataverse Web API
	sync           replicate tables from one instance to another, hydrating placeholders
	placeholders   list or count the placeholders waiting for their real data
	demo           play the pattern's journeys on child instances and check the invariants
	config check   validate a serve or sync configuration and print it as it would be used
	version        print the version

Run "eventual <command> -h" (or "eventual help <command>") for a command's flags and examples.
Exit codes: 0 done, 1 the command failed, 2 the command line is wrong, 3 the configuration is
wrong (a file that cannot be read or parsed, or a value that does not validate).
`)
}

// parseFlags parses a command's flags. A flag that is not one, or a
// value that does not parse, is a usageError with a one-line hint (exit
// 2) rather than the whole usage; -h and --help print the usage to help
// and return flag.ErrHelp (exit 0). A command's fs.Usage writes to
// fs.Output().
func parseFlags(fs *flag.FlagSet, args []string, help io.Writer) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		// Help asked for is the command's output: stdout, so that
		// "eventual serve -h | less" works.
		fs.SetOutput(help)
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return err
	case err != nil:
		return &usageError{fmt.Sprintf("%v (%s -h lists the flags)", err, fs.Name())}
	}
	return nil
}
