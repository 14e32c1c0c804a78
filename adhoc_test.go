//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// adHocEnv starts three sshd: two known, the third with a host key not in
// known_hosts. Its ssh_config gives 127.0.0.1 the test's user, key and
// known_hosts, as a user's ~/.ssh/config would.
func adHocEnv(t *testing.T) (*sshtest.Env, []*sshtest.Server) {
	t.Helper()
	env := sshtest.New(t)
	servers := []*sshtest.Server{env.Start(t, "web1"), env.Start(t, "web2"), env.Start(t, "web3", sshtest.Unknown())}
	f, err := os.OpenFile(env.SSHConfig, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "Host 127.0.0.1\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n", env.User, env.ClientKey, env.KnownHosts)
	return env, servers
}

// unpad drops the padding that aligns host prefixes.
func unpad(out string) string { return regexp.MustCompile(` +\| `).ReplaceAllString(out, " | ") }

// deployIn runs the binary in dir (no Deployfile there, none named).
func deployIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(deployBinary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEPLOYFILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// exec and check reach hosts named on the command line, with no
// Deployfile: user, key and known_hosts from ssh_config, host keys as
// strict as ever.
func TestAdHocHostsWithoutDeployfile(t *testing.T) {
	t.Parallel()
	env, srv := adHocEnv(t)
	dir := t.TempDir()
	port := func(i int) string { return strconv.Itoa(srv[i].Port) }
	ssh := []string{"--no-color", "--ssh-config", env.SSHConfig}
	mark := filepath.Join(env.UserDir(t), "ran")
	// Which server ran the command: sshd's port, from SSH_CONNECTION.
	whoami := `set -- $SSH_CONNECTION; echo "port $4 user $(id -un)"`
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		stderr  []string
		notRun  bool // the command must not have run anywhere
		noStdio string
	}{
		{"-H, user and port given", []string{"exec", "-H", env.User + "@127.0.0.1:" + port(0) + ",127.0.0.1:" + port(1), "--", whoami}, 0,
			[]string{env.User + "@127.0.0.1:" + port(0) + " | port " + port(0) + " user " + env.User,
				"127.0.0.1:" + port(1) + " | port " + port(1) + " user " + env.User}, []string{"✓ 2 ok"}, false, ""},
		{"target written as hosts", []string{"exec", "127.0.0.1:" + port(1), "--", whoami}, 0,
			[]string{"127.0.0.1:" + port(1) + " | port " + port(1)}, nil, false, ""},
		{"-H, an ssh_config alias", []string{"exec", "-H", "web2", "--", whoami}, 0,
			[]string{"web2 | port " + port(1)}, nil, false, ""},
		{"-H, command without --", []string{"exec", "-H", "127.0.0.1:" + port(0), "echo", "two  spaces"}, 0,
			[]string{"127.0.0.1:" + port(0) + " | two  spaces"}, nil, false, ""},
		{"unknown host key refused", []string{"exec", "-H", "127.0.0.1:" + port(2), "--", "touch " + mark}, 1,
			nil, []string{"unknown host key for 127.0.0.1:" + port(2), "--accept-new-host-keys"}, true, ""},
		{"IPv6 in brackets", []string{"exec", "-H", "u@[::1]:1", "--", "touch " + mark}, 1,
			nil, []string{"([::1]:1): connection refused"}, true, ""},
		{"bad host", []string{"exec", "-H", "-oProxyCommand=x", "--", "touch " + mark}, 2,
			nil, []string{`bad host "-oProxyCommand=x"`}, true, ""},
		{"a plain word is no host without -H", []string{"exec", "web1", "--", "touch " + mark}, 2,
			nil, []string{`there is no Deployfile, so "web1" must be a host: write it as user@web1 or web1:22, or name an ssh_config alias with -H web1`}, true, ""},
		{"check a target written as hosts", []string{"check", "127.0.0.1:" + port(0) + ",127.0.0.1:" + port(2)}, 1,
			[]string{"127.0.0.1:" + port(0) + "  ", "unknown"}, nil, true, ""},
		{"check -H", []string{"check", "-H", env.User + "@127.0.0.1:" + port(1)}, 0,
			[]string{env.User + "@127.0.0.1:" + port(1)}, nil, true, ""},
		{"run needs a Deployfile", []string{"run", "127.0.0.1:" + port(0), "deploy"}, 2,
			nil, []string{"run needs a Deployfile, and there is no Deployfile: write one with `deploy init`"}, true, ""},
		{"plan needs a Deployfile", []string{"plan", "127.0.0.1:" + port(0)}, 2,
			nil, []string{"plan needs a Deployfile"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(mark)
			code, out, errOut := deployIn(t, dir, append(ssh, tt.args...)...)
			out = unpad(out)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if _, err := os.Stat(mark); tt.notRun && err == nil {
				t.Error("the command ran")
			}
		})
	}
}

// With a Deployfile, a target may mix its groups with hosts written as
// hosts, for exec and for a task.
func TestAdHocHostsInTargets(t *testing.T) {
	t.Parallel()
	env, srv := adHocEnv(t)
	root := env.UserDir(t)
	file := filepath.Join(t.TempDir(), "Deployfile")
	df := fmt.Sprintf("[hosts]\nweb = [\"web1\"]\n[tasks.touch]\nsteps = [{ run = \"touch %s/{{host}}\" }]\n", root)
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}
	adhoc := "127.0.0.1:" + strconv.Itoa(srv[1].Port)
	code, out, errOut := runCLI(t, append(flags, "exec", "web,"+adhoc, "--", `set -- $SSH_CONNECTION; echo "port $4"`)...)
	out = unpad(out)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("web1 | port %d", srv[0].Port)) ||
		!strings.Contains(out, fmt.Sprintf("%s | port %d", adhoc, srv[1].Port)) {
		t.Errorf("exec web,%s: exit %d\nstdout:\n%s\nstderr:\n%s", adhoc, code, out, errOut)
	}
	code, out, errOut = runCLI(t, append(flags, "run", "web,"+adhoc, "touch")...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, name := range []string{"web1", adhoc} {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("the task did not run on %s: %v", name, err)
		}
	}
}
