package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testproc"
)

// readmeCommand is one command of a shell block of the README: its lines
// joined (a line ending in \ goes on), as bash would read it.
type readmeCommand struct {
	Line int    // the README's line it starts on
	Text string // the command as written, continuation lines included
}

// readmeShellCommands returns the commands of the README's ```sh blocks,
// in order.
func readmeShellCommands(t *testing.T, path string) []readmeCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []readmeCommand
	var cur *readmeCommand
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in = true
			continue
		case in && strings.HasPrefix(line, "```"):
			in, cur = false, nil
			continue
		case !in:
			continue
		}
		if cur == nil {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			cmds = append(cmds, readmeCommand{Line: n})
			cur = &cmds[len(cmds)-1]
		} else {
			cur.Text += "\n"
		}
		cur.Text += line
		if !strings.HasSuffix(strings.TrimSpace(stripComment(line)), `\`) {
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

// stripComment drops a trailing "# comment" outside quotes.
func stripComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// readmeExpect is what some of the README's commands must print, beyond
// exiting 0: the command that contains the key prints the value.
var readmeExpect = map[string]string{
	`$B/accounts(accountnumber='A1')?\$select=name"`:                    `"name":"Contoso"`,
	`$expand=parentcustomerid_account(\$select=name)`:                   `"parentcustomerid_account":{`,
	`$filter=eventual_hydrationstate%20eq%201`:                          `"accountnumber":"ACC-9"`,
	`eventual placeholders list`:                                        "ACC-9",
	`-d '{"name":"Contoso"}'`:                                           "HTTP/1.1 204",
	`eventual sync status --state ./sync.db`:                            "account",
	`eventual demo`:                                                     "invariants",
	`curl -i -X POST $B/contacts -H 'Content-Type: application/json' \`: "HTTP/1.1 204",
	`eventual config check --config eventual.yaml --listen 127.0.0.1:0`: "logicalName: new_project",
	`eventual config check --config sync.yaml`:                          "clientSecret: '********'",
}

// readmeFiles returns the README's ```yaml blocks that name their file on
// their first line ("# eventual.yaml — …"), by file name.
func readmeFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range regexp.MustCompile("(?ms)^```yaml\n(# ([\\w.-]+\\.yaml)\\b[^\\n]*\\n.*?)^```").FindAllStringSubmatch(string(data), -1) {
		files[m[2]] = m[1]
	}
	return files
}

// TestREADMECommands pastes every command of the README's shell blocks
// into bash, in order, as a reader would, and checks that each one works:
// exit 0, and, for some, the output the README describes. The commands
// run in a fresh folder against live processes:
//
//   - the README's yaml blocks that name their file ("# sync.yaml") are
//     in the folder under that name;
//   - "go run ./cmd/eventual" is the binary TestMain built (the same
//     program);
//   - "eventual serve" starts in the background (a reader runs it in its
//     own shell) on a free loopback port; 127.0.0.1:8765 in the other
//     commands is that server's address and 127.0.0.1:8766 a second
//     server's, the sync's target;
//   - "eventual sync" with endpoints runs with --once (the README says
//     it runs until Ctrl-C);
//   - curl fails on an HTTP error (--fail-with-body) and on a URL it
//     refuses, as it does when -s hides the message;
//   - the test commands (go test, .ci/run, the bench script) are what CI
//     itself runs: they are checked for syntax (bash -n), and the
//     packages, fuzz targets and scripts they name must exist.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and the demo")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed; the README's commands use it")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeShellCommands(t, filepath.Join(root, "README.md"))
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in the README's shell blocks; the extraction is broken", len(cmds))
	}
	dir := t.TempDir()
	files := readmeFiles(t, filepath.Join(root, "README.md"))
	for _, name := range []string{"eventual.yaml", "sync.yaml"} {
		if files[name] == "" {
			t.Fatalf("the README has no yaml block starting with \"# %s\"", name)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var a *testproc.Proc
	target := testproc.StartIn(t, t.TempDir(), binary, "serve", "--listen", "127.0.0.1:0", "--db", "b.db")
	var assignments []string // the variables the commands so far set (B=…)
	expected := map[string]bool{}

	for _, c := range cmds {
		text := c.Text
		name := fmt.Sprintf("README.md:%d", c.Line)
		first := strings.Fields(text)[0]
		switch {
		case strings.HasPrefix(text, "go run ./cmd/eventual serve"):
			// The server a reader starts in its own shell.
			args := strings.Fields(stripComment(strings.TrimPrefix(text, "go run ./cmd/eventual ")))
			a = testproc.StartIn(t, dir, binary, append(args, "--listen", "127.0.0.1:0")...)
			t.Logf("%s: started %s", name, a.URL)
			continue
		case first == "go" && !strings.HasPrefix(text, "go run ./cmd/eventual "), first == ".ci/run", strings.HasPrefix(first, "scripts/"),
			strings.Contains(text, " go test "):
			checkTestCommand(t, name, root, text)
			continue
		}
		if a == nil && strings.Contains(text, "127.0.0.1:8765") {
			t.Fatalf("%s: %q talks to 127.0.0.1:8765 before the README has started a server", name, text)
		}
		script := text
		if a != nil {
			script = strings.ReplaceAll(script, "127.0.0.1:8765", strings.TrimSuffix(strings.TrimPrefix(a.Root, "http://"), "/"))
		}
		script = strings.ReplaceAll(script, "127.0.0.1:8766", strings.TrimSuffix(strings.TrimPrefix(target.Root, "http://"), "/"))
		script = strings.ReplaceAll(script, "go run ./cmd/eventual sync --", "go run ./cmd/eventual sync --once --")
		script = strings.ReplaceAll(script, "go run ./cmd/eventual", "\"$EVENTUAL\"")
		prelude := "set -euo pipefail\ncurl() { command curl --fail-with-body --show-error --max-time 30 \"$@\"; }\n" + strings.Join(assignments, "\n") + "\n"

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", prelude+script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "EVENTUAL="+binary, "B=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n$ %s\n%s", name, err, text, out.String())
		}
		t.Logf("%s: $ %s\n%.2000s", name, text, out.String())
		for key, want := range readmeExpect {
			if strings.Contains(strings.ReplaceAll(text, "go run ./cmd/eventual", "eventual"), key) {
				expected[key] = true
				if !strings.Contains(out.String(), want) {
					t.Errorf("%s: the output lacks %q\n$ %s\n%s", name, want, text, out.String())
				}
			}
		}
		if m := regexp.MustCompile(`^(?:export )?([A-Z_][A-Z0-9_]*)=\S+$`).FindStringSubmatch(strings.TrimSpace(stripComment(text))); m != nil {
			assignments = append(assignments, script)
		}
	}
	if a == nil {
		t.Error("the README starts no server (go run ./cmd/eventual serve)")
	}
	for key := range readmeExpect {
		if !expected[key] {
			t.Errorf("no README command contains %q: the README changed, update readmeExpect", key)
		}
	}
}

// checkTestCommand checks a command CI runs itself (go test, .ci/run,
// scripts/…): its syntax, and that the packages, fuzz targets and
// scripts it names exist.
func checkTestCommand(t *testing.T, name, root, text string) {
	t.Helper()
	if out, err := exec.Command("bash", "-n", "-c", text).CombinedOutput(); err != nil {
		t.Errorf("%s: bash -n: %v\n%s", name, err, out)
	}
	words := strings.Fields(stripComment(strings.ReplaceAll(text, "\\\n", " ")))
	var pkgs []string
	fuzz := ""
	for i, w := range words {
		switch {
		case strings.HasPrefix(w, "./") || w == ".ci/run" || strings.HasPrefix(w, "scripts/"):
			p := strings.TrimSuffix(w, "/...")
			fi, err := os.Stat(filepath.Join(root, p))
			switch {
			case err != nil:
				t.Errorf("%s: %s: %v", name, w, err)
			case fi.IsDir():
				pkgs = append(pkgs, p)
			case fi.Mode()&0o111 == 0:
				t.Errorf("%s: %s is not executable", name, w)
			}
		case w == "-fuzz" && i+1 < len(words):
			fuzz = words[i+1]
		}
	}
	if fuzz != "" {
		found := false
		for _, p := range pkgs {
			files, _ := filepath.Glob(filepath.Join(root, p, "*_test.go"))
			for _, f := range files {
				data, _ := os.ReadFile(f)
				if bytes.Contains(data, []byte("func "+fuzz+"(")) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no fuzz target %s in %v", name, fuzz, pkgs)
		}
	}
}
