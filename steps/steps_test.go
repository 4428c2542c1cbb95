package steps_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/steps"
)

func TestRequire(t *testing.T) {
	for _, tc := range []struct {
		name    string
		message string
		values  eventual.Values
		req     steps.Require
		want    string // the error message; "" for none
	}{
		{"CreateWithValue", eventual.MessageCreate, eventual.Values{"name": "A"}, steps.Require{Columns: []string{"name"}}, ""},
		{"CreateMissing", eventual.MessageCreate, eventual.Values{}, steps.Require{Columns: []string{"name"}}, "The column name of account is required."},
		{"CreateNull", eventual.MessageCreate, eventual.Values{"name": nil}, steps.Require{Columns: []string{"name"}}, "The column name of account is required."},
		{"CreateEmptyText", eventual.MessageCreate, eventual.Values{"name": ""}, steps.Require{Columns: []string{"name"}}, "The column name of account is required."},
		{"UpdateNotSent", eventual.MessageUpdate, eventual.Values{"telephone1": "1"}, steps.Require{Columns: []string{"name"}}, ""},
		{"UpdateCleared", eventual.MessageUpdate, eventual.Values{"name": nil}, steps.Require{Columns: []string{"name"}}, "The column name of account is required."},
		{"CustomMessage", eventual.MessageCreate, eventual.Values{}, steps.Require{Columns: []string{"name"}, Message: "{table} needs {column}."}, "account needs name."},
		{"SecondColumn", eventual.MessageCreate, eventual.Values{"name": "A"}, steps.Require{Columns: []string{"name", "accountnumber"}}, "The column accountnumber of account is required."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := &eventual.ExecutionContext{MessageName: tc.message, PrimaryEntityName: "account",
				InputParameters: map[string]any{"Target": &eventual.Entity{Values: tc.values}}}
			err := tc.req.Execute(context.Background(), ec)
			var pe *eventual.PluginError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Execute = %v, want no error", err)
			case tc.want != "" && (!errors.As(err, &pe) || pe.Message != tc.want):
				t.Fatalf("Execute = %v, want the plug-in error %q", err, tc.want)
			}
		})
	}
}

func TestSetValues(t *testing.T) {
	for _, tc := range []struct {
		name          string
		sent          eventual.Values
		onlyIfMissing bool
		want          eventual.Values
	}{
		{"Sets", eventual.Values{"name": "A"}, false, eventual.Values{"name": "A", "accountcategorycode": int64(1)}},
		{"Overrides", eventual.Values{"accountcategorycode": int64(2)}, false, eventual.Values{"accountcategorycode": int64(1)}},
		{"KeepsSentValue", eventual.Values{"accountcategorycode": int64(2)}, true, eventual.Values{"accountcategorycode": int64(2)}},
		{"KeepsSentNull", eventual.Values{"accountcategorycode": nil}, true, eventual.Values{"accountcategorycode": nil}},
		{"NoValues", nil, true, eventual.Values{"accountcategorycode": int64(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := &eventual.Entity{Values: tc.sent}
			ec := &eventual.ExecutionContext{MessageName: eventual.MessageCreate, Stage: eventual.PreOperation,
				InputParameters: map[string]any{"Target": target}}
			s := steps.SetValues{Values: eventual.Values{"accountcategorycode": int64(1)}, OnlyIfMissing: tc.onlyIfMissing}
			if err := s.Execute(context.Background(), ec); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if len(target.Values) != len(tc.want) {
				t.Fatalf("target values %v, want %v", target.Values, tc.want)
			}
			for k, v := range tc.want {
				if got, ok := target.Values[k]; !ok || got != v {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
		})
	}
	t.Run("PostOperation", func(t *testing.T) {
		ec := &eventual.ExecutionContext{Stage: eventual.PostOperation, InputParameters: map[string]any{"Target": &eventual.Entity{}}}
		if err := (&steps.SetValues{Values: eventual.Values{"name": "x"}}).Execute(context.Background(), ec); err == nil {
			t.Fatal("SetValues at PostOperation succeeded; the write has happened, so it must fail")
		}
	})
}
