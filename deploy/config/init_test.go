package config

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// DetectProject reads the repository that holds the directory, from a
// subdirectory and from a linked work tree too, as git itself would.
func TestDetectProjectGit(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.MkdirAll(filepath.Join(dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := DetectProject(ctx, dir)
	if p.Repo != "git@git.example.com:shop.git" || p.Branch != "main" {
		t.Errorf("no repository: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "init", "-q", "-b", "trunk")
	p = DetectProject(ctx, filepath.Join(dir, "site"))
	if p.Repo != "git@git.example.com:site.git" || p.Branch != "trunk" {
		t.Errorf("no remote, no commit yet: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "remote", "add", "origin", "git@example.com:shop.git")
	gitCmd(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	p = DetectProject(ctx, filepath.Join(dir, "site"))
	if p.Repo != "git@example.com:shop.git" || p.Branch != "trunk" {
		t.Errorf("repo %q, branch %q", p.Repo, p.Branch)
	}

	wt := filepath.Join(t.TempDir(), "shop-feature")
	gitCmd(t, dir, "worktree", "add", "-q", "-b", "feature", wt)
	p = DetectProject(ctx, wt)
	if p.Repo != "git@example.com:shop.git" || p.Branch != "feature" {
		t.Errorf("linked work tree: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "checkout", "-q", "--detach")
	p = DetectProject(ctx, dir)
	if p.Branch != "main" {
		t.Errorf("detached HEAD: branch %q, want the placeholder main", p.Branch)
	}
}
