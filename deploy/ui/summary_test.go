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
