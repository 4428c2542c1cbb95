package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/placeholder"
	"github.com/eventual-pp/eventual/steps"
	"github.com/eventual-pp/eventual/webhook"
)

// This file turns the configuration's placeholders and steps into
// registered pipeline steps.

func parseStage(s string, def eventual.Stage) (eventual.Stage, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "prevalidation", "10":
		return eventual.PreValidation, nil
	case "preoperation", "20":
		return eventual.PreOperation, nil
	case "postoperation", "40":
		return eventual.PostOperation, nil
	}
	return 0, fmt.Errorf("stage %q: want prevalidation, preoperation or postoperation", s)
}

func parseMode(s string) (eventual.Mode, error) {
	switch strings.ToLower(s) {
	case "", "sync", "synchronous", "0":
		return eventual.Synchronous, nil
	case "async", "asynchronous", "1":
		return eventual.Asynchronous, nil
	}
	return 0, fmt.Errorf("mode %q: want sync or async", s)
}

// registerPipeline registers the placeholder step (unless placeholders are
// off) and the configured steps.
func registerPipeline(cfg Config, schema *eventual.Schema, in *instance.Instance, organization string) error {
	if cfg.Placeholders == "on" {
		stage, err := parseStage(cfg.Placeholder.Stage, eventual.PreValidation)
		if err != nil {
			return fmt.Errorf("config: placeholder: %w", err)
		}
		var lookups []placeholder.Lookup
		if len(cfg.Placeholder.Lookups) == 0 {
			if cfg.Schema.Builtin == nil || *cfg.Schema.Builtin {
				var names []string
				for _, t := range metadata.BuiltinTables() {
					names = append(names, t.LogicalName)
				}
				lookups = placeholder.Defaults(schema, names...)
			}
		}
		for _, l := range cfg.Placeholder.Lookups {
			table, column, ok := strings.Cut(l.Lookup, ".")
			if !ok {
				return fmt.Errorf("config: placeholder lookup %q: want table.column", l.Lookup)
			}
			st, err := parseStage(l.Stage, stage)
			if err != nil {
				return fmt.Errorf("config: placeholder lookup %q: %w", l.Lookup, err)
			}
			lookups = append(lookups, placeholder.Lookup{Table: table, Column: column, Stage: st, Name: l.Name, Values: l.Values, FromRequest: l.FromRequest})
		}
		for i := range lookups {
			if lookups[i].Stage == eventual.PreValidation && stage != eventual.PreValidation && len(cfg.Placeholder.Lookups) == 0 {
				lookups[i].Stage = stage
			}
		}
		ss, err := placeholder.Steps(schema, lookups)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		for _, s := range ss {
			if err := in.Pipeline.Register(s); err != nil {
				return err
			}
		}
	}
	for i, sc := range cfg.Steps {
		s, err := buildStep(sc, schema, organization)
		if err != nil {
			return fmt.Errorf("config: steps[%d] (%s): %w", i, sc.Name, err)
		}
		if err := in.Pipeline.Register(s); err != nil {
			return fmt.Errorf("config: steps[%d]: %w", i, err)
		}
	}
	return nil
}

func buildStep(sc StepConfig, schema *eventual.Schema, organization string) (eventual.Step, error) {
	// Without a stage, a step runs where its kind makes sense: checks
	// before the transaction, value changes before the write, webhooks
	// after it.
	def := map[string]eventual.Stage{"require": eventual.PreValidation, "setvalue": eventual.PreOperation}[sc.Type]
	if def == 0 {
		def = eventual.PostOperation
	}
	stage, err := parseStage(sc.Stage, def)
	if err != nil {
		return eventual.Step{}, err
	}
	mode, err := parseMode(sc.Mode)
	if err != nil {
		return eventual.Step{}, err
	}
	s := eventual.Step{Name: sc.Name, Message: sc.Message, Table: sc.Table, Stage: stage, Mode: mode, Rank: sc.Rank,
		FilteringAttributes: sc.FilteringAttributes, Configuration: sc.Configuration}
	for _, ic := range sc.Images {
		kind := eventual.PreImage
		switch strings.ToLower(ic.Kind) {
		case "pre", "preimage":
		case "post", "postimage":
			kind = eventual.PostImage
		default:
			return s, fmt.Errorf("image %q: kind must be pre or post", ic.Alias)
		}
		s.Images = append(s.Images, eventual.Image{Alias: ic.Alias, Kind: kind, Columns: ic.Columns})
	}
	switch sc.Type {
	case "webhook":
		if u, err := url.Parse(sc.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, fmt.Errorf("a webhook step needs an http or https url, not %q", sc.URL)
		}
		var timeout time.Duration
		if sc.Timeout != "" {
			if timeout, err = time.ParseDuration(sc.Timeout); err != nil {
				return s, fmt.Errorf("timeout %q: %w", sc.Timeout, err)
			}
		}
		s.Plugin = &webhook.Plugin{URL: sc.URL, Headers: sc.Headers, Query: sc.Query, Timeout: timeout, Organization: organization}
	case "require":
		if len(sc.Columns) == 0 {
			return s, fmt.Errorf("a require step needs columns")
		}
		s.Plugin = &steps.Require{Columns: sc.Columns, Message: sc.ErrorMessage}
	case "setvalue":
		t := schema.Table(sc.Table)
		if t == nil {
			return s, fmt.Errorf("a setvalue step needs a table")
		}
		if s.Stage == eventual.PostOperation {
			return s, fmt.Errorf("a setvalue step runs before the write: stage prevalidation or preoperation")
		}
		vals := eventual.Values{}
		for k, v := range sc.Values {
			c := t.Column(k)
			if c == nil {
				return s, fmt.Errorf("unknown column %q of %s", k, t.LogicalName)
			}
			cv, err := placeholder.Convert(c, v)
			if err != nil {
				return s, err
			}
			vals[k] = cv
		}
		s.Plugin = &steps.SetValues{Values: vals, OnlyIfMissing: sc.OnlyIfMissing}
	default:
		return s, fmt.Errorf("type %q: want webhook, require or setvalue", sc.Type)
	}
	return s, nil
}
