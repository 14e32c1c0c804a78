package deploy

import (
	"context"
	"fmt"
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

// A guard costs one command; a guard that finds the step done costs only
// that; the step's own command follows its guard on the other host.
func TestGuardsRoundTrips(t *testing.T) {
	df, hosts, conns := fleet(t, `[tasks.setup]
steps = [{ run = "make-it", creates = "/etc/made" }]`)
	conns["web1"].On("test -e", sshtest.Reply{}) // exists
	conns["web2"].On("test -e", sshtest.Reply{Status: 1})
	r := &Runner{DF: df, Conns: conns, Printer: &collect{}, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "setup", hosts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Outcome{}
	for _, sr := range res.Results {
		got[sr.Host] = sr.Outcome
	}
	if got["web1"] != Skipped || got["web2"] != Changed {
		t.Errorf("outcomes %v, want web1 skipped and web2 changed", got)
	}
	if n := len(conns["web1"].Commands()); n != 1 {
		t.Errorf("web1: %d commands, want the guard alone", n)
	}
	if s := conns["web2"].Scripts(); len(s) != 2 || s[1] != "make-it" {
		t.Errorf("web2 ran %q, want the guard then make-it", s)
	}
	if !conns["web2"].Commands()[0].ReadOnly || conns["web2"].Commands()[1].ReadOnly {
		t.Error("the guard must be read-only and the step not")
	}
}

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
