//go:build unix

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy"
)

// deploy plan on a fresh project (no release anywhere yet) with one of
// three app hosts down: it reports every host — what would run on the two
// it reached, the third unreachable and why — and exits 1.
func TestPlanFreshWithUnreachableHost(t *testing.T) {
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2", "web3")
	down := sb.env.Servers()["web3"]
	down.Stop()

	code, out, errOut := runCLI(t, append(sb.flags, "plan", "prod")...)
	if code != exitFailed {
		t.Errorf("exit %d, want 1 (a host unreachable)\n%s%s", code, out, errOut)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(errOut, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[0], ".") {
			rows[f[1]] = line
		}
	}
	pull := rows["pull"]
	if strings.Count(pull, "→ would run") != 2 || !strings.Contains(pull, "✗ unreachable") {
		t.Errorf("pull row %q: want it to run on web1 and web2, web3 unreachable\n%s", pull, errOut)
	}
	why := fmt.Sprintf("web3 unreachable: connect to web3 (127.0.0.1:%d): connection refused", down.Port)
	if !strings.Contains(errOut, why) || strings.Contains(errOut, "could not read the hosts' release state") {
		t.Errorf("the summary does not say %q:\n%s", why, errOut)
	}

	code, out, _ = runCLI(t, append(sb.flags, "--json", "plan", "prod")...)
	unreachable, wouldRun := 0, map[string]bool{}
	for _, e := range jsonLinesOf[deploy.Event](t, out) {
		if e.Type != deploy.EventStepEnd {
			continue
		}
		switch {
		case e.Line == string(deploy.Unreachable) && e.Host == "web3" && strings.Contains(e.Error, "connection refused"):
			unreachable++
		case e.Line == string(deploy.Unreachable):
			t.Errorf("unreachable: %+v", e)
		case e.Line == string(deploy.WouldRun):
			wouldRun[e.Host] = true
		}
	}
	if code != exitFailed || unreachable == 0 || !wouldRun["web1"] || !wouldRun["web2"] || !wouldRun["static1"] {
		t.Errorf("--json: exit %d, %d unreachable step_end events for web3, would run on %v\n%s", code, unreachable, wouldRun, out)
	}
}
