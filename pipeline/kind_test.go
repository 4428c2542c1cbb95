package pipeline_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/pipeline"
)

type nopPlugin struct{ settings string }

func (nopPlugin) Execute(context.Context, *eventual.ExecutionContext) error { return nil }

func newNop(spec pipeline.Spec) (eventual.Plugin, error) {
	var s struct{ Value string }
	if err := spec.DecodeSettings(&s); err != nil {
		return nil, err
	}
	return nopPlugin{s.Value}, nil
}

func TestKinds_Register(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := pipeline.NewKinds()
		for _, name := range []string{"b", "a", "c"} {
			if err := r.Register(pipeline.Kind{Name: name, New: newNop}); err != nil {
				t.Fatalf("Register(%q): %v", name, err)
			}
		}
		if got, want := r.Names(), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Names() = %v, want %v", got, want)
		}
		if k, ok := r.Kind("b"); !ok || k.Name != "b" {
			t.Errorf("Kind(b) = %+v, %v", k, ok)
		}
		if _, ok := r.Kind("d"); ok {
			t.Error("Kind(d) found a kind that was never registered")
		}
	})
	for _, tc := range []struct {
		name string
		kind pipeline.Kind
		want string
	}{
		{"ErrEmptyName", pipeline.Kind{New: newNop}, "needs a name"},
		{"ErrNilNew", pipeline.Kind{Name: "x"}, "has no New"},
		{"ErrDuplicate", pipeline.Kind{Name: "dup", New: newNop}, `"dup" is already registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pipeline.NewKinds()
			if err := r.Register(pipeline.Kind{Name: "dup", New: newNop}); err != nil {
				t.Fatal(err)
			}
			err := r.Register(tc.kind)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register = %v, want an error containing %q", err, tc.want)
			}
			if got, want := r.Names(), []string{"dup"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Names() after a failed Register = %v, want %v", got, want)
			}
		})
	}
}

func TestRegisterKind(t *testing.T) {
	// A kind named after the test cannot clash with a real one; it stays
	// in DefaultKinds, which nothing in this package reads otherwise.
	pipeline.RegisterKind(pipeline.Kind{Name: "test.registerkind", New: newNop})
	if _, ok := pipeline.DefaultKinds.Kind("test.registerkind"); !ok {
		t.Fatal("RegisterKind did not add the kind to DefaultKinds")
	}
	for _, tc := range []struct {
		name string
		kind pipeline.Kind
	}{
		{"PanicsOnEmptyName", pipeline.Kind{New: newNop}},
		{"PanicsOnDuplicate", pipeline.Kind{Name: "test.registerkind", New: newNop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("RegisterKind did not panic")
				}
			}()
			pipeline.RegisterKind(tc.kind)
		})
	}
}

func TestKinds_Build(t *testing.T) {
	r := pipeline.NewKinds()
	fail := errors.New("bad setting")
	for _, k := range []pipeline.Kind{
		{Name: "nop", New: newNop},
		{Name: "fails", New: func(pipeline.Spec) (eventual.Plugin, error) { return nil, fail }},
	} {
		if err := r.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	step := eventual.Step{Name: "s", Message: eventual.MessageCreate, Stage: eventual.PreOperation}
	decode := func(v any) error {
		v.(*struct{ Value string }).Value = "decoded"
		return nil
	}

	t.Run("OK", func(t *testing.T) {
		s, err := r.Build("nop", pipeline.Spec{Step: step, Decode: decode})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Plugin, (nopPlugin{"decoded"}); got != want {
			t.Errorf("plugin = %#v, want %#v", got, want)
		}
		if s.Name != "s" || s.Stage != eventual.PreOperation {
			t.Errorf("step = %+v; want the spec's step with the plugin", s)
		}
	})
	t.Run("NoDecoder", func(t *testing.T) {
		s, err := r.Build("nop", pipeline.Spec{Step: step})
		if err != nil || s.Plugin != (nopPlugin{}) {
			t.Fatalf("Build = %+v, %v; want the zero settings", s, err)
		}
	})
	t.Run("ErrKind", func(t *testing.T) {
		if _, err := r.Build("fails", pipeline.Spec{Step: step}); !errors.Is(err, fail) {
			t.Fatalf("Build = %v, want the kind's error", err)
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := r.Build("script", pipeline.Spec{Step: step})
		if got, want := err.Error(), `type "script": want fails or nop`; err == nil || got != want {
			t.Fatalf("Build = %v, want %q", err, want)
		}
	})
}

func TestKinds_UnknownError(t *testing.T) {
	r := pipeline.NewKinds()
	for _, tc := range []struct {
		add  string
		want string
	}{
		{"", `type "x": no step types are registered`},
		{"webhook", `type "x": want webhook`},
		{"require", `type "x": want require or webhook`},
		{"setvalue", `type "x": want require, setvalue or webhook`},
	} {
		if tc.add != "" {
			if err := r.Register(pipeline.Kind{Name: tc.add, New: newNop}); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.UnknownError("x").Error(); got != tc.want {
			t.Errorf("with %v: UnknownError = %q, want %q", r.Names(), got, tc.want)
		}
	}
}

func TestKind_DefaultStage(t *testing.T) {
	if got := (pipeline.Kind{}).DefaultStage(); got != eventual.PostOperation {
		t.Errorf("zero Stage: DefaultStage = %v, want PostOperation", got)
	}
	if got := (pipeline.Kind{Stage: eventual.PreValidation}).DefaultStage(); got != eventual.PreValidation {
		t.Errorf("DefaultStage = %v, want PreValidation", got)
	}
}
