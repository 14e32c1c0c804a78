package ui

import (
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy"
)

// "Nothing to do" is about the run itself: an on_success hook's step that
// ran (a notification) does not make a no-op run a change.
func TestNothingToDoIgnoresHookSteps(t *testing.T) {
	for _, c := range []struct {
		name    string
		results []deploy.StepResult
		nothing bool
	}{
		{"only the hook changed", []deploy.StepResult{{Step: 0, Host: "web1", Outcome: deploy.Skipped}, {Step: 1, Host: "local", Outcome: deploy.Changed}}, true},
		{"the run changed", []deploy.StepResult{{Step: 0, Host: "web1", Outcome: deploy.Changed}, {Step: 1, Host: "local", Outcome: deploy.Changed}}, false},
	} {
		res := &deploy.RunResult{Task: "deploy", Steps: []string{"run: true", "on_success: notify"}, Hosts: []string{"web1"},
			Results: c.results, HookStart: 1}
		var b strings.Builder
		WriteRunSummary(&b, Style{}, res)
		if got := strings.Contains(b.String(), "Nothing to do"); got != c.nothing {
			t.Errorf("%s: says Nothing to do = %v, want %v:\n%s", c.name, got, c.nothing, b.String())
		}
	}
}

// The test step runs the test task: its steps' ends are not shown as
// ticks of their own, only the test step's.
func TestOneTickForTheTestStep(t *testing.T) {
	var out, errOut strings.Builder
	p := NewTextPrinter(&out, &errOut, Style{}, []string{"local"})
	p.Event(deploy.Event{Type: deploy.EventStepStart, Step: 1, Command: "test", Hosts: []string{"local"}})
	p.Event(deploy.Event{Type: deploy.EventStepStart, SubStep: 1, Command: "local: manage.py test", Hosts: []string{"local"}})
	p.Event(deploy.Event{Type: deploy.EventStepEnd, SubStep: 1, Host: "local", Line: string(deploy.Changed), Duration: 1})
	p.Event(deploy.Event{Type: deploy.EventStepEnd, Step: 1, Host: "local", Line: string(deploy.Changed), Duration: 1})
	if n := strings.Count(out.String(), "✓"); n != 1 {
		t.Errorf("%d ticks, want 1:\n%s", n, out.String())
	}
}
