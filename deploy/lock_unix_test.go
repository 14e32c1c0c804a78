//go:build unix

package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// A lock left empty — its taker stopped between the mkdir and writing
// who it is — names that taker through its pending file; when the taker
// is this user's process on this machine and gone, the next run breaks
// the lock and proceeds.
func TestEmptyLockOfDeadRunIsBroken(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`[app]
path = %q
[tasks.setup]
steps = [{ run = "true" }]`, root+"/{{host}}"))
	for name, rec := range conns {
		rec.Next = remote.Local{}
		dir := filepath.Join(root, name, ".deploy")
		if err := os.MkdirAll(filepath.Join(dir, "lock"), 0o755); err != nil {
			t.Fatal(err)
		}
		if name != "web2" {
			os.Remove(filepath.Join(dir, "lock"))
			continue
		}
		dead := exec.Command("true")
		if err := dead.Run(); err != nil {
			t.Fatal(err)
		}
		info, _ := json.Marshal(LockInfo{ID: "deadbeef", Owner: owner(), PID: dead.Process.Pid, Task: "release", Target: "web"})
		if err := os.WriteFile(filepath.Join(dir, "lock-pending.deadbeef"), append(info, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	events := &collect{}
	r := &Runner{DF: df, Conns: conns, Printer: events, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "setup", hosts)
	if err != nil || res.Failure != nil {
		t.Fatalf("run over an empty lock of a dead run: %v %+v", err, res)
	}
	broke := false
	for _, e := range events.events {
		broke = broke || strings.Contains(e.Line, "broke a stale lock")
	}
	if !broke {
		t.Error("the stale lock was not said to be broken")
	}
	for _, name := range []string{"web1", "web2"} {
		if _, err := os.Stat(filepath.Join(root, name, ".deploy", "lock")); err == nil {
			t.Errorf("%s: lock left", name)
		}
		if left, _ := filepath.Glob(filepath.Join(root, name, ".deploy", "lock-pending.*")); len(left) > 0 {
			t.Errorf("%s: pending files left: %v", name, left)
		}
	}
}
