package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret read from an environment variable that is not set: one line
// naming it and the fix, however many steps and hosts use it; exit 2
// before anything connects (one host is a closed port) or asks to
// confirm; and the fix it names works.
func TestMissingSecretEnvOneLine(t *testing.T) {
	t.Parallel()
	const env = "DEPLOY_TEST_NEVER_SET_DATABASE_URL"
	if _, set := os.LookupEnv(env); set {
		t.Skipf("%s is set", env)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port // nothing listens there once closed
	l.Close()
	df := fmt.Sprintf(`[hosts]
prod = { hosts = ["local", "127.0.0.1:%d"], confirm = true }
here = ["local"]

[vars]
database_url = { env = %q, secret = true }

[tasks.migrate]
steps = [
  { run = "echo migrating with {{database_url}}" },
  { local = "echo local {{database_url}}" },
  { run = "echo again" },
]
`, closed, env)
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	want := `deploy: secret "database_url" needs the environment variable ` + env + `: export ` + env + `=… or pass --var database_url=…` + "\n"
	for _, cmd := range [][]string{{"run", "prod", "migrate"}, {"plan", "prod", "migrate"}, {"run", "here", "migrate"}} {
		code, out, errOut := runCLI(t, append([]string{"--no-color", "-f", file}, cmd...)...)
		if code != exitUsage || errOut != want || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and only:\n%s", cmd, code, out, errOut, want)
		}
	}
	// What reads the hosts and runs no step needs no secret.
	withPath := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(withPath, []byte("[app]\npath = \""+t.TempDir()+"/{{host}}\"\n"+df), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"status", "here"}, {"releases", "here"}, {"history", "here"}} {
		code, out, errOut := runCLI(t, append([]string{"--no-color", "-f", withPath}, cmd...)...)
		if strings.Contains(out+errOut, env) || code == exitUsage {
			t.Errorf("%v asks for the secret: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "--no-color", "-f", file, "--var", "database_url=postgres://u:hunter22@db/app", "run", "here", "migrate")
	if code != 0 || !strings.Contains(out, "migrating with ***") || strings.Contains(out+errOut, "hunter22") {
		t.Errorf("with --var: exit %d\n%s%s", code, out, errOut)
	}
}
