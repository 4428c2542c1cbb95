package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"

	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/eventual-pp/eventual/webapi"
	"go.yaml.in/yaml/v3"
)

// ConfigCommand checks configuration files without starting anything.
type ConfigCommand struct {
	Stdout io.Writer
	Stderr io.Writer
}

const configUsage = `Usage: eventual config check [serve|sync] --config FILE [the command's flags]

Validates the configuration of "eventual serve" or "eventual sync" without starting anything, and
prints the effective configuration as YAML: the defaults, the environment ($VARS in the file) and
the flags applied, secrets masked. Without serve or sync, the file says which it is (a file with
source: or target: is a sync's). The flags are those of the command (eventual serve -h,
eventual sync -h), so a command line can be checked exactly as it will run.

For serve, the check builds the schema and every step the file registers (placeholder lookups,
webhooks, require, setvalue), as "eventual serve" would before it opens the database; for sync, it
checks the endpoints' auth, the tables, durations and limits. It does not reach the database or the
endpoints.

Exit codes: 0 the configuration is valid, 2 the command line is wrong, 3 the configuration is wrong.

Examples:
  eventual config check --config eventual.yaml
  eventual config check serve --config eventual.yaml --db 'postgres://postgres@127.0.0.1:5432/test'
  CLIENT_SECRET=… eventual config check sync --config sync.yaml --tables account,contact
`

// masked replaces a secret in the effective configuration.
const masked = "********"

// Run runs "config check".
func (c *ConfigCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		help := len(args) > 0 && isHelp(args[0])
		w := c.Stderr
		if help {
			w = c.Stdout
		}
		fmt.Fprint(w, configUsage)
		switch {
		case help:
			return flag.ErrHelp
		case len(args) == 0:
			return &usageError{"config: check what? (eventual config check --config FILE)"}
		}
		return &usageError{fmt.Sprintf("config: unknown subcommand %q (check)", args[0])}
	}
	args = args[1:]
	if slices.ContainsFunc(args, isHelp) {
		fmt.Fprint(c.Stdout, configUsage)
		return flag.ErrHelp
	}
	kind := ""
	if len(args) > 0 && (args[0] == "serve" || args[0] == "sync") {
		kind, args = args[0], args[1:]
	}
	if kind == "" {
		path := flagValue(args, "config")
		if path == "" {
			return &usageError{"config check: give --config FILE, or name the command (serve or sync) to check its flags alone"}
		}
		// Standard input reads once: readConfig keeps it for the
		// command's own read.
		data, err := readConfig(path)
		if err != nil {
			return &configError{fmt.Errorf("read config: %w", err)}
		}
		if kind, err = configKind(path, data); err != nil {
			return &configError{err}
		}
	}
	var doc any
	switch kind {
	case "serve":
		cfg, err := (&ServeCommand{Stdout: io.Discard, Stderr: c.Stderr}).config(args)
		if err != nil {
			return err
		}
		if err := checkServe(cfg); err != nil {
			return &configError{err}
		}
		doc = effectiveServe(cfg)
	case "sync":
		cfg, _, err := (&SyncCommand{Stdout: io.Discard, Stderr: c.Stderr}).config("eventual sync", args)
		if err != nil {
			return err
		}
		doc = effectiveSync(cfg)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("config check: %w", err)
	}
	fmt.Fprintf(c.Stdout, "# eventual %s: the configuration is valid. As it will be used (defaults, environment and flags\n# applied, secrets masked):\n", kind)
	_, err := c.Stdout.Write(out.Bytes())
	return err
}

// isHelp says whether a command-line word asks for help.
func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// flagValue finds a flag's value in args (-name v, --name v, -name=v,
// --name=v), before the flags are parsed.
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// configKind says whose configuration a file is: a sync's names its
// source or target.
func configKind(path string, data []byte) (string, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return "", fmt.Errorf("parse config %s: %w", path, err)
	}
	for _, k := range []string{"source", "target"} {
		if _, ok := top[k]; ok {
			return "sync", nil
		}
	}
	return "serve", nil
}

// checkServe does what "eventual serve" does with a configuration before
// it opens the database: build the schema and register every step.
func checkServe(cfg Config) error {
	schema, err := cfg.Schema.Schema()
	if err != nil {
		return err
	}
	return registerPipeline(cfg, schema, pipeline.NewRegistry(schema), cfg.Listen)
}

// effectiveServe is cfg with its defaults spelt out and its secrets
// masked: the DSN's password, webhook headers and query values (keys such
// as an Azure Function's code travel there), and a URL's user info.
func effectiveServe(cfg Config) Config {
	cfg.DB = redactDSN(cfg.DB)
	if cfg.Limits.MaxBodyBytes == 0 {
		cfg.Limits.MaxBodyBytes = webapi.DefaultMaxBodyBytes
	}
	if cfg.Limits.MaxURLLength == 0 {
		cfg.Limits.MaxURLLength = webapi.DefaultMaxURLLength
	}
	if cfg.SQLite.Synchronous == "" {
		cfg.SQLite.Synchronous = "normal"
	}
	if cfg.Changes.Retention == "" {
		cfg.Changes.Retention = fmt.Sprintf("%dh", webapi.DefaultChangeRetention/time.Hour)
	}
	cfg.Log = effectiveLog(cfg.Log)
	switch sp := &cfg.Limits.ServiceProtection; {
	case sp.Mode == "":
		sp.Mode = "off"
	case sp.Mode == "custom":
		if l, _, err := sp.Limits(); err == nil {
			*sp = ServiceProtectionConfig{Mode: "custom", Requests: l.Requests, ExecutionTime: l.ExecutionTime.String(),
				Concurrent: l.Concurrent, Window: l.Window.String()}
		}
	}
	if cfg.Placeholder.Stage == "" {
		cfg.Placeholder.Stage = "prevalidation"
	}
	if cfg.Schema.Builtin == nil {
		builtin := true
		cfg.Schema.Builtin = &builtin
	}
	if cfg.Schema.Tables == nil {
		cfg.Schema.Tables = []metadata.TableConfig{}
	}
	if cfg.Auth.Mode == "" {
		cfg.Auth.Mode = "none"
	}
	users := make([]TokenUserConfig, len(cfg.Auth.Tokens))
	for i, u := range cfg.Auth.Tokens {
		u.Token = maskString(u.Token)
		users[i] = u
	}
	cfg.Auth.Tokens = users
	steps := make([]StepConfig, len(cfg.Steps))
	for i, s := range cfg.Steps {
		if s.Stage == "" {
			def := eventual.PostOperation
			if kind, ok := pipeline.DefaultKinds.Kind(s.Type); ok {
				def = kind.DefaultStage()
			}
			s.Stage = strings.ToLower(def.String())
		}
		if s.Mode == "" {
			s.Mode = "sync"
		}
		s.URL = redactHookURL(s.URL)
		s.Headers = maskValues(s.Headers)
		s.Query = maskValues(s.Query)
		steps[i] = s
	}
	cfg.Steps = steps
	return cfg
}

// effectiveSync is cfg with its secrets masked: tokens, client secrets,
// the state's DSN password and URLs' user info.
func effectiveSync(cfg SyncConfig) SyncConfig {
	cfg.State = redactDSN(cfg.State)
	cfg.Log = effectiveLog(cfg.Log)
	for _, e := range []*EndpointConfig{&cfg.Source, &cfg.Target} {
		e.URL = redactURL(e.URL)
		e.Auth.TokenURL = redactURL(e.Auth.TokenURL)
		if e.Auth.Mode == "" {
			e.Auth.Mode = "none"
		}
		e.Auth.Token = maskString(e.Auth.Token)
		e.Auth.ClientSecret = maskString(e.Auth.ClientSecret)
	}
	cfg.Tables = slices.Clone(cfg.Tables)
	return cfg
}

// effectiveLog spells out the log defaults.
func effectiveLog(l LogConfig) LogConfig {
	l.Format = cmp.Or(strings.ToLower(l.Format), "text")
	l.Level = cmp.Or(strings.ToLower(l.Level), "info")
	return l
}

func maskString(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

func maskValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = masked
	}
	return out
}

// redactURL hides a URL's password; a URL that does not parse is shown
// as such.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User == nil {
		return s
	}
	return u.Redacted()
}

// redactHookURL is redactURL with the query's values masked too: a
// webhook's key travels there (an Azure Function's ?code=).
func redactHookURL(s string) string {
	u, err := url.Parse(redactURL(s))
	if err != nil || u.RawQuery == "" {
		return redactURL(s)
	}
	q := u.Query()
	for k := range q {
		q.Set(k, masked)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
