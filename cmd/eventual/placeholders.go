package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/sqlite"
)

// PlaceholdersCommand shows the placeholders that wait for their real
// data: "eventual placeholders list" or "count". It only reads: the
// database must exist, and it may be read while "eventual serve" runs.
type PlaceholdersCommand struct {
	Stdout io.Writer
	Stderr io.Writer
	// Now is the clock for ages (time.Now).
	Now func() time.Time
}

const placeholdersUsage = `Usage: eventual placeholders list|count [--db file-or-dsn] [--config file] [--table name]

Shows the placeholders that wait for their real data: list prints each with its table, key, age and
correlation id; count prints how many per table. It only reads, and may run while serve does.

Examples:
  eventual placeholders count
  eventual placeholders list --db /tmp/b.db --table account
  eventual placeholders list --db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
`

// Run runs the command.
func (c *PlaceholdersCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "count") {
		w := c.Stdout
		if len(args) == 0 || (args[0] != "-h" && args[0] != "--help" && args[0] != "help") {
			w = c.Stderr
		}
		fmt.Fprint(w, placeholdersUsage)
		if w == c.Stdout {
			return flag.ErrHelp
		}
		if len(args) == 0 {
			return &usageError{"placeholders: list or count?"}
		}
		return &usageError{fmt.Sprintf("placeholders: unknown subcommand %q (list or count)", args[0])}
	}
	verb := args[0]
	fs := flag.NewFlagSet("eventual placeholders "+verb, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	db := fs.String("db", DefaultDB, "SQLite database file or PostgreSQL DSN")
	configPath := fs.String("config", "", "YAML configuration file (for the schema)")
	table := fs.String("table", "", "only this table (logical name)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), placeholdersUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:], c.Stdout); err != nil {
		return err
	}
	cfg := DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = ReadConfigFile(*configPath); err != nil {
			return &configError{err}
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "db" {
			cfg.DB = *db
		}
	})
	if strings.TrimSpace(cfg.DB) == "" {
		return &configError{fmt.Errorf("config: db is empty: give a SQLite file (%s) or a PostgreSQL DSN (postgres://…)", DefaultDB)}
	}
	schema, err := cfg.Schema.Schema()
	if err != nil {
		return err
	}
	var tables []*eventual.Table
	for _, t := range schema.Tables() {
		if *table == "" || t.LogicalName == *table {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return fmt.Errorf("placeholders: no table %q in the schema", *table)
	}
	store, err := openStoreReadOnly(ctx, cfg, schema)
	if err != nil {
		return fmt.Errorf("placeholders: %w", err)
	}
	defer store.Close()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	w := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
	defer w.Flush()
	if verb == "list" {
		fmt.Fprintln(w, "TABLE\tID\tNAME\tCREATED\tAGE\tCORRELATION")
	} else {
		fmt.Fprintln(w, "TABLE\tPLACEHOLDERS\tOLDEST")
	}
	total := 0
	for _, t := range tables {
		recs, err := readPlaceholders(ctx, store, t)
		if err != nil {
			return err
		}
		total += len(recs)
		if verb == "count" {
			if len(recs) > 0 || *table != "" {
				countPlaceholders(w, t, recs, now)
			}
			continue
		}
		listPlaceholders(w, t, recs, now)
	}
	if verb == "count" {
		fmt.Fprintf(w, "total\t%d\t\n", total)
	}
	return nil
}

// readPlaceholders reads a table's placeholders, oldest first.
func readPlaceholders(ctx context.Context, store eventual.Store, t *eventual.Table) ([]*eventual.Record, error) {
	var recs []*eventual.Record
	err := store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		recs, err = tx.Query(ctx, &eventual.Query{Table: t,
			Filter: eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: t.Column(eventual.ColumnHydrationState)},
				Right: eventual.Literal{Value: eventual.HydrationPlaceholder}},
			OrderBy: []eventual.Order{{Column: t.Column(eventual.ColumnPlaceholderOn)}}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("placeholders: read %s: %w", t.LogicalName, err)
	}
	return recs, nil
}

// countPlaceholders writes a table's row of "count": how many, and the
// age of the oldest.
func countPlaceholders(w io.Writer, t *eventual.Table, recs []*eventual.Record, now time.Time) {
	oldest := "-"
	if len(recs) > 0 {
		if on, ok := recs[0].Values[eventual.ColumnPlaceholderOn].(time.Time); ok {
			oldest = age(now.Sub(on))
		}
	}
	fmt.Fprintf(w, "%s\t%d\t%s\n", t.LogicalName, len(recs), oldest)
}

// listPlaceholders writes a row of "list" per placeholder.
func listPlaceholders(w io.Writer, t *eventual.Table, recs []*eventual.Record, now time.Time) {
	for _, r := range recs {
		name, _ := r.Values[t.PrimaryNameAttribute].(string)
		created, ago := "-", "-"
		if on, ok := r.Values[eventual.ColumnPlaceholderOn].(time.Time); ok {
			created, ago = on.UTC().Format(time.RFC3339), age(now.Sub(on))
		}
		corr := "-"
		if v := r.Values[eventual.ColumnPlaceholderCorrelation]; v != nil {
			corr = fmt.Sprint(v)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.LogicalName, r.ID, name, created, ago, corr)
	}
}

// openStoreReadOnly opens the existing store --db names for reading: it
// fails if the database is not there, never creates or migrates one, and
// runs beside the "eventual serve" that writes to it.
func openStoreReadOnly(ctx context.Context, cfg Config, schema *eventual.Schema) (eventual.Store, error) {
	if postgres.IsDSN(cfg.DB) {
		return postgres.Open(ctx, cfg.DB, schema, postgres.Options{ReadOnly: true})
	}
	return sqlite.Open(ctx, cfg.DB, schema, sqlite.Options{ReadOnly: true})
}

// age formats a duration for people: 45s, 12m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
