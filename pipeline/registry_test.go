package pipeline_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/pipeline"
)

var noop = eventual.PluginFunc(func(context.Context, *eventual.ExecutionContext) error { return nil })

// step returns a valid synchronous PreOperation step on Update of account.
func step(name string) eventual.Step {
	return eventual.Step{Name: name, Message: eventual.MessageUpdate, Table: "account",
		Stage: eventual.PreOperation, Mode: eventual.Synchronous, Plugin: noop}
}

func stepNames(steps []*eventual.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// TestRegistry_Register checks the steps Register refuses, each with an
// error that names the step and what is wrong, and some it accepts.
func TestRegistry_Register(t *testing.T) {
	with := func(f func(*eventual.Step)) eventual.Step {
		s := step("s")
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		step eventual.Step
		want string // substring of the error; empty: accepted
	}{
		{"OK", step("s"), ""},
		{"OKAllTables", with(func(s *eventual.Step) { s.Table = "" }), ""},
		{"OKAsyncPostOperation", with(func(s *eventual.Step) { s.Stage, s.Mode = eventual.PostOperation, eventual.Asynchronous }), ""},
		{"OKPreValidation", with(func(s *eventual.Step) { s.Stage = eventual.PreValidation }), ""},
		{"OKFilteringAttributes", with(func(s *eventual.Step) { s.FilteringAttributes = []string{"name", "revenue"} }), ""},
		{"OKFilteringAttributesAllTables", with(func(s *eventual.Step) { s.Table, s.FilteringAttributes = "", []string{"anything"} }), ""},
		{"OKImages", with(func(s *eventual.Step) {
			s.Stage = eventual.PostOperation
			s.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage, Columns: []string{"name"}}, {Alias: "post", Kind: eventual.PostImage}}
		}), ""},
		{"OKHydrateImages", with(func(s *eventual.Step) {
			s.Message, s.Stage = eventual.MessageHydrate, eventual.PostOperation
			s.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}, {Alias: "post", Kind: eventual.PostImage}}
		}), ""},

		{"ErrNoName", with(func(s *eventual.Step) { s.Name = "" }), "pipeline: a step needs a name"},
		{"ErrNoPlugin", with(func(s *eventual.Step) { s.Plugin = nil }), `step "s" has no plugin`},
		{"ErrUnknownMessage", with(func(s *eventual.Step) { s.Message = "Assign" }), `step "s": unknown message "Assign"`},
		{"ErrMessageCase", with(func(s *eventual.Step) { s.Message = "update" }), `unknown message "update"`},
		{"ErrUnknownTable", with(func(s *eventual.Step) { s.Table = "new_nothing" }), `step "s": unknown table "new_nothing"`},
		{"ErrStageZero", with(func(s *eventual.Step) { s.Stage = 0 }), "stage must be 10 (PreValidation), 20 (PreOperation) or 40 (PostOperation)"},
		{"ErrMainOperation", with(func(s *eventual.Step) { s.Stage = eventual.MainOperation }), "stage must be 10"},
		{"ErrMode", with(func(s *eventual.Step) { s.Mode = 2 }), "mode must be 0 (synchronous) or 1 (asynchronous)"},
		{"ErrAsyncPreOperation", with(func(s *eventual.Step) { s.Mode = eventual.Asynchronous }), "asynchronous steps run at PostOperation only"},
		{"ErrAsyncPreValidation", with(func(s *eventual.Step) { s.Stage, s.Mode = eventual.PreValidation, eventual.Asynchronous }), "PostOperation only"},
		{"ErrAsyncRetrieve", with(func(s *eventual.Step) {
			s.Message, s.Stage, s.Mode = eventual.MessageRetrieve, eventual.PostOperation, eventual.Asynchronous
		}), "Retrieve steps cannot be asynchronous"},
		{"ErrAsyncRetrieveMultiple", with(func(s *eventual.Step) {
			s.Message, s.Stage, s.Mode = eventual.MessageRetrieveMultiple, eventual.PostOperation, eventual.Asynchronous
		}), "RetrieveMultiple steps cannot be asynchronous"},
		{"ErrFilteringOnCreate", with(func(s *eventual.Step) { s.Message, s.FilteringAttributes = eventual.MessageCreate, []string{"name"} }),
			"filtering attributes apply to Update steps only"},
		{"ErrFilteringUnknownColumn", with(func(s *eventual.Step) { s.FilteringAttributes = []string{"name", "fullname"} }),
			`filtering attribute "fullname" is not a column of account`},
		{"ErrImageNoAlias", with(func(s *eventual.Step) { s.Images = []eventual.Image{{Kind: eventual.PreImage}} }),
			"images need distinct, non-empty aliases"},
		{"ErrImageAliasTwice", with(func(s *eventual.Step) {
			s.Images = []eventual.Image{{Alias: "img", Kind: eventual.PreImage}, {Alias: "img", Kind: eventual.PreImage}}
		}), "images need distinct, non-empty aliases"},
		{"ErrPreImageOnCreate", with(func(s *eventual.Step) {
			s.Message, s.Stage = eventual.MessageCreate, eventual.PostOperation
			s.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}}
		}), "Create does not support this image kind"},
		{"ErrPostImageOnDelete", with(func(s *eventual.Step) {
			s.Message, s.Stage = eventual.MessageDelete, eventual.PostOperation
			s.Images = []eventual.Image{{Alias: "post", Kind: eventual.PostImage}}
		}), "Delete does not support this image kind"},
		{"ErrImageOnRetrieve", with(func(s *eventual.Step) {
			s.Message = eventual.MessageRetrieve
			s.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}}
		}), "Retrieve does not support this image kind"},
		{"ErrPostImageAtPreOperation", with(func(s *eventual.Step) {
			s.Images = []eventual.Image{{Alias: "post", Kind: eventual.PostImage}}
		}), "post-images exist at PostOperation only"},
		{"ErrImageUnknownColumn", with(func(s *eventual.Step) {
			s.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage, Columns: []string{"name", "lastname"}}}
		}), `image column "lastname" is not a column of account`},
		{"ErrNameTaken", step("dup"), `pipeline: a step named "dup" is already registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pipeline.NewRegistry(metadata.Builtin())
			if err := r.Register(with(func(s *eventual.Step) { s.Name, s.Table = "dup", "contact" })); err != nil {
				t.Fatalf("Register(dup): %v", err)
			}
			err := r.Register(tc.step)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				if got := r.Step(tc.step.Name); got == nil {
					t.Errorf("Step(%q) = nil after Register", tc.step.Name)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register = %v, want an error containing %q", err, tc.want)
			}
			if tc.step.Name != "dup" && tc.step.Name != "" {
				if got := r.Step(tc.step.Name); got != nil {
					t.Errorf("Step(%q) = %+v after a refused Register, want nil", tc.step.Name, got)
				}
			}
		})
	}
}

// TestRegistry_NoSchema checks that a registry without a schema takes any
// table name, since it has nothing to check it against.
func TestRegistry_NoSchema(t *testing.T) {
	r := pipeline.NewRegistry(nil)
	s := step("s")
	s.Table, s.FilteringAttributes = "new_anything", []string{"new_col"}
	if err := r.Register(s); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got, want := stepNames(r.Steps(eventual.MessageUpdate, "new_anything", eventual.PreOperation, eventual.Synchronous)), []string{"s"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Steps = %v, want %v", got, want)
	}
}

// TestRegistry_Steps checks which steps come back for a message, table,
// stage and mode, and their order: by rank, then registration order, with
// steps for every table among them.
func TestRegistry_Steps(t *testing.T) {
	r := pipeline.NewRegistry(metadata.Builtin())
	for _, s := range []eventual.Step{
		{Name: "late", Rank: 5},
		{Name: "early", Rank: 1},
		{Name: "late2", Rank: 5},
		{Name: "everytable", Table: "-", Rank: 3},
		{Name: "early2", Rank: 1},
		{Name: "negative", Rank: -1},
		{Name: "contactonly", Table: "contact"},
		{Name: "create", Message: eventual.MessageCreate},
		{Name: "prevalidation", Stage: eventual.PreValidation},
		{Name: "post", Stage: eventual.PostOperation},
		{Name: "async", Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Rank: 2},
		{Name: "async1", Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Rank: 1},
	} {
		full := step(s.Name)
		full.Rank, full.Mode = s.Rank, s.Mode
		switch s.Table {
		case "-":
			full.Table = ""
		case "":
		default:
			full.Table = s.Table
		}
		if s.Message != "" {
			full.Message = s.Message
		}
		if s.Stage != 0 {
			full.Stage = s.Stage
		}
		if err := r.Register(full); err != nil {
			t.Fatalf("Register(%s): %v", s.Name, err)
		}
	}
	for _, tc := range []struct {
		name    string
		message string
		table   string
		stage   eventual.Stage
		mode    eventual.Mode
		want    []string
	}{
		{"ByRankThenRegistration", eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous,
			[]string{"negative", "early", "early2", "everytable", "late", "late2"}},
		{"OtherTableGetsAllTableSteps", eventual.MessageUpdate, "contact", eventual.PreOperation, eventual.Synchronous,
			[]string{"contactonly", "everytable"}},
		{"SystemTableGetsAllTableSteps", eventual.MessageUpdate, "asyncoperation", eventual.PreOperation, eventual.Synchronous,
			[]string{"everytable"}},
		{"OtherMessage", eventual.MessageCreate, "account", eventual.PreOperation, eventual.Synchronous, []string{"create"}},
		{"OtherStage", eventual.MessageUpdate, "account", eventual.PreValidation, eventual.Synchronous, []string{"prevalidation"}},
		{"SynchronousPost", eventual.MessageUpdate, "account", eventual.PostOperation, eventual.Synchronous, []string{"post"}},
		{"AsynchronousPost", eventual.MessageUpdate, "account", eventual.PostOperation, eventual.Asynchronous, []string{"async1", "async"}},
		{"None", eventual.MessageDelete, "account", eventual.PreOperation, eventual.Synchronous, nil},
		{"UnknownTable", eventual.MessageUpdate, "new_nothing", eventual.PreOperation, eventual.Synchronous, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stepNames(r.Steps(tc.message, tc.table, tc.stage, tc.mode)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Steps(%s, %s, %s, %d) = %v, want %v", tc.message, tc.table, tc.stage, tc.mode, got, tc.want)
			}
		})
	}
	t.Run("Has", func(t *testing.T) {
		for _, tc := range []struct {
			message, table string
			want           bool
		}{
			{eventual.MessageUpdate, "account", true},
			{eventual.MessageUpdate, "asyncoperation", true}, // through the all-table step
			{eventual.MessageCreate, "account", true},
			{eventual.MessageCreate, "contact", false},
			{eventual.MessageDelete, "account", false},
			{eventual.MessageUpdate, "new_nothing", false},
		} {
			if got := r.Has(tc.message, tc.table); got != tc.want {
				t.Errorf("Has(%s, %s) = %v, want %v", tc.message, tc.table, got, tc.want)
			}
		}
	})
}

// TestRegistry_Unregister checks that a step can be removed, by name, and
// that the order of the others is kept.
func TestRegistry_Unregister(t *testing.T) {
	r := pipeline.NewRegistry(metadata.Builtin())
	for i, name := range []string{"a", "b", "c"} {
		s := step(name)
		s.Rank = i
		if err := r.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	steps := func() []string {
		return stepNames(r.Steps(eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous))
	}
	if got, want := r.Unregister("b"), true; got != want {
		t.Errorf("Unregister(b) = %v, want %v", got, want)
	}
	if got, want := steps(), []string{"a", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Steps after Unregister(b) = %v, want %v", got, want)
	}
	if got := r.Step("b"); got != nil {
		t.Errorf("Step(b) = %+v after Unregister, want nil", got)
	}
	if got, want := r.Unregister("b"), false; got != want {
		t.Errorf("second Unregister(b) = %v, want %v", got, want)
	}
	if got, want := r.Unregister("nothing"), false; got != want {
		t.Errorf("Unregister(nothing) = %v, want %v", got, want)
	}
	// The name is free again; the new step runs by its own rank.
	s := step("b")
	s.Rank = -1
	if err := r.Register(s); err != nil {
		t.Fatalf("Register(b) after Unregister: %v", err)
	}
	if got, want := steps(), []string{"b", "a", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Steps = %v, want %v", got, want)
	}
	for _, name := range []string{"a", "b", "c"} {
		r.Unregister(name)
	}
	if got := steps(); len(got) != 0 {
		t.Errorf("Steps after removing all = %v, want none", got)
	}
	if r.Has(eventual.MessageUpdate, "account") {
		t.Error("Has(Update, account) = true after removing all steps")
	}
}

// TestRegistry_Step checks that Step returns the registered step, a copy
// of the value given to Register.
func TestRegistry_Step(t *testing.T) {
	r := pipeline.NewRegistry(metadata.Builtin())
	s := step("s")
	s.Rank, s.Configuration = 7, `{"x":1}`
	if err := r.Register(s); err != nil {
		t.Fatal(err)
	}
	s.Rank = 99 // changing the caller's copy changes nothing
	got := r.Step("s")
	if got == nil {
		t.Fatal("Step(s) = nil")
	}
	if got, want := got.Rank, 7; got != want {
		t.Errorf("Rank = %d, want %d", got, want)
	}
	if got, want := got.Configuration, `{"x":1}`; got != want {
		t.Errorf("Configuration = %q, want %q", got, want)
	}
	if got, want := r.Steps(eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous)[0], got; got != want {
		t.Errorf("Steps()[0] = %p, want the step Step returns (%p)", got, want)
	}
	if got := r.Step("other"); got != nil {
		t.Errorf("Step(other) = %+v, want nil", got)
	}
}

// TestRegistry_Nil checks that a nil registry has no steps.
func TestRegistry_Nil(t *testing.T) {
	var r *pipeline.Registry
	if got := r.Steps(eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous); got != nil {
		t.Errorf("Steps = %v, want nil", got)
	}
	if r.Has(eventual.MessageUpdate, "account") {
		t.Error("Has = true, want false")
	}
}

// TestRegistry_Concurrent registers and removes steps while others look
// them up; run it with -race.
func TestRegistry_Concurrent(t *testing.T) {
	r := pipeline.NewRegistry(metadata.Builtin())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				name := fmt.Sprintf("s%d_%d", i, j)
				s := step(name)
				s.Rank = j % 3
				if err := r.Register(s); err != nil {
					t.Errorf("Register(%s): %v", name, err)
					return
				}
				_ = r.Steps(eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous)
				_ = r.Has(eventual.MessageUpdate, "contact")
				if j%2 == 0 && !r.Unregister(name) {
					t.Errorf("Unregister(%s) = false", name)
				}
			}
		})
	}
	wg.Wait()
	steps := r.Steps(eventual.MessageUpdate, "account", eventual.PreOperation, eventual.Synchronous)
	if got, want := len(steps), 8*25; got != want {
		t.Fatalf("%d steps left, want %d", got, want)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i-1].Rank > steps[i].Rank {
			t.Fatalf("steps out of rank order: %s (%d) before %s (%d)", steps[i-1].Name, steps[i-1].Rank, steps[i].Name, steps[i].Rank)
		}
	}
}
