//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
steps = [{ local = "echo testing; touch {{out}}/tested; [ \"$TESTS_OK\" = 1 ] || { echo 'FAIL: test_home' >&2; exit 1; }" }]
[tasks.deploy]
# Hooks commit nothing: -m is the task's commit step's (they once refused it).
on_success = ["notified"]
on_failure = ["notified"]
steps = [
  { builtin = "test" },
  { builtin = "commit" },
  { builtin = "push" },
  { local = "touch {{out}}/deployed-{{sha}}", creates = "{{out}}/deployed-{{sha}}", name = "release" },
]
[tasks.notified]
steps = [{ local = "touch {{out}}/notified-$DEPLOY_RESULT" }]
[tasks.take]
steps = [{ builtin = "test" }, { builtin = "commit", with = { add_untracked = true } }, { builtin = "push" }]
[tasks.ship]
steps = [{ builtin = "test" }, { builtin = "push" }]
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
	// An ignored file is no concern of the run.
	if err := os.WriteFile(filepath.Join(dir, "scratch.txt"), []byte("not for git\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "info", "exclude"), []byte("scratch.txt\n"), 0o644); err != nil {
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
	if _, err := os.Stat(filepath.Join(out, "notified-ok")); err != nil {
		t.Errorf("the on_success hook did not run: %v", err)
	}
	if st := mustSh(t, dir, "git", "status", "--porcelain"); st != "" {
		t.Errorf("after the run: git status %q", st)
	}
	for _, want := range []string{"local | testing", "changed: app.py", "committed " + sha[:7] + " Greet in v2", "pushed " + sha[:7]} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if want := "commit " + sha[:7] + " Greet in v2\n"; !strings.Contains(errOut, want) {
		t.Errorf("the summary does not name the commit (%q):\n%s", want, errOut)
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
	// A change not committed yet: the plan shows the commit, and the push
	// and release of the commit it makes, not "already".
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('v3')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, errOut = runCLI(t, append(flags, "plan", "here")...)
	for _, step := range []string{"commit", "push", "release"} {
		if code != 0 || !regexp.MustCompile(`(?m)^\s*\d+\.\s+`+step+` +→ would run`).MatchString(stdout+errOut) {
			t.Errorf("plan of an uncommitted change: %s does not say would run (exit %d)\n%s\n%s", step, code, stdout, errOut)
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
	code, stdout, errOut := runCLI(t, append(flags, "run", "here", "ship")...)
	if code != 0 {
		t.Fatalf("push over ssh: exit %d\n%s\n%s", code, stdout, errOut)
	}
	if got := mustSh(t, "/", "git", "--git-dir", path, "rev-parse", "main"); got != mustSh(t, dir, "git", "rev-parse", "HEAD") {
		t.Errorf("central has %s", got)
	}

	// A host whose key is not known: refused, then recorded on request.
	path2, url2 := sshCentral(t, env, unknown)
	mustSh(t, dir, "git", "remote", "set-url", "origin", url2)
	code, _, errOut = runCLI(t, append(flags, "run", "here", "ship")...)
	if code != 1 || !strings.Contains(errOut, "unknown host key") {
		t.Errorf("unknown host key: exit %d\n%s", code, errOut)
	}
	if _, ok := sh(t, "/", nil, "git", "--git-dir", path2, "rev-parse", "--verify", "-q", "main"); ok {
		t.Error("pushed to a host with an unknown key")
	}
	code, _, errOut = runCLI(t, append(flags, "--accept-new-host-keys", "run", "here", "ship")...)
	if code != 0 {
		t.Errorf("with --accept-new-host-keys: exit %d\n%s", code, errOut)
	}
}

// What is tested, committed and pushed is one commit: a work tree whose
// tests would see files the commit pushed lacks stops the run before the
// tests, naming the files and the fixes; -m and --add-untracked need a
// commit step to take them. Asked for, untracked files are committed with
// -m's message and pushed.
func TestUntrackedFiles(t *testing.T) {
	tests := []struct {
		name     string
		change   map[string]string // files written in the work tree
		args     []string
		wantCode int
		wantErr  []string // in stderr
	}{
		{"untracked, commit step", map[string]string{"new.py": "x\n", "lib/util.py": "y\n"}, []string{"here", "-m", "x"}, 2,
			[]string{"untracked files (not ignored) that the tests would see and the commit deployed would not hold",
				"      lib/util.py\n      new.py\n", "git add them", ".gitignore", "--add-untracked"}},
		{"untracked, no commit step", map[string]string{"new.py": "x\n"}, []string{"run", "here", "ship"}, 2,
			[]string{"      new.py\n", "commit them (git add, git commit)", "--add-untracked needs a commit step"}},
		{"tracked change, no commit step", map[string]string{"app.py": "print('v2')\n"}, []string{"run", "here", "ship"}, 2,
			[]string{"changes that the tests would see", "      app.py\n", "no commit step before the push"}},
		{"-m, no commit step", nil, []string{"run", "here", "ship", "-m", "x"}, 2,
			[]string{"-m gives a commit message, and the task has no commit step"}},
		{"--add-untracked, no commit step", map[string]string{"new.py": "x\n"}, []string{"run", "here", "ship", "--add-untracked"}, 2,
			[]string{"--add-untracked asks the commit step", "      new.py\n"}},
		{"--add-untracked", map[string]string{"new.py": "x\n", "app.py": "print('v2')\n"}, []string{"here", "--add-untracked", "-m", "Add new.py\n\nand more"}, 0, nil},
		{"with.add_untracked", map[string]string{"new.py": "x\n"}, []string{"run", "here", "take", "-m", "Add new.py"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bare, dir, out, flags := gitDeployProject(t)
			t.Setenv("TESTS_OK", "1")
			before := mustSh(t, bare, "git", "rev-parse", "main")
			for name, content := range tt.change {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, stdout, errOut := runCLI(t, append(flags, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.wantCode, stdout, errOut)
			}
			_, err := os.Stat(filepath.Join(out, "tested"))
			if tested := err == nil; tested != (tt.wantCode == 0) {
				t.Errorf("the tests ran: %v, want %v\n%s", tested, tt.wantCode == 0, stdout)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			central := mustSh(t, bare, "git", "rev-parse", "main")
			if tt.wantCode != 0 {
				if central != before {
					t.Errorf("a refused run pushed %s", central)
				}
				return
			}
			// Everything the tests saw is in the commit pushed, with -m's
			// message, and the summary names it.
			head := mustSh(t, dir, "git", "rev-parse", "HEAD")
			subject := mustSh(t, dir, "git", "log", "-1", "--format=%s")
			if central != head || subject != "Add new.py" {
				t.Errorf("central %s, HEAD %s %q", central, head, subject)
			}
			for name, content := range tt.change {
				if got := mustSh(t, bare, "git", "show", "main:"+name); got != strings.TrimSpace(content) {
					t.Errorf("pushed %s: %q", name, got)
				}
			}
			if st := mustSh(t, dir, "git", "status", "--porcelain"); st != "" {
				t.Errorf("left uncommitted: %q", st)
			}
			if want := "commit " + head[:7] + " Add new.py\n"; !strings.Contains(errOut, want) {
				t.Errorf("the summary does not name the commit (%q):\n%s", want, errOut)
			}
		})
	}
}
