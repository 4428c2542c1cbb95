package main_test

import (
	"bytes"
	"os/exec"
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
		{[]string{"serve", "-h"}, 0, "", "Examples:"},
		{[]string{"demo", "-h"}, 0, "", "--chaos --seconds 30"},
		{[]string{"placeholders", "-h"}, 0, "placeholders count", ""},
		{[]string{"help", "placeholders"}, 0, "placeholders list", ""},
		{[]string{"placeholders"}, 2, "", "list or count?"},
		{[]string{"sync", "-h"}, 0, "", "eventual sync status --state sync.db"},
		{[]string{"sync", "status", "-h"}, 0, "", "Examples:"},
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
