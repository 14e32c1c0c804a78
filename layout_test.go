package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The packages import one way: main wires config (the Deployfile), deploy
// (the engine) and ui (the display); the engine never draws, the
// Deployfile knows nothing of either, and the built-in steps and the
// transports know nothing of any of them.
func TestImportLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/deploy-tool/deploy/"
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		imports[strings.TrimPrefix(fields[0], mod)] = fields[1:]
	}
	forbidden := map[string][]string{
		"deploy/config": {"deploy", "deploy/ui", "remote"},
		"deploy":        {"deploy/ui"},
		"tasks":         {"deploy", "deploy/config", "deploy/ui"},
		"remote":        {"deploy", "deploy/config", "deploy/ui", "tasks"},
	}
	for pkg, never := range forbidden {
		got, ok := imports[pkg]
		if !ok {
			t.Errorf("package %s is not listed by go list", pkg)
			continue
		}
		for _, n := range never {
			if slices.Contains(got, mod+n) {
				t.Errorf("%s imports %s", pkg, n)
			}
		}
	}
}
