//go:build unix

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// -v traces each connection and each command on stderr, prefixed by
// host, secrets masked; without -v none of it is printed.
func TestVerboseTrace(t *testing.T) {
	t.Parallel()
	_, flags, env := taskFleetEnv(t, `
[tasks.leak]
steps = [{ run = "echo {{token}} >/dev/null; echo \"$PASSWORD\" | wc -c", env = { PASSWORD = "hunter2-value" } }]`)
	srv := env.Servers()
	code, out, errOut := runCLI(t, append(flags, "-v", "run", "web", "leak")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("web1 · connected %s@127.0.0.1:%d in ", env.User, srv["web1"].Port),
		"(tcp ", "ssh handshake and login ",
		"web2 · host key ssh-ed25519 SHA256:",
		": known: in " + env.KnownHosts,
		"web3 · logged in with ssh-ed25519 SHA256:",
		"web1 · run with sh, exporting PASSWORD (values not shown):",
		"web1 ·   │ echo *** >/dev/null; echo \"$PASSWORD\" | wc -c",
		"web3 · exit 0 after ",
		"deploy · Deployfile ",
		"deploy · ssh_config " + env.SSHConfig + " (--ssh-config)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v lacks %q:\n%s", want, errOut)
		}
	}
	for _, secret := range []string{"tok-5ecret-value", "hunter2-value"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("secret %q printed:\n%s\n%s", secret, out, errOut)
		}
	}
	// No [app] path: no lock nor journal, one command a host.
	if n := strings.Count(errOut, "web1 · exit 0 after "); n != 1 {
		t.Errorf("web1: %d command ends traced, want 1:\n%s", n, errOut)
	}

	code, out, quiet := runCLI(t, append(flags, "run", "web", "leak")...)
	if code != 0 || strings.Contains(quiet, " · ") {
		t.Errorf("without -v: exit %d, trace printed:\n%s\n%s", code, out, quiet)
	}
}

// exec -v: a failing command's status, an unknown host key's verdict; a
// command that reaches no host says where its files come from.
func TestVerboseExecAndNoHosts(t *testing.T) {
	t.Parallel()
	env, servers, flags := fleet(t, 2)
	stranger := env.Start(t, "web9", sshtest.Unknown())
	code, _, errOut := runCLI(t, append(flags, "-v", "exec", "web,127.0.0.1:"+strconv.Itoa(stranger.Port), "--", "exit 3")...)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"web1 · run with sh:", "web1 ·   │ exit 3", "web1 · exit status 3 after ",
		fmt.Sprintf("web2 · connected %s@127.0.0.1:%d", env.User, servers[1].Port),
		fmt.Sprintf("127.0.0.1:%d · connect ", stranger.Port), " failed after ",
		": unknown: refused",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("exec -v lacks %q:\n%s", want, errOut)
		}
	}
	for _, args := range [][]string{{"tasks"}, {"hosts"}, {"check"}} {
		code, _, errOut := runCLI(t, append(append(flags, "-v"), args...)...)
		if code != 0 || !strings.Contains(errOut, "deploy · Deployfile ") || !strings.Contains(errOut, "deploy · ssh_config "+env.SSHConfig) {
			t.Errorf("%s -v: exit %d\n%s", args[0], code, errOut)
		}
	}
}
