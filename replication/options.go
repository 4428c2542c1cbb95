package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Table is one table to replicate: a table of the source's schema to the
// table of the same logical name in the target's.
type Table struct {
	// Name is the table's logical name ("account").
	Name string
	// Columns limits the columns copied; nil copies every column both
	// tables have that clients may write (not system or computed ones).
	Columns []string
	// Key names the target's alternate key the table is matched by: the
	// key's logical name ("accountnumber_key") or its columns, comma
	// separated ("accountnumber"). Empty matches by primary key, the
	// source's GUID (with Options.Adopt, a placeholder made by key is
	// adopted). Matched by key, the target keeps GUIDs of its own: records
	// are upserted by key, lookups to the table are bound by key and
	// deletions find the record by the key values last written. This is
	// the way to a target that cannot adopt, such as Dataverse.
	Key string
}

// Options configure a Syncer.
type Options struct {
	// Source and Target are the two ends: usually client.Records of two
	// Web API endpoints, each with its circuit breaker.
	Source, Target eventual.RecordService
	// SourceSchema and TargetSchema describe them (for eventual servers
	// of one configuration, the same schema).
	SourceSchema, TargetSchema *eventual.Schema
	// Tables are the tables to replicate. Within a cycle they run parents
	// first (by their lookups); the order given breaks ties.
	Tables []Table
	// State keeps the progress.
	State State

	// Batch is the page size of the change feed and the size of each
	// bulk write; default 500.
	Batch int
	// Writers is how many pages of a table's feed are written to the
	// target at once (committed in order all the same); default 2, 1
	// writes page after page.
	Writers int
	// Interval is the pause between cycles when nothing wakes the
	// syncer; default 250ms.
	Interval time.Duration

	// Adopt asks the target to adopt a placeholder that holds a source
	// record's alternate key under a GUID of its own (eventual's
	// x-eventual-adopt-placeholders; real Dataverse has no such request).
	Adopt bool
	// PlaceholderColumn and PlaceholderValue select the target's pending
	// placeholders for pull-through hydration: by default
	// eventual_hydrationstate eq 1, when the target table has that column.
	// An empty column on a table without it turns pull-through off.
	PlaceholderColumn string
	PlaceholderValue  any

	// Owner names this process in leases; default host-pid-random.
	Owner string
	// LeaseTTL is how long a lease lasts without renewal, so how long
	// the tables of a killed sync wait before another takes them; default
	// 5s.
	// Zero Owner and a negative LeaseTTL turn leases off.
	LeaseTTL time.Duration

	// Breakers, when set, describes the endpoints' circuit breakers for
	// the status ("source closed, target open").
	Breakers func() string

	// Progress, when set, receives a full read's progress on every page
	// (a terminal draws a bar); the periodic "loading" log lines are then
	// left out. Without it they are logged every 5s.
	Progress func(Progress)

	// OnCycle, when set, receives each table's report at the end of its
	// cycle (not while another process holds the table's lease), for
	// metrics. It must return quickly.
	OnCycle func(TableReport)

	// Logger receives the syncer's state changes; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// pair is one table's replication plan: the tables on both ends and the
// columns copied.
type pair struct {
	name     string // the state's key: the logical name
	src, dst *eventual.Table
	cols     []*eventual.Column // source columns read
	copy     []string           // logical names written
	selfRefs []string           // lookups of the table to itself
	phCol    *eventual.Column   // the target's placeholder marker, or nil
	phValue  any
	// key is the target's alternate key the table is matched by; nil
	// matches by primary key.
	key *eventual.Key
}

// withDefaults checks the options and fills the defaults in.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Source == nil || o.Target == nil:
		return o, errors.New("replication: a source and a target are required")
	case o.SourceSchema == nil || o.TargetSchema == nil:
		return o, errors.New("replication: the source and target schemas are required")
	case o.State == nil:
		return o, errors.New("replication: a state is required")
	case len(o.Tables) == 0:
		return o, errors.New("replication: no tables to replicate")
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.PlaceholderColumn == "" && o.PlaceholderValue == nil {
		o.PlaceholderColumn, o.PlaceholderValue = eventual.ColumnHydrationState, eventual.HydrationPlaceholder
	}
	if o.Owner == "" && o.LeaseTTL >= 0 {
		host, _ := os.Hostname()
		o.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + uuid.NewString()[:8]
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// plan resolves a table on both ends and the columns copied.
func (o Options) plan(t Table) (*pair, error) {
	src, dst := o.SourceSchema.Table(t.Name), o.TargetSchema.Table(t.Name)
	if src == nil || dst == nil {
		return nil, fmt.Errorf("replication: table %s is not in both schemas", t.Name)
	}
	if !src.ChangeTracking {
		return nil, fmt.Errorf("replication: the source does not track changes of %s", t.Name)
	}
	p := &pair{name: t.Name, src: src, dst: dst, cols: []*eventual.Column{src.PrimaryKey()}}
	names := t.Columns
	if names == nil {
		for _, c := range src.Columns {
			names = append(names, c.LogicalName)
		}
	}
	for _, name := range names {
		sc, dc := src.Column(name), dst.Column(name)
		if sc == nil || dc == nil {
			if t.Columns != nil {
				return nil, fmt.Errorf("replication: column %s.%s is not in both schemas", t.Name, name)
			}
			continue
		}
		// The user stamps name the users of one instance: the target stamps
		// its own (the sync's user), as a Dataverse import does.
		if sc.System || sc.Computed || sc.Stamp || dc.System || dc.Computed || dc.Stamp || sc.Type != dc.Type {
			continue
		}
		p.cols = append(p.cols, sc)
		p.copy = append(p.copy, name)
		if sc.Type.IsLookup() && slices.Contains(sc.Targets, t.Name) {
			p.selfRefs = append(p.selfRefs, name)
		}
	}
	if c := dst.Column(o.PlaceholderColumn); c != nil {
		p.phCol, p.phValue = c, o.PlaceholderValue
	}
	if c := src.Column("modifiedon"); c != nil && !slices.Contains(p.cols, c) {
		p.cols = append(p.cols, c) // read, not copied: the lag of a change not applied
	}
	if t.Key != "" {
		k, err := matchKey(p, t.Key)
		if err != nil {
			return nil, err
		}
		p.key = k
	}
	return p, nil
}

// matchKey resolves the target key a table is matched by: by name or by
// its columns, every one of them copied and none a lookup.
func matchKey(p *pair, name string) (*eventual.Key, error) {
	k := p.dst.Key(name)
	if k == nil {
		cols := strings.Split(name, ",")
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		k = p.dst.KeyFor(cols)
	}
	if k == nil {
		var names []string
		for _, k := range p.dst.Keys {
			names = append(names, k.LogicalName)
		}
		return nil, fmt.Errorf("replication: table %s: the target has no alternate key %q (it has %v)", p.name, name, names)
	}
	for _, c := range k.Columns {
		if c.Type.IsLookup() {
			return nil, fmt.Errorf("replication: table %s: key %s has the lookup %s; matching by a key with lookups is not supported", p.name, k.LogicalName, c.LogicalName)
		}
		if !slices.Contains(p.copy, c.LogicalName) {
			return nil, fmt.Errorf("replication: table %s: key %s needs the column %s copied", p.name, k.LogicalName, c.LogicalName)
		}
	}
	return k, nil
}
