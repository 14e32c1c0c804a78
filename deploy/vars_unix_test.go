//go:build unix

package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// {{release}}, {{release_path}}, {{shared_path}} and {{current_path}} are
// the host's: the release in use when the run prepares none, read from
// the host with the lock.
func TestReleaseVariables(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`[app]
path = %q
[tasks.t]
steps = [{ run = "echo {{release}} {{release_path}} {{shared_path}} {{current_path}} > {{path}}/vars", on = "web" }]`, root+"/{{host}}"))
	for _, h := range []string{"web1", "web2"} {
		rel := filepath.Join(root, h, "releases", "20261201T000000Z-abc1234-"+h)
		if err := os.MkdirAll(rel, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(rel, "REVISION"), []byte(strings.Repeat("a", 40)+"\n"), 0o644)
		if err := os.Symlink(rel, filepath.Join(root, h, "current")); err != nil {
			t.Fatal(err)
		}
		conns[h].Next = remote.Local{}
	}
	r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "t", hosts)
	if err != nil || res.Failure != nil {
		t.Fatalf("run: %v %+v", err, res.Failure)
	}
	for _, h := range []string{"web1", "web2"} {
		base := filepath.Join(root, h)
		rel := "20261201T000000Z-abc1234-" + h
		want := fmt.Sprintf("%s %s/releases/%s %s/shared %s/current\n", rel, base, rel, base, base)
		if got, _ := os.ReadFile(filepath.Join(base, "vars")); string(got) != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}
