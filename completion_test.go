//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Completion is inert: the binary, called as the bash completion script
// calls it (the words typed, then --generate-bash-completion), never
// connects anywhere nor runs a step, whatever the words — a command after
// "--" included, which urfave/cli would otherwise run.
func TestCompletionIsInert(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := deployBinary(t)
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	dir := env.UserDir(t)
	canary := filepath.Join(dir, "CANARY")
	_, work := gitProject(t)
	touch := "touch " + canary
	df := `[app]
name = "canary"
path = "` + dir + `/{{host}}"
[hosts]
web = ["web1"]
[tasks.test]
steps = [{ local = "` + touch + `" }]
[tasks.deploy]
steps = [{ run = "` + touch + `" }, { local = "` + touch + `" }]
`
	if err := os.WriteFile(filepath.Join(work, "Deployfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--ssh-config", env.SSHConfig, "--accept-new-host-keys"}
	tests := [][]string{
		{"exec", "web", "--", "touch", canary},
		{"exec", "web", "--", "sh", "-c", touch},
		{"exec", "web", "--", touch},
		{"exec", "web", "--yes", "--", touch, "--"},
		{"exec", "web", "--generate-bash-completion", "--", touch},
		{"run", "web", "deploy"},
		{"run", "web", "deploy", "--yes", "--", "x"},
		{"web"},
		{"web", "--yes"},
		{"deploy", "web", "--", "x"},
		{"rollback", "web", "--yes"},
		{"plan", "web", "deploy"},
		{"status", "web"},
		{"unlock", "web", "--yes"},
		{"check", "web"},
		{"releases", "web"},
		{"history", "web"},
		{"hook", "pre-push"},
		{"hook", "pre-push", "origin", "x"},
		{"hook", "install"},
		{"hook", "pre-push", "--", "x"},
	}
	before := len(srv.Log())
	for _, words := range tests {
		args := append(append(append([]string(nil), flags...), words...), "--generate-bash-completion")
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Stdin = strings.NewReader("refs/heads/main 1111111111111111111111111111111111111111 refs/heads/main 0000000000000000000000000000000000000000\n")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) || err != nil {
			t.Errorf("deploy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if _, err := os.Stat(canary); err == nil {
			t.Errorf("deploy %s ran a step: the canary exists", strings.Join(words, " "))
			os.Remove(canary)
		}
		if _, err := os.Stat(filepath.Join(work, ".git", "hooks", "pre-push")); err == nil {
			t.Errorf("deploy %s installed a hook", strings.Join(words, " "))
		}
	}
	if log := srv.Log()[before:]; strings.Contains(log, "Connection from") || strings.Contains(log, "Accepted") {
		t.Errorf("completion connected to sshd:\n%s", log)
	}

	// The same binary does connect when not completing: the check above
	// would see it.
	cmd := exec.Command(bin, append(flags, "check", "web")...)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(srv.Log()[before:], "Accepted") {
		t.Errorf("control: deploy check web did not connect: %v\n%s\n%s", err, out, srv.Log()[before:])
	}
}
