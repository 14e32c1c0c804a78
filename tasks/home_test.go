//go:build unix

package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
)

// A deploy root under "~/" is under the login user's home, as in ssh and
// scp: releases, shared links and `current` are made there, `current`
// points at an absolute path, and no directory named "~" appears.
func TestReleasesUnderHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cwd := t.TempDir()
	t.Chdir(cwd)
	repo, commits := centralRepo(t, 1)
	env := newEnv(t, "~/apps/my site", repo, remote.Local{})
	ctx := context.Background()
	s := env.Strategy
	rel, err := s.Prepare(ctx, env, commits[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Switch(ctx, remote.Local{}, Record{Release: rel.Name, Commit: commits[0], Run: "run-1"}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(home, "apps", "my site")
	target, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil || !strings.HasPrefix(target, root+"/releases/") {
		t.Errorf("current → %q (%v), want a release under %s", target, err, root)
	}
	if l, err := os.Readlink(filepath.Join(root, "releases", rel.Name, "media")); err != nil || l != root+"/shared/media" {
		t.Errorf("shared media link → %q (%v)", l, err)
	}
	st, err := s.Read(ctx, remote.Local{})
	if err != nil || st.Current != rel.Name || !st.Consistent() {
		t.Errorf("read back: %+v %v", st, err)
	}
	for _, dir := range []string{cwd, home} {
		if _, err := os.Stat(filepath.Join(dir, "~")); err == nil {
			t.Errorf("a directory named ~ was made in %s", dir)
		}
	}
}
