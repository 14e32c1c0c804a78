package tasks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitEnv isolates git from the developer's config: a HOME of its own with
// an identity, used by both the git CLI and go-git.
func gitEnv(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	cfg := "[user]\n\tname = Test Dev\n\temail = dev@example.com\n[init]\n\tdefaultBranch = main\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// central makes a bare central repository with one commit on main, and a
// clone of it; more clones come from clone().
func central(t *testing.T) (bare string, clone func() string) {
	t.Helper()
	gitEnv(t)
	root := t.TempDir()
	bare = filepath.Join(root, "central.git")
	gitCLI(t, root, "init", "-q", "--bare", bare)
	n := 0
	clone = func() string {
		n++
		dir := filepath.Join(root, "clone"+string(rune('0'+n)))
		gitCLI(t, root, "clone", "-q", bare, dir)
		return dir
	}
	first := clone()
	write(t, filepath.Join(first, "app.py"), "print('v1')\n")
	write(t, filepath.Join(first, ".gitignore"), "*.pyc\n")
	gitCLI(t, first, "add", ".")
	gitCLI(t, first, "commit", "-q", "-m", "first")
	gitCLI(t, first, "push", "-q", "origin", "main")
	return bare, clone
}

func TestPush(t *testing.T) {
	bare, clone := central(t)
	dir := clone()
	repo, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res, err := repo.Push(ctx, "origin", "main", nil)
	if err != nil || !res.Already {
		t.Fatalf("nothing new: %+v %v", res, err)
	}

	write(t, filepath.Join(dir, "app.py"), "print('v2')\n")
	gitCLI(t, dir, "commit", "-q", "-am", "v2")
	res, err = repo.Push(ctx, "origin", "main", nil)
	if err != nil || res.Already {
		t.Fatalf("new commit: %+v %v", res, err)
	}
	if got := gitCLI(t, bare, "rev-parse", "main"); got != res.SHA.String() || got != gitCLI(t, dir, "rev-parse", "HEAD") {
		t.Errorf("central main = %s, pushed %s", got, res.SHA)
	}

	// Someone else pushes first: we stop, and change nothing.
	other := clone()
	write(t, filepath.Join(other, "other.py"), "x = 1\n")
	gitCLI(t, other, "add", ".")
	gitCLI(t, other, "commit", "-q", "-m", "theirs")
	gitCLI(t, other, "push", "-q", "origin", "main")
	theirs := gitCLI(t, bare, "rev-parse", "main")
	write(t, filepath.Join(dir, "app.py"), "print('v3')\n")
	gitCLI(t, dir, "commit", "-q", "-am", "ours")
	_, err = repo.Push(ctx, "origin", "main", nil)
	var ahead *RemoteAheadError
	if !errors.As(err, &ahead) || ahead.New != 1 || err.Error() != "the remote has 1 new commit on origin/main: pull, resolve, run again" {
		t.Fatalf("got %v, want a RemoteAheadError of 1 commit", err)
	}
	if got := gitCLI(t, bare, "rev-parse", "main"); got != theirs {
		t.Error("the central repository changed")
	}
}

func TestCommit(t *testing.T) {
	_, clone := central(t)
	dir := clone()
	repo, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit("nothing", false); !errors.Is(err, ErrNothingToCommit) {
		t.Fatalf("clean tree: %v", err)
	}
	before := gitCLI(t, dir, "rev-parse", "HEAD")
	write(t, filepath.Join(dir, "app.py"), "print('changed')\n")
	write(t, filepath.Join(dir, "notes.txt"), "untracked\n")
	write(t, filepath.Join(dir, "cache.pyc"), "ignored\n")
	tracked, untracked, err := repo.Changes()
	if err != nil || strings.Join(tracked, ",") != "app.py" || strings.Join(untracked, ",") != "notes.txt" {
		t.Fatalf("changes: %v %v %v", tracked, untracked, err)
	}
	h, err := repo.Commit("Fix the greeting", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := gitCLI(t, dir, "log", "-1", "--format=%H %an <%ae> %s"); got != h.String()+" Test Dev <dev@example.com> Fix the greeting" {
		t.Errorf("commit: %s", got)
	}
	if gitCLI(t, dir, "rev-parse", "HEAD~1") != before {
		t.Error("the commit is not on top of the previous HEAD")
	}
	if st := gitCLI(t, dir, "status", "--porcelain"); st != "?? notes.txt" {
		t.Errorf("after commit, git status = %q; the untracked file must be left out", st)
	}
	if _, err := repo.Commit("add notes", true); err != nil {
		t.Fatal(err)
	}
	if st := gitCLI(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("add_untracked left %q", st)
	}
}

func TestTreeIDAndTestCache(t *testing.T) {
	_, clone := central(t)
	dir := clone()
	repo, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := func() string {
		t.Helper()
		s, err := repo.TreeID()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := id()
	if id() != first {
		t.Fatal("the same tree hashed twice differently")
	}
	write(t, filepath.Join(dir, "cache.pyc"), "ignored")
	if id() != first {
		t.Error("an ignored file changed the tree id")
	}
	write(t, filepath.Join(dir, "new.py"), "x = 1\n")
	withNew := id()
	if withNew == first {
		t.Error("an untracked file did not change the tree id")
	}
	write(t, filepath.Join(dir, "app.py"), "print('v2')\n")
	if id() == withNew {
		t.Error("a changed file did not change the tree id")
	}
	write(t, filepath.Join(dir, "app.py"), "print('v1')\n")
	if id() != withNew {
		t.Error("the tree id depends on more than the content")
	}

	if _, ok := repo.TestsPassed(withNew); ok {
		t.Fatal("a tree never tested passed")
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if err := repo.RecordTestsPassed(withNew, at); err != nil {
		t.Fatal(err)
	}
	if when, ok := repo.TestsPassed(withNew); !ok || !when.Equal(at) {
		t.Errorf("cache: %v %v", when, ok)
	}
	if st := gitCLI(t, dir, "status", "--porcelain"); strings.Contains(st, "deploy") {
		t.Errorf("the test cache shows in the work tree: %q", st)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "deploy", "tests-passed.json")); err != nil {
		t.Errorf("the cache is not inside .git: %v", err)
	}
}

func TestBranch(t *testing.T) {
	_, clone := central(t)
	dir := clone()
	repo, err := OpenRepo(filepath.Join(dir))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := repo.Branch(); err != nil || b != "main" {
		t.Errorf("branch %q %v", b, err)
	}
	gitCLI(t, dir, "checkout", "-q", "--detach")
	if _, err := repo.Branch(); err == nil || !strings.Contains(err.Error(), "detached") {
		t.Errorf("detached HEAD: %v", err)
	}
}
