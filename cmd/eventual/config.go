package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/auth"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/throttle"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// Config is the configuration file of "eventual serve" (--config). Flags
// given on the command line override it. $VARS and ${VARS} in the file are
// expanded from the environment.
//
//	listen: 127.0.0.1:8765
//	db: ./eventual.db
//	placeholders: "on"
//	sqlite:
//	  synchronous: normal   # or full: fsync every commit (survives power loss)
//	limits:
//	  maxBodyBytes: 33554432
//	  maxURLLength: 32768
//	changeTracking:
//	  retention: 168h       # delta tokens and deletions kept this long
//	cors:
//	  allowedOrigins: [https://app.example.com]  # browser apps (SPAs); "*" for any
//	placeholder:
//	  stage: prevalidation  # or preoperation
//	  lookups:              # default: every lookup of the built-in tables
//	    - {lookup: contact.parentcustomerid, name: "Placeholder {key}"}
//	steps:
//	  - {name: notify, type: webhook, message: Create, table: new_order, stage: postoperation, mode: async, url: "http://127.0.0.1:9000/hook"}
//	schema:
//	  builtin: true
//	  tables: [...]         # see metadata.SchemaConfig
type Config struct {
	Listen       string                `yaml:"listen"`
	DB           string                `yaml:"db"`
	Placeholders string                `yaml:"placeholders"`
	SQLite       SQLiteConfig          `yaml:"sqlite"`
	Limits       LimitsConfig          `yaml:"limits"`
	Changes      ChangesConfig         `yaml:"changeTracking"`
	CORS         CORSConfig            `yaml:"cors"`
	Placeholder  PlaceholderConfig     `yaml:"placeholder"`
	Steps        []StepConfig          `yaml:"steps"`
	Schema       metadata.SchemaConfig `yaml:"schema"`
	Log          LogConfig             `yaml:"log"`
	TLS          TLSConfig             `yaml:"tls"`
	Auth         ServeAuthConfig       `yaml:"auth"`
}

// ServeAuthConfig authenticates the Web API's callers (--auth).
//
//	auth:
//	  mode: tokens                  # none (default), tokens or oidc
//	  tokens:
//	    - {token: "${INTEGRATION_TOKEN}", name: Integration, application: true}
//	  # oidc:
//	  issuer: https://login.microsoftonline.com/<tenant>/v2.0
//	  audience: https://contoso.crm.dynamics.com
type ServeAuthConfig struct {
	Mode     string            `yaml:"mode"`
	Tokens   []TokenUserConfig `yaml:"tokens"`
	Issuer   string            `yaml:"issuer"`
	Audience string            `yaml:"audience"`
}

// TokenUserConfig maps a static bearer token to a user.
type TokenUserConfig struct {
	Token string `yaml:"token"`
	// UserID is the user's systemuserid; default a GUID made from Name.
	UserID string `yaml:"userId"`
	Name   string `yaml:"name"`
	// DomainName is the user's sign-in name (systemuser.domainname).
	DomainName  string `yaml:"domainName,omitempty"`
	Application bool   `yaml:"application"`
}

// users returns the static tokens' users.
func (c ServeAuthConfig) users() (auth.Tokens, error) {
	var ts auth.Tokens
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		if t.Token == "" || t.Name == "" {
			return nil, fmt.Errorf("config: auth.tokens[%d]: give a token and a name", i)
		}
		if strings.TrimSpace(t.Token) != t.Token || strings.ContainsAny(t.Token, " \t\r\n") {
			return nil, fmt.Errorf("config: auth.tokens[%d] (%s): a bearer token holds no spaces (a client could never send this one)", i, t.Name)
		}
		if seen[t.Token] {
			return nil, fmt.Errorf("config: auth.tokens[%d] (%s): the same token as another user", i, t.Name)
		}
		seen[t.Token] = true
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("eventual:user:"+t.Name))
		if t.UserID != "" {
			var err error
			if id, err = uuid.Parse(t.UserID); err != nil {
				return nil, fmt.Errorf("config: auth.tokens[%d] (%s): userId %q is not a GUID", i, t.Name, t.UserID)
			}
		}
		ts = append(ts, auth.User{Token: t.Token, Caller: eventual.Caller{UserID: id, Name: t.Name, Domain: t.DomainName, Application: t.Application}})
	}
	return ts, nil
}

// Validate checks the mode and what it needs.
func (c ServeAuthConfig) Validate() error {
	switch strings.ToLower(c.Mode) {
	case "", "none":
		if len(c.Tokens) > 0 || c.Issuer != "" {
			return fmt.Errorf("config: auth.tokens or auth.issuer given, but auth.mode is none: say tokens or oidc")
		}
	case "tokens":
		if len(c.Tokens) == 0 {
			return fmt.Errorf("config: auth mode tokens needs auth.tokens")
		}
		_, err := c.users()
		return err
	case "oidc":
		if c.Issuer == "" || c.Audience == "" {
			return fmt.Errorf("config: auth mode oidc needs auth.issuer and auth.audience")
		}
	default:
		return fmt.Errorf("config: auth mode %q: want none, tokens or oidc", c.Mode)
	}
	return nil
}

// TLSConfig serves HTTPS (both files PEM; --tls-cert, --tls-key).
type TLSConfig struct {
	Cert string `yaml:"cert"` // the certificate chain
	Key  string `yaml:"key"`  // its private key
}

// PlaceholderConfig tunes the placeholder step (placeholders: "on").
type PlaceholderConfig struct {
	// Stage is prevalidation (default) or preoperation.
	Stage string `yaml:"stage"`
	// Lookups lists the lookups that get placeholders; without it, every
	// lookup of the built-in tables does.
	Lookups []PlaceholderLookupConfig `yaml:"lookups"`
}

// PlaceholderLookupConfig configures placeholders for one lookup.
type PlaceholderLookupConfig struct {
	// Lookup is "table.column", for example "contact.parentcustomerid".
	Lookup string `yaml:"lookup"`
	Stage  string `yaml:"stage"`
	// Name is the template of the placeholder's primary name ({id},
	// {key}, {<key column>}).
	Name        string            `yaml:"name"`
	Values      map[string]any    `yaml:"values"`
	FromRequest map[string]string `yaml:"fromRequest"`
}

// StepConfig registers a step. Type names its kind (pipeline.Kinds; the
// built-in kinds are webhook, require and setvalue, see kinds.go); the
// fields up to Configuration are common to every kind, and the kind
// decodes the rest from the step's YAML into its own settings.
type StepConfig struct {
	Name                string        `yaml:"name"`
	Type                string        `yaml:"type"`
	Message             string        `yaml:"message"`
	Table               string        `yaml:"table"`
	Stage               string        `yaml:"stage"`
	Mode                string        `yaml:"mode"`
	Rank                int           `yaml:"rank"`
	FilteringAttributes []string      `yaml:"filteringAttributes"`
	Images              []ImageConfig `yaml:"images"`
	Configuration       string        `yaml:"configuration"`

	// The settings of the built-in kinds. They are listed here so that
	// ParseConfig keeps rejecting unknown fields; the kinds read them
	// from the YAML (webhook.Config, steps.RequireConfig,
	// steps.SetValueConfig), so a new kind's settings are added here too.
	// (omitempty keeps unset settings unset in StepConfig.decode.)

	// webhook
	URL     string            `yaml:"url,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Query   map[string]string `yaml:"query,omitempty"`
	Timeout string            `yaml:"timeout,omitempty"`
	// require
	Columns      []string `yaml:"columns,omitempty"`
	ErrorMessage string   `yaml:"errorMessage,omitempty"`
	// setvalue
	Values        map[string]any `yaml:"values,omitempty"`
	OnlyIfMissing bool           `yaml:"onlyIfMissing,omitempty"`

	// node is the step as written in the file (ParseConfig sets it), so
	// that a kind decodes its settings with the same types the file gave.
	node *yaml.Node
}

// decode decodes the step's settings into a kind's settings struct v:
// from the file's YAML when the step came from ParseConfig, else from the
// fields of sc.
func (sc StepConfig) decode(v any) error {
	n := sc.node
	if n == nil {
		n = new(yaml.Node)
		if err := n.Encode(sc); err != nil {
			return err
		}
	}
	return n.Decode(v)
}

// ImageConfig asks for a pre- or post-image.
type ImageConfig struct {
	Alias   string   `yaml:"alias"`
	Kind    string   `yaml:"kind"` // pre or post
	Columns []string `yaml:"columns"`
}

// ChangesConfig tunes change tracking.
type ChangesConfig struct {
	// Retention is how long delta tokens stay valid and deletions are
	// remembered, as a Go duration ("168h", Dataverse's 7 days, by default).
	Retention string `yaml:"retention"`
}

// RetentionDuration returns the configured retention.
func (c ChangesConfig) RetentionDuration() (time.Duration, error) {
	if c.Retention == "" {
		return webapi.DefaultChangeRetention, nil
	}
	d, err := time.ParseDuration(c.Retention)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config: changeTracking.retention %q is not a positive duration such as 168h", c.Retention)
	}
	return d, nil
}

// CORSConfig lets browser apps on other origins call the Web API.
type CORSConfig struct {
	// AllowedOrigins lists the origins whose requests get CORS headers:
	// scheme://host[:port] (one * allowed in the host) or * for any
	// origin. Default: none, and no CORS headers are sent.
	AllowedOrigins []string `yaml:"allowedOrigins"`
}

// Validate checks the origins.
func (c CORSConfig) Validate() error {
	for _, o := range c.AllowedOrigins {
		if err := webapi.CheckCORSOrigin(o); err != nil {
			return fmt.Errorf("config: cors.allowedOrigins: %w", err)
		}
	}
	return nil
}

// splitOrigins splits the --cors-origins flag: origins separated by commas
// or spaces.
func splitOrigins(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// SQLiteConfig tunes the embedded store.
type SQLiteConfig struct {
	// Synchronous is "normal" (default) or "full".
	Synchronous string `yaml:"synchronous"`
}

// LimitsConfig bounds requests.
type LimitsConfig struct {
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	MaxURLLength int   `yaml:"maxURLLength"`
	// ServiceProtection is off (default), dataverse (the documented
	// limits: 6000 requests and 1200 s of execution time per 300 s, 52
	// concurrent, per user) or custom numbers.
	ServiceProtection ServiceProtectionConfig `yaml:"serviceProtection"`
}

// ServiceProtectionConfig chooses the service-protection limits: in YAML
// "off", "dataverse", or {requests, executionTime, concurrent, window}
// (numbers left out keep Dataverse's).
//
//	limits:
//	  serviceProtection: dataverse
//	  # or: serviceProtection: {requests: 100, window: 10s}
type ServiceProtectionConfig struct {
	Mode          string `yaml:"mode"` // off or dataverse; custom numbers imply on
	Requests      int    `yaml:"requests"`
	ExecutionTime string `yaml:"executionTime"`
	Concurrent    int    `yaml:"concurrent"`
	Window        string `yaml:"window"`
}

// UnmarshalYAML takes "off", "dataverse" or the mapping of custom limits.
func (c *ServiceProtectionConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Mode = n.Value
		return nil
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "requests", "executionTime", "concurrent", "window":
			default: // the file's decoder checks known fields; this one must too
				return fmt.Errorf("line %d: field %s not found in limits.serviceProtection (requests, executionTime, concurrent, window)", n.Content[i].Line, k)
			}
		}
	}
	type plain ServiceProtectionConfig
	p := plain{Mode: "custom"}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = ServiceProtectionConfig(p)
	return nil
}

// MarshalYAML writes the mode alone unless numbers were given.
func (c ServiceProtectionConfig) MarshalYAML() (any, error) {
	if c.Mode != "custom" {
		return c.Mode, nil
	}
	type plain ServiceProtectionConfig
	return plain(c), nil
}

// Limits returns the limits the configuration asks for; ok is false when
// service protection is off.
func (c ServiceProtectionConfig) Limits() (l throttle.Limits, ok bool, err error) {
	switch strings.ToLower(c.Mode) {
	case "", "off":
		return l, false, nil
	case "dataverse", "on":
		return throttle.Dataverse(), true, nil
	case "custom":
	default:
		return l, false, fmt.Errorf("config: limits.serviceProtection %q: want off, dataverse or the limits (requests, executionTime, concurrent, window)", c.Mode)
	}
	l = throttle.Dataverse()
	if c.Requests != 0 {
		l.Requests = c.Requests
	}
	if c.Concurrent != 0 {
		l.Concurrent = c.Concurrent
	}
	for _, d := range []struct {
		name string
		text string
		to   *time.Duration
	}{{"executionTime", c.ExecutionTime, &l.ExecutionTime}, {"window", c.Window, &l.Window}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return l, false, fmt.Errorf("config: limits.serviceProtection.%s %q: a duration such as 300s", d.name, d.text)
		}
		*d.to = v
	}
	if err := l.Validate(); err != nil {
		return l, false, fmt.Errorf("config: limits.%w", err)
	}
	return l, true, nil
}

// Defaults.
const (
	DefaultListen = "127.0.0.1:8765"
	DefaultDB     = "./eventual.db"
)

// DefaultConfig returns the configuration used without a file.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, DB: DefaultDB, Placeholders: "on", SQLite: SQLiteConfig{Synchronous: "normal"}}
}

// ReadConfigFile reads a YAML configuration file over the defaults.
func ReadConfigFile(path string) (Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data)
}

// MaxConfigBytes bounds a configuration file.
const MaxConfigBytes = 4 << 20

// stdinConfig is what readConfig read from standard input: it can be read
// once, and config check reads it before the command it checks does.
var stdinConfig struct {
	once sync.Once
	data []byte
	err  error
}

// readConfig reads a configuration file: a regular file of at most
// MaxConfigBytes, or standard input ("-" or /dev/stdin). A device, a named
// pipe or a directory is refused at once: reading /dev/zero would never
// end, and opening a pipe nobody writes to would block.
func readConfig(path string) ([]byte, error) {
	if path == "-" || path == "/dev/stdin" {
		stdinConfig.once.Do(func() { stdinConfig.data, stdinConfig.err = readAtMost(os.Stdin, "standard input") })
		return stdinConfig.data, stdinConfig.err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAtMost(f, path)
}

func readAtMost(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d MB, more than a configuration", name, MaxConfigBytes>>20)
	}
	return data, nil
}

// ParseConfig parses YAML configuration over the defaults. Unknown fields
// are errors, so typos do not pass silently.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	expanded := os.ExpandEnv(string(data))
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && err.Error() != "EOF" {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		return Config{}, fmt.Errorf("parse config: the file holds more than one YAML document (---); one configuration is one document")
	}
	// Keep each step's YAML for its kind, which decodes its own settings.
	var raw struct {
		Steps []yaml.Node `yaml:"steps"`
	}
	if err := yaml.Unmarshal([]byte(expanded), &raw); err == nil && len(raw.Steps) == len(cfg.Steps) {
		for i := range cfg.Steps {
			cfg.Steps[i].node = &raw.Steps[i]
		}
	}
	return cfg, cfg.Validate()
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if strings.TrimSpace(c.DB) == "" {
		// An unset variable in --db "$DB" would otherwise open nothing
		// and answer writes it cannot keep.
		return fmt.Errorf("config: db is empty: give a SQLite file (%s) or a PostgreSQL DSN (postgres://…)", DefaultDB)
	}
	switch c.Placeholders {
	case "on", "off":
	default:
		return fmt.Errorf("config: placeholders must be \"on\" or \"off\", not %q", c.Placeholders)
	}
	switch c.SQLite.Synchronous {
	case "", "normal", "full":
	default:
		return fmt.Errorf("config: sqlite.synchronous must be \"normal\" or \"full\", not %q", c.SQLite.Synchronous)
	}
	if c.Limits.MaxBodyBytes < 0 || c.Limits.MaxURLLength < 0 {
		return fmt.Errorf("config: limits must not be negative")
	}
	if _, _, err := c.Limits.ServiceProtection.Limits(); err != nil {
		return err
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %.80q is not host:port (127.0.0.1:8765, or 127.0.0.1:0 for a free port)", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("config: listen %.80q: the port is not a number from 0 to 65535", c.Listen)
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return fmt.Errorf("config: tls needs both cert and key (--tls-cert and --tls-key)")
	}
	if err := c.CORS.Validate(); err != nil {
		return err
	}
	if err := c.Log.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	_, err := c.Changes.RetentionDuration()
	return err
}
