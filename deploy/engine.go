package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// Outcome is how a step ended on a host.
type Outcome string

// Outcomes.
const (
	Changed    Outcome = "changed"
	Skipped    Outcome = "skipped"
	Failed     Outcome = "failed"
	NotReached Outcome = "not_reached"
	WouldRun   Outcome = "would_run" // deploy plan: the guards let it run
)

// Event types of a task run, beside those of exec.
const (
	EventStepStart = "step_start"
	EventStepEnd   = "step_end"
)

// planStep is one step of a task with its task calls unrolled: the step,
// where it came from, and the groups that narrow its hosts (its own `on`
// and the `on` of every task step that led to it).
type planStep struct {
	step  *config.Step
	task  string
	label string // "deploy[3]", "release[1] > deploy[3]"
	on    []string
}

// unroll flattens a task: a task step becomes the steps of its task.
func unroll(df *config.Deployfile, task string, on []string, prefix string) []planStep {
	var out []planStep
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
	return out
}

// StepResult is how one step ended on one host ("local" for local steps).
type StepResult struct {
	Step     int // index in RunResult.Steps
	Host     string
	Outcome  Outcome
	Reason   string // why it was skipped, or what failed
	Status   int    // exit status of a failed command; -1 when none
	Duration time.Duration
	Stderr   []string // last lines of a failed command's stderr
	Command  string   // the failed command, variables filled in and secrets masked
}

// RunResult is a whole run: the steps, and every (step, host) outcome.
type RunResult struct {
	Task     string
	Steps    []string // titles, in order
	Hosts    []string // the target's hosts, in order
	Results  []StepResult
	Failure  *StepResult // the first failure that stopped the run
	Duration time.Duration
	DryRun   bool
	SHA      string // the commit deployed, when known
	// RolledBack says a failure after the switch put every host this run
	// had moved back on its previous release, reloaded: as read back from
	// the hosts.
	RolledBack bool
	// States are the hosts' release states read back after a failed or
	// interrupted run; Unknown the hosts that could not be read then, and
	// why.
	States  map[string]*tasks.HostState
	Unknown map[string]string
	// LocksLeft are the hosts whose lock could not be released, and why.
	LocksLeft map[string]string
	// JournalErr is a failure to record the run on a host; the run itself
	// is not undone by it.
	JournalErr error
}

// Runner runs tasks of a Deployfile over hosts.
type Runner struct {
	DF      *config.Deployfile
	Conns   connector
	Printer Printer
	// Target is how the hosts were named (a group, a list), for the lock
	// and the journal.
	Target string
	// LockWait is how long to wait for a lock another run holds, trying
	// again with jitter; 0 fails at once.
	LockWait time.Duration
	// DryRun evaluates every guard and changes nothing: deploy plan. It
	// takes no lock and writes no journal.
	DryRun bool
	// Builtins are the built-in steps (tasks.Builtins()); a task naming
	// one that is not there is refused before anything runs.
	Builtins tasks.Registry
	// Laptop is this machine's side for the built-ins that work on the
	// local repository (test, commit, push); nil when there is none.
	Laptop *tasks.Laptop
	// State is shared by the steps of the run: its id, the commit to
	// deploy. Run makes one when it is nil.
	State *tasks.RunState

	// rel is every host's release state during the run; rollbackTo the
	// release each host goes back to in a rollback.
	rel        *releaseStates
	rollbackTo map[string]tasks.Release
}

// ensureState makes the run's shared state when the caller gave none.
func (r *Runner) ensureState() {
	if r.State == nil {
		r.State = &tasks.RunState{}
	}
}

// shaPlaceholder stands for {{sha}} while a run is checked, before it is
// known; the real value is filled in when the step runs.
const shaPlaceholder = "0000000000000000000000000000000000000000"

// RefusedError is a task that cannot run on its target as written: found
// before anything ran.
type RefusedError struct{ Problems []string }

func (e *RefusedError) Error() string {
	return "nothing was run:\n  " + strings.Join(e.Problems, "\n  ")
}

// errAbort marks a host's command cancelled because another host failed.
var errAbort = errors.New("cancelled: another host failed this step")

// Run runs task over hosts. Before anything runs it checks every step's
// targeting and variables, so a bad run changes nothing anywhere. A failed
// step stops the run: no later step starts on any host.
func (r *Runner) Run(ctx context.Context, task string, hosts []*config.Host) (*RunResult, error) {
	if _, ok := r.DF.Tasks[task]; !ok {
		return nil, fmt.Errorf("no task %q in %s — %s", task, r.DF.File, r.DF.KnownTasksFix(task))
	}
	r.ensureState()
	steps := unroll(r.DF, task, nil, "")
	prepared, secrets, err := r.prepare(steps, hosts)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx, task, hosts, prepared, secrets, nil)
}

// execute runs prepared steps over hosts: lock (reading every host's
// release state in the same command), steps in order, and after a failure
// or an interrupt, settle: the states read again, the hosts this run
// moved rolled back. Then pruning and the journal. before, when set, runs
// once the states are known, before the first step; the hosts it returns
// are the only ones the steps run on.
func (r *Runner) execute(ctx context.Context, task string, hosts []*config.Host, prepared []*prepared, secrets []string, before func(ctx context.Context) ([]*config.Host, error)) (*RunResult, error) {
	pr := &maskingPrinter{next: r.Printer, secrets: secrets}
	res := &RunResult{Task: task, DryRun: r.DryRun}

	// The hosts remote steps run on are locked for the run, and record it
	// in their journal; that needs a deploy root ([app] path).
	remoteHosts := remoteHostsOf(prepared)
	info := newRunInfo(task, r.Target)
	if r.State.RunID() == "" {
		r.State.SetRunID(info.ID)
	}
	info.ID = r.State.RunID()
	info.SHA = r.State.SHA() // the commit checked out as the run starts
	hasRoot := r.DF.App.Path != "" && len(remoteHosts) > 0
	record := hasRoot && !r.DryRun
	r.rel = &releaseStates{}
	unlock := func() {}
	switch {
	case record:
		locks, err := r.takeLocks(ctx, remoteHosts, info)
		if err != nil {
			return nil, err
		}
		released := false
		unlock = func() {
			if !released {
				released = true
				res.LocksLeft = r.releaseLocks(ctx, locks, info)
			}
		}
		defer unlock()
	case hasRoot:
		var failed map[string]error
		if r.rel, failed = r.readStates(ctx, remoteHosts); len(failed) > 0 {
			var problems []string
			for h, err := range failed {
				problems = append(problems, fmt.Sprintf("%s: %v", h, err))
			}
			slices.Sort(problems)
			return nil, fmt.Errorf("could not read the hosts' release state:\n  %s", strings.Join(problems, "\n  "))
		}
	}
	if before != nil {
		keep, err := before(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range prepared {
			p.hosts = slices.DeleteFunc(slices.Clone(p.hosts), func(h *config.Host) bool { return !slices.Contains(keep, h) })
		}
	}
	for _, h := range hosts {
		res.Hosts = append(res.Hosts, h.Name)
	}
	for _, p := range prepared {
		res.Steps = append(res.Steps, p.title)
	}
	start := time.Now()
	pr.Event(Event{Time: start, Type: EventRunStart, Command: task, Hosts: res.Hosts})

	for i, p := range prepared {
		if ctx.Err() != nil || res.Failure != nil {
			for _, h := range p.hostNames() {
				res.Results = append(res.Results, StepResult{Step: i, Host: h, Outcome: NotReached, Status: -1})
			}
			continue
		}
		var results []StepResult
		if p.isSwitch {
			results = r.switchAll(ctx, i, p, pr)
		} else {
			results = r.runStep(ctx, i, p, pr)
		}
		res.Results = append(res.Results, results...)
		for j := range results {
			sr := results[j]
			if sr.Outcome == Failed && !p.ps.step.IgnoreErrors && res.Failure == nil && sr.Reason != errAbort.Error() {
				res.Failure = &sr
			}
		}
	}
	if (res.Failure != nil || ctx.Err() != nil) && record {
		r.settle(ctx, res, prepared, remoteHosts, pr)
	}
	if res.Failure == nil && ctx.Err() == nil && record && r.DF.App.KeepReleases > 0 {
		r.prune(ctx, remoteHosts, pr)
	}
	maskResults(res, secrets)
	res.Duration = time.Since(start)
	failed := 0
	if res.Failure != nil {
		failed = 1
	}
	if record {
		result := ResultOK
		switch {
		case ctx.Err() != nil:
			result = ResultInterrupted
		case res.RolledBack:
			result = ResultRolledBack
		case res.Failure != nil:
			result = ResultFailed
		}
		res.SHA = r.State.SHA()
		res.JournalErr = r.writeJournal(ctx, remoteHosts, info, res, result)
	}
	unlock()
	for _, h := range slices.Sorted(maps.Keys(res.LocksLeft)) {
		pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: h, Stream: "stderr",
			Line: fmt.Sprintf("the deploy lock could not be released (%s): run `deploy unlock %s` once the host is reachable", res.LocksLeft[h], h)})
	}
	pr.Event(Event{Time: time.Now(), Type: EventRunEnd, Failed: intPtr(failed), Duration: res.Duration.Seconds()})
	return res, nil
}

// remoteHostsOf are the hosts remote steps run on, in order.
func remoteHostsOf(prepared []*prepared) []*config.Host {
	var out []*config.Host
	for _, p := range prepared {
		for _, h := range p.hosts {
			if !h.Local() && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// maskResults masks secrets in what the summary prints: reasons, commands
// and stderr lines, as the events were.
func maskResults(res *RunResult, secrets []string) {
	for i := range res.Results {
		sr := &res.Results[i]
		sr.Reason = config.Mask(sr.Reason, secrets)
		sr.Command = config.Mask(sr.Command, secrets)
		for j, l := range sr.Stderr {
			sr.Stderr[j] = config.Mask(l, secrets)
		}
	}
	if res.Failure != nil {
		for _, sr := range res.Results {
			if sr.Step == res.Failure.Step && sr.Host == res.Failure.Host {
				res.Failure = &sr
				break
			}
		}
	}
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
	var out []*prepared
	var errs []string
	secretSet := map[string]bool{}
	scopes := map[string]*config.Scope{}
	scopeOf := func(h *config.Host) (*config.Scope, error) {
		key := config.LocalHost + "\x00"
		if h != nil {
			key = h.Name
		}
		if s, ok := scopes[key]; ok {
			return s, nil
		}
		s, err := r.DF.Scope(h)
		if err != nil {
			return nil, err
		}
		s = s.With("sha", shaPlaceholder)
		for _, sec := range s.Secrets() {
			secretSet[sec] = true
		}
		scopes[key] = s
		return s, nil
	}
	for _, ps := range steps {
		s := ps.step
		p := &prepared{ps: ps, title: s.Title(), cmds: map[string]*hostCmd{}}
		if s.Kind == config.StepBuiltin {
			if _, ok := r.Builtins[s.Arg]; !ok {
				errs = append(errs, fmt.Sprintf("%s: built-in step %q is not available in this build yet", ps.label, s.Arg))
				continue
			}
		}
		_, localBuiltin := r.Builtins[s.Arg].(tasks.LocalStep)
		if s.Kind == config.StepLocal || (s.Kind == config.StepBuiltin && localBuiltin) {
			p.local = true
			sc, err := scopeOf(nil)
			if err == nil {
				var hc *hostCmd
				if hc, err = fill(s, sc); err == nil {
					// Local commands run in the project: the
					// Deployfile's directory, wherever deploy started.
					hc.dir, err = filepath.Abs(cmp.Or(r.DF.Relative(hc.dir), filepath.Dir(r.DF.File)))
				}
				p.cmds[config.LocalHost] = hc
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s (local): %v", ps.label, err))
			}
			out = append(out, p)
			continue
		}
		p.hosts = narrow(r.DF, hosts, ps.on)
		if len(p.hosts) == 0 {
			errs = append(errs, fmt.Sprintf("%s runs on group %s, and none of the target's hosts (%s) is in it",
				ps.label, strings.Join(ps.on, " and "), strings.Join(names(hosts), ", ")))
			continue
		}
		if s.Once {
			p.hosts = p.hosts[:1]
		}
		for _, h := range p.hosts {
			sc, err := scopeOf(h)
			if err == nil {
				var hc *hostCmd
				hc, err = fill(s, sc)
				if hc != nil {
					hc.src = r.DF.Relative(hc.src)
					if err == nil && s.Kind == config.StepBuiltin && s.Arg == "pull" {
						hc.builds, err = fillBuilds(r.DF.App.Build, sc)
					}
				}
				p.cmds[h.Name] = hc
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s on %s: %v", ps.label, h.Name, err))
			}
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, nil, &RefusedError{Problems: errs}
	}
	out = r.planSwitch(out)
	for _, p := range out {
		for _, hc := range p.cmds {
			for _, v := range hc.env {
				// Short values ("1", "on") would garble every line.
				if len(v) >= 4 {
					secretSet[v] = true
				}
			}
		}
	}
	secrets := make([]string, 0, len(secretSet))
	for s := range secretSet {
		secrets = append(secrets, s)
	}
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	return out, secrets, nil
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
	return slices.Insert(steps, at, sw)
}

// expandShell puts each {{name}} into shell text as one quoted word, so a
// value can never become a command.
func expandShell(sc *config.Scope, text string) (string, error) {
	return sc.Expand(text, remote.Quote)
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
// rollback it is the commit each host goes back to.
func (r *Runner) refill(p *prepared, host string) (*hostCmd, error) {
	s, hc := p.ps.step, p.cmds[host]
	if !s.Uses("sha") {
		return hc, nil
	}
	sha := r.State.SHA()
	if p.rollback {
		sha = r.rollbackTo[host].SHA
	}
	if sha == "" {
		return nil, errors.New("{{sha}} is not known yet: the push step sets it (or the commit checked out, when this machine has the repository)")
	}
	filled, err := fill(s, hc.scope.With("sha", sha))
	if err != nil {
		return nil, err
	}
	filled.src, filled.builds = hc.src, hc.builds
	return filled, nil
}

