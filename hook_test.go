package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// TestMain sets the environment every test shares, once, so the tests
// need no t.Setenv and can run in parallel: no ssh-agent (each test has
// its own key), and a HOME whose git config names a test author.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "deploy-test-home-")
	if err != nil {
		panic(err)
	}
	gitconfig := "[user]\n\tname = Test Dev\n\temail = dev@example.com\n[init]\n\tdefaultBranch = main\n[safe]\n\tdirectory = *\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		panic(err)
	}
	// go build (the binary some tests run) keeps its caches where they
	// were, not under the new HOME, where it would rebuild everything.
	if out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output(); err == nil {
		if v := strings.Split(strings.TrimSpace(string(out)), "\n"); len(v) == 3 {
			os.Setenv("GOCACHE", v[0])
			os.Setenv("GOMODCACHE", v[1])
			os.Setenv("GOPATH", v[2])
		}
	}
	os.Setenv("HOME", home)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Setenv("SSH_AUTH_SOCK", "")
	// The binary takes a while to build; the tests that need it find it
	// ready, or wait for this build rather than start their own.
	go built.once.Do(buildBinary)
	code := m.Run()
	built.once.Do(func() {}) // the build is over
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.RemoveAll(home)
	os.Exit(code)
}

// buildBinary builds the real binary into a temporary directory.
func buildBinary() {
	built.dir, built.err = os.MkdirTemp("", "deploy-bin-")
	if built.err != nil {
		return
	}
	built.path = filepath.Join(built.dir, "deploy")
	if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
		built.err = &exec.Error{Name: "go build: " + string(out), Err: err}
	}
}

// deployBinary is the real binary, built once per test run.
func deployBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(buildBinary)
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// sh runs a command in dir with extra environment, returning its output
// and whether it succeeded.
func sh(t *testing.T, dir string, env []string, name string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func mustSh(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, ok := sh(t, dir, nil, name, args...)
	if !ok {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), out)
	}
	return strings.TrimSpace(out)
}

// gitProject makes a central bare repository and a clone holding a
// Deployfile whose test task passes only when TESTS_OK=1.
func gitProject(t *testing.T) (bare, dir string) {
	t.Helper()
	root := t.TempDir()
	bare = filepath.Join(root, "central.git")
	dir = filepath.Join(root, "work")
	mustSh(t, root, "git", "init", "-q", "--bare", bare)
	mustSh(t, root, "git", "clone", "-q", bare, dir)
	df := `[tasks.test]
steps = [{ local = "echo running tests; [ \"$TESTS_OK\" = 1 ] || { echo 'FAIL: test_home' >&2; exit 1; }" }]
`
	if err := os.WriteFile(filepath.Join(dir, "Deployfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, dir, "git", "add", ".")
	mustSh(t, dir, "git", "commit", "-q", "-m", "first")
	return bare, dir
}

func TestHookBlocksFailingPush(t *testing.T) {
	bin := deployBinary(t)
	bare, dir := gitProject(t)
	if out := mustSh(t, dir, bin, "hook", "install"); !strings.Contains(out, "installed") {
		t.Fatalf("install: %s", out)
	}
	out, ok := sh(t, dir, []string{"TESTS_OK=0"}, "git", "push", "-q", "origin", "main")
	if ok || !strings.Contains(out, "FAIL: test_home") || !strings.Contains(out, "push blocked") {
		t.Fatalf("a failing push went through, or said nothing:\n%s", out)
	}
	if _, ok := sh(t, bare, nil, "git", "rev-parse", "--verify", "-q", "main"); ok {
		t.Fatal("the central repository received the blocked push")
	}

	out, ok = sh(t, dir, []string{"TESTS_OK=1"}, "git", "push", "-q", "origin", "main")
	if !ok || !strings.Contains(out, "running tests") {
		t.Fatalf("a passing push was blocked:\n%s", out)
	}
	if mustSh(t, bare, "git", "rev-parse", "main") != mustSh(t, dir, "git", "rev-parse", "HEAD") {
		t.Fatal("the central repository did not get the push")
	}

	// Same tree, new commit: the tests passed for this content already.
	mustSh(t, dir, "git", "commit", "-q", "--allow-empty", "-m", "same tree")
	out, ok = sh(t, dir, []string{"TESTS_OK=0"}, "git", "push", "-q", "origin", "main")
	if !ok || !strings.Contains(out, "test: tests passed for tree") || strings.Contains(out, "running tests") {
		t.Fatalf("the test cache was not used:\n%s", out)
	}
	// A changed file: tested again, and blocked.
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("x = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, dir, "git", "add", ".")
	mustSh(t, dir, "git", "commit", "-q", "-m", "change")
	if out, ok := sh(t, dir, []string{"TESTS_OK=0"}, "git", "push", "-q", "origin", "main"); ok {
		t.Fatalf("a changed tree was not tested again:\n%s", out)
	}
	// Deleting a remote branch runs no tests.
	if out, ok := sh(t, dir, []string{"TESTS_OK=1"}, "git", "push", "-q", "origin", "HEAD~1:refs/heads/tmp"); !ok {
		t.Fatalf("push tmp: %s", out)
	}
	if out, ok := sh(t, dir, []string{"TESTS_OK=0"}, "git", "push", "-q", "origin", ":tmp"); !ok {
		t.Errorf("a deletion was blocked:\n%s", out)
	}
}

func TestHookChainsAndRestores(t *testing.T) {
	bin := deployBinary(t)
	_, dir := gitProject(t)
	hooks := filepath.Join(dir, "custom-hooks")
	mustSh(t, dir, "git", "config", "core.hooksPath", "custom-hooks")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "old-hook-ran")
	old := "#!/bin/sh\ncat >/dev/null\ntouch " + marker + "\n"
	if err := os.WriteFile(filepath.Join(hooks, "pre-push"), []byte(old), 0o755); err != nil {
		t.Fatal(err)
	}
	out := mustSh(t, dir, bin, "hook", "install")
	if !strings.Contains(out, "pre-push.deploy-chained") {
		t.Errorf("install did not say it kept the old hook: %s", out)
	}
	if out, ok := sh(t, dir, []string{"TESTS_OK=1"}, "git", "push", "-q", "origin", "main"); !ok || !strings.Contains(out, "running tests") {
		t.Fatalf("push: %s", out)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the chained hook did not run")
	}
	if _, ok := sh(t, dir, nil, bin, "hook", "install"); ok {
		t.Error("a second install without --force overwrote the hook")
	}
	mustSh(t, dir, bin, "hook", "uninstall")
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-push")); string(data) != old {
		t.Errorf("uninstall did not restore the old hook: %q", data)
	}
	if _, err := os.Stat(filepath.Join(hooks, "pre-push.deploy-chained")); err == nil {
		t.Error("the chained copy was left behind")
	}
}
