package deploy

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// settleTimeout bounds what a failed or interrupted run still does on the
// hosts: roll back, reload, read the state again.
const (
	settleTimeout            = 45 * time.Second
	interruptedSettleTimeout = 6 * time.Second
)

// hostRelease is a host's release state during a run and the strategy
// that moves it. Only the steps of that host touch it.
type hostRelease struct {
	strategy tasks.Strategy
	st       *tasks.HostState
}

// releaseStates are the hosts' release states of one run, by host name.
type releaseStates struct {
	mu    sync.Mutex
	hosts map[string]*hostRelease
}

func (s *releaseStates) get(host string) *hostRelease {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hosts[host]
}

func (s *releaseStates) set(host string, hr *hostRelease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts == nil {
		s.hosts = map[string]*hostRelease{}
	}
	s.hosts[host] = hr
}

// strategyFor is the release strategy of a host, its deploy root filled
// in; nil when the Deployfile has no deploy root.
func (r *Runner) strategyFor(sc *config.Scope) tasks.Strategy {
	if r.DF.App.Path == "" {
		return nil
	}
	return tasks.NewStrategy(r.appFor(sc, nil))
}

// appFor is the [app] table as the steps of a host see it.
func (r *Runner) appFor(sc *config.Scope, builds []tasks.Build) *tasks.App {
	return &tasks.App{Repo: r.DF.App.Repo, Path: sc.Get("path"), Strategy: r.DF.App.Strategy, Shared: r.DF.App.Shared,
		Python: r.DF.App.Python, Build: builds, ForwardAgent: r.DF.App.ForwardAgent}
}

// readStates reads the release state of every host, for a run that takes
// no lock (deploy plan, deploy status).
// With batch, each host's command checks its guards too.
func (r *Runner) readStates(ctx context.Context, hosts []*config.Host, batch *guardBatch) (*releaseStates, map[string]error) {
	states := &releaseStates{}
	var mu sync.Mutex
	failed := map[string]error{}
	var g errgroup.Group
	for _, h := range hosts {
		g.Go(func() error {
			st, s, err := r.readState(ctx, h, batch)
			if err != nil {
				mu.Lock()
				failed[h.Name] = err
				mu.Unlock()
				return nil
			}
			st.Start = st.Current
			states.set(h.Name, &hostRelease{strategy: s, st: st})
			return nil
		})
	}
	g.Wait()
	return states, failed
}

// readState reads one host's release state; with batch, it checks the
// host's guards in the same command.
func (r *Runner) readState(ctx context.Context, h *config.Host, batch *guardBatch) (*tasks.HostState, tasks.Strategy, error) {
	conn, err := r.Conns.Conn(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	sc, err := r.DF.Scope(h)
	if err != nil {
		return nil, nil, err
	}
	s := r.strategyFor(sc)
	if s == nil {
		return nil, nil, fmt.Errorf("%s has no [app] path", r.DF.File)
	}
	if batch.script(h.Name) == "" {
		st, err := s.Read(ctx, conn)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		return st, s, nil
	}
	var out, errOut bytes.Buffer
	script := s.StateScript() + "\n" + batch.script(h.Name)
	cmd := &remote.Cmd{Script: script, Stdout: &out, Stderr: &errOut, ReadOnly: true, Public: r.public(script)}
	if err := conn.Run(ctx, cmd); err != nil {
		return nil, nil, fmt.Errorf("%s: read the release state: %w%s", h.Name, err, tail(errOut.String()))
	}
	st, err := s.ParseState(out.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	batch.take(h.Name, out.String())
	return st, s, nil
}

// switchAll points `current` at the release this run prepared, on every
// host that has one, at once. A host that fails is not switched back
// here: the run fails, and settle rolls back every host the run moved.
func (r *Runner) switchAll(ctx context.Context, index int, p *prepared, pr Printer) []StepResult {
	pr.Event(Event{Time: time.Now(), Type: EventStepStart, Step: index + 1, Command: p.title, Hosts: names(p.hosts), Line: "release"})
	if failed := r.tryReleases(ctx, index, p, pr); failed != nil {
		return failed
	}
	results := make([]StepResult, len(p.hosts))
	var g errgroup.Group
	for i, h := range p.hosts {
		g.Go(func() error {
			results[i] = r.switchOne(ctx, index, p, h)
			if why, ok := r.unreachable.why(h.Name); ok {
				results[i] = StepResult{Step: index, Host: h.Name, Outcome: Unreachable, Reason: why, Status: -1}
			}
			sr := results[i]
			pr.Event(Event{Time: time.Now(), Type: EventStepEnd, Step: index + 1, Host: h.Name, Command: p.title, Line: string(sr.Outcome),
				Duration: sr.Duration.Seconds(), Error: sr.Reason})
			return nil
		})
	}
	g.Wait()
	return results
}

// switchOne switches one host: to the release prepared, or, in a
// rollback, to the host's rollback target.
func (r *Runner) switchOne(ctx context.Context, index int, p *prepared, h *config.Host) StepResult {
	start := time.Now()
	sr := StepResult{Step: index, Host: h.Name, Status: -1}
	hr := r.rel.get(h.Name)
	if hr == nil {
		sr.Outcome, sr.Reason = Failed, "the release state of this host is not known"
		return sr
	}
	st := hr.st
	rec := tasks.Record{Release: st.Prepared, Commit: r.State.SHA(), Run: r.State.RunID(), Migrated: r.State.Migrated(r.State.SHA())}
	if p.rollback {
		target := r.rollbackTo[h.Name]
		rec = tasks.Record{Release: target.Name, Commit: target.SHA, RollbackOf: st.Current, Run: r.State.RunID()}
	}
	switch {
	case rec.Release == "":
		sr.Outcome, sr.Reason = Skipped, "no new release"
		return sr
	case rec.Release == st.Current && !p.rollback:
		sr.Outcome, sr.Reason = Skipped, "current is "+rec.Release+" already"
		return sr
	case r.DryRun:
		// What the later steps of the plan see: the host switched.
		rec.Phase = tasks.PhaseSwitched
		st.Switched(rec, rec.Commit)
		sr.Outcome = WouldRun
		return sr
	}
	conn, err := r.Conns.Conn(ctx, h)
	if err == nil {
		err = hr.strategy.Switch(ctx, conn, rec)
	}
	sr.Duration = time.Since(start)
	if err != nil {
		sr.Outcome, sr.Reason = Failed, err.Error()
		if interrupted(ctx) {
			sr.Outcome, sr.Reason = Interrupted, interruptedReason
		}
		return sr
	}
	rec.Phase = tasks.PhaseSwitched
	st.Switched(rec, rec.Commit)
	sr.Outcome, sr.Status = Changed, 0
	return sr
}

// settle runs after a run failed or was interrupted. It reads every
// host's state again — not what the engine meant to do, what the host
// is — rolls back each host this run moved off the release it served to
// that release (switch, then the task's reload and health steps), and
// reads the states once more for the summary and the journal. A host that
// cannot be read is unknown, never assumed.
func (r *Runner) settle(ctx context.Context, res *RunResult, steps []*prepared, hosts []*config.Host, pr Printer) {
	timeout := settleTimeout
	if ctx.Err() != nil {
		timeout = interruptedSettleTimeout // the user wants out
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	r.verify(ctx, res, hosts)
	var back []*config.Host
	r.rollbackTo = map[string]tasks.Release{}
	for _, h := range hosts {
		st := res.States[h.Name]
		if st == nil {
			continue
		}
		hr := r.rel.get(h.Name)
		// Under the lock only this run moves `current`: a host whose
		// current is not what it was at the start was moved by it, even
		// when the record of the move was lost with the host.
		if hr == nil || st.Start == "" || st.Current == st.Start {
			continue // not moved, or nothing to go back to
		}
		hr.st = st
		r.rollbackTo[h.Name] = tasks.Release{Name: st.Start, SHA: hr.startCommit()}
		back = append(back, h)
	}
	if len(back) == 0 {
		return
	}
	pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: config.LocalHost, Stream: "stderr",
		Line: "rolling back " + strings.Join(names(back), ", ") + " to the release each served before this run"})
	r.runRollback(ctx, res, steps, back, pr)
	r.verify(ctx, res, hosts)
	res.RolledBack = true
	for _, h := range back {
		st := res.States[h.Name]
		if st == nil || st.Current != r.rollbackTo[h.Name].Name || !st.Consistent() || !st.Record.Phase.AtLeast(tasks.PhaseReloaded) {
			res.RolledBack = false
		}
	}
}

// startCommit is the commit of the release the host served when the run
// began.
func (hr *hostRelease) startCommit() string {
	for _, rel := range hr.st.Releases {
		if rel.Name == hr.st.Start {
			return rel.SHA
		}
	}
	return ""
}

// runRollback switches hosts to r.rollbackTo and runs again, there, the
// steps of the run that act on the release in use (reload, health check),
// with {{sha}} the commit each host goes back to.
func (r *Runner) runRollback(ctx context.Context, res *RunResult, steps []*prepared, hosts []*config.Host, pr Printer) {
	title := "switch back (rollback)"
	res.Steps = append(res.Steps, title)
	sw := &prepared{ps: planStep{step: &config.Step{Kind: config.StepBuiltin}, label: "rollback"}, title: title, isSwitch: true, rollback: true, hosts: hosts}
	results := r.switchAll(ctx, len(res.Steps)-1, sw, pr)
	res.Results = append(res.Results, results...)
	var switched []*config.Host
	for i, h := range hosts {
		if results[i].Outcome == Changed {
			switched = append(switched, h)
		}
	}
	for _, q := range steps {
		if !r.actsOnRelease(q) {
			continue
		}
		again := *q
		again.hosts = slices.DeleteFunc(slices.Clone(q.hosts), func(h *config.Host) bool { return !slices.Contains(switched, h) })
		if len(again.hosts) == 0 {
			continue
		}
		again.title = q.title + " (rollback)"
		again.rollback = true
		res.Steps = append(res.Steps, again.title)
		res.Results = append(res.Results, r.runStep(ctx, len(res.Steps)-1, &again, pr)...)
	}
}

// actsOnRelease reports whether a step acts on the release in use
// (reload, health check): it runs again after a switch back.
func (r *Runner) actsOnRelease(p *prepared) bool {
	if p.isSwitch || p.ps.step.Kind != config.StepBuiltin {
		return false
	}
	_, ok := r.Builtins[p.ps.step.Arg].(tasks.AfterSwitch)
	return ok
}

// verify reads the state of every host with a deploy root into
// res.States; a host that cannot be read goes into res.Unknown. The start
// release of each host is kept from the run's own record.
func (r *Runner) verify(ctx context.Context, res *RunResult, hosts []*config.Host) {
	var mu sync.Mutex
	res.States, res.Unknown = map[string]*tasks.HostState{}, map[string]string{}
	var g errgroup.Group
	for _, h := range hosts {
		if r.rel.get(h.Name) == nil {
			continue
		}
		g.Go(func() error {
			st, err := r.readStateFresh(ctx, h)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Unknown[h.Name] = err.Error()
				return nil
			}
			st.Start = r.rel.get(h.Name).st.Start
			res.States[h.Name] = st
			return nil
		})
	}
	g.Wait()
}

// readTimeout bounds one read of a host's state after a failure.
const readTimeout = 5 * time.Second

// readStateFresh reads a host's state after a failure, within
// readTimeout; if that fails, once more on a new connection: the run's
// own may be stalled (it looks alive until keepalives give up on it) while
// the host answers. Later commands to the host use the new connection.
func (r *Runner) readStateFresh(ctx context.Context, h *config.Host) (*tasks.HostState, error) {
	read := func() (*tasks.HostState, error) {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		st, _, err := r.readState(ctx, h, nil)
		return st, err
	}
	st, err := read()
	if err == nil {
		return st, nil
	}
	d, ok := r.Conns.(dropper)
	if !ok || ctx.Err() != nil {
		return nil, err
	}
	d.Drop(h)
	return read()
}

// prune removes old releases on the hosts this run switched, keeping
// [app] keep_releases, never the one in use nor the rollback target.
func (r *Runner) prune(ctx context.Context, hosts []*config.Host, pr Printer) {
	var g errgroup.Group
	for _, h := range hosts {
		hr := r.rel.get(h.Name)
		if hr == nil || hr.st.Record.Run != r.State.RunID() || hr.st.Current == hr.st.Start {
			continue
		}
		g.Go(func() error {
			conn, err := r.Conns.Conn(ctx, h)
			var removed []string
			if err == nil {
				removed, err = hr.strategy.Prune(ctx, conn, hr.st, r.DF.App.KeepReleases)
			}
			line := ""
			switch {
			case err != nil:
				line = "could not remove old releases: " + err.Error()
			case len(removed) > 0:
				line = "removed old releases: " + strings.Join(removed, ", ")
			default:
				return nil
			}
			pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: h.Name, Stream: "stdout", Line: line})
			return nil
		})
	}
	g.Wait()
}

// connFor is the connection to h, for a step; nil h is this machine.
func (r *Runner) connFor(ctx context.Context, h *config.Host) (remote.Conn, error) {
	if h == nil {
		return remote.Local{}, nil
	}
	return r.Conns.Conn(ctx, h)
}
