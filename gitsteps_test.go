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

const gitDeployfile = `
[hosts]
here = ["local"]
[vars]
out = %q
[tasks.test]
steps = [{ local = "echo testing; [ \"$TESTS_OK\" = 1 ] || { echo 'FAIL: test_home' >&2; exit 1; }" }]
[tasks.deploy]
steps = [
  { builtin = "test" },
  { builtin = "commit" },
  { builtin = "push" },
  { local = "touch {{out}}/deployed-{{sha}}", creates = "{{out}}/deployed-{{sha}}", name = "release" },
]
`

func gitDeployProject(t *testing.T) (bare, dir, out string, flags []string) {
	t.Helper()
	bare, dir = gitProject(t)
	out = t.TempDir()
	file := filepath.Join(dir, "Deployfile")
	if err := os.WriteFile(file, []byte(strings.Replace(gitDeployfile, "%q", `"`+out+`"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('v1')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, dir, "git", "add", ".")
	mustSh(t, dir, "git", "commit", "-q", "-m", "deploy tasks")
	mustSh(t, dir, "git", "push", "-q", "--no-verify", "origin", "main")
	return bare, dir, out, []string{"--no-color", "-f", file}
}

func TestDeployTestCommitPush(t *testing.T) {
	bare, dir, out, flags := gitDeployProject(t)
	t.Setenv("TESTS_OK", "1")
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('v2')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scratch.txt"), []byte("not for git\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, errOut := runCLI(t, append(flags, "here", "-m", "Greet in v2")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	sha := mustSh(t, bare, "git", "rev-parse", "main")
	if sha != mustSh(t, dir, "git", "rev-parse", "HEAD") || mustSh(t, dir, "git", "log", "-1", "--format=%s") != "Greet in v2" {
		t.Fatalf("the commit was not made and pushed: central %s", sha)
	}
	if _, err := os.Stat(filepath.Join(out, "deployed-"+sha)); err != nil {
		t.Errorf("the release step did not get the pushed sha: %v", err)
	}
	if st := mustSh(t, dir, "git", "status", "--porcelain"); st != "?? scratch.txt" {
		t.Errorf("untracked file: git status %q", st)
	}
	for _, want := range []string{"local | testing", "not committed (untracked; with.add_untracked = true takes them): scratch.txt", "pushed " + sha[:7]} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// Nothing new: every step skipped, and it says so.
	code, stdout, errOut = runCLI(t, append(flags, "here")...)
	if code != 0 || !strings.Contains(errOut, "Nothing to do") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, stdout, errOut)
	}
	for _, want := range []string{"skipped: tests passed for tree", "skipped: the work tree is clean", "skipped: origin/main is at " + sha[:7] + " already"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("second run lacks %q:\n%s", want, stdout)
		}
	}
}

func TestDeployStops(t *testing.T) {
	bare, dir, _, flags := gitDeployProject(t)
	t.Setenv("TESTS_OK", "1")
	before := mustSh(t, bare, "git", "rev-parse", "main")

	// Failing tests: nothing committed or pushed.
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TESTS_OK", "0")
	code, _, errOut := runCLI(t, append(flags, "here", "-m", "x")...)
	if code != 1 || !strings.Contains(errOut, "tests failed") || mustSh(t, bare, "git", "rev-parse", "main") != before {
		t.Fatalf("failing tests: exit %d\n%s", code, errOut)
	}
	t.Setenv("TESTS_OK", "1")

	// No message off a terminal: a clear error, nothing committed.
	code, stdout, errOut := runCLI(t, append(flags, "here")...)
	if code != 1 || !strings.Contains(stdout+errOut, `there is no commit message: pass -m`) {
		t.Errorf("no message: exit %d\n%s%s", code, stdout, errOut)
	}

	// Someone pushed first: stop before anything else, never force.
	other := filepath.Join(t.TempDir(), "other")
	mustSh(t, dir, "git", "clone", "-q", bare, other)
	if err := os.WriteFile(filepath.Join(other, "theirs.py"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, other, "git", "add", ".")
	mustSh(t, other, "git", "commit", "-q", "-m", "theirs")
	mustSh(t, other, "git", "push", "-q", "--no-verify", "origin", "main")
	theirs := mustSh(t, bare, "git", "rev-parse", "main")
	code, _, errOut = runCLI(t, append(flags, "here", "-m", "ours")...)
	if code != 1 || !strings.Contains(errOut, "the remote has 1 new commit on origin/main: pull, resolve, run again") {
		t.Errorf("remote ahead: exit %d\n%s", code, errOut)
	}
	if mustSh(t, bare, "git", "rev-parse", "main") != theirs {
		t.Error("the central repository changed")
	}

	// Another branch than the one deployed: refused unless --branch.
	mustSh(t, dir, "git", "checkout", "-q", "-b", "feature")
	code, _, errOut = runCLI(t, append(flags, "here", "-m", "x")...)
	if code != 1 || !strings.Contains(errOut, "the branch checked out is feature, and main is deployed") {
		t.Errorf("other branch: exit %d\n%s", code, errOut)
	}
}

// A bare repository on an sshd test host, owned by its login user, and
// the ssh URL that reaches it.
func sshCentral(t *testing.T, env *sshtest.Env, srv *sshtest.Server) (path, url string) {
	t.Helper()
	path = filepath.Join(env.UserDir(t), "central.git")
	mustSh(t, "/", "git", "init", "-q", "--bare", path)
	if os.Geteuid() == 0 {
		mustSh(t, "/", "chown", "-R", env.User, path)
	}
	return path, fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", env.User, srv.Port, path)
}

func TestPushOverSSH(t *testing.T) {
	_, dir := gitProject(t)
	env := sshtest.New(t)
	known := env.Start(t, "git1")
	unknown := env.Start(t, "git2", sshtest.Unknown())
	// The test's key and known_hosts for hosts named by address, as the
	// git URLs name them.
	f, err := os.OpenFile(env.SSHConfig, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "Host 127.0.0.1\n  IdentityFile %s\n  UserKnownHostsFile %s\n", env.ClientKey, env.KnownHosts)
	f.Close()

	df := "[hosts]\nhere = [\"local\"]\n[tasks.ship]\nsteps = [{ builtin = \"push\" }]\n"
	if err := os.WriteFile(filepath.Join(dir, "Deployfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, dir, "git", "commit", "-q", "-am", "ship task")
	flags := []string{"--no-color", "-f", filepath.Join(dir, "Deployfile"), "--ssh-config", env.SSHConfig}

	path, url := sshCentral(t, env, known)
	mustSh(t, dir, "git", "remote", "set-url", "origin", url)
	code, stdout, errOut := runCLI(t, append(flags, "run", "ship", "here")...)
	if code != 0 {
		t.Fatalf("push over ssh: exit %d\n%s\n%s", code, stdout, errOut)
	}
	if got := mustSh(t, "/", "git", "--git-dir", path, "rev-parse", "main"); got != mustSh(t, dir, "git", "rev-parse", "HEAD") {
		t.Errorf("central has %s", got)
	}

	// A host whose key is not known: refused, then recorded on request.
	path2, url2 := sshCentral(t, env, unknown)
	mustSh(t, dir, "git", "remote", "set-url", "origin", url2)
	code, _, errOut = runCLI(t, append(flags, "run", "ship", "here")...)
	if code != 1 || !strings.Contains(errOut, "unknown host key") {
		t.Errorf("unknown host key: exit %d\n%s", code, errOut)
	}
	if _, ok := sh(t, "/", nil, "git", "--git-dir", path2, "rev-parse", "--verify", "-q", "main"); ok {
		t.Error("pushed to a host with an unknown key")
	}
	code, _, errOut = runCLI(t, append(flags, "--accept-new-host-keys", "run", "ship", "here")...)
	if code != 0 {
		t.Errorf("with --accept-new-host-keys: exit %d\n%s", code, errOut)
	}
}
