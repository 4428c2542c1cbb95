package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
)

// Interface guards.
var (
	_ eventual.Plugin = (*Require)(nil)
	_ eventual.Plugin = (*SetValues)(nil)
)

// Require fails a write whose target leaves one of Columns empty. On
// Create, a column missing from the target is empty; on Update, only a
// column set to null or "" is.
type Require struct {
	Columns []string
	// Message is the error the caller sees; {column} names the column.
	Message string
}

// Execute implements eventual.Plugin.
func (r *Require) Execute(ctx context.Context, ec *eventual.ExecutionContext) error {
	e := ec.Target()
	if e == nil {
		return nil
	}
	for _, c := range r.Columns {
		v, ok := e.Values[c]
		empty := v == nil || v == ""
		if !ok && ec.MessageName != eventual.MessageCreate {
			continue
		}
		if empty {
			msg := r.Message
			if msg == "" {
				msg = "The column {column} of {table} is required."
			}
			return &eventual.PluginError{Message: strings.NewReplacer("{column}", c, "{table}", ec.PrimaryEntityName).Replace(msg)}
		}
	}
	return nil
}

// SetValues sets columns of the target (at PreValidation or PreOperation,
// before the main operation writes it). With OnlyIfMissing it leaves the
// values the caller sent.
type SetValues struct {
	Values        eventual.Values
	OnlyIfMissing bool
}

// Execute implements eventual.Plugin.
func (s *SetValues) Execute(ctx context.Context, ec *eventual.ExecutionContext) error {
	e := ec.Target()
	if e == nil {
		return nil
	}
	if ec.Stage == eventual.PostOperation {
		return fmt.Errorf("SetValues runs before the main operation, not at PostOperation")
	}
	if e.Values == nil {
		e.Values = eventual.Values{}
	}
	for k, v := range s.Values {
		if _, set := e.Values[k]; set && s.OnlyIfMissing {
			continue
		}
		e.Values[k] = v
	}
	return nil
}
