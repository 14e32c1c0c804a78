package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// runStep runs one step on its hosts: all at once by default, in batches
// of `serial`, at most `parallel` at a time. Every host finishes the step
// before the run goes on. A failure cancels the step's other commands
// unless on_failure = "wait", and stops later batches.
func (r *Runner) runStep(ctx context.Context, index int, p *prepared, pr Printer) []StepResult {
	pr.Event(Event{Time: time.Now(), Type: EventStepStart, Step: index + 1, Command: p.title, Hosts: p.hostNames(), Line: p.ps.label})
	if p.local {
		return []StepResult{r.runOn(ctx, index, p, nil, pr)}
	}
	batch := len(p.hosts)
	if p.ps.step.Serial > 0 {
		batch = p.ps.step.Serial
	}
	var results []StepResult
	for start := 0; start < len(p.hosts); start += batch {
		group := p.hosts[start:min(start+batch, len(p.hosts))]
		stopped := !p.ps.step.IgnoreErrors && slices.ContainsFunc(results, func(sr StepResult) bool { return sr.Outcome == Failed })
		if stopped || ctx.Err() != nil {
			for _, h := range group {
				results = append(results, StepResult{Step: index, Host: h.Name, Outcome: NotReached, Status: -1})
			}
			continue
		}
		results = append(results, r.runBatch(ctx, index, p, group, pr)...)
	}
	return results
}

// runBatch runs a step on hosts at once, at most `parallel` at a time.
func (r *Runner) runBatch(ctx context.Context, index int, p *prepared, group []*config.Host, pr Printer) []StepResult {
	stepCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]StepResult, len(group))
	var g errgroup.Group
	if p.ps.step.Parallel > 0 {
		g.SetLimit(p.ps.step.Parallel)
	}
	var once sync.Once
	for i, h := range group {
		g.Go(func() error {
			out[i] = r.runOn(stepCtx, index, p, h, pr)
			if out[i].Outcome == Failed && p.ps.step.OnFailure != config.OnFailureWait && !p.ps.step.IgnoreErrors {
				once.Do(func() { cancel(errAbort) })
			}
			return nil
		})
	}
	g.Wait()
	return out
}

// runOn runs a step on one host (nil: this machine): guards, then the
// step's Check, then — unless it is done, or this is a plan — its Run.
// In a plan the host is behind remote.ReadOnly: what would change it is
// refused, so a check that is not read-only cannot slip through.
func (r *Runner) runOn(ctx context.Context, index int, p *prepared, h *config.Host, pr Printer) StepResult {
	name := config.LocalHost
	if h != nil {
		name = h.Name
	}
	o := &outcome{sr: StepResult{Step: index, Host: name, Status: -1}, start: time.Now(), title: p.title, pr: pr}
	if why, ok := r.unreachable.why(name); ok && h != nil {
		return o.end(Unreachable, why)
	}
	hc, err := r.refill(p, name)
	if err != nil {
		return o.fail(ctx, err.Error())
	}
	hc = r.withHookEnv(p, name, hc)
	conn, err := r.connFor(ctx, h)
	if err != nil && r.DryRun && h != nil && !interrupted(ctx) {
		r.unreachable.add(name, err) // a plan goes on without it
		return o.end(Unreachable, err.Error())
	}
	if err != nil {
		return o.fail(ctx, err.Error())
	}
	if r.DryRun {
		conn = remote.ReadOnly(conn)
	}
	s := p.ps.step
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	// The guards checked with the lock answer while nothing has changed
	// since. Otherwise a command's guards ride in its own script; a
	// built-in's (and a plan's) run first, on their own.
	step := r.stepOf(s, hc)
	shown := step // what a failure reports: the command as written
	watch := &guardWatch{which: -1}
	skipBy, checked := -1, false
	if h != nil {
		skipBy, checked = r.batch.lookup(name, index, r.State.SHA())
	}
	if r.DryRun && s.Uses("sha") && r.State.WouldCommit() {
		// Its guards would see a commit the plan does not make.
		return o.end(WouldRun, "")
	}
	c, isCommand := step.(tasks.Command)
	switch {
	case checked && skipBy >= 0:
		return o.end(Skipped, guardReason(hc, skipBy))
	case checked:
		// The guards let it run.
	case isCommand && !r.DryRun && len(guardsOf(hc)) > 0:
		watch.mark = newGuardMark()
		c.Script = inlineGuards(hc, watch.mark)
		step = c
	default:
		if skip, reason, err := r.guards(ctx, conn, hc, s); err != nil {
			return o.fail(ctx, "guard: "+err.Error())
		} else if skip {
			return o.end(Skipped, reason)
		}
	}

	tail := &tailLines{max: 5}
	env, flush := r.envFor(conn, name, h != nil, hc, pr, tail, watch)
	verdict, err := step.Check(ctx, env)
	switch {
	case err != nil:
		return o.fail(ctx, "check: "+hc.scope.Mask(err.Error()))
	case verdict.Done:
		return o.end(Skipped, verdict.Reason)
	case r.DryRun:
		r.wouldPrepare(step, name, h != nil)
		if _, commits := step.(tasks.Commits); commits {
			r.State.SetWouldCommit()
		}
		if _, collects := step.(tasks.Collects); collects {
			r.State.SetWouldCollect()
		}
		return o.end(WouldRun, "")
	}
	err = step.Run(ctx, env, verdict)
	flush()
	if i, ok := watch.skipped(); ok && err == nil {
		return o.end(Skipped, guardReason(hc, i))
	}
	o.sr.Stderr = tail.lines
	r.classify(ctx, o, err, s)
	o.sr.Reason = hc.scope.Mask(o.sr.Reason)
	if o.sr.Outcome == Failed {
		o.sr.Command = "builtin " + s.Arg
		if str, ok := shown.(fmt.Stringer); ok {
			o.sr.Command = str.String()
		}
	}
	return o.emit()
}

// stepOf is the tasks.Step a step of the Deployfile is, for one host.
func (r *Runner) stepOf(s *config.Step, hc *hostCmd) tasks.Step {
	switch s.Kind {
	case config.StepRun, config.StepLocal:
		return tasks.Command{Script: hc.script, Dir: hc.dir, Sudo: s.Sudo, SudoUser: s.SudoUser, TTY: s.TTY}
	case config.StepUpload:
		return tasks.Upload{Src: hc.src, To: hc.to, Mode: s.Mode, Sudo: s.Sudo, SudoUser: s.SudoUser}
	}
	return r.Builtins[s.Arg]
}

// envFor is what a step gets on one host: the connection, variables, its
// output as events, the app's settings and release state, this machine's
// side. flush writes out the last lines of output.
func (r *Runner) envFor(conn remote.Conn, name string, onHost bool, hc *hostCmd, pr Printer, tail *tailLines, watch *guardWatch) (env *tasks.Env, flush func()) {
	stream := func(kind string, also *tailLines) *lineWriter {
		return &lineWriter{secrets: r.masks, emit: func(line string) {
			if kind == "stdout" && watch.mark != "" && watch.line(line) {
				return
			}
			if also != nil {
				also.add(line)
			}
			pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: name, Stream: kind, Line: line})
		}}
	}
	stdout, stderr := stream("stdout", nil), stream("stderr", tail)
	env = &tasks.Env{Conn: conn, Host: name, Vars: hc.scope.Vars(), With: hc.with, Stdout: stdout, Stderr: stderr,
		CmdEnv: hc.env, State: r.State, App: r.appFor(hc.scope, hc.builds), Laptop: r.Laptop, Verbose: r.Verbose}
	if hr := r.rel.get(name); hr != nil && onHost {
		env.Strategy, env.Release = tasks.NewStrategy(env.App), hr.st
	}
	return env, func() { stdout.Flush(); stderr.Flush() }
}

// classify turns the error of a step's Run into its outcome.
func (r *Runner) classify(ctx context.Context, o *outcome, err error, s *config.Step) {
	var exit *remote.ExitError
	var already *tasks.AlreadyDone
	switch {
	case err != nil && interrupted(ctx):
		o.sr.Outcome, o.sr.Reason = Interrupted, interruptedReason
	case errors.As(err, &already):
		o.sr.Outcome, o.sr.Reason = Skipped, already.Reason
	case err == nil:
		o.sr.Outcome, o.sr.Status = Changed, 0
	case errors.Is(context.Cause(ctx), errAbort):
		o.sr.Outcome, o.sr.Reason = Failed, errAbort.Error()
	case errors.As(err, &exit):
		o.sr.Outcome, o.sr.Status, o.sr.Reason = Failed, exit.Status, exit.Error()
	case errors.Is(err, context.DeadlineExceeded):
		o.sr.Outcome, o.sr.Reason = Failed, fmt.Sprintf("timed out after %s", s.Timeout)
	default:
		o.sr.Outcome, o.sr.Reason = Failed, err.Error()
	}
}

// outcome is a step's result on one host while it is being made; emit
// sends its step_end event.
type outcome struct {
	sr    StepResult
	start time.Time
	title string
	pr    Printer
}

// fail ends the step as failed — or as interrupted, or cancelled by
// another host's failure, when that is why it could not go on.
func (o *outcome) fail(ctx context.Context, reason string) StepResult {
	if interrupted(ctx) {
		return o.end(Interrupted, interruptedReason)
	}
	if errors.Is(context.Cause(ctx), errAbort) {
		// Stopped because another host failed the step, whatever stage
		// it was in (a guard, the connection): not a failure of its own.
		return o.end(Failed, errAbort.Error())
	}
	return o.end(Failed, reason)
}

const interruptedReason = "interrupted"

// interrupted reports whether ctx ended because the run was interrupted,
// not by a step's timeout nor by another host's failure.
func interrupted(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled) && !errors.Is(context.Cause(ctx), errAbort)
}

func (o *outcome) end(out Outcome, reason string) StepResult {
	o.sr.Outcome, o.sr.Reason = out, reason
	return o.emit()
}

func (o *outcome) emit() StepResult {
	o.sr.Duration = time.Since(o.start)
	ev := Event{Time: time.Now(), Type: EventStepEnd, Step: o.sr.Step + 1, Host: o.sr.Host, Command: o.title, Line: string(o.sr.Outcome),
		Duration: o.sr.Duration.Seconds(), Error: o.sr.Reason}
	if o.sr.Status >= 0 {
		ev.Status = intPtr(o.sr.Status)
	}
	o.pr.Event(ev)
	return o.sr
}

// tailLines keeps the last max lines written.
type tailLines struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tailLines) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[1:]
	}
}

// newRelease names, in a plan, the release a preparing step would build.
const newRelease = "(new release)"

// wouldPrepare, in a plan, records that a step would build a release on
// the host, so the plan shows the switch, reload and health check that
// would follow it rather than skip them.
func (r *Runner) wouldPrepare(step tasks.Step, name string, onHost bool) {
	if _, ok := step.(tasks.PreparesRelease); !ok || !onHost {
		return
	}
	if hr := r.rel.get(name); hr != nil {
		hr.st.Prepared = newRelease
	}
}
