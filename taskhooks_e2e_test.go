//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// hookedTasks is a task with every kind of hook, over real sshd hosts:
// each step appends its name to a file of its host; the on_success and
// on_failure hooks write the DEPLOY_* variables they get, on this machine.
const hookedTasks = withPath + `
[tasks.deploy]
before = ["backup"]
after = ["cleanup"]
on_success = ["celebrate"]
on_failure = ["alert"]
steps = [
  { run = "mkdir -p {{mine}} && echo deploy >> {{mine}}/order", name = "deploy step" },
  { run = "test ! -e {{root}}/break-{{host}}", name = "may break" },
]
[tasks.backup]
steps = [{ run = "mkdir -p {{mine}} && echo backup >> {{mine}}/order", name = "backup step" }]
[tasks.cleanup]
steps = [{ run = "echo cleanup >> {{mine}}/order", name = "cleanup step" }]
[tasks.celebrate]
steps = [{ local = "env | grep ^DEPLOY_ | sort > {{root}}/success.env", name = "celebrate step" }]
[tasks.alert]
steps = [
  { local = "env | grep ^DEPLOY_ | sort > {{root}}/failure.env", name = "alert step" },
  { run = "echo alert >> {{mine}}/order", name = "alert on host" },
]
`

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// journalOf is the last journal line of a host.
func journalOf(t *testing.T, root, host string) (n int, last struct {
	Result string
	Steps  []struct{ Step, Outcome string }
}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, host, ".deploy", "journal"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	return len(lines), last
}

// A run with hooks, through the CLI over real sshd: before, task, after
// on every host in order; on_success with the summary; one journal line a
// host, holding the hooks' steps; then a failure on web2: on_failure runs
// (on the hosts too), the exit code is the failure's.
func TestTaskHooksE2E(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, hookedTasks)
	code, out, errOut := runCLI(t, append(flags, "run", "deploy", "web")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if got := readLines(t, filepath.Join(root, h, "order")); !slices.Equal(got, []string{"backup", "deploy", "cleanup"}) {
			t.Errorf("%s ran %q", h, got)
		}
		n, last := journalOf(t, root, h)
		var steps []string
		for _, s := range last.Steps {
			steps = append(steps, s.Step)
		}
		want := []string{"backup step", "deploy step", "may break", "cleanup step", "on_success: celebrate step"}
		if n != 1 || last.Result != "ok" || !slices.Equal(steps, want) {
			t.Errorf("%s: %d journal lines, last %+v", h, n, last)
		}
	}
	// One numbering: the summary's rows are 1. to 5., the on_success
	// hook's step last; the on_failure one is not part of a good run.
	for _, want := range []string{"1. backup step", "4. cleanup step", "5. on_success: celebrate step", "deploy: 13 changed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "alert") {
		t.Errorf("on_failure ran after a success:\n%s", errOut)
	}
	env := readEnv(t, filepath.Join(root, "success.env"))
	if env["DEPLOY_RESULT"] != "ok" || env["DEPLOY_TASK"] != "deploy" || env["DEPLOY_TARGET"] != "web" || env["DEPLOY_FAILED_STEP"] != "" {
		t.Errorf("on_success env: %v", env)
	}

	// web2 breaks: exit 1, alert runs after, on this machine and the hosts.
	if err := os.WriteFile(filepath.Join(root, "break-web2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, append(flags, "run", "deploy", "web")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "step 3 (may break) failed on web2") || !strings.Contains(errOut, "No later step ran but the on_failure hooks'.") {
		t.Errorf("the failure is not the run's:\n%s", errOut)
	}
	env = readEnv(t, filepath.Join(root, "failure.env"))
	if env["DEPLOY_RESULT"] != "failed" || env["DEPLOY_FAILED_STEP"] != "may break" || env["DEPLOY_FAILED_HOSTS"] != "web2" ||
		!strings.HasPrefix(env["DEPLOY_ERROR"], "step 3 (may break) failed on web2") {
		t.Errorf("on_failure env: %v", env)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		got := readLines(t, filepath.Join(root, h, "order"))
		if want := []string{"backup", "deploy", "cleanup", "backup", "deploy", "alert"}; !slices.Equal(got, want) {
			t.Errorf("%s ran %q, want %q", h, got, want)
		}
		if n, last := journalOf(t, root, h); n != 2 || last.Result != "failed" || len(last.Steps) != 6 {
			t.Errorf("%s: %d journal lines, last %+v", h, n, last)
		}
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
	}
}

// deploy check refuses bad hooks, every one, with their places;
// deploy tasks and deploy plan show the hooks.
func TestTaskHooksCheckTasksPlan(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, hookedTasks)
	code, out, _ := runCLI(t, append(flags, "tasks")...)
	if code != 0 || !strings.Contains(out, "hooks: before backup; after cleanup; on_success celebrate; on_failure alert") {
		t.Errorf("tasks: exit %d\n%s", code, out)
	}
	code, out, errOut := runCLI(t, append(flags, "plan", "web", "deploy")...)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"1. backup step", "3. may break", "4. cleanup step", "5. on_success: celebrate step", "6. on_failure: alert step", "7. on_failure: alert on host"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("plan lacks %q:\n%s", want, errOut)
		}
	}
	if exists(filepath.Join(root, "web1", "order")) {
		t.Error("the plan ran a step")
	}

	bad := filepath.Join(t.TempDir(), "Deployfile")
	os.WriteFile(bad, []byte(`[hosts]
web = ["web1"]
[tasks.deploy]
before = ["bakup"]
after = ["deploy"]
steps = [{ run = "true" }]
[tasks.backup]
after = ["deploy"]
steps = [{ run = "true" }]
`), 0o644)
	code, _, errOut = runCLI(t, "-f", bad, "check")
	for _, want := range []string{
		bad + `:4:11: error: unknown task "bakup" in before of task deploy — did you mean "backup"?`,
		bad + `:5:10: error: task deploy hooks itself (after)`,
	} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("check: exit %d, lacks %q:\n%s", code, want, errOut)
		}
	}
}

// Ctrl-C mid-run: on_failure still runs, told the run was interrupted;
// exit 130, the lock released, one journal line.
func TestTaskHooksInterrupt(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.long]
on_failure = ["alert"]
steps = [{ run = "sh -c 'echo $$ > {{root}}/pid-{{host}}; exec sleep 300'" }]
[tasks.alert]
steps = [{ local = "env | grep ^DEPLOY_ | sort > {{root}}/failure.env", name = "alert step" }]
`)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		for _, h := range []string{"web1", "web2", "web3"} {
			sshtest.WaitForPID(t, filepath.Join(root, "pid-"+h))
		}
		cancel(errInterrupted)
	}()
	var out, errOut bytes.Buffer
	code := run(ctx, append(append([]string{"deploy"}, flags...), "run", "long", "web"), &out, &errOut)
	if code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errOut.String())
	}
	if env := readEnv(t, filepath.Join(root, "failure.env")); env["DEPLOY_RESULT"] != "interrupted" || env["DEPLOY_TASK"] != "long" {
		t.Errorf("on_failure env: %v\n%s", env, errOut.String())
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
		if n, last := journalOf(t, root, h); n != 1 || last.Result != "interrupted" || len(last.Steps) != 2 {
			t.Errorf("%s: %d journal lines, last %+v", h, n, last)
		}
	}
}

// A release whose health check fails: the hosts are switched back first,
// then on_failure runs and sees `current` already back; the exit code is
// the failure's, and the journal has one line for the run, with the hook's
// step in it.
func TestTaskHooksOnFailureAfterRollback(t *testing.T) {
	t.Parallel()
	sb := newSuperbook(t, "web1")
	df, err := os.ReadFile(filepath.Join(sb.work, "Deployfile"))
	if err != nil {
		t.Fatal(err)
	}
	sb.commit(t, "hooks", map[string]string{"Deployfile": string(df) + `
[tasks.hooked]
before = ["mark"]
on_failure = ["alert"]
steps = [{ task = "release" }]
[tasks.mark]
steps = [{ run = "echo before >> {{path}}/hook-order", on = "web" }]
[tasks.alert]
steps = [{ run = "readlink {{path}}/current > {{path}}/hook-current; env | grep ^DEPLOY_ | sort > {{path}}/hook-env", on = "web", name = "alert" }]
`})
	sb.deploy(t, 0, "run", "prod", "hooked")
	before := sb.current(t, "web1")
	if _, err := os.Stat(filepath.Join(sb.root, "web1", "hook-current")); err == nil {
		t.Fatal("on_failure ran after a good run")
	}
	views, err := os.ReadFile(filepath.Join(sb.work, "books", "views.py"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(views), `    with connection.cursor() as cursor:`, `    raise RuntimeError("unhealthy on purpose")
    with connection.cursor() as cursor:`, 1)
	sha := sb.commit(t, "break health", map[string]string{"books/views.py": broken})
	_, errOut := sb.deploy(t, 1, "run", "prod", "hooked")
	if !strings.Contains(errOut, "switched back to its previous release") || !strings.Contains(errOut, "(healthcheck) failed on web1") {
		t.Errorf("no rollback, or not the health check's failure:\n%s", errOut)
	}
	got, _ := os.ReadFile(filepath.Join(sb.root, "web1", "hook-current"))
	if strings.TrimSpace(string(got)) != before || sb.current(t, "web1") != before {
		t.Errorf("on_failure saw current %q, want %q (already rolled back)", got, before)
	}
	env := readEnv(t, filepath.Join(sb.root, "web1", "hook-env"))
	if env["DEPLOY_RESULT"] != "failed" || env["DEPLOY_ROLLED_BACK"] != "1" || env["DEPLOY_COMMIT"] != sha ||
		env["DEPLOY_FAILED_HOSTS"] != "web1" || env["DEPLOY_TASK"] != "hooked" || env["DEPLOY_TARGET"] != "prod" ||
		env["DEPLOY_RELEASE"] == "" || !strings.HasSuffix(before, env["DEPLOY_RELEASE"]) {
		t.Errorf("on_failure env: %v (commit %s)", env, sha)
	}
	if got := readLines(t, filepath.Join(sb.root, "web1", "hook-order")); len(got) != 2 {
		t.Errorf("the before hook ran %d times, want 2", len(got))
	}
	n, last := journalOf(t, sb.root, "web1")
	if n != 2 || last.Result != "rolled back" || last.Steps[len(last.Steps)-1].Step != "on_failure: alert" {
		t.Errorf("journal: %d lines, last %+v", n, last)
	}
}
