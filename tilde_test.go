//go:build unix

package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// `path = "~/…"` is under the login user's home on the host, as in ssh
// and scp: the lock, the journal, guards, commands, uploads and the
// user's {{path}} all land there, a rerun skips what is done, and no
// directory named "~" appears. {{user}} is the user ssh_config gives.
func TestTildePathIsHome(t *testing.T) {
	t.Parallel()
	b := make([]byte, 6)
	rand.Read(b)
	name := "deploy-tilde-" + hex.EncodeToString(b)
	_, flags, env := taskFleetEnv(t, `
[app]
path = "~/`+name+`/{{host}}"
[tasks.t]
steps = [
  { run = "mkdir -p {{path}}/shared && echo made > {{path}}/shared/made", creates = "{{path}}/shared/made", on = "front" },
  { upload = "Deployfile", to = "{{path}}/shared/uploaded", on = "front" },
  { run = "echo {{user}} > {{path}}/shared/user", on = "front" },
]`)
	u, err := user.Lookup(env.User)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(u.HomeDir, name)
	t.Cleanup(func() { os.RemoveAll(base) })
	for run := 1; run <= 2; run++ {
		code, out, errOut := runCLI(t, append(flags, "run", "front", "t")...)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s\n%s", run, code, out, errOut)
		}
		if run == 2 && !strings.Contains(out, "skipped: ~/"+name+"/web1/shared/made exists") {
			t.Errorf("the rerun did not skip the step its guard says is done:\n%s", out)
		}
	}
	for _, h := range []string{"web1", "web2"} {
		for _, f := range []string{"shared/made", "shared/uploaded", ".deploy/journal"} {
			if _, err := os.Stat(filepath.Join(base, h, f)); err != nil {
				t.Errorf("%s: %v", h, err)
			}
		}
		if _, err := os.Stat(filepath.Join(base, h, ".deploy", "lock")); err == nil {
			t.Errorf("%s: the lock was left", h)
		}
	}
	// {{user}} is the user ssh_config logs in as (the Deployfile names none).
	if got, _ := os.ReadFile(filepath.Join(base, "web1", "shared", "user")); strings.TrimSpace(string(got)) != env.User {
		t.Errorf("{{user}} was %q, want %s, from ssh_config", got, env.User)
	}
	if _, err := os.Stat(filepath.Join(u.HomeDir, "~")); err == nil {
		t.Error(`a directory named "~" was made in the home`)
	}
}
