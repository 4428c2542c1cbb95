package webhook_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/webhook"
	"go.yaml.in/yaml/v3"
)

// TestKind builds webhook steps through a registry of their own, from
// YAML as a configuration file gives it.
func TestKind(t *testing.T) {
	kinds := pipeline.NewKinds()
	if err := kinds.Register(webhook.Kind); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       *webhook.Plugin // nil when err is set
		err        string
	}{
		{"OK", "{url: 'https://example.test/hook', headers: {x-key: k}, query: {code: c}, timeout: 5s}",
			&webhook.Plugin{URL: "https://example.test/hook", Headers: map[string]string{"x-key": "k"}, Query: map[string]string{"code": "c"},
				Timeout: 5 * time.Second, Organization: "org"}, ""},
		{"DefaultTimeout", "{url: 'http://127.0.0.1:1/'}", &webhook.Plugin{URL: "http://127.0.0.1:1/", Organization: "org"}, ""},
		{"ErrNoURL", "{timeout: 5s}", nil, `needs an http or https url, not ""`},
		{"ErrNoScheme", "{url: 'example.test/hook'}", nil, `not "example.test/hook"`},
		{"ErrScheme", "{url: 'ftp://example.test/hook'}", nil, `not "ftp://example.test/hook"`},
		{"ErrNoHost", "{url: 'http:///hook'}", nil, `not "http:///hook"`},
		{"ErrTimeout", "{url: 'http://127.0.0.1:1/', timeout: soon}", nil, `timeout "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := pipeline.Spec{
				Step:         eventual.Step{Name: "s", Message: eventual.MessageCreate, Stage: eventual.PostOperation},
				Organization: "org",
				Decode:       func(v any) error { return yaml.Unmarshal([]byte(tc.yaml), v) },
			}
			s, err := kinds.Build("webhook", spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Build = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got, ok := s.Plugin.(*webhook.Plugin); !ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plugin = %#v, want %#v", s.Plugin, tc.want)
			}
		})
	}
	if got := webhook.Kind.DefaultStage(); got != eventual.PostOperation {
		t.Errorf("default stage %v, want PostOperation", got)
	}
	if _, ok := pipeline.DefaultKinds.Kind("webhook"); !ok {
		t.Error("importing webhook did not register it in pipeline.DefaultKinds")
	}
}
