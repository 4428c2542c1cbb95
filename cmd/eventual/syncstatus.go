package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/eventual-pp/eventual/replication/state"
	"github.com/google/uuid"
)

// status prints each table's replication: phase, last cycle that reached
// the end of the feed, lag, records applied, placeholders pending on the
// target, breakers, dead letters and the last error.
func (c *SyncCommand) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eventual sync status", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	statePath := fs.String("state", DefaultSyncState, "the sync's state (SQLite file or postgres://…)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: eventual sync status [--state FILE]\n\nPrints each table's replication: phase, last cycle, lag, backlog, records applied, placeholders\npending on the target, breakers, dead letters and the last error.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nExamples:\n  eventual sync status\n  eventual sync status --state /var/lib/eventual/sync.db\n")
	}
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	st, err := openExistingState(ctx, *statePath)
	if err != nil {
		return err
	}
	defer st.Close()
	statuses, err := st.Statuses(ctx)
	if err != nil {
		return err
	}
	dead, err := st.DeadLetters(ctx, "")
	if err != nil {
		return err
	}
	deadBy := map[string]int{}
	for _, d := range dead {
		deadBy[d.Pair]++
	}
	names := make([]string, 0, len(statuses))
	for n := range statuses {
		names = append(names, n)
	}
	sort.Strings(names)
	w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tPHASE\tLAST CYCLE\tLAG\tBACKLOG\tAPPLIED\tPLACEHOLDERS\tDEAD LETTERS\tBREAKERS\tLAST ERROR")
	for _, n := range names {
		s := statuses[n]
		cur, err := st.Cursor(ctx, n)
		if err != nil {
			return err
		}
		last := "never"
		if !s.LastCycle.IsZero() {
			last = s.LastCycle.UTC().Format(time.RFC3339)
		}
		backlog := "-"
		if s.Backlog >= 0 {
			backlog = strconv.FormatInt(s.Backlog, 10)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", n, cur.Phase, last, statusLag(s, time.Now()), backlog,
			s.Applied, s.Placeholder, deadBy[n], dash(s.Breaker), dash(s.LastError))
	}
	return w.Flush()
}

// statusLag is the age of the oldest change not applied: known when a
// cycle read one it could not apply; else bounded ("≤") by the time since
// the last cycle that reached the end of the feed began, as anything
// older was applied then.
func statusLag(s replication.Status, now time.Time) string {
	switch {
	case !s.Oldest.IsZero():
		return now.Sub(s.Oldest).Round(time.Millisecond).String()
	case !s.LastCycle.IsZero():
		return "≤" + (now.Sub(s.LastCycle) + s.Lag).Round(time.Millisecond).String()
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const deadLettersUsage = `Usage: eventual sync deadletters list [--state FILE] [--table T]
       eventual sync deadletters drop --table T (--id ID | --all) [--state FILE]
       eventual sync deadletters retry --table T [--id ID] [sync flags: --source, --target, --config, …]

The records the target refused, kept with the refusal: list them, drop them, or send them again.

Examples:
  eventual sync deadletters list --state sync.db
  eventual sync deadletters drop --table account --id 5f3c…  --state sync.db
  eventual sync deadletters retry --table account --config sync.yaml
`

// deadLetters lists, drops or retries the records the target refused.
func (c *SyncCommand) deadLetters(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "drop" && args[0] != "retry") {
		help := len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
		w := c.Stderr
		if help {
			w = c.Stdout
		}
		fmt.Fprint(w, deadLettersUsage)
		switch {
		case help:
			return flag.ErrHelp
		case len(args) == 0:
			return &usageError{"sync deadletters: list, drop or retry?"}
		}
		return &usageError{fmt.Sprintf("sync deadletters: unknown subcommand %q (list, drop or retry)", args[0])}
	}
	if args[0] == "retry" {
		return c.retryDeadLetters(ctx, args[1:])
	}
	fs := flag.NewFlagSet("eventual sync deadletters "+args[0], flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	statePath := fs.String("state", DefaultSyncState, "the sync's state (SQLite file or postgres://…)")
	table := fs.String("table", "", "the table (logical name)")
	id := fs.String("id", "", "the record's id (drop)")
	all := fs.Bool("all", false, "every dead letter of the table (drop)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), deadLettersUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:], c.Stdout); err != nil {
		return err
	}
	if args[0] == "drop" && (*table == "" || (*id == "") == !*all) {
		return &usageError{"sync deadletters drop: give --table and either --id or --all (eventual sync deadletters -h)"}
	}
	st, err := openExistingState(ctx, *statePath)
	if err != nil {
		return err
	}
	defer st.Close()
	dead, err := st.DeadLetters(ctx, *table)
	if err != nil {
		return err
	}
	if args[0] == "list" {
		w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TABLE\tID\tVERSION\tSTATUS\tCODE\tATTEMPTS\tLAST\tMESSAGE")
		for _, d := range dead {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\n", d.Pair, d.ID, d.Version, d.Status, dash(d.Code), d.Attempts, d.Last.UTC().Format(time.RFC3339), strings.ReplaceAll(d.Message, "\n", " "))
		}
		return w.Flush()
	}
	n := 0
	for _, d := range dead {
		if *all || d.ID.String() == strings.ToLower(*id) {
			if err := st.DropDeadLetter(ctx, d.Pair, d.ID); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Fprintf(c.Stdout, "dropped %d dead letters\n", n)
	return nil
}

// retryDeadLetters writes a table's dead letters again from the source.
func (c *SyncCommand) retryDeadLetters(ctx context.Context, args []string) error {
	var table, id string
	var rest []string
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" || a == "-help" }) {
		fmt.Fprint(c.Stdout, deadLettersUsage+"\nThe sync's flags (eventual sync -h) say where the source, the target and the state are.\n")
		return flag.ErrHelp
	}
	for i := 0; i < len(args); i++ { // --table and --id are ours; the rest are the sync's flags
		switch a := args[i]; {
		case (a == "--table" || a == "-table" || a == "--id" || a == "-id") && i+1 < len(args):
			if strings.HasSuffix(a, "table") {
				table = args[i+1]
			} else {
				id = args[i+1]
			}
			i++
		default:
			rest = append(rest, a)
		}
	}
	if table == "" {
		return &usageError{"sync deadletters retry: give --table (eventual sync deadletters -h)"}
	}
	var ids []uuid.UUID
	if id != "" {
		u, err := uuid.Parse(id)
		if err != nil {
			return &usageError{fmt.Sprintf("sync deadletters retry: --id %q is not a GUID: %v", id, err)}
		}
		ids = append(ids, u)
	}
	if !strings.Contains(strings.Join(rest, " "), "-tables") {
		rest = append(rest, "--tables", table)
	}
	cfg, _, err := c.config("eventual sync deadletters retry", rest)
	if err != nil {
		return err
	}
	logger := c.logger(cfg)
	s, st, err := c.syncer(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := s.RetryDeadLetters(ctx, table, ids)
	s.ReleaseLeases()
	if err != nil {
		return err
	}
	left, _ := st.DeadLetters(ctx, table)
	fmt.Fprintf(c.Stdout, "written %d; %d dead letters left\n", n, len(left))
	return nil
}

// openExistingState opens the state of a sync that has run: the commands
// that read or edit it do not create an empty one (a mistyped --state, or
// none given in another directory, would otherwise report nothing and
// leave a new file behind).
func openExistingState(ctx context.Context, path string) (replication.State, error) {
	if !state.IsPostgres(path) {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no sync state at %s (give --state, as the sync was given it): %w", path, err)
		}
	}
	return state.Open(ctx, path)
}
