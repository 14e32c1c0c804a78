package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A dry run changes nothing, so a group with confirm = true does not ask
// (and with no terminal, does not refuse): plan and rollback --dry-run.
func TestDryRunsDoNotConfirm(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "Deployfile")
	df := "[app]\npath = \"" + dir + "/{{host}}\"\n[hosts]\nprod = { hosts = [\"local\"], confirm = true }\n" +
		"[tasks.deploy]\nsteps = [{ run = \"true\" }]\n"
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"plan", "prod"}, {"rollback", "prod", "--dry-run"}, {"prod", "--dry-run"}} {
		_, out, errOut := runCLI(t, append([]string{"--no-color", "-f", file}, cmd...)...)
		if strings.Contains(out+errOut, "confirmation") {
			t.Errorf("%v asks to confirm:\n%s%s", cmd, out, errOut)
		}
	}
	// A real rollback still asks, and with no terminal refuses.
	// A refusal, not a mistyped command: no pointer to deploy help.
	if code, out, errOut := runCLI(t, "--no-color", "-f", file, "rollback", "prod"); code != exitUsage || !strings.Contains(errOut, "asks for confirmation") ||
		strings.Contains(errOut, "deploy help") {
		t.Errorf("rollback prod: exit %d\n%s%s", code, out, errOut)
	}
}
