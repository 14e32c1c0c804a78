package deploy

import (
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// preSwitchSteps are the steps after the switch that can try a prepared
// release before it goes live (tasks.PreSwitch: gunicorn's reload).
func (r *Runner) preSwitchSteps(after []*prepared) []*prepared {
	var out []*prepared
	for _, p := range after {
		if _, ok := r.Builtins[p.ps.step.Arg].(tasks.PreSwitch); ok && p.ps.step.Kind == config.StepBuiltin {
			out = append(out, p)
		}
	}
	return out
}

// tryReleases runs the pre-switch checks on every host of the switch
// that has a new release, all at once, before any host switches. It
// returns nil when every release may go live; otherwise the switch's
// results: the hosts whose release failed (or whose check the interrupt
// stopped), and the others not switched.
func (r *Runner) tryReleases(ctx context.Context, index int, p *prepared, pr Printer) []StepResult {
	if p.rollback || r.DryRun || len(p.tries) == 0 {
		return nil
	}
	results := make([]StepResult, len(p.hosts))
	var g errgroup.Group
	for i, h := range p.hosts {
		g.Go(func() error {
			results[i] = r.tryRelease(ctx, index, p, h, pr)
			return nil
		})
	}
	g.Wait()
	var failed []string
	for _, sr := range results {
		if sr.Outcome == Failed {
			failed = append(failed, sr.Host)
		}
	}
	stopped := slices.ContainsFunc(results, func(sr StepResult) bool { return sr.Outcome == Interrupted })
	if len(failed) == 0 && !stopped {
		return nil
	}
	why := "not switched: the run was interrupted"
	if len(failed) > 0 {
		why = "not switched: the release failed its check on " + strings.Join(failed, ", ")
	}
	for i, sr := range results {
		if sr.Outcome != Failed && sr.Outcome != Interrupted {
			results[i] = StepResult{Step: index, Host: sr.Host, Outcome: NotReached, Status: -1, Reason: why}
		}
		pr.Event(Event{Time: time.Now(), Type: EventStepEnd, Step: index + 1, Host: sr.Host, Command: p.title,
			Line: string(results[i].Outcome), Duration: sr.Duration.Seconds(), Error: results[i].Reason})
	}
	return results
}

// tryRelease runs the pre-switch checks of one host's new release.
func (r *Runner) tryRelease(ctx context.Context, index int, p *prepared, h *config.Host, pr Printer) StepResult {
	start := time.Now()
	sr := StepResult{Step: index, Host: h.Name, Outcome: Changed, Status: -1}
	hr := r.rel.get(h.Name)
	if hr == nil || hr.st.Prepared == "" || hr.st.Prepared == hr.st.Current {
		return sr
	}
	dir := hr.strategy.ReleaseDir(hr.st.Prepared)
	for _, c := range p.tries {
		if !slices.Contains(c.hosts, h) {
			continue
		}
		hc, err := r.refill(c, h.Name)
		if err == nil {
			err = r.tryOne(ctx, c, h, hc, dir, &sr, pr)
		}
		if err != nil && interrupted(ctx) {
			sr.Outcome, sr.Reason = Interrupted, interruptedReason
			break
		}
		if err != nil {
			sr.Outcome, sr.Reason = Failed, hc.scope.Mask(err.Error())
			sr.Command = "builtin " + c.ps.step.Arg + " (before the switch, in " + dir + ")"
			break
		}
	}
	sr.Duration = time.Since(start)
	return sr
}

// tryOne runs one step's pre-switch check on a host; the last lines of
// its output go to the result.
func (r *Runner) tryOne(ctx context.Context, c *prepared, h *config.Host, hc *hostCmd, dir string, sr *StepResult, pr Printer) error {
	conn, err := r.Conns.Conn(ctx, h)
	if err != nil {
		return err
	}
	tail := &tailLines{max: 8}
	env, flush := r.envFor(conn, h.Name, true, hc, pr, tail, &guardWatch{which: -1})
	stderr := &lineWriter{secrets: r.masks, emit: tail.add}
	env.Stdout, env.Stderr = io.Discard, stderr
	err = r.Builtins[c.ps.step.Arg].(tasks.PreSwitch).PreSwitch(ctx, env, dir)
	stderr.Flush()
	flush()
	sr.Stderr = tail.lines
	return err
}
