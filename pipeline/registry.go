// Package pipeline registers the steps of the event pipeline: which plugin
// runs for which message of which table, at which stage and mode, in which
// order. The instance package runs the registered steps around every
// message; programs that embed eventual register their own Go steps here.
// Kinds (kind.go) is the registry of the step types a configuration file
// names, each of which builds its steps' plugins.
package pipeline

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/eventual-pp/eventual"
)

// Registry holds the registered steps. It is safe for concurrent use;
// lookups are lock-free and registration rebuilds the index.
type Registry struct {
	schema *eventual.Schema
	mu     sync.Mutex
	steps  []*eventual.Step
	index  atomic.Pointer[map[key][]*eventual.Step]
}

type key struct {
	message, table string
	stage          eventual.Stage
	mode           eventual.Mode
}

// NewRegistry returns an empty registry for a schema.
func NewRegistry(schema *eventual.Schema) *Registry {
	r := &Registry{schema: schema}
	r.index.Store(&map[key][]*eventual.Step{})
	return r
}

// Register validates and adds a step.
func (r *Registry) Register(s eventual.Step) error {
	if err := r.validate(&s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.steps {
		if have.Name == s.Name {
			return fmt.Errorf("pipeline: a step named %q is already registered", s.Name)
		}
	}
	r.steps = append(r.steps, &s)
	r.rebuild()
	return nil
}

// Unregister removes the step with the name; it reports whether there was
// one.
func (r *Registry) Unregister(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.steps {
		if s.Name == name {
			r.steps = slices.Delete(r.steps, i, i+1)
			r.rebuild()
			return true
		}
	}
	return false
}

// Step returns the step with the name, or nil.
func (r *Registry) Step(name string) *eventual.Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Steps returns the steps of a message of a table at a stage and mode, in
// execution order (rank, then registration order). Steps registered for
// every table are included.
func (r *Registry) Steps(message, table string, stage eventual.Stage, mode eventual.Mode) []*eventual.Step {
	if r == nil {
		return nil
	}
	return (*r.index.Load())[key{message, table, stage, mode}]
}

// Has reports whether any step is registered for a message of a table.
func (r *Registry) Has(message, table string) bool {
	if r == nil {
		return false
	}
	idx := *r.index.Load()
	for _, st := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
		for _, m := range []eventual.Mode{eventual.Synchronous, eventual.Asynchronous} {
			if len(idx[key{message, table, st, m}]) > 0 {
				return true
			}
		}
	}
	return false
}

// rebuild recomputes the index; r.mu is held.
func (r *Registry) rebuild() {
	idx := map[key][]*eventual.Step{}
	var tables []string
	if r.schema != nil {
		for _, t := range r.schema.Tables() {
			tables = append(tables, t.LogicalName)
		}
	}
	for _, s := range r.steps {
		targets := []string{s.Table}
		if s.Table == "" {
			targets = tables
		}
		for _, t := range targets {
			k := key{s.Message, t, s.Stage, s.Mode}
			idx[k] = append(idx[k], s)
		}
	}
	for k, steps := range idx {
		sort.SliceStable(steps, func(i, j int) bool { return steps[i].Rank < steps[j].Rank })
		idx[k] = steps
	}
	r.index.Store(&idx)
}

// imagesAllowed lists, per message, the image kinds Dataverse allows.
var imagesAllowed = map[string][]eventual.ImageKind{
	eventual.MessageCreate:  {eventual.PostImage},
	eventual.MessageUpdate:  {eventual.PreImage, eventual.PostImage},
	eventual.MessageUpsert:  {eventual.PreImage, eventual.PostImage},
	eventual.MessageDelete:  {eventual.PreImage},
	eventual.MessageHydrate: {eventual.PreImage, eventual.PostImage},
}

func (r *Registry) validate(s *eventual.Step) error {
	where := fmt.Sprintf("pipeline: step %q", s.Name)
	if s.Name == "" {
		return fmt.Errorf("pipeline: a step needs a name")
	}
	if s.Plugin == nil {
		return fmt.Errorf("%s has no plugin", where)
	}
	if !slices.Contains(eventual.Messages, s.Message) {
		return fmt.Errorf("%s: unknown message %q (want one of %v)", where, s.Message, eventual.Messages)
	}
	var t *eventual.Table
	if s.Table != "" && r.schema != nil {
		if t = r.schema.Table(s.Table); t == nil {
			return fmt.Errorf("%s: unknown table %q", where, s.Table)
		}
	}
	switch s.Stage {
	case eventual.PreValidation, eventual.PreOperation, eventual.PostOperation:
	default:
		return fmt.Errorf("%s: stage must be 10 (PreValidation), 20 (PreOperation) or 40 (PostOperation)", where)
	}
	switch s.Mode {
	case eventual.Synchronous:
	case eventual.Asynchronous:
		if s.Stage != eventual.PostOperation {
			return fmt.Errorf("%s: asynchronous steps run at PostOperation only", where)
		}
		if s.Message == eventual.MessageRetrieve || s.Message == eventual.MessageRetrieveMultiple {
			return fmt.Errorf("%s: %s steps cannot be asynchronous", where, s.Message)
		}
	default:
		return fmt.Errorf("%s: mode must be 0 (synchronous) or 1 (asynchronous)", where)
	}
	if len(s.FilteringAttributes) > 0 {
		if s.Message != eventual.MessageUpdate {
			return fmt.Errorf("%s: filtering attributes apply to Update steps only", where)
		}
		for _, a := range s.FilteringAttributes {
			if t != nil && t.Column(a) == nil {
				return fmt.Errorf("%s: filtering attribute %q is not a column of %s", where, a, t.LogicalName)
			}
		}
	}
	aliases := map[string]bool{}
	for _, img := range s.Images {
		if img.Alias == "" || aliases[img.Alias] {
			return fmt.Errorf("%s: images need distinct, non-empty aliases", where)
		}
		aliases[img.Alias] = true
		if !slices.Contains(imagesAllowed[s.Message], img.Kind) {
			return fmt.Errorf("%s: %s does not support this image kind", where, s.Message)
		}
		if img.Kind == eventual.PostImage && s.Stage != eventual.PostOperation {
			return fmt.Errorf("%s: post-images exist at PostOperation only", where)
		}
		for _, c := range img.Columns {
			if t != nil && t.Column(c) == nil {
				return fmt.Errorf("%s: image column %q is not a column of %s", where, c, t.LogicalName)
			}
		}
	}
	return nil
}
