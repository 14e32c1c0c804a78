package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy"
)

// numberedDeployfile is a task whose fourth step fails, behind a task
// step: its place in the Deployfile (steps[3]) is not its number in the
// run (4 of 5).
const numberedDeployfile = `[hosts]
here = ["local"]

[tasks.prep]
steps = [{ run = "echo prep one" }, { run = "echo prep two" }]

[tasks.ship]
steps = [
  { run = "echo one" },
  { task = "prep" },
  { run = "echo three; exit 3" },
  { run = "echo four" },
]
`

// One step numbering: the same step has the same number in the step
// headers, the summary table, the failure message, the plan and the
// --json events.
func TestOneStepNumbering(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte(numberedDeployfile), 0o644); err != nil {
		t.Fatal(err)
	}
	const failing = "run: echo three; exit 3"

	code, out, errOut := runCLI(t, "--no-color", "-f", file, "run", "ship", "here")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"▸ [1/5] run: echo one", "▸ [2/5] run: echo prep one", "▸ [4/5] " + failing} {
		if !strings.Contains(out, want+"  on local") {
			t.Errorf("no header %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"\n4. " + failing, "step 4 (" + failing + ") failed on local"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the summary does not say %q:\n%s", strings.TrimSpace(want), errOut)
		}
	}
	if other := regexp.MustCompile(`step [0-35-9]\b|\[[0-35-9]/5\] ` + regexp.QuoteMeta(failing)).FindString(out + errOut); other != "" {
		t.Errorf("the failing step is also called %q:\n%s%s", other, out, errOut)
	}

	code, out, _ = runCLI(t, "--no-color", "-f", file, "--json", "run", "ship", "here")
	if code != exitFailed {
		t.Fatalf("--json: exit %d, want 1", code)
	}
	steps := map[string]int{} // event type → the number of the failing step
	for _, e := range jsonLinesOf[deploy.Event](t, out) {
		if e.Type == deploy.EventRunStart && e.Steps != 5 {
			t.Errorf("run_start says %d steps, want 5", e.Steps)
		}
		if e.Command == failing {
			steps[e.Type] = e.Step
		}
	}
	if steps[deploy.EventStepStart] != 4 || steps[deploy.EventStepEnd] != 4 {
		t.Errorf("--json numbers the failing step %v, want 4 in step_start and step_end\n%s", steps, out)
	}

	code, out, errOut = runCLI(t, "--no-color", "-f", file, "plan", "here", "ship")
	if code != 0 || !strings.Contains(out, "▸ [4/5] "+failing) || !strings.Contains(errOut, "\n4. "+failing) {
		t.Errorf("plan: exit %d, want 0 and step 4 in its header and its table\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "--no-color", "-f", file, "--json", "plan", "here", "ship")
	var plan *deploy.Plan
	for _, e := range jsonLinesOf[deploy.Event](t, out) {
		if e.Type == deploy.EventPlan {
			plan = e.Plan
		}
	}
	if code != 0 || plan == nil || len(plan.Steps) != 5 || plan.Steps[3].Step != 4 || plan.Steps[3].Title != failing {
		t.Errorf("plan --json: exit %d, plan %+v; want step 4 the failing one", code, plan)
	}
}
