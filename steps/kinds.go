package steps

import (
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/placeholder"
)

// The kinds of this package's steps, as a configuration file names them.
// init registers both in pipeline.DefaultKinds.
var (
	// RequireKind is "type: require": a Require step, at PreValidation
	// by default.
	RequireKind = pipeline.Kind{Name: "require", Stage: eventual.PreValidation, New: newRequire}
	// SetValueKind is "type: setvalue": a SetValues step, at
	// PreOperation by default.
	SetValueKind = pipeline.Kind{Name: "setvalue", Stage: eventual.PreOperation, New: newSetValues}
)

func init() {
	pipeline.RegisterKind(RequireKind)
	pipeline.RegisterKind(SetValueKind)
}

// RequireConfig is the configuration of a require step.
type RequireConfig struct {
	// Columns must not be empty; at least one is needed.
	Columns []string `yaml:"columns"`
	// ErrorMessage is Require.Message.
	ErrorMessage string `yaml:"errorMessage"`
}

func newRequire(spec pipeline.Spec) (eventual.Plugin, error) {
	var c RequireConfig
	if err := spec.DecodeSettings(&c); err != nil {
		return nil, err
	}
	if len(c.Columns) == 0 {
		return nil, fmt.Errorf("a require step needs columns")
	}
	return &Require{Columns: c.Columns, Message: c.ErrorMessage}, nil
}

// SetValueConfig is the configuration of a setvalue step.
type SetValueConfig struct {
	// Values maps columns of the step's table to values, converted as
	// placeholder values are.
	Values map[string]any `yaml:"values"`
	// OnlyIfMissing is SetValues.OnlyIfMissing.
	OnlyIfMissing bool `yaml:"onlyIfMissing"`
}

func newSetValues(spec pipeline.Spec) (eventual.Plugin, error) {
	var c SetValueConfig
	if err := spec.DecodeSettings(&c); err != nil {
		return nil, err
	}
	var t *eventual.Table
	if spec.Schema != nil {
		t = spec.Schema.Table(spec.Step.Table)
	}
	if t == nil {
		return nil, fmt.Errorf("a setvalue step needs a table")
	}
	if spec.Step.Stage == eventual.PostOperation {
		return nil, fmt.Errorf("a setvalue step runs before the write: stage prevalidation or preoperation")
	}
	vals := eventual.Values{}
	for k, v := range c.Values {
		col := t.Column(k)
		if col == nil {
			return nil, fmt.Errorf("unknown column %q of %s", k, t.LogicalName)
		}
		cv, err := placeholder.Convert(col, v)
		if err != nil {
			return nil, err
		}
		vals[k] = cv
	}
	return &SetValues{Values: vals, OnlyIfMissing: c.OnlyIfMissing}, nil
}
