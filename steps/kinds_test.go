package steps_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/steps"
	"go.yaml.in/yaml/v3"
)

// TestKinds builds require and setvalue steps through a registry of their
// own, from YAML as a configuration file gives it.
func TestKinds(t *testing.T) {
	kinds := pipeline.NewKinds()
	for _, k := range []pipeline.Kind{steps.RequireKind, steps.SetValueKind} {
		if err := kinds.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	schema := metadata.Builtin()
	for _, tc := range []struct {
		name, typ, table string
		stage            eventual.Stage
		yaml             string
		want             eventual.Plugin // nil when err is set
		err              string
	}{
		{"Require", "require", "account", eventual.PreValidation, "{columns: [name], errorMessage: 'needs {column}'}",
			&steps.Require{Columns: []string{"name"}, Message: "needs {column}"}, ""},
		{"RequireErrNoColumns", "require", "account", eventual.PreValidation, "{errorMessage: x}", nil, "a require step needs columns"},
		{"SetValue", "setvalue", "account", eventual.PreOperation, "{values: {name: x}, onlyIfMissing: true}",
			&steps.SetValues{Values: eventual.Values{"name": "x"}, OnlyIfMissing: true}, ""},
		{"SetValueAtPreValidation", "setvalue", "account", eventual.PreValidation, "{values: {name: x}}",
			&steps.SetValues{Values: eventual.Values{"name": "x"}}, ""},
		{"SetValueErrNoTable", "setvalue", "", eventual.PreOperation, "{values: {name: x}}", nil, "a setvalue step needs a table"},
		{"SetValueErrUnknownTable", "setvalue", "acount", eventual.PreOperation, "{values: {name: x}}", nil, "a setvalue step needs a table"},
		{"SetValueErrPostOperation", "setvalue", "account", eventual.PostOperation, "{values: {name: x}}", nil, "runs before the write"},
		{"SetValueErrColumn", "setvalue", "account", eventual.PreOperation, "{values: {nmae: x}}", nil, `unknown column "nmae" of account`},
		{"SetValueErrValue", "setvalue", "account", eventual.PreOperation, "{values: {name: [1, 2]}}", nil, "name"},
		{"ErrSettingsType", "require", "account", eventual.PreValidation, "{columns: {a: b}}", nil, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := pipeline.Spec{
				Step:   eventual.Step{Name: "s", Message: eventual.MessageCreate, Table: tc.table, Stage: tc.stage},
				Schema: schema,
				Decode: func(v any) error { return yaml.Unmarshal([]byte(tc.yaml), v) },
			}
			s, err := kinds.Build(tc.typ, spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Build = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !reflect.DeepEqual(s.Plugin, tc.want) {
				t.Errorf("plugin = %#v, want %#v", s.Plugin, tc.want)
			}
		})
	}
}

func TestKinds_DefaultStages(t *testing.T) {
	if got := steps.RequireKind.DefaultStage(); got != eventual.PreValidation {
		t.Errorf("require: default stage %v, want PreValidation", got)
	}
	if got := steps.SetValueKind.DefaultStage(); got != eventual.PreOperation {
		t.Errorf("setvalue: default stage %v, want PreOperation", got)
	}
	for _, name := range []string{"require", "setvalue"} {
		if _, ok := pipeline.DefaultKinds.Kind(name); !ok {
			t.Errorf("importing steps did not register %q in pipeline.DefaultKinds", name)
		}
	}
}
