package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/client"
	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2/clientcredentials"
)

// SyncConfig is the configuration file of "eventual sync" (--config).
// Flags given on the command line override it; $VARS and ${VARS} are
// expanded from the environment, so secrets stay out of the file.
//
//	source:
//	  url: https://contoso.crm.dynamics.com      # or an eventual serve, http://127.0.0.1:8765
//	  auth:
//	    mode: clientCredentials                  # none (default), token, clientCredentials
//	    tenantId: ${TENANT_ID}
//	    clientId: ${CLIENT_ID}
//	    clientSecret: ${CLIENT_SECRET}
//	target:
//	  url: http://127.0.0.1:8766
//	  auth: {mode: token, token: ${TARGET_TOKEN}}
//	state: ./sync.db                             # or postgres://… (several sync processes, one state)
//	interval: 250ms
//	batch: 500
//	lease: 5s          # a killed sync's tables wait this long for another sync
//	adopt: true        # ask an eventual target to adopt placeholders made by alternate key
//	placeholders:      # how pull-through finds the target's placeholders
//	  column: eventual_hydrationstate
//	  value: 1
//	tables:
//	  - name: account
//	    key: accountnumber_key   # match by this alternate key on the target (default: primary key)
//	  - name: contact
//	    columns: [firstname, lastname, emailaddress1, parentcustomerid]
type SyncConfig struct {
	Source       EndpointConfig         `yaml:"source"`
	Target       EndpointConfig         `yaml:"target"`
	State        string                 `yaml:"state"`
	Interval     string                 `yaml:"interval"`
	Batch        int                    `yaml:"batch"`
	Adopt        *bool                  `yaml:"adopt"`
	Placeholders SyncPlaceholdersConfig `yaml:"placeholders"`
	Tables       []SyncTableConfig      `yaml:"tables"`
	Listen       string                 `yaml:"listen"`
	Lease        string                 `yaml:"lease"`
	Breaker      SyncBreakerConfig      `yaml:"breaker"`
	Log          LogConfig              `yaml:"log"`
}

// EndpointConfig is one end of the sync: a Web API endpoint and how to
// authenticate to it.
type EndpointConfig struct {
	URL  string     `yaml:"url"`
	Auth AuthConfig `yaml:"auth"`
	// CAFile names PEM certificates to trust for the endpoint's HTTPS
	// instead of the system's (an eventual serve --tls-cert with a test
	// CA).
	CAFile string `yaml:"caFile"`
}

// AuthConfig authenticates to an endpoint.
type AuthConfig struct {
	// Mode is none (default), token or clientCredentials.
	Mode  string `yaml:"mode"`
	Token string `yaml:"token"`
	// TenantID, ClientID and ClientSecret are Entra ID's; TokenURL
	// overrides the token endpoint (default
	// https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token) and
	// Scope the scope (default <url>/.default).
	TenantID     string `yaml:"tenantId"`
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`
	TokenURL     string `yaml:"tokenUrl"`
	Scope        string `yaml:"scope"`
}

// SyncTableConfig is one table to replicate.
type SyncTableConfig struct {
	Name    string   `yaml:"name"`
	Columns []string `yaml:"columns"`
	// Key is the target's alternate key the table is matched by (its
	// name, or its columns comma separated); empty matches by primary key.
	// Match by key on a target that cannot adopt placeholders (Dataverse).
	Key string `yaml:"key"`
}

// SyncPlaceholdersConfig selects the target's pending placeholders.
type SyncPlaceholdersConfig struct {
	Column string `yaml:"column"`
	Value  any    `yaml:"value"`
}

// SyncBreakerConfig tunes each endpoint's circuit breaker.
type SyncBreakerConfig struct {
	Failures   uint32 `yaml:"failures"`
	OpenFor    string `yaml:"openFor"`
	MaxOpenFor string `yaml:"maxOpenFor"`
}

// DefaultSyncState is the state file when none is named.
const DefaultSyncState = "./eventual-sync.db"

// DefaultSyncConfig returns the defaults: SQLite state, 250ms polls,
// batches of 500, adoption on, breakers that probe at least once a
// second.
func DefaultSyncConfig() SyncConfig {
	adopt := true
	return SyncConfig{State: DefaultSyncState, Interval: "250ms", Batch: 500, Adopt: &adopt, Lease: "5s",
		Breaker: SyncBreakerConfig{Failures: 5, OpenFor: "250ms", MaxOpenFor: "1s"}}
}

// ParseSyncConfig parses YAML over the defaults; unknown fields are errors.
func ParseSyncConfig(data []byte) (SyncConfig, error) {
	cfg := DefaultSyncConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(os.ExpandEnv(string(data)))))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && err.Error() != "EOF" {
		return SyncConfig{}, fmt.Errorf("parse sync config: %w", err)
	}
	return cfg, nil
}

// Validate checks the configuration.
// sameEndpoint reports whether two endpoint URLs name one instance: the
// same URL but for case, trailing slashes and the Web API path.
func sameEndpoint(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimRight(strings.ToLower(s), "/")
		if i := strings.Index(s, "/api/data/"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	return norm(a) == norm(b)
}

func (c SyncConfig) Validate() error {
	var errs []error
	if c.Source.URL == "" || c.Target.URL == "" {
		errs = append(errs, errors.New("both --source and --target are required"))
	} else {
		for _, e := range []struct{ flag, url string }{{"--source", c.Source.URL}, {"--target", c.Target.URL}} {
			if u, err := url.Parse(e.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s %.80q is not an http(s) URL (http://127.0.0.1:8765, or the Web API root)", e.flag, e.url))
			}
		}
		if sameEndpoint(c.Source.URL, c.Target.URL) {
			errs = append(errs, fmt.Errorf("--source and --target are the same endpoint (%.80q): a sync copies one instance to another", c.Source.URL))
		}
	}
	if len(c.Tables) == 0 {
		errs = append(errs, errors.New("no tables: give --tables account,contact or tables in the config"))
	}
	for _, t := range c.Tables {
		if t.Name == "" || strings.ToLower(t.Name) != t.Name {
			errs = append(errs, fmt.Errorf("table %q: a table is named by its logical name, lower case", t.Name))
		}
	}
	if _, err := c.IntervalDuration(); err != nil {
		errs = append(errs, err)
	}
	if c.Batch < 1 || c.Batch > 5000 {
		errs = append(errs, fmt.Errorf("batch %d: between 1 and 5000", c.Batch))
	}
	for _, e := range []EndpointConfig{c.Source, c.Target} {
		if _, err := e.options(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := c.LeaseDuration(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := c.Breaker.durations(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Log.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// IntervalDuration is the poll interval.
func (c SyncConfig) IntervalDuration() (time.Duration, error) {
	d, err := time.ParseDuration(c.Interval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("interval %q: a positive duration such as 250ms", c.Interval)
	}
	return d, nil
}

// LeaseDuration is how long a table's lease lasts without renewal.
func (c SyncConfig) LeaseDuration() (time.Duration, error) {
	d, err := time.ParseDuration(c.Lease)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lease %q: a positive duration such as 5s", c.Lease)
	}
	return d, nil
}

func (b SyncBreakerConfig) durations() (open, max time.Duration, err error) {
	if open, err = time.ParseDuration(b.OpenFor); err != nil || open <= 0 {
		return 0, 0, fmt.Errorf("breaker.openFor %q: a positive duration", b.OpenFor)
	}
	if max, err = time.ParseDuration(b.MaxOpenFor); err != nil || max < open {
		return 0, 0, fmt.Errorf("breaker.maxOpenFor %q: a duration no shorter than openFor", b.MaxOpenFor)
	}
	return open, max, nil
}

// options are the client options of an endpoint's auth.
func (e EndpointConfig) options() (client.Options, error) {
	var o client.Options
	switch strings.ToLower(e.Auth.Mode) {
	case "", "none":
	case "token":
		if e.Auth.Token == "" {
			return o, fmt.Errorf("%s: auth mode token needs a token", e.URL)
		}
		o.Token = e.Auth.Token
	case "clientcredentials":
		a := e.Auth
		if a.ClientID == "" || a.ClientSecret == "" || (a.TenantID == "" && a.TokenURL == "") {
			return o, fmt.Errorf("%s: auth mode clientCredentials needs clientId, clientSecret and tenantId (or tokenUrl)", e.URL)
		}
		tokenURL := a.TokenURL
		if tokenURL == "" {
			tokenURL = "https://login.microsoftonline.com/" + a.TenantID + "/oauth2/v2.0/token"
		}
		scope := a.Scope
		if scope == "" {
			scope = strings.TrimSuffix(strings.SplitN(e.URL, "/api/data", 2)[0], "/") + "/.default"
		}
		o.ClientCredentials = &clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: tokenURL, Scopes: []string{scope}}
	default:
		return o, fmt.Errorf("%s: auth mode %q: none, token or clientCredentials", e.URL, e.Auth.Mode)
	}
	if e.CAFile != "" {
		pool, err := client.LoadCAs(e.CAFile)
		if err != nil {
			return o, fmt.Errorf("%s: caFile: %w", e.URL, err)
		}
		o.RootCAs = pool
	}
	return o, nil
}
