package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/steps"
	"github.com/eventual-pp/eventual/webhook"
)

// TestBuildStep builds configured steps through pipeline.DefaultKinds, as
// serve does: the kinds imported by kinds.go, with their default stages
// and their settings from the file.
func TestBuildStep(t *testing.T) {
	schema := metadata.Builtin()
	cfg, err := ParseConfig([]byte(`steps:
  - {name: w, type: webhook, message: Create, table: account, url: 'http://127.0.0.1:1/', timeout: 2s, headers: {a: b}}
  - {name: r, type: require, message: Create, table: account, columns: [name], errorMessage: m}
  - {name: v, type: setvalue, message: Create, table: account, values: {name: x, numberofemployees: 3}, onlyIfMissing: true}
  - {name: p, type: setvalue, message: Create, table: account, stage: prevalidation, values: {name: y}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stage  eventual.Stage
		plugin eventual.Plugin
	}{
		{eventual.PostOperation, &webhook.Plugin{URL: "http://127.0.0.1:1/", Timeout: 2 * time.Second, Headers: map[string]string{"a": "b"}, Organization: "org"}},
		{eventual.PreValidation, &steps.Require{Columns: []string{"name"}, Message: "m"}},
		{eventual.PreOperation, &steps.SetValues{Values: eventual.Values{"name": "x", "numberofemployees": int64(3)}, OnlyIfMissing: true}},
		{eventual.PreValidation, &steps.SetValues{Values: eventual.Values{"name": "y"}}},
	}
	for i, sc := range cfg.Steps {
		s, err := buildStep(pipeline.DefaultKinds, sc, schema, "org")
		if err != nil {
			t.Fatalf("steps[%d]: %v", i, err)
		}
		if s.Stage != want[i].stage {
			t.Errorf("steps[%d]: stage %v, want %v", i, s.Stage, want[i].stage)
		}
		if !reflect.DeepEqual(s.Plugin, want[i].plugin) {
			t.Errorf("steps[%d]: plugin %#v, want %#v", i, s.Plugin, want[i].plugin)
		}
		// A StepConfig built in code, not parsed, gives the same step.
		sc.node = nil
		s2, err := buildStep(pipeline.DefaultKinds, sc, schema, "org")
		if err != nil || !reflect.DeepEqual(s2, s) {
			t.Errorf("steps[%d] without its YAML: %+v, %v; want %+v", i, s2, err, s)
		}
	}

	t.Run("ErrUnknownType", func(t *testing.T) {
		_, err := buildStep(pipeline.DefaultKinds, StepConfig{Name: "s", Type: "script", Message: "Create"}, schema, "")
		if got, want := err, `type "script": want require, setvalue or webhook`; got == nil || got.Error() != want {
			t.Fatalf("buildStep = %v, want %q", got, want)
		}
	})
	t.Run("ErrStageBeforeType", func(t *testing.T) {
		// As before kinds, a bad stage is reported before an unknown type.
		_, err := buildStep(pipeline.DefaultKinds, StepConfig{Name: "s", Type: "script", Stage: "later"}, schema, "")
		if err == nil || !strings.Contains(err.Error(), `stage "later"`) {
			t.Fatalf("buildStep = %v, want the stage error", err)
		}
	})
}

type testPlugin struct{ note string }

func (testPlugin) Execute(context.Context, *eventual.ExecutionContext) error { return nil }

// TestBuildStep_OwnKinds builds a step with a kind that only an explicit
// registry has: buildStep needs no global.
func TestBuildStep_OwnKinds(t *testing.T) {
	kinds := pipeline.NewKinds()
	err := kinds.Register(pipeline.Kind{Name: "note", Stage: eventual.PreOperation, New: func(spec pipeline.Spec) (eventual.Plugin, error) {
		var c struct {
			ErrorMessage string `yaml:"errorMessage"`
		}
		if err := spec.DecodeSettings(&c); err != nil {
			return nil, err
		}
		return testPlugin{c.ErrorMessage}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte("steps:\n  - {name: n, type: note, message: Create, errorMessage: hello}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := buildStep(kinds, cfg.Steps[0], metadata.Builtin(), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Plugin != (testPlugin{"hello"}) || s.Stage != eventual.PreOperation {
		t.Errorf("step %+v, want the note kind's plugin at PreOperation", s)
	}
	if _, err := buildStep(kinds, StepConfig{Name: "w", Type: "webhook", URL: "http://127.0.0.1:1/"}, metadata.Builtin(), ""); err == nil ||
		err.Error() != `type "webhook": want note` {
		t.Errorf("webhook with a registry that lacks it: %v", err)
	}
}
