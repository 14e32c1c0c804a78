//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// A host that cannot be reached is named once: "connect to web2
// (127.0.0.1:PORT): connection refused", never "connect to web2: connect
// to 127.0.0.1:PORT: dial tcp 127.0.0.1:PORT: connect: …", whichever
// command dials it — a closed port, and a host whose key changed.
func TestConnectErrorSaysItOnce(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	env.Start(t, "web1")
	closed := env.Start(t, "web2")
	closed.Stop()
	changed := env.Start(t, "web3")
	changed.RestartWithNewHostKey(t, env)
	dir := env.UserDir(t)
	df := fmt.Sprintf(`[app]
path = "%s/{{host}}"

[hosts]
web = ["web1", "web2", "web3"]

[tasks.hello]
steps = [{ run = "echo hello" }]
`, dir)
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("connect to web2 (127.0.0.1:%d): connection refused", closed.Port)
	for _, cmd := range [][]string{
		{"exec", "web", "--", "true"},
		{"check", "web"},
		{"run", "web", "hello"},
		{"plan", "web", "hello"},
		{"status", "web"},
		{"exec", "web3", "--", "true"},
	} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}, cmd...)...)
			text := out + errOut
			if code == 0 {
				t.Errorf("exit 0 with hosts unreachable:\n%s", text)
			}
			for _, line := range strings.Split(text, "\n") {
				if n := strings.Count(line, "connect to"); n > 1 || strings.Contains(line, "dial tcp") {
					t.Errorf("line says %d times how it connected: %q", n, line)
				}
			}
			want := refused
			if cmd[1] == "web3" {
				want = "connect to web3: HOST KEY CHANGED for 127.0.0.1:"
			}
			// A run stops at the first host it cannot reach, whichever
			// answers first.
			hostKey := "connect to web3: HOST KEY CHANGED for 127.0.0.1:"
			if cmd[0] == "run" && strings.Contains(text, hostKey) {
				want = hostKey
			}
			if !strings.Contains(text, want) {
				t.Errorf("output does not say %q:\n%s", want, text)
			}
		})
	}
}
