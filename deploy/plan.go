package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// planStep is one step of a task with its task calls unrolled: the step,
// where it came from, and the groups that narrow its hosts (its own `on`
// and the `on` of every task step that led to it).
type planStep struct {
	step  *config.Step
	task  string
	label string // "deploy[3]", "release[1] > deploy[3]"
	on    []string
	// hooked marks a step of a task run as a hook (its steps get the
	// run's summary as DEPLOY_* variables); when is the outcome an
	// on_success or on_failure hook's step runs on ("" for every other).
	hooked bool
	when   config.HookKind
}

// unroll flattens a task: a task step becomes the steps of its task, and
// the tasks of its before and after hooks come before and after its own
// steps (unrollHooks).
func unroll(df *config.Deployfile, task string, on []string, prefix string) []planStep {
	out := unrollHooks(df, task, config.HookBefore, on, prefix)
	for i, s := range df.Tasks[task].Steps {
		label := fmt.Sprintf("%s%s[%d]", prefix, task, i+1)
		stepOn := on
		if s.On != "" {
			stepOn = append(slices.Clone(on), s.On)
		}
		if s.Kind == config.StepTask {
			out = append(out, unroll(df, s.Arg, stepOn, label+" > ")...)
			continue
		}
		out = append(out, planStep{step: s, task: task, label: label, on: stepOn})
	}
	return append(out, unrollHooks(df, task, config.HookAfter, on, prefix)...)
}

// prepared is a step ready to run: its hosts and, per host, its commands
// with variables filled in.
type prepared struct {
	ps       planStep
	title    string
	local    bool
	isSwitch bool // the switch of `current`, planned after the release is built
	rollback bool // a step of a rollback: {{sha}} is the commit each host goes back to
	hosts    []*config.Host
	cmds     map[string]*hostCmd // by host name; "local" for local steps
	// tries, on the switch, are the later steps that try a new release
	// on each host before any host switches (tasks.PreSwitch).
	tries []*prepared
	// hookEnv is the run's summary for an on_success or on_failure
	// hook's step, set once the outcome is known (withHookEnv).
	hookEnv map[string]string
}

// hostCmd is what a step does on one host, variables filled in.
type hostCmd struct {
	script  string
	env     map[string]string
	dir     string
	unless  string
	onlyIf  string
	creates string
	src, to string // upload
	with    map[string]any
	builds  []tasks.Build // [app] build, for the pull step
	scope   *config.Scope
}

func (p *prepared) hostNames() []string {
	if p.local {
		return []string{config.LocalHost}
	}
	names := make([]string, len(p.hosts))
	for i, h := range p.hosts {
		names[i] = h.Name
	}
	return names
}

// prepare resolves every step's hosts and fills in every variable, so that
// all mistakes surface before the first command runs. It returns the
// secrets to mask: secret variables and env values.
func (r *Runner) prepare(steps []planStep, hosts []*config.Host) ([]*prepared, []string, error) {
	if err := CheckEnv(r.DF, hosts); err != nil {
		return nil, nil, err // once, not once a step and host
	}
	pl := &planner{r: r, scopes: map[string]*config.Scope{}, secrets: map[string]bool{}}
	var out []*prepared
	for _, ps := range steps {
		s := ps.step
		if _, ok := r.Builtins[s.Arg]; s.Kind == config.StepBuiltin && !ok {
			pl.problem("%s: built-in step %q is not available in this build yet", ps.label, s.Arg)
			continue
		}
		_, localBuiltin := r.Builtins[s.Arg].(tasks.LocalStep)
		if s.Kind == config.StepLocal || (s.Kind == config.StepBuiltin && localBuiltin) {
			out = append(out, pl.local(ps))
		} else if p := pl.remote(ps, hosts); p != nil {
			out = append(out, p)
		}
	}
	if len(pl.problems) > 0 {
		return nil, nil, &RefusedError{Problems: pl.problems}
	}
	out = r.planSwitch(out)
	return out, pl.secretsOf(out), nil
}

// workTreeRefusals are the reasons this machine's work tree, as it is,
// must not be tested, collected, committed or pushed by the task's steps
// here (tasks.Laptop.Refusals): found before the tests run.
func (r *Runner) workTreeRefusals(steps []*prepared) []string {
	if r.Laptop == nil {
		return nil
	}
	var planned []tasks.PlannedStep
	for _, p := range steps {
		if !p.local || p.ps.step.Kind != config.StepBuiltin {
			continue
		}
		ps := tasks.PlannedStep{Step: r.Builtins[p.ps.step.Arg]}
		if hc := p.cmds[config.LocalHost]; hc != nil {
			ps.With = hc.with
		}
		planned = append(planned, ps)
	}
	return r.Laptop.Refusals(planned)
}

// planner fills in a task's steps for each host, collecting every
// problem and every secret on the way.
type planner struct {
	r        *Runner
	scopes   map[string]*config.Scope // by host name; "local\x00" for this machine
	secrets  map[string]bool
	problems []string
}

func (pl *planner) problem(format string, args ...any) {
	pl.problems = append(pl.problems, fmt.Sprintf(format, args...))
}

// scopeOf is the variables of h (nil: this machine), {{sha}} and
// {{release}} placeholders until the run knows them.
func (pl *planner) scopeOf(h *config.Host) (*config.Scope, error) {
	key := config.LocalHost + "\x00"
	if h != nil {
		key = h.Name
	}
	if s, ok := pl.scopes[key]; ok {
		return s, nil
	}
	s, err := pl.r.DF.Scope(h)
	if err != nil {
		return nil, err
	}
	s = s.With("sha", shaPlaceholder)
	if path := s.Get("path"); path != "" {
		s = s.With("release", releasePlaceholder).With("release_path", strings.TrimSuffix(path, "/")+"/releases/"+releasePlaceholder)
	}
	for _, sec := range s.Secrets() {
		pl.secrets[sec] = true
	}
	pl.scopes[key] = s
	return s, nil
}

// local prepares a step that runs once on this machine, in the project:
// the Deployfile's directory, wherever deploy started.
func (pl *planner) local(ps planStep) *prepared {
	p := &prepared{ps: ps, title: ps.step.Title(), cmds: map[string]*hostCmd{}, local: true}
	sc, err := pl.scopeOf(nil)
	if err == nil {
		var hc *hostCmd
		if hc, err = fill(ps.step, sc); err == nil {
			hc.dir, err = filepath.Abs(cmp.Or(pl.r.DF.Relative(hc.dir), filepath.Dir(pl.r.DF.File)))
		}
		p.cmds[config.LocalHost] = hc
	}
	if err != nil {
		pl.problem("%s (local): %v", ps.label, err)
	}
	return p
}

// remote prepares a step on the target's hosts that are in its groups.
func (pl *planner) remote(ps planStep, hosts []*config.Host) *prepared {
	s := ps.step
	p := &prepared{ps: ps, title: s.Title(), cmds: map[string]*hostCmd{}, hosts: narrow(pl.r.DF, hosts, ps.on)}
	if len(p.hosts) == 0 {
		pl.problem("%s runs on group %s, and none of the target's hosts (%s) is in it",
			ps.label, strings.Join(ps.on, " and "), strings.Join(names(hosts), ", "))
		return nil
	}
	if s.Once {
		p.hosts = p.hosts[:1]
	}
	_, builds := pl.r.Builtins[s.Arg].(tasks.PreparesRelease)
	for _, h := range p.hosts {
		sc, err := pl.scopeOf(h)
		if err == nil {
			var hc *hostCmd
			hc, err = fill(s, sc)
			if hc != nil {
				hc.src = pl.r.DF.Relative(hc.src)
				if err == nil && s.Kind == config.StepBuiltin && builds {
					hc.builds, err = fillBuilds(pl.r.DF.App.Build, sc)
				}
			}
			p.cmds[h.Name] = hc
		}
		if err != nil {
			pl.problem("%s on %s: %v", ps.label, h.Name, err)
		}
	}
	return p
}

// secretsOf are the strings to mask, in every form (maskForms): secret
// variables, and the values of the steps' env.
func (pl *planner) secretsOf(steps []*prepared) []string {
	for _, p := range steps {
		for _, hc := range p.cmds {
			for _, v := range hc.env {
				pl.secrets[v] = true
			}
		}
	}
	return maskForms(slices.Collect(maps.Keys(pl.secrets)))
}

// planSwitch puts the switch of `current` after the steps that build the
// release and every step of the preparing phase: before the first step
// that acts on the release in use (reload, healthcheck), else at the end.
// It runs on the hosts that build a release.
func (r *Runner) planSwitch(steps []*prepared) []*prepared {
	var hosts []*config.Host
	for _, p := range steps {
		if _, ok := r.Builtins[p.ps.step.Arg].(tasks.PreparesRelease); ok && p.ps.step.Kind == config.StepBuiltin {
			for _, h := range p.hosts {
				if !slices.Contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
		}
	}
	if len(hosts) == 0 {
		return steps
	}
	sw := &prepared{ps: planStep{step: &config.Step{Kind: config.StepBuiltin, Arg: "switch"}, label: "release"},
		title: "switch current", isSwitch: true, hosts: hosts}
	at := len(steps)
	for i, p := range steps {
		if _, ok := r.Builtins[p.ps.step.Arg].(tasks.AfterSwitch); ok && p.ps.step.Kind == config.StepBuiltin {
			at = i
			break
		}
	}
	sw.tries = r.preSwitchSteps(steps[at:])
	return slices.Insert(steps, at, sw)
}

// expandShell puts each {{name}} into shell text as one quoted word, so a
// value can never become a command.
func expandShell(sc *config.Scope, text string) (string, error) {
	return sc.Expand(text, remote.QuotePath)
}

// fill fills in the variables of a step for one scope.
func fill(s *config.Step, sc *config.Scope) (*hostCmd, error) {
	hc := &hostCmd{scope: sc, env: map[string]string{}}
	var err error
	shell := func(t string) string {
		if err != nil || t == "" {
			return ""
		}
		var out string
		out, err = expandShell(sc, t)
		return out
	}
	raw := func(t string) string {
		if err != nil || t == "" {
			return ""
		}
		var out string
		out, err = sc.ExpandRaw(t)
		return out
	}
	switch s.Kind {
	case config.StepRun, config.StepLocal:
		hc.script = shell(s.Arg)
	case config.StepUpload:
		hc.src, hc.to = raw(s.Arg), raw(s.To)
	}
	if s.With != nil {
		hc.with = map[string]any{}
		for k, v := range s.With {
			if str, ok := v.(string); ok {
				// A command is shell: its variables are quoted words.
				// Anything else (a path, a URL) takes them as they are.
				if k == "command" {
					v = shell(str)
				} else {
					v = raw(str)
				}
			}
			hc.with[k] = v
		}
	}
	hc.dir = raw(s.Dir)
	hc.unless, hc.onlyIf, hc.creates = shell(s.Unless), shell(s.OnlyIf), raw(s.Creates)
	for k, v := range s.Env {
		hc.env[k] = raw(v)
	}
	return hc, err
}

// fillBuilds fills in the variables of [app] build for a host: quoted
// words in the command, plain text in the paths.
func fillBuilds(builds []config.Build, sc *config.Scope) ([]tasks.Build, error) {
	out := make([]tasks.Build, 0, len(builds))
	for _, b := range builds {
		run, err := expandShell(sc, b.Run)
		if err != nil {
			return nil, fmt.Errorf("[app] build: %w", err)
		}
		out = append(out, tasks.Build{Run: run, Inputs: b.Inputs, Output: b.Output})
	}
	return out, nil
}

// narrow keeps the hosts that are in every group of on.
func narrow(df *config.Deployfile, hosts []*config.Host, on []string) []*config.Host {
	var out []*config.Host
	for _, h := range hosts {
		in := true
		for _, g := range on {
			if !slices.ContainsFunc(df.GroupHosts(g), func(x *config.Host) bool { return x.Name == h.Name }) {
				in = false
				break
			}
		}
		if in {
			out = append(out, h)
		}
	}
	return out
}

func names(hosts []*config.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// refill fills a step's variables again when it is about to run: {{sha}}
// is known only once the commit to deploy is (push records it), and in a
// rollback it is the commit each host goes back to; {{release}} and
// {{release_path}} once the host's release is (pull makes it).
func (r *Runner) refill(p *prepared, host string) (*hostCmd, error) {
	s, hc := p.ps.step, p.cmds[host]
	usesSHA, usesRelease := s.Uses("sha"), s.Uses("release") || s.Uses("release_path")
	if !usesSHA && !usesRelease {
		return hc, nil
	}
	sc := hc.scope
	if usesSHA {
		sha := r.State.SHA()
		if p.rollback {
			sha = r.rollbackTo[host].SHA
		}
		if sha == "" {
			return nil, errors.New("{{sha}} is not known yet: the push step sets it (or the commit checked out, when this machine has the repository)")
		}
		sc = sc.With("sha", sha)
	}
	if usesRelease {
		name, dir := r.releaseOf(host)
		if name == "" && r.DryRun {
			name, dir = releasePlaceholder, hc.scope.Get("path")+"/releases/"+releasePlaceholder
		}
		if name == "" {
			return nil, errors.New("{{release}} is not known yet: the pull step makes the release (or one must be in use on the host)")
		}
		sc = sc.With("release", name).With("release_path", dir)
	}
	filled, err := fill(s, sc)
	if err != nil {
		return nil, err
	}
	filled.src, filled.builds = hc.src, hc.builds
	return filled, nil
}

// releaseOf is the release a step on host works on, and its directory:
// the one this run prepared there, else the one in use; "" when neither.
func (r *Runner) releaseOf(host string) (name, dir string) {
	hr := r.rel.get(host)
	if hr == nil || hr.strategy == nil {
		return "", ""
	}
	name = cmp.Or(hr.st.Prepared, hr.st.Current)
	if name == "" || name == newRelease {
		return "", ""
	}
	return name, hr.strategy.ReleaseDir(name)
}
