package main

import (
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/placeholder"
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
func registerPipeline(cfg Config, schema *eventual.Schema, reg *pipeline.Registry, organization string) error {
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
			if err := reg.Register(s); err != nil {
				return fmt.Errorf("config: %w", err)
			}
		}
	}
	for i, sc := range cfg.Steps {
		s, err := buildStep(pipeline.DefaultKinds, sc, schema, organization)
		if err != nil {
			return fmt.Errorf("config: steps[%d] (%s): %w", i, sc.Name, err)
		}
		if err := reg.Register(s); err != nil {
			return fmt.Errorf("config: steps[%d]: %w", i, err)
		}
	}
	return nil
}

// buildStep builds a configured step with the kind its type names in
// kinds. The common fields are parsed here, in the order they always
// were; the kind checks its own settings and makes the plugin.
func buildStep(kinds *pipeline.Kinds, sc StepConfig, schema *eventual.Schema, organization string) (eventual.Step, error) {
	// Without a stage, a step runs where its kind makes sense: checks
	// before the transaction, value changes before the write, webhooks
	// after it.
	kind, known := kinds.Kind(sc.Type)
	def := eventual.PostOperation
	if known {
		def = kind.DefaultStage()
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
	return kinds.Build(sc.Type, pipeline.Spec{Step: s, Schema: schema, Organization: organization, Decode: sc.decode})
}
