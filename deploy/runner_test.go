package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
	"github.com/deploy-tool/deploy/tasks"
)

// fakeHosts is a connector whose hosts are Recorders: what the engine
// sends each host is recorded, and answered as the test says.
type fakeHosts map[string]*sshtest.Recorder

func (f fakeHosts) Conn(_ context.Context, h *config.Host) (remote.Conn, error) {
	if rec, ok := f[h.Name]; ok {
		return rec, nil
	}
	return nil, fmt.Errorf("%s: no such host", h.Name)
}

// fleet parses a Deployfile of hosts web1 and web2 and the given tasks.
func fleet(t *testing.T, tasksTOML string) (*config.Deployfile, []*config.Host, fakeHosts) {
	t.Helper()
	src := "[hosts]\nweb = [\"web1\", \"web2\"]\n[vars]\ntoken = { value = \"s3cret-token\", secret = true }\n" + tasksTOML
	df, err := config.Parse("Deployfile", []byte(src), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := df.Resolve("web")
	if err != nil {
		t.Fatal(err)
	}
	return df, hosts, fakeHosts{"web1": {}, "web2": {}}
}

// Every guard is checked in one command first; after that, while a step
// has changed something, a command step's guards ride in its script:
// guards and command cost one remote command. What the guards decide is what they decided alone:
// each in a shell of its own with set -e (a multi-line unless whose first
// line fails does not skip), output discarded, the verdict reported.
func TestGuardsRideWithTheCommand(t *testing.T) {
	root := t.TempDir()
	df, hosts, conns := fleet(t, fmt.Sprintf(`[tasks.setup]
steps = [
  { run = "echo ran; touch %[1]s/ran-{{host}}", creates = "%[1]s/made-{{host}}" },
  { run = "touch %[1]s/second-{{host}}", unless = "echo noise; false\ntrue" },
  { run = "touch %[1]s/third-{{host}}", only_if = "test -e %[1]s/made-{{host}}" },
]`, root))
	for _, rec := range conns {
		rec.Next = remote.Local{}
	}
	os.WriteFile(filepath.Join(root, "made-web1"), nil, 0o644)
	events := &collect{}
	r := &Runner{DF: df, Conns: conns, Printer: events, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "setup", hosts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Outcome{}
	for _, sr := range res.Results {
		got[fmt.Sprintf("%d %s", sr.Step, sr.Host)] = sr.Outcome
		if sr.Host == "web1" && sr.Step == 0 && sr.Reason != root+"/made-web1 exists" {
			t.Errorf("reason %q", sr.Reason)
		}
	}
	want := map[string]Outcome{"0 web1": Skipped, "0 web2": Changed, "1 web1": Changed, "1 web2": Changed,
		"2 web1": Changed, "2 web2": Skipped}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("step %s: %s, want %s", k, got[k], w)
		}
	}
	// One command checks every guard first; web1's first step is skipped
	// by it, and then each step is one command.
	for name, want := range map[string]int{"web1": 3, "web2": 4} {
		if n := len(conns[name].Commands()); n != want {
			t.Errorf("%s: %d commands, want %d", name, n, want)
		}
	}
	if exists(filepath.Join(root, "ran-web1")) || !exists(filepath.Join(root, "ran-web2")) {
		t.Error("creates did not decide which host ran")
	}
	for _, e := range events.events {
		if e.Type == EventOutput && (strings.Contains(e.Line, "deploy-guard") || strings.Contains(e.Line, "noise")) {
			t.Errorf("a guard's line reached the output: %q", e.Line)
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// A plan checks guards and changes nothing: the host never receives a
// command that is not read-only, and the plan itself is data, secrets
// masked, printed before the first step.
func TestPlanIsReadOnlyData(t *testing.T) {
	df, hosts, conns := fleet(t, `[tasks.setup]
steps = [
  { run = "echo {{token}} > /etc/token", unless = "grep -q x /etc/token" },
  { run = "restart", on = "web", once = true },
]`)
	conns["web1"].On("grep -q", sshtest.Reply{Status: 1})
	conns["web2"].On("grep -q", sshtest.Reply{}) // done on web2
	events := &collect{}
	r := &Runner{DF: df, Conns: conns, Printer: events, Builtins: tasks.Builtins(), DryRun: true}
	res, err := r.Run(context.Background(), "setup", hosts)
	if err != nil {
		t.Fatal(err)
	}
	for name, rec := range conns {
		for _, c := range rec.Commands() {
			if !c.ReadOnly {
				t.Errorf("%s received a change in a plan: %q", name, c.Script)
			}
		}
	}
	var plan *Plan
	for _, e := range events.events {
		if e.Type == EventPlan {
			plan = e.Plan
		}
	}
	if plan == nil || len(plan.Steps) != 2 {
		t.Fatalf("no plan event, or a wrong one: %+v", plan)
	}
	if s := plan.Steps[0].On["web1"].Script; strings.Contains(s, "s3cret") || !strings.Contains(s, "/etc/token") {
		t.Errorf("planned script %q: the secret must be masked", s)
	}
	if h := plan.Steps[1].Hosts; len(h) != 1 || h[0] != "web1" {
		t.Errorf("once: planned on %v, want web1 only", h)
	}
	outcomes := fmt.Sprintf("%s %s", res.Results[0].Outcome, res.Results[1].Outcome)
	if outcomes != "would_run skipped" {
		t.Errorf("first step: %s, want web1 would run and web2 skipped", outcomes)
	}
}

// A host whose lock command loses its connection may hold the lock; when
// it cannot be released either, the error names the host and the
// command that removes it.
func TestLockLostNamesUnlock(t *testing.T) {
	df, hosts, conns := fleet(t, `[app]
path = "/srv/app"
[tasks.setup]
steps = [{ run = "make-it" }]`)
	lost := errors.New("connection to web2 lost while the command ran")
	conns["web2"].On("mkdir -p", sshtest.Reply{Err: lost})
	conns["web2"].On("rm -rf", sshtest.Reply{Err: lost})
	r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
	_, err := r.Run(context.Background(), "setup", hosts)
	if err == nil || !strings.Contains(err.Error(), "lock on web2") || !strings.Contains(err.Error(), "run `deploy unlock web2`") {
		t.Errorf("error %v: want the lost lock command and `deploy unlock web2`", err)
	}
	if strings.Contains(err.Error(), "deploy unlock web1") {
		t.Errorf("web1's lock was released, yet the error names it: %v", err)
	}
	if s := conns["web2"].Scripts(); len(s) != 2 || !strings.Contains(s[1], "rm -rf") {
		t.Errorf("web2 got %d commands, want the lock then its release", len(s))
	}
}
