package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/replication"
)

// TestProgressBars: a table's load draws a bar that ends at 100% with its
// row count; a writer that is not a terminal gets no bar (log lines).
func TestProgressBars(t *testing.T) {
	var out bytes.Buffer
	report := progressBars(&out)
	for _, rows := range []int64{500, 1000, 1200} {
		report(replication.Progress{Table: "account", Rows: rows, Total: 1200, Rate: 1000, Done: rows == 1200})
	}
	got := out.String()
	if !strings.Contains(got, "loading account") || !strings.Contains(got, "100%") || !strings.Contains(got, "1200/1200") {
		t.Errorf("the bar drew %q", got)
	}
	if terminalProgress(&out) != nil {
		t.Error("a buffer got a progress bar")
	}
}

// TestSyncConfigFlagsOverFile: flags override the file, --tables picks the
// tables and keeps what the file says of them (columns, key); unknown
// fields in the file are errors.
func TestSyncConfigFlagsOverFile(t *testing.T) {
	path := t.TempDir() + "/sync.yaml"
	file := "source: {url: http://127.0.0.1:1}\ntarget: {url: http://127.0.0.1:2}\nbatch: 100\ntables:\n" +
		"  - {name: account, key: accountnumber_key, columns: [name, accountnumber]}\n  - {name: lead}\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &SyncCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	cfg, _, err := c.config("sync", []string{"--config", path, "--tables", "contact,account", "--batch", "250"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Batch != 250 || len(cfg.Tables) != 2 || cfg.Tables[0].Name != "contact" || cfg.Tables[1].Key != "accountnumber_key" ||
		len(cfg.Tables[1].Columns) != 2 || cfg.Source.URL != "http://127.0.0.1:1" {
		t.Errorf("config = %+v", cfg)
	}
	if err := os.WriteFile(path, []byte(file+"bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.config("sync", []string{"--config", path}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("an unknown field: %v", err)
	}
}
