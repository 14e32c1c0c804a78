//go:build unix

package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// task8 is eight steps, each guarded by the file it makes, as the
// benchmark's workload; with root set, the Deployfile has [app] path.
func task8(t *testing.T, root string, withPath bool) string {
	t.Helper()
	src := ""
	if withPath {
		src = fmt.Sprintf("[app]\npath = %q\n", root+"/{{host}}")
	}
	src += "[tasks.t8]\nsteps = [\n"
	for i := range 8 {
		src += fmt.Sprintf("  { run = \"mkdir -p %[1]s/{{host}} && touch %[1]s/{{host}}/m%[2]d\", creates = \"%[1]s/{{host}}/m%[2]d\" },\n", root, i)
	}
	return src + "]\n"
}

// The commands each host gets, run by run: the first run checks every
// guard with the lock, then runs a command per step; a rerun with
// nothing to do is the lock (with every guard) and the journal with the
// unlock — no step sends a command.
func TestGuardBatchRoundTrips(t *testing.T) {
	for _, withPath := range []bool{true, false} {
		t.Run(fmt.Sprintf("path=%v", withPath), func(t *testing.T) {
			root := t.TempDir()
			df, hosts, conns := fleet(t, task8(t, root, withPath))
			for _, rec := range conns {
				rec.Next = remote.Local{}
			}
			run := func() *RunResult {
				r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
				res, err := r.Run(context.Background(), "t8", hosts)
				if err != nil || res.Failure != nil {
					t.Fatalf("run: %v %+v", err, res.Failure)
				}
				return res
			}
			// With a deploy root: lock + 8 steps + journal. Without: the
			// batch + 8 steps.
			first, rerun := 10, 2
			if !withPath {
				first, rerun = 9, 1
			}
			run()
			for name, rec := range conns {
				if n := len(rec.Commands()); n != first {
					t.Errorf("first run, %s: %d commands, want %d", name, n, first)
				}
				rec.Reset()
			}
			res := run()
			for _, sr := range res.Results {
				if sr.Outcome != Skipped {
					t.Errorf("rerun: step %d on %s %s, want skipped", sr.Step, sr.Host, sr.Outcome)
				}
			}
			for name, rec := range conns {
				if n := len(rec.Commands()); n != rerun {
					t.Errorf("rerun, %s: %d commands, want %d", name, n, rerun)
				}
			}
		})
	}
}

// A verdict of the batch stands only until a step changes something:
// here the first step makes what the second's guard looks for, so the
// second, which the batch saw as due, is skipped by its own guard.
func TestGuardBatchEndsWhenAStepChanges(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`[app]
path = %[1]q
[tasks.t]
steps = [
  { run = "mkdir -p %[1]s && touch %[1]s/made", creates = "%[1]s/first" },
  { run = "touch %[1]s/second", creates = "%[1]s/made" },
]`, root+"/{{host}}"))
	runFirstChangesSecondSkips(t, df, hosts, conns)
	for _, h := range []string{"web1", "web2"} {
		if exists(filepath.Join(root, h, "second")) {
			t.Errorf("%s: the second step ran on a verdict made before the first changed things", h)
		}
	}
}

// A guard that cannot be parsed fails that guard only: the batch's other
// steps still get their verdicts, and the step runs.
func TestGuardBatchSyntaxErrorIsOneGuard(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`[tasks.t]
steps = [
  { run = "touch %[1]s/a-{{host}}", unless = "if then fi (" },
  { run = "touch %[1]s/b-{{host}}", creates = "%[1]s" },
]`, root))
	runFirstChangesSecondSkips(t, df, hosts, conns)
	if _, err := os.Stat(filepath.Join(root, "a-web1")); err != nil {
		t.Error("the step whose guard does not parse did not run")
	}
}

// runFirstChangesSecondSkips runs task t of two steps on hosts of this
// machine: the first must change, the second be skipped, everywhere.
func runFirstChangesSecondSkips(t *testing.T, df *config.Deployfile, hosts []*config.Host, conns fakeHosts) {
	t.Helper()
	for _, rec := range conns {
		rec.Next = remote.Local{}
	}
	r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "t", hosts)
	if err != nil || res.Failure != nil {
		t.Fatalf("run: %v %+v", err, res.Failure)
	}
	for _, sr := range res.Results {
		want := Changed
		if sr.Step == 1 {
			want = Skipped
		}
		if sr.Outcome != want {
			t.Errorf("step %d on %s: %s, want %s", sr.Step, sr.Host, sr.Outcome, want)
		}
	}
}
