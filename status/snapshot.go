package status

import (
	"context"
	"encoding/json"
	"time"
)

// Snapshot is what the page shows at one moment.
type Snapshot struct {
	// Time is when the snapshot was taken. History.Sample sets it to the
	// current time when the source leaves it zero.
	Time time.Time `json:"time,omitzero"`
	// Title heads the page, e.g. "eventual serve — Instance B".
	Title string `json:"title"`
	// Instance is the instance's part of the page; nil on the sync's page.
	Instance *InstanceSnapshot `json:"instance,omitempty"`
	// Sync is the sync's part of the page; nil on serve's page.
	Sync *SyncSnapshot `json:"sync,omitempty"`
}

// InstanceSnapshot is the state of one instance (eventual serve).
type InstanceSnapshot struct {
	// Tables lists every table with its row and placeholder counts.
	Tables []TableCount `json:"tables"`
	// Pending is the number of placeholders pending in all tables.
	Pending int64 `json:"pending"`
	// Placeholders are the pending placeholders, oldest first. The source
	// caps the list (at 100, say), so it may hold fewer than Pending.
	Placeholders []Placeholder `json:"placeholders"`
	// Hydrations are the recent hydrations, newest first. The source caps
	// the list (at 50, say).
	Hydrations []Hydration `json:"hydrations"`
	// HeadVersion is the change-tracking head version.
	HeadVersion int64 `json:"headVersion"`
}

// TableCount is the size of one table.
type TableCount struct {
	Table        string `json:"table"`        // the table's logical name
	Rows         int64  `json:"rows"`         // the rows in the table, placeholders included
	Placeholders int64  `json:"placeholders"` // the placeholders pending in the table
}

// Placeholder is one pending placeholder: a record made by the placeholder
// upsert, waiting for the sync to hydrate it.
type Placeholder struct {
	Table string `json:"table"` // the table's logical name
	ID    string `json:"id"`    // the record's GUID
	// Key is the alternate key values as text, e.g. "accountnumber=ACC-9",
	// or "" when the placeholder was made by GUID.
	Key           string    `json:"key"`
	Name          string    `json:"name"`          // the record's primary name, if any
	CorrelationID string    `json:"correlationId"` // the request that made the placeholder
	Since         time.Time `json:"since"`         // when the placeholder was made
}

// Hydration is one placeholder the sync has hydrated.
type Hydration struct {
	Table            string    `json:"table"` // the table's logical name
	ID               string    `json:"id"`    // the record's GUID
	Key              string    `json:"key"`   // as in Placeholder.Key
	PlaceholderSince time.Time `json:"placeholderSince"`
	HydratedAt       time.Time `json:"hydratedAt"`
}

// SyncSnapshot is the state of the sync (eventual sync).
type SyncSnapshot struct {
	Tables   []SyncTable `json:"tables"`   // one entry per table the sync replicates
	Breakers []Breaker   `json:"breakers"` // one entry per endpoint
}

// SyncTable is the replication state of one table. It marshals to JSON
// with Lag in seconds (a number), as the page's script reads it.
type SyncTable struct {
	Table       string        `json:"table"`
	Phase       string        `json:"phase"`               // e.g. "initial", "incremental"
	LastCycle   time.Time     `json:"lastCycle,omitzero"`  // when the last cycle ended; zero if none has
	Lag         time.Duration `json:"-"`                   // how far the target is behind the source
	Backlog     int64         `json:"backlog"`             // changes read but not yet applied
	Applied     int64         `json:"applied"`             // changes applied since the sync started
	DeadLetters int           `json:"deadLetters"`         // changes given up on
	LastError   string        `json:"lastError,omitempty"` // the last cycle's error, "" if it succeeded
}

// syncTableJSON is SyncTable's JSON form: its fields, plus Lag in seconds.
type syncTableJSON struct {
	syncTableFields
	Lag float64 `json:"lag"`
}

// syncTableFields has SyncTable's fields without its methods, so that
// syncTableJSON does not recurse into them.
type syncTableFields SyncTable

// MarshalJSON encodes t with Lag as a number of seconds.
func (t SyncTable) MarshalJSON() ([]byte, error) {
	return json.Marshal(syncTableJSON{syncTableFields(t), t.Lag.Seconds()})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (t *SyncTable) UnmarshalJSON(b []byte) error {
	var v syncTableJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = SyncTable(v.syncTableFields)
	t.Lag = time.Duration(v.Lag * float64(time.Second))
	return nil
}

// Breaker is the circuit breaker of one endpoint the sync talks to.
type Breaker struct {
	Endpoint string `json:"endpoint"` // e.g. the instance's base URL
	State    string `json:"state"`    // "closed", "half-open" or "open"
}

// Source returns the current snapshot. A History calls it once per
// sample; it must not modify the snapshot's slices after returning them.
type Source func(ctx context.Context) (Snapshot, error)
