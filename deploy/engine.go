package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

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
	// OnSecrets, when set, is given every form of the run's secrets
	// before any command is sent, so that what -v traces masks them too.
	OnSecrets func(forms []string)
	// Verbose (-v): the steps say more (sync-static lists each file).
	Verbose bool

	// rel is every host's release state during the run; rollbackTo the
	// release each host goes back to in a rollback.
	rel         *releaseStates
	batch       *guardBatch // every guard, checked with the lock
	rollbackTo  map[string]tasks.Release
	masks       []string // every form of every secret of the run
	run         LockInfo // the run's task, target, owner and id, for hooks
	runHosts    []*config.Host
	unreachable *unreachableHosts // in a plan: the hosts it could not reach
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

// releasePlaceholder stands for {{release}} until the host's release is
// known.
const releasePlaceholder = "00000000T000000Z-0000000"

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
	prepared, secrets, err := r.prepareRun(task, hosts)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx, task, hosts, prepared, secrets, nil)
}

// execute runs prepared steps over hosts: lock (reading every host's
// release state in the same command), steps in order, and after a failure
// or an interrupt, settle: the states read again, the hosts this run
// moved rolled back. Then pruning, and the journal with the release of the
// locks. before, when set, runs once the states are known, before the
// first step; the hosts it returns are the only ones the steps run on.
func (r *Runner) execute(ctx context.Context, task string, hosts []*config.Host, prepared []*prepared, secrets []string, before func(ctx context.Context) ([]*config.Host, error)) (*RunResult, error) {
	r.masks = secrets
	if r.OnSecrets != nil {
		r.OnSecrets(secrets)
	}
	x := &execution{r: r, task: task, steps: prepared, secrets: secrets,
		pr: &maskingPrinter{next: r.Printer, secrets: secrets}, res: &RunResult{Task: task, DryRun: r.DryRun}}
	x.res.Hosts = names(hosts)
	for _, p := range prepared[:unconditional(prepared)] {
		x.res.Steps = append(x.res.Steps, p.title)
	}
	x.setUp()
	if early := x.beforeLock(); early > 0 && before == nil {
		return x.overlapped(ctx, early)
	}
	if err := x.begin(ctx); err != nil {
		return nil, err
	}
	// The locks go with the journal at the end; here only if the run
	// stops before it (a refused rollback, a panic).
	defer x.releaseLocks(ctx)
	if before != nil {
		keep, err := before(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range prepared {
			p.hosts = slices.DeleteFunc(slices.Clone(p.hosts), func(h *config.Host) bool { return !slices.Contains(keep, h) })
		}
	}
	start := time.Now()
	if r.DryRun {
		x.pr.Event(Event{Time: start, Type: EventPlan, Plan: planOf(task, hosts, prepared, secrets)})
	}
	x.pr.Event(Event{Time: start, Type: EventRunStart, Command: task, Hosts: x.res.Hosts, Steps: x.main})
	x.runSteps(ctx, x.main)
	x.finish(ctx, start)
	return x.res, nil
}

// overlapped runs the first early steps — local steps that change nothing
// the locks protect (tasks.BeforeLock: the test suite) — while the hosts
// are dialled and locked, then the rest once the locks are held. A lock
// that cannot be taken ends the run as it would have before any step.
func (x *execution) overlapped(ctx context.Context, early int) (*RunResult, error) {
	locked := make(chan error, 1)
	go func() { locked <- x.begin(ctx) }()
	start := time.Now()
	x.pr.Event(Event{Time: start, Type: EventRunStart, Command: x.task, Hosts: x.res.Hosts, Steps: len(x.steps)})
	x.runSteps(ctx, early)
	if err := <-locked; err != nil {
		x.pr.Event(Event{Time: time.Now(), Type: EventRunEnd, Failed: intPtr(1), Duration: time.Since(start).Seconds()})
		return nil, err
	}
	defer x.releaseLocks(ctx)
	x.runSteps(ctx, x.main)
	x.finish(ctx, start)
	return x.res, nil
}

// beforeLock is how many of the first steps may run while the locks are
// taken: in a real run that takes locks, the leading tasks.BeforeLock
// steps.
func (x *execution) beforeLock() int {
	if !x.record {
		return 0
	}
	n := 0
	for n < x.main && x.early(x.steps[n]) {
		n++
	}
	return n
}

// execution is one run of prepared steps.
type execution struct {
	r       *Runner
	task    string
	steps   []*prepared
	secrets []string
	pr      Printer
	res     *RunResult
	info    LockInfo
	hosts   []*config.Host // the hosts remote steps run on
	hasRoot bool           // the run's hosts have a deploy root
	record  bool           // locked, journaled: a real run with a deploy root
	locks   []*hostLock    // held until released
	next    int            // the first step not run yet
	main    int            // the steps before the on_success/on_failure hooks'
}

// early reports whether p changes nothing the hosts' guards could see
// (tasks.BeforeLock: it may run before the locks are held).
func (x *execution) early(p *prepared) bool {
	_, ok := x.r.Builtins[p.ps.step.Arg].(tasks.BeforeLock)
	return p.local && p.ps.step.Kind == config.StepBuiltin && ok
}

// setUp names the run and sets what its steps share, before anything
// runs.
func (x *execution) setUp() {
	r := x.r
	x.hosts = remoteHostsOf(x.steps)
	x.main = unconditional(x.steps)
	x.info = newRunInfo(x.task, r.Target)
	if r.State.RunID() == "" {
		r.State.SetRunID(x.info.ID)
	}
	x.info.ID = r.State.RunID()
	x.info.SHA = r.State.SHA() // the commit checked out as the run starts
	r.run, r.runHosts = x.info, x.hosts
	x.hasRoot = r.DF.App.Path != "" && len(x.hosts) > 0
	x.record = x.hasRoot && !r.DryRun
	r.rel = &releaseStates{}
	checked := x.steps // a plan checks the guards of every hook; a run, of what surely runs
	if !r.DryRun {
		checked = x.steps[:x.main]
	}
	r.batch = r.newGuardBatch(checked)
	r.unreachable = &unreachableHosts{}
}

// begin takes the locks — or, for a plan, reads the release states.
func (x *execution) begin(ctx context.Context) error {
	r := x.r
	switch {
	case x.record:
		locks, err := r.takeLocks(ctx, x.hosts, x.info)
		x.locks = locks
		return err
	case x.hasRoot:
		var failed map[string]error
		r.rel, failed = r.readStates(ctx, x.hosts, r.batch)
		x.planWithout(failed)
	default:
		r.checkGuards(ctx, x.hosts)
	}
	return nil
}

// runSteps runs the steps in order, up to (not including) step end,
// from the first not run yet, until one fails or ctx ends; the rest are
// not reached.
func (x *execution) runSteps(ctx context.Context, end int) {
	res := x.res
	for i := x.next; i < end; i++ {
		p := x.steps[i]
		x.next = i + 1
		if ctx.Err() != nil || res.Failure != nil {
			for _, h := range p.hostNames() {
				res.Results = append(res.Results, StepResult{Step: i, Host: h, Outcome: NotReached, Status: -1})
			}
			continue
		}
		var results []StepResult
		if p.isSwitch {
			results = x.r.switchAll(ctx, i, p, x.pr)
		} else {
			results = x.r.runStep(ctx, i, p, x.pr)
		}
		res.Results = append(res.Results, results...)
		for j := range results {
			sr := results[j]
			if sr.Outcome == Changed && !x.early(p) {
				x.r.batch.changed()
			}
			if sr.Outcome == Failed && !p.ps.step.IgnoreErrors && res.Failure == nil && sr.Reason != errAbort.Error() {
				res.Failure = &sr
			}
		}
	}
}

// finish settles a failed or interrupted run, prunes after a good one,
// writes the journal and releases the locks.
func (x *execution) finish(ctx context.Context, start time.Time) {
	r, res := x.r, x.res
	if (res.Failure != nil || ctx.Err() != nil) && x.record {
		r.settle(ctx, res, x.steps, x.hosts, x.pr)
	}
	if res.Failure == nil && ctx.Err() == nil && x.record && r.DF.App.KeepReleases > 0 {
		r.prune(ctx, x.hosts, x.pr)
	}
	result := x.runResult(ctx) // decided before the hooks run
	x.runConditional(ctx, start, result)
	maskResults(res, x.secrets)
	res.Interrupted = ctx.Err() != nil
	res.Unreachable = r.unreachable.all()
	res.Duration = time.Since(start)
	res.Commit = x.commit()
	if x.record {
		res.SHA = r.State.SHA()
		// The journal line and the release of the lock are one command
		// per host; a host that does not answer keeps both.
		res.LocksLeft, res.JournalErr = r.writeJournal(ctx, x.hosts, x.info, res, result)
		x.locks = nil
	}
	for _, h := range slices.Sorted(maps.Keys(res.LocksLeft)) {
		x.pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: h, Stream: "stderr",
			Line: fmt.Sprintf("the deploy lock could not be released (%s): run `deploy unlock %s` once the host is reachable", res.LocksLeft[h], h)})
	}
	failed := 0
	if res.Failure != nil {
		failed = 1
	}
	x.pr.Event(Event{Time: time.Now(), Type: EventRunEnd, Failed: intPtr(failed), Interrupted: res.interruptedHosts(), Duration: res.Duration.Seconds()})
}

// commit is the commit a real run tested, committed, pushed or released
// (the summary names it): nil for a plan, and for a task with no step on
// this machine's repository nor one that builds a release.
func (x *execution) commit() *Commit {
	sha := x.r.State.SHA()
	if x.r.DryRun || sha == "" || !slices.ContainsFunc(x.steps, x.r.onCommit) {
		return nil
	}
	c := &Commit{SHA: sha}
	if x.r.Laptop != nil {
		c.Subject = x.r.Laptop.Subject(sha)
	}
	return c
}

// onCommit reports whether p works on the commit deployed: a built-in on
// this machine (test, commit, push, collectstatic) or one that builds a
// release from it (pull).
func (r *Runner) onCommit(p *prepared) bool {
	if p.ps.step.Kind != config.StepBuiltin {
		return false
	}
	switch r.Builtins[p.ps.step.Arg].(type) {
	case tasks.LocalStep, tasks.PreparesRelease:
		return true
	}
	return false
}

// releaseLocks releases what the run still holds.
func (x *execution) releaseLocks(ctx context.Context) {
	if len(x.locks) > 0 {
		x.res.LocksLeft = x.r.releaseLocks(ctx, x.locks, x.info)
		x.locks = nil
	}
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
