package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// hookRun runs task over the fleet of web1 and web2 (fleet), their
// commands run on this machine; {{root}} is a fresh directory.
func hookRun(t *testing.T, ctx context.Context, dry bool, task, tasksTOML string) (*RunResult, *collect, string, fakeHosts) {
	t.Helper()
	root := t.TempDir()
	df, hosts, conns := fleet(t, strings.ReplaceAll(tasksTOML, "{{root}}", root))
	for _, rec := range conns {
		rec.Next = remote.Local{}
	}
	events := &collect{}
	r := &Runner{DF: df, Conns: conns, Printer: events, Target: "web", DryRun: dry, Builtins: tasks.Builtins()}
	res, err := r.Run(ctx, task, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return res, events, root, conns
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// envFile reads lines NAME=value written by `env | grep ^DEPLOY_`.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Before hooks, the task, after hooks, in order on each host, hooks of
// hooks included; one numbering: each step started once, its index its
// place in the run; a hook's step keeps its own `on` group.
func TestHooksRunInOrder(t *testing.T) {
	res, events, root, _ := hookRun(t, context.Background(), false, "deploy", `
[hosts.one]
hosts = ["web1"]
[tasks.deploy]
before = ["backup", "announce"]
after = ["cleanup"]
steps = [{ run = "echo deploy >> {{root}}/order-{{host}}" }]
[tasks.backup]
before = ["prep"]
steps = [{ run = "echo backup >> {{root}}/order-{{host}}" }]
[tasks.prep]
steps = [{ run = "echo prep >> {{root}}/order-{{host}}" }]
[tasks.announce]
steps = [{ run = "echo announce >> {{root}}/order-{{host}}", on = "one" }]
[tasks.cleanup]
steps = [{ run = "echo cleanup >> {{root}}/order-{{host}}" }]
`)
	if res.Failure != nil {
		t.Fatalf("failed: %+v", res.Failure)
	}
	for host, want := range map[string]string{"web1": "prep backup announce deploy cleanup", "web2": "prep backup deploy cleanup"} {
		if got := strings.Join(strings.Fields(readFile(t, filepath.Join(root, "order-"+host))), " "); got != want {
			t.Errorf("%s ran %q, want %q", host, got, want)
		}
	}
	var started, labels []string
	for _, e := range events.events {
		if e.Type == EventStepStart {
			started = append(started, e.Command)
			labels = append(labels, e.Line)
		}
	}
	if !slices.Equal(started, res.Steps) || len(res.Steps) != 5 {
		t.Errorf("steps started %q, the run's steps %q", started, res.Steps)
	}
	wantLabels := []string{"deploy.before[1] > backup.before[1] > prep[1]", "deploy.before[1] > backup[1]",
		"deploy.before[2] > announce[1]", "deploy[1]", "deploy.after[1] > cleanup[1]"}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("labels %q, want %q", labels, wantLabels)
	}
	for _, sr := range res.Results {
		if sr.Step == 2 && sr.Host != "web1" {
			t.Errorf("announce (on = one) ran on %s", sr.Host)
		}
	}
}

// A hook of a task called by a task step runs where that task step
// runs: the hook inherits the narrowing of the call.
func TestHooksInheritTheCallsHosts(t *testing.T) {
	res, _, root, _ := hookRun(t, context.Background(), false, "deploy", `
[hosts.one]
hosts = ["web1"]
[tasks.deploy]
steps = [{ task = "release", on = "one" }]
[tasks.release]
before = ["mark"]
steps = [{ run = "echo release >> {{root}}/order-{{host}}" }]
[tasks.mark]
steps = [{ run = "echo mark >> {{root}}/order-{{host}}" }]
`)
	if res.Failure != nil {
		t.Fatalf("failed: %+v", res.Failure)
	}
	if got := strings.Fields(readFile(t, filepath.Join(root, "order-web1"))); !slices.Equal(got, []string{"mark", "release"}) {
		t.Errorf("web1 ran %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "order-web2")); err == nil {
		t.Error("the hook ran on web2, outside the task step's group")
	}
}

const notifyTasks = `
[tasks.notify]
steps = [{ local = "env | grep ^DEPLOY_ | sort > {{root}}/notify.env; echo notify >> {{root}}/order", name = "notify" }]
[tasks.yay]
steps = [{ local = "echo yay >> {{root}}/order", name = "yay" }]
`

// A failing step: the on_failure hook runs after it, the on_success hook
// does not (and is not part of the run), the failure stays the run's;
// the hook gets the summary, one line a value, secrets masked.
func TestOnFailureGetsTheSummary(t *testing.T) {
	res, events, root, _ := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
on_failure = ["notify"]
on_success = ["yay"]
steps = [
  { run = "echo one >> {{root}}/order" },
  { run = "if [ {{host}} = web2 ]; then echo {{token}} >&2; exit 3; fi", name = "check {{token}}" },
  { run = "echo never >> {{root}}/order" },
]`+notifyTasks)
	if res.Failure == nil || res.Failure.Step != 1 || res.Failure.Host != "web2" || len(res.HookFailures) != 0 {
		t.Fatalf("failure %+v, hook failures %+v", res.Failure, res.HookFailures)
	}
	if got := strings.Fields(readFile(t, filepath.Join(root, "order"))); !slices.Equal(got, []string{"one", "one", "notify"}) {
		t.Errorf("ran %q", got)
	}
	if len(res.Steps) != 4 || res.Steps[3] != "on_failure: notify" {
		t.Errorf("steps %q", res.Steps)
	}
	env := envFile(t, filepath.Join(root, "notify.env"))
	want := map[string]string{"DEPLOY_TASK": "deploy", "DEPLOY_TARGET": "web", "DEPLOY_RESULT": "failed",
		"DEPLOY_FAILED_STEP": "check {{token}}", "DEPLOY_FAILED_HOSTS": "web2",
		"DEPLOY_ERROR": "step 2 (check {{token}}) failed on web2: exit status 3"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if env["DEPLOY_RUN_ID"] == "" || env["DEPLOY_USER"] == "" || env["DEPLOY_DURATION"] == "" {
		t.Errorf("env: %v", env)
	}
	if strings.Contains(readFile(t, filepath.Join(root, "notify.env")), "s3cret") {
		t.Error("a secret reached the hook's environment")
	}
	var ends int
	for _, e := range events.events {
		if e.Type == EventRunEnd {
			ends++
			if e.Failed == nil || *e.Failed != 1 {
				t.Errorf("run_end failed = %v", e.Failed)
			}
		}
	}
	if ends != 1 {
		t.Errorf("%d run_end events", ends)
	}
}

// The DEPLOY_* values of a remote hook step travel in the command's env,
// never in its script.
func TestHookEnvTravelsAsEnv(t *testing.T) {
	_, _, _, conns := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
after = ["tell"]
steps = [{ run = "true" }]
[tasks.tell]
steps = [{ run = "echo $DEPLOY_TASK" }]
`)
	cmds := conns["web1"].Commands()
	last := cmds[len(cmds)-1]
	if last.Env["DEPLOY_TASK"] != "deploy" || last.Env["DEPLOY_TARGET"] != "web" {
		t.Errorf("env of the hook's command: %v", last.Env)
	}
	if strings.Contains(last.Script, "DEPLOY_TARGET") || strings.Contains(last.Script, "'web'") {
		t.Errorf("the summary went into the script: %q", last.Script)
	}
	if first := cmds[0]; first.Env["DEPLOY_TASK"] != "" {
		t.Errorf("a step that is not a hook's got the summary: %v", first.Env)
	}
}

// A failing before hook fails the run: on_failure runs; the task's own
// steps are not reached.
func TestFailingBeforeHookRunsOnFailure(t *testing.T) {
	res, _, root, _ := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
before = ["broken"]
on_failure = ["notify"]
steps = [{ run = "echo deploy >> {{root}}/order" }]
[tasks.broken]
steps = [{ local = "exit 4", name = "broken hook" }]
`+notifyTasks)
	if res.Failure == nil || res.Failure.Step != 0 || res.Failure.Status != 4 {
		t.Fatalf("failure %+v", res.Failure)
	}
	if got := strings.Fields(readFile(t, filepath.Join(root, "order"))); !slices.Equal(got, []string{"notify"}) {
		t.Errorf("ran %q", got)
	}
	if env := envFile(t, filepath.Join(root, "notify.env")); env["DEPLOY_FAILED_STEP"] != "broken hook" {
		t.Errorf("env %v", env)
	}
}

// A failing on_success hook is reported, the run stays a success, and the
// next on_success hook still runs; a failing on_failure hook leaves the
// run's failure as it was.
func TestFailingConditionalHookKeepsTheOutcome(t *testing.T) {
	res, _, root, _ := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
on_success = ["bad", "yay"]
steps = [{ run = "true" }]
[tasks.bad]
steps = [{ local = "exit 5", name = "bad hook" }, { local = "echo after-bad >> {{root}}/order" }]
`+notifyTasks)
	if res.Failure != nil || len(res.HookFailures) != 1 || res.HookFailures[0].Status != 5 {
		t.Fatalf("failure %+v, hook failures %+v", res.Failure, res.HookFailures)
	}
	if got := strings.Fields(readFile(t, filepath.Join(root, "order"))); !slices.Equal(got, []string{"yay"}) {
		t.Errorf("ran %q: the failed hook's next step must not run, the next hook must", got)
	}

	res, _, _, _ = hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
on_failure = ["bad"]
steps = [{ run = "exit 2", name = "the step" }]
[tasks.bad]
steps = [{ local = "exit 5", name = "bad hook" }]
`)
	if res.Failure == nil || res.Failure.Step != 0 || res.Failure.Status != 2 || len(res.HookFailures) != 1 {
		t.Fatalf("failure %+v, hook failures %+v", res.Failure, res.HookFailures)
	}
}

// Ctrl-C: the run stops, then on_failure runs anyway (on a context of its
// own, bounded), told the run was interrupted.
func TestOnFailureRunsAfterInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start := time.Now()
	res, _, root, _ := hookRun(t, ctx, false, "deploy", `
[tasks.deploy]
on_failure = ["notify"]
steps = [{ run = "sleep 30" }, { run = "echo never >> {{root}}/order" }]
`+notifyTasks)
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if got := strings.Fields(readFile(t, filepath.Join(root, "order"))); !slices.Equal(got, []string{"notify"}) {
		t.Errorf("ran %q", got)
	}
	if env := envFile(t, filepath.Join(root, "notify.env")); env["DEPLOY_RESULT"] != "interrupted" {
		t.Errorf("env %v", env)
	}
	if res.Steps[len(res.Steps)-1] == "" || !strings.HasPrefix(res.Steps[len(res.Steps)-1], "on_failure: ") {
		t.Errorf("steps %q", res.Steps)
	}
}

// A plan shows every hook in order, the conditional ones marked, each
// with its guards evaluated like any step.
func TestPlanShowsHooks(t *testing.T) {
	res, events, root, _ := hookRun(t, context.Background(), true, "deploy", `
[tasks.deploy]
before = ["pre"]
after = ["post"]
on_success = ["yay"]
on_failure = ["notify"]
steps = [{ run = "echo deploy" }]
[tasks.pre]
steps = [{ run = "echo pre", creates = "/" }]
[tasks.post]
steps = [{ run = "echo post" }]
`+notifyTasks)
	want := []string{"run: echo pre", "run: echo deploy", "run: echo post", "on_success: yay", "on_failure: notify"}
	if !slices.Equal(res.Steps, want) {
		t.Errorf("plan steps %q\nwant %q", res.Steps, want)
	}
	for _, sr := range res.Results {
		wantOutcome := WouldRun
		if sr.Step == 0 {
			wantOutcome = Skipped // creates = "/" exists
		}
		if sr.Outcome != wantOutcome {
			t.Errorf("step %d on %s: %s (%s), want %s", sr.Step, sr.Host, sr.Outcome, sr.Reason, wantOutcome)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "order")); err == nil {
		t.Error("the plan ran a hook")
	}
	for _, e := range events.events {
		if e.Type == EventPlan {
			var whens []string
			for _, s := range e.Plan.Steps {
				whens = append(whens, s.When)
			}
			if !slices.Equal(whens, []string{"", "", "", "on_success", "on_failure"}) {
				t.Errorf("plan whens %q", whens)
			}
		}
	}
}

// A hook's steps are checked with the task's before anything runs: an
// on_failure hook's step on a group the target has no host of refuses the
// run, and nothing runs.
func TestHookStepsCheckedBeforeRunning(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`
[hosts.db]
hosts = ["db1"]
[tasks.deploy]
on_failure = ["notify"]
steps = [{ run = "touch %s/ran" }]
[tasks.notify]
steps = [{ run = "true", on = "db" }]
`, root))
	r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
	_, err := r.Run(context.Background(), "deploy", hosts)
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "deploy.on_failure[1] > notify[1] runs on group db") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); err == nil {
		t.Error("a step ran")
	}
}

// An on_failure hook's guards see the hosts as the run left them, not as
// they were when it started.
func TestOnFailureGuardsSeeTheHostsNow(t *testing.T) {
	res, _, root, _ := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
on_failure = ["clean"]
steps = [{ run = "touch {{root}}/made-{{host}}" }, { run = "exit 1" }]
[tasks.clean]
steps = [{ run = "echo cleaned >> {{root}}/cleaned-{{host}}", only_if = "test -e {{root}}/made-{{host}}" }]
`)
	if res.Failure == nil {
		t.Fatal("the run did not fail")
	}
	for _, h := range []string{"web1", "web2"} {
		if got := strings.Fields(readFile(t, filepath.Join(root, "cleaned-"+h))); !slices.Equal(got, []string{"cleaned"}) {
			t.Errorf("%s: %q", h, got)
		}
	}
}

// on_success runs after a run that changed nothing too, and says so:
// DEPLOY_CHANGED=0, for a notification to keep quiet; what the hook's
// own steps change is not the run's (Changed, the summary's "Nothing to
// do").
func TestOnSuccessKnowsNothingChanged(t *testing.T) {
	for _, c := range []struct {
		guard string
		want  string
	}{
		{`creates = "/"`, "0"},                              // skipped on both hosts
		{`creates = "/nonexistent-path-for-the-test"`, "2"}, // ran on both
	} {
		res, _, root, _ := hookRun(t, context.Background(), false, "deploy", `
[tasks.deploy]
on_success = ["notify"]
steps = [{ run = "true", `+c.guard+` }]`+notifyTasks)
		if res.Failure != nil {
			t.Fatalf("failure %+v", res.Failure)
		}
		if got := envFile(t, filepath.Join(root, "notify.env"))["DEPLOY_CHANGED"]; got != c.want {
			t.Errorf("%s: DEPLOY_CHANGED=%q, want %q", c.guard, got, c.want)
		}
		if got := strconv.Itoa(res.Changed()); got != c.want {
			t.Errorf("%s: Changed() = %s, want %s (the hook's own step is not the run's)", c.guard, got, c.want)
		}
	}
}
