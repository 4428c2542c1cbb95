package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/eventual-pp/eventual"
)

// Kind is a type of step that a configuration file names by its "type"
// ("webhook", "require", "setvalue"). A kind validates the settings of its
// own type and builds the step's plugin; the program that reads the
// configuration looks kinds up by name and never switches on them.
//
// A kind's package registers it from init() with RegisterKind, and a
// program picks its built-in kinds by importing their packages (eventual
// does so in cmd/eventual/kinds.go), as caddy modules do.
type Kind struct {
	// Name is the step type that selects the kind. It must not be empty.
	Name string
	// Stage is where a step of the kind runs when its configuration names
	// no stage; zero means PostOperation.
	Stage eventual.Stage
	// New checks the kind's settings and returns the plugin of the step.
	// Errors name the setting at fault; the caller adds which step it is.
	New func(Spec) (eventual.Plugin, error)
}

// Spec is what a kind gets to build one step.
type Spec struct {
	// Step is the step as configured, without its plugin: name, message,
	// table, stage (the kind's default applied), mode, rank, images.
	Step eventual.Step
	// Schema is the schema the step runs against.
	Schema *eventual.Schema
	// Organization is the name the server reports as its organization.
	Organization string
	// Decode decodes the step's configuration into v, a pointer to the
	// kind's settings struct; fields v does not declare are ignored (the
	// caller has already rejected unknown ones). Nil decodes nothing.
	Decode func(v any) error
}

// DecodeSettings decodes the step's settings into v; without a decoder it
// leaves v as it is.
func (s Spec) DecodeSettings(v any) error {
	if s.Decode == nil {
		return nil
	}
	return s.Decode(v)
}

// DefaultStage returns the stage a step of the kind runs at when its
// configuration names none.
func (k Kind) DefaultStage() eventual.Stage {
	if k.Stage == 0 {
		return eventual.PostOperation
	}
	return k.Stage
}

// Kinds is a registry of step kinds by name. It is safe for concurrent
// use. Programs use DefaultKinds; tests build their own with NewKinds.
type Kinds struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// NewKinds returns an empty registry of kinds.
func NewKinds() *Kinds {
	return &Kinds{kinds: map[string]Kind{}}
}

// DefaultKinds holds the kinds registered with RegisterKind.
var DefaultKinds = NewKinds()

// RegisterKind adds a kind to DefaultKinds. It is meant for init() and
// panics on an empty or duplicate name or a nil New, as a program that
// registers those is wrong, not unlucky.
func RegisterKind(k Kind) {
	if err := DefaultKinds.Register(k); err != nil {
		panic(err)
	}
}

// Register adds a kind. It fails on an empty or duplicate name or a nil
// New.
func (r *Kinds) Register(k Kind) error {
	if k.Name == "" {
		return fmt.Errorf("pipeline: a step kind needs a name")
	}
	if k.New == nil {
		return fmt.Errorf("pipeline: step kind %q has no New", k.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[k.Name]; dup {
		return fmt.Errorf("pipeline: a step kind named %q is already registered", k.Name)
	}
	r.kinds[k.Name] = k
	return nil
}

// Kind returns the kind with the name.
func (r *Kinds) Kind(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Names returns the names of the registered kinds, sorted.
func (r *Kinds) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnknownError returns the error for a step type no kind has: it lists
// the registered kinds.
func (r *Kinds) UnknownError(name string) error {
	names := r.Names()
	switch len(names) {
	case 0:
		return fmt.Errorf("type %q: no step types are registered", name)
	case 1:
		return fmt.Errorf("type %q: want %s", name, names[0])
	}
	return fmt.Errorf("type %q: want %s or %s", name, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// Build looks up the kind of a step type and builds the step's plugin.
// The spec's step gets the plugin.
func (r *Kinds) Build(typ string, spec Spec) (eventual.Step, error) {
	k, ok := r.Kind(typ)
	if !ok {
		return spec.Step, r.UnknownError(typ)
	}
	p, err := k.New(spec)
	if err != nil {
		return spec.Step, err
	}
	s := spec.Step
	s.Plugin = p
	return s, nil
}
