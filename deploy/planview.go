package deploy

import (
	"github.com/deploy-tool/deploy/deploy/config"
)

// EventPlan carries the Plan of a dry run, before its first step.
const EventPlan = "plan"

// Plan is a task resolved over a target, before anything connects: the
// steps in order, the hosts each runs on, and on each host what it does
// with every variable bound — run-time values stay named placeholders
// ({{sha}} until the push step knows it) and secrets are masked. The
// engine executes exactly this; `deploy plan --json` prints it.
type Plan struct {
	Task  string     `json:"task"`
	Hosts []string   `json:"hosts"`
	Steps []PlanStep `json:"steps"`
}

// PlanStep is one step of a Plan.
type PlanStep struct {
	Step  int    `json:"step"` // its number in the run, as every output shows it
	Title string `json:"title"`
	// From is where the step comes from: "deploy[3]", or
	// "release[1] > deploy[3]" through a task step.
	From    string   `json:"from"`
	Kind    string   `json:"kind"` // run, local, upload, builtin, switch
	Builtin string   `json:"builtin,omitempty"`
	Hosts   []string `json:"hosts"`
	Serial  int      `json:"serial,omitempty"`
	Limit   int      `json:"parallel,omitempty"`
	// When is "on_success" or "on_failure" for a step of such a hook:
	// it runs only when the run ends that way.
	When string `json:"when,omitempty"`
	// On is what the step does on each host.
	On map[string]PlannedCommand `json:"on,omitempty"`
}

// PlannedCommand is what a step does on one host.
type PlannedCommand struct {
	Script  string            `json:"script,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	With    map[string]any    `json:"with,omitempty"`
	Upload  []string          `json:"upload,omitempty"` // from, to
	Creates string            `json:"creates,omitempty"`
	Unless  string            `json:"unless,omitempty"`
	OnlyIf  string            `json:"only_if,omitempty"`
}

// planOf describes prepared steps as a Plan, secrets masked.
func planOf(task string, hosts []*config.Host, steps []*prepared, secrets []string) *Plan {
	mask := func(s string) string { return config.Mask(s, secrets) }
	p := &Plan{Task: task, Hosts: names(hosts)}
	for i, s := range steps {
		ps := PlanStep{Step: i + 1, Title: s.title, From: s.ps.label, Kind: string(s.ps.step.Kind), Hosts: s.hostNames(),
			Serial: s.ps.step.Serial, Limit: s.ps.step.Parallel, When: string(s.ps.when), On: map[string]PlannedCommand{}}
		if s.ps.step.Kind == config.StepBuiltin {
			ps.Builtin = s.ps.step.Arg
		}
		if s.isSwitch {
			ps.Kind, ps.Builtin = "switch", ""
		}
		for host, hc := range s.cmds {
			pc := PlannedCommand{Script: mask(hc.script), Dir: hc.dir, Creates: hc.creates, Unless: mask(hc.unless), OnlyIf: mask(hc.onlyIf)}
			if hc.src != "" || hc.to != "" {
				pc.Upload = []string{hc.src, hc.to}
			}
			if len(hc.env) > 0 {
				pc.Env = map[string]string{}
				for k, v := range hc.env {
					pc.Env[k] = mask(v)
				}
			}
			if len(hc.with) > 0 {
				pc.With = map[string]any{}
				for k, v := range hc.with {
					if str, ok := v.(string); ok {
						v = mask(str)
					}
					pc.With[k] = v
				}
			}
			ps.On[host] = pc
		}
		if len(ps.On) == 0 {
			ps.On = nil
		}
		p.Steps = append(p.Steps, ps)
	}
	return p
}

// Plan resolves task over hosts without connecting anywhere: what Run
// would execute.
func (r *Runner) Plan(task string, hosts []*config.Host) (*Plan, error) {
	if _, ok := r.DF.Tasks[task]; !ok {
		return nil, &RefusedError{Problems: []string{"no task " + task + " in " + r.DF.File + " — " + r.DF.KnownTasksFix(task)}}
	}
	steps, secrets, err := r.prepareRun(task, hosts)
	if err != nil {
		return nil, err
	}
	return planOf(task, hosts, steps, secrets), nil
}
