package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExitCodes: help asked for exits 0 and prints it; a command line
// eventual cannot run (no command, an unknown one, a flag that is not
// one) exits 2 with a one-line hint, naming a near miss.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a part of standard output
		stderr string // a part of standard error
	}{
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"help"}, 0, "Exit codes:", ""},
		{[]string{"help", "version"}, 0, "eventual version -json", ""},
		{[]string{"version", "-h"}, 0, "Prints the version", ""},
		{[]string{"serve", "-h"}, 0, "Examples:", ""},
		{[]string{"demo", "-h"}, 0, "--chaos --seconds 30", ""},
		{[]string{"placeholders", "-h"}, 0, "placeholders count", ""},
		{[]string{"help", "placeholders"}, 0, "placeholders list", ""},
		{[]string{"placeholders"}, 2, "", "list or count?"},
		{[]string{"sync", "-h"}, 0, "eventual sync status --state sync.db", ""},
		{[]string{"sync", "status", "-h"}, 0, "Examples:", ""},
		{[]string{"config", "-h"}, 0, "eventual config check --config eventual.yaml", ""},
		{[]string{"config"}, 2, "", "check what?"},
		{[]string{"config", "check"}, 2, "", "give --config FILE"},
		{[]string{"config", "check", "--config", "/nonexistent/eventual.yaml"}, 3, "", "no such file"},
		{[]string{"serve", "--config", "/nonexistent/eventual.yaml"}, 3, "", "no such file"},
		{[]string{"sync", "deadletters", "drop"}, 2, "", "give --table"},
		{[]string{"sync", "status", "--state", "/nonexistent/sync.db"}, 1, "", "no sync state at /nonexistent/sync.db"},
		{[]string{"sync", "deadletters", "list", "--state", "/nonexistent/sync.db"}, 1, "", "no sync state at"},
		{[]string{"conifg"}, 2, "", `did you mean "config"?`},
		{[]string{"sync", "deadletters", "-h"}, 0, "deadletters retry", ""},
		{[]string{"sync", "deadletters"}, 2, "", "list, drop or retry?"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"version"}, 0, "eventual ", ""},
		{nil, 2, "", "no command given"},
		{[]string{"serv"}, 2, "", `did you mean "serve"?`},
		{[]string{"help", "nosuch"}, 2, "", `unknown command "nosuch"`},
		{[]string{"serve", "--nosuch"}, 2, "", "flag provided but not defined: -nosuch (eventual serve -h lists the flags)"},
		{[]string{"placeholders", "list", "--bogus"}, 2, "", "eventual placeholders list -h"},
		{[]string{"sync", "--listen"}, 2, "", "flag needs an argument"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("eventual %v: exit %d, stdout %q, stderr %q; want exit %d with %q / %q", tc.args, code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestHelpOfEveryCommand: every command and subcommand answers -h and
// --help with its usage and examples on standard output, nothing on
// standard error, and exit 0, in one style.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"serve"}, {"sync"}, {"sync", "status"}, {"sync", "deadletters"}, {"sync", "deadletters", "list"},
		{"sync", "deadletters", "drop"}, {"sync", "deadletters", "retry"}, {"demo"}, {"placeholders"},
		{"placeholders", "list"}, {"placeholders", "count"}, {"config"}, {"config", "check"}, {"version"},
	} {
		for _, h := range []string{"-h", "--help"} {
			name := strings.Join(append(args, h), " ")
			t.Run(name, func(t *testing.T) {
				out, errOut, code := run(t, nil, append(slices.Clone(args), h)...)
				if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: eventual "+args[0]) || !strings.Contains(out, "Examples:\n  eventual "+args[0]) {
					t.Errorf("eventual %s: exit %d, stderr %q, stdout:\n%s\nwant exit 0, usage and examples on stdout only", name, code, errOut, out)
				}
			})
		}
	}
}

// run runs the binary with env added to the process's environment and
// returns its standard output, standard error and exit code.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestConfigCheck: "config check" validates a serve or a sync
// configuration without starting anything, prints it as it will be used
// (defaults, environment and flags applied) with its secrets masked, and
// exits 3 for a configuration that is wrong.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serve := write("serve.yaml", `db: postgres://eventual:$DB_PASSWORD@127.0.0.1:5432/test?sslmode=disable&password=$DB_PASSWORD
steps:
  - {name: notify, type: webhook, message: Create, table: account, mode: async,
     url: "http://hook:$HOOK_PASSWORD@127.0.0.1:9/hook?code=$HOOK_KEY", headers: {x-functions-key: "$HOOK_KEY"}, query: {code: "$HOOK_KEY"}}
`)
	sync := write("sync.yaml", `source: {url: http://127.0.0.1:9/api/data/v9.2/, auth: {mode: token, token: "${SOURCE_TOKEN}"}}
target:
  url: http://127.0.0.1:8/api/data/v9.2/
  auth: {mode: clientCredentials, tenantId: t, clientId: c, clientSecret: "${CLIENT_SECRET}"}
state: postgres://sync:$DB_PASSWORD@127.0.0.1:5432/test
tables: [{name: account, key: accountnumber_key}]
`)
	secrets := []string{"DB_PASSWORD=dbsecret1", "HOOK_PASSWORD=hooksecret2", "HOOK_KEY=hookkey3", "SOURCE_TOKEN=token4", "CLIENT_SECRET=clientsecret5"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // parts of stdout (exit 0) or stderr
	}{
		{"serve file", []string{"config", "check", "--config", serve, "--listen", "127.0.0.1:0"}, 0,
			[]string{"# eventual serve: the configuration is valid", "listen: 127.0.0.1:0", "db: postgres://eventual:xxxxx@127.0.0.1:5432/test",
				"stage: postoperation", "url: http://hook:xxxxx@127.0.0.1:9/hook?code=%2A%2A%2A%2A%2A%2A%2A%2A", "x-functions-key: '********'", "code: '********'",
				"retention: 168h", "maxBodyBytes: 33554432", "synchronous: normal", "builtin: true"}},
		{"serve flags alone", []string{"config", "check", "serve", "--placeholders", "off"}, 0, []string{"placeholders: \"off\"", "db: ./eventual.db"}},
		{"sync file", []string{"config", "check", "--config", sync, "--batch", "100"}, 0,
			[]string{"# eventual sync: the configuration is valid", "token: '********'", "clientSecret: '********'",
				"state: postgres://sync:xxxxx@127.0.0.1:5432/test", "batch: 100", "key: accountnumber_key", "interval: 250ms"}},
		{"serve value", []string{"config", "check", "--config", write("bad.yaml", "placeholders: maybe\n")}, 3, []string{`placeholders must be "on" or "off"`}},
		{"serve unknown field", []string{"config", "check", "--config", write("typo.yaml", "listne: 127.0.0.1:0\n")}, 3, []string{"field listne not found"}},
		{"service protection typo", []string{"config", "check", "--config", write("sp.yaml", "limits:\n  serviceProtection: {requets: 5}\n")}, 3, []string{"field requets not found"}},
		{"service protection mode", []string{"config", "check", "--config", write("sp2.yaml", "limits: {serviceProtection: always}\n")}, 3, []string{`limits.serviceProtection "always"`}},
		{"service protection custom", []string{"config", "check", "--config", write("sp3.yaml", "limits: {serviceProtection: {requests: 5, window: 10s}}\n")}, 0, []string{"requests: 5", "window: 10s", "executionTime: 20m0s", "concurrent: 52"}},
		{"webhook url echo", []string{"config", "check", "--config", write("hook.yaml", "steps: [{name: h, type: webhook, message: Create, table: account, url: \"ftp://u:$HOOK_PASSWORD@127.0.0.1/x?code=$HOOK_KEY\"}]\n")}, 3, []string{`not "ftp://127.0.0.1/x"`}},
		{"token with spaces", []string{"config", "check", "--config", write("tok.yaml", "auth: {mode: tokens, tokens: [{token: \" pad \", name: A}]}\n")}, 3, []string{"holds no spaces"}},
		{"tokens without the mode", []string{"config", "check", "--config", write("tok2.yaml", "auth: {tokens: [{token: t, name: A}]}\n")}, 3, []string{"auth.mode is none"}},
		{"listen not an address", []string{"config", "check", "serve", "--listen", "not an address"}, 3, []string{"is not host:port"}},
		{"listen port out of range", []string{"config", "check", "serve", "--listen", "127.0.0.1:99999"}, 3, []string{"not a number from 0 to 65535"}},
		{"db empty (an unset variable)", []string{"config", "check", "serve", "--db", ""}, 3, []string{"db is empty"}},
		{"serve refuses an empty db", []string{"serve", "--db", " ", "--listen", "127.0.0.1:0"}, 3, []string{"db is empty"}},
		{"db empty in a file", []string{"config", "check", "--config", write("nodb.yaml", "db: \"\"\n")}, 3, []string{"db is empty"}},
		{"two documents", []string{"config", "check", "--config", write("two.yaml", "listen: 127.0.0.1:1\n---\nlisten: 0.0.0.0:80\n")}, 3, []string{"more than one YAML document"}},
		{"serve step", []string{"config", "check", "--config", write("step.yaml", "steps: [{name: x, type: nosuch, message: Create, table: account}]\n")}, 3, []string{`type "nosuch"`}},
		{"serve schema", []string{"config", "check", "--config", write("schema.yaml", "schema: {tables: [{logicalName: Bad Name}]}\n")}, 3, []string{"Bad Name"}},
		{"sync value", []string{"config", "check", "sync", "--source", "http://127.0.0.1:9/", "--target", "http://127.0.0.1:8/"}, 3, []string{"no tables"}},
		{"sync source not a URL", []string{"config", "check", "sync", "--source", "not a url", "--target", "http://127.0.0.1:8/", "--tables", "account"}, 3, []string{"--source \"not a url\" is not an http(s) URL"}},
		{"sync to itself", []string{"config", "check", "sync", "--source", "http://127.0.0.1:9/", "--target", "http://127.0.0.1:9/api/data/v9.2/", "--tables", "account"}, 3, []string{"the same endpoint"}},
		{"not yaml", []string{"config", "check", "--config", write("broken.yaml", "listen: [\n")}, 3, []string{"parse config"}},
		{"serve refuses it too", []string{"serve", "--config", filepath.Join(dir, "bad.yaml")}, 3, []string{`placeholders must be "on" or "off"`}},
		{"bad flag", []string{"config", "check", "serve", "--nosuch"}, 2, []string{"flag provided but not defined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, secrets, tc.args...)
			got := errOut
			if tc.code == 0 {
				got = out
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, s := range secrets {
				if _, v, _ := strings.Cut(s, "="); strings.Contains(out+errOut, v) {
					t.Errorf("output shows the secret %s:\n%s%s", s, out, errOut)
				}
			}
		})
	}

	// What the check prints is itself a configuration that checks the same.
	out, _, code := run(t, nil, "config", "check", "--config", write("plain.yaml", "listen: 127.0.0.1:0\nplaceholder: {stage: preoperation}\nsteps: [{name: r, type: require, message: Create, table: account, columns: [name]}]\n"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	again, errOut, code := run(t, nil, "config", "check", "--config", write("effective.yaml", out))
	if code != 0 || again != out {
		t.Errorf("the effective configuration does not check the same: exit %d, %s\nfirst:\n%s\nagain:\n%s", code, errOut, out, again)
	}
}
