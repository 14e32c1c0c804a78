package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func hookErrors(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("Deployfile", []byte(src), LoadOptions{})
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		t.Fatalf("not an ErrorList: %v", err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Error())
	}
	return out
}

// Every problem of the hooks at once, each where it is written: unknown
// tasks (with did you mean), a task hooking itself, cycles through before
// and after hooks and through a mix of hooks and task calls.
func TestHookErrors(t *testing.T) {
	got := hookErrors(t, `[tasks.deploy]
before = ["tset", "deploy"]
after = ["notify"]
on_failure = ["notfy"]
steps = [{ run = "true" }]

[tasks.test]
steps = [{ run = "true" }]

[tasks.notify]
on_success = ["notify"]
steps = [{ local = "true" }]

[tasks.a]
before = ["b"]
steps = [{ run = "true" }]

[tasks.b]
after = ["a"]
steps = [{ run = "true" }]

[tasks.c]
steps = [{ task = "d" }]

[tasks.d]
before = ["c"]
steps = [{ run = "true" }]
`)
	want := []string{
		`Deployfile:2:11: unknown task "tset" in before of task deploy — did you mean "test"? (tasks: deploy, test, notify, a, b, c, d)`,
		`Deployfile:2:19: task deploy hooks itself (before) — remove it: a task's own steps already run once`,
		`Deployfile:4:15: unknown task "notfy" in on_failure of task deploy — did you mean "notify"? (tasks: deploy, test, notify, a, b, c, d)`,
		`Deployfile:11:15: task notify hooks itself (on_success) — remove it: a task's own steps already run once`,
		`Deployfile:19:10: task hook cycle: a → b → a (b after) — remove one of these hooks or task calls`,
		`Deployfile:26:11: task hook cycle: c → d → c (d before) — remove one of these hooks or task calls`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A hook list must be a list of strings.
func TestHookWrongType(t *testing.T) {
	got := hookErrors(t, "[tasks.deploy]\nbefore = \"x\"\nsteps = [{ run = \"true\" }]\n")
	if len(got) != 1 || !strings.Contains(got[0], "tasks.deploy.before must be an array of strings") {
		t.Errorf("errors: %q", got)
	}
}

// A task hooked by many, through hooks that nest, is fine: hooks are not
// a cycle unless they come back. on_success/on_failure hooks are not
// followed for cycles: they run only for the task the run started with.
func TestHooksThatAreNotCycles(t *testing.T) {
	got := hookErrors(t, `[tasks.deploy]
before = ["backup", "notify"]
after = ["notify"]
on_failure = ["rollback"]
steps = [{ task = "release" }]
[tasks.release]
before = ["backup"]
steps = [{ run = "true" }]
[tasks.backup]
before = ["notify"]
steps = [{ run = "true" }]
[tasks.notify]
steps = [{ local = "true" }]
[tasks.rollback]
before = ["deploy"]
steps = [{ run = "true" }]
`)
	if len(got) != 0 {
		t.Errorf("errors: %q", got)
	}
}

// Hooks count towards the size limits: a chain of before hooks deeper
// than MaxTaskDepth is refused like one of task calls.
func TestHookDepthLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= MaxTaskDepth+1; i++ {
		b.WriteString("[tasks.t" + strconv.Itoa(i) + "]\n")
		if i <= MaxTaskDepth {
			b.WriteString("before = [\"t" + strconv.Itoa(i+1) + "\"]\n")
		}
		b.WriteString("steps = [{ run = \"true\" }]\n")
	}
	got := hookErrors(t, b.String())
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "levels deep") {
		t.Errorf("errors: %q", got)
	}
}

// deploy tasks lists the hooks.
func TestTaskSummariesHooks(t *testing.T) {
	df, err := Parse("Deployfile", []byte(`[tasks.deploy]
before = ["notify"]
on_failure = ["notify"]
steps = [{ run = "true" }]
[tasks.notify]
steps = [{ local = "true" }]
`), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := df.TaskSummaries()
	if !slices.Equal(s[0].Hooks[HookBefore], []string{"notify"}) || !slices.Equal(s[0].Hooks[HookOnFailure], []string{"notify"}) || s[1].Hooks != nil {
		t.Errorf("summaries: %+v", s)
	}
	if got := df.Tasks["deploy"].HookSummary(); !slices.Equal(got, []string{"before notify", "on_failure notify"}) {
		t.Errorf("hook summary %q", got)
	}
}
