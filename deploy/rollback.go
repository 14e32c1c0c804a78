package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// Rollback switches every host to its last healthy release (or the one
// named by to: a release name or a sha prefix), then runs the reload and
// health check steps of task there. Hosts without releases (a static
// server) are skipped with a note; any other host without a target
// refuses the whole rollback before anything switches.
func (r *Runner) Rollback(ctx context.Context, task string, hosts []*config.Host, to string) (*RunResult, error) {
	if _, ok := r.DF.Tasks[task]; !ok {
		return nil, fmt.Errorf("no task %q in %s — %s", task, r.DF.File, r.DF.KnownTasksFix(task))
	}
	r.ensureState()
	var after []planStep
	for _, ps := range unroll(r.DF, task, nil, "") {
		if _, ok := r.Builtins[ps.step.Arg].(tasks.AfterSwitch); ok && ps.step.Kind == config.StepBuiltin {
			after = append(after, ps)
		}
	}
	steps, secrets, err := r.prepare(after, hosts)
	if err != nil {
		return nil, err
	}
	for _, p := range steps {
		p.rollback = true
	}
	title := "switch to the last healthy release"
	if to != "" {
		title = "switch to " + to
	}
	sw := &prepared{ps: planStep{step: &config.Step{Kind: config.StepBuiltin}, label: "rollback"}, title: title, isSwitch: true, rollback: true, hosts: hosts}
	// Once the lock is held and the states read, find every host's
	// target; a host without one refuses the whole rollback.
	choose := func(ctx context.Context) ([]*config.Host, error) {
		r.rollbackTo = map[string]tasks.Release{}
		var problems []string
		var keep []*config.Host
		for _, h := range hosts {
			hr := r.rel.get(h.Name)
			if hr == nil {
				continue
			}
			if len(hr.st.Releases) == 0 && hr.st.Current == "" {
				r.Printer.Event(Event{Time: time.Now(), Type: EventOutput, Host: h.Name, Stream: "stdout",
					Line: "no releases here (a static server?): nothing to roll back"})
				continue
			}
			target, err := tasks.RollbackTarget(hr.st, to)
			if err != nil {
				problems = append(problems, h.Name+": "+err.Error())
				continue
			}
			r.rollbackTo[h.Name] = target
			keep = append(keep, h)
			// Where it would go, said before anything switches (and in a
			// plan); what it did is the summary's, read back from the host.
			line := fmt.Sprintf("rollback target %s (commit %s); in use now: %s", target.Name, short(target.SHA), orNone(hr.st.Current))
			r.Printer.Event(Event{Time: time.Now(), Type: EventOutput, Host: h.Name, Stream: "stdout", Line: line})
		}
		if len(problems) > 0 {
			return nil, &RefusedError{Problems: problems}
		}
		if len(keep) == 0 {
			return nil, &RefusedError{Problems: []string{"no host of the target has releases"}}
		}
		r.State.SetSHA(sameCommit(r.rollbackTo)) // the journal's commit, when one for all
		return keep, nil
	}
	return r.execute(ctx, "rollback", hosts, append([]*prepared{sw}, steps...), secrets, choose)
}

// sameCommit is the commit every host goes back to, "" when they differ.
func sameCommit(to map[string]tasks.Release) string {
	sha := ""
	for _, rel := range to {
		if sha != "" && rel.SHA != sha {
			return ""
		}
		sha = rel.SHA
	}
	return sha
}
