package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
)

// Hooks (config.HookKind): before and after hooks are unrolled into the
// task's steps (unroll), so they run in the same run, on the same target,
// under the same lock, with one numbering of steps and one journal entry.
// The on_success and on_failure hooks of the task a run was started with
// are prepared with it (every variable checked before anything runs) and
// appended after its steps; once the run's outcome is decided — after the
// rollback of a failed release — the steps of the matching kind run, and
// the others are dropped from the run.

// hookTimeout bounds the on_failure hooks of an interrupted run: the user
// wants out, so they get this long, then are cut short.
const hookTimeout = 10 * time.Second

// unrollHooks are the steps of the tasks task names as hooks of kind, in
// order (unrollHook).
func unrollHooks(df *config.Deployfile, task string, kind config.HookKind, on []string, prefix string) []planStep {
	var out []planStep
	for i := range df.Tasks[task].Hooks(kind) {
		out = append(out, unrollHook(df, task, kind, i, on, prefix)...)
	}
	return out
}

// unrollHook are the steps of the i-th task task names as a hook of kind,
// labelled "deploy.before[1] > backup[2]". A hook runs on the hosts the
// task it hooks runs on (the target, narrowed by the `on` of the task
// steps that led to it); its own steps keep their `on` groups.
func unrollHook(df *config.Deployfile, task string, kind config.HookKind, i int, on []string, prefix string) []planStep {
	h := df.Tasks[task].Hooks(kind)[i]
	if _, ok := df.Tasks[h]; !ok || h == task {
		return nil // refused when the file loads
	}
	steps := unroll(df, h, on, fmt.Sprintf("%s%s.%s[%d] > ", prefix, task, kind, i+1))
	for j := range steps {
		steps[j].hooked = true
		if kind.Conditional() {
			steps[j].when = kind
		}
	}
	return steps
}

// prepareRun prepares a run of task: its steps with their before and
// after hooks, then the steps of its on_success and on_failure hooks, each
// hook prepared on its own (a release step in one does not move the
// switch of the task's own release). Every problem of all of them is
// reported at once.
func (r *Runner) prepareRun(task string, hosts []*config.Host) ([]*prepared, []string, error) {
	var problems []string
	collect := func(err error) error {
		var refused *RefusedError
		if errors.As(err, &refused) {
			problems = append(problems, refused.Problems...)
			return nil
		}
		return err
	}
	out, secrets, err := r.prepare(unroll(r.DF, task, nil, ""), hosts)
	if err = collect(err); err != nil {
		return nil, nil, err
	}
	// -m, --add-untracked and the work tree are the task's business, not
	// its on_success or on_failure hooks' (which commit nothing).
	problems = append(problems, r.workTreeRefusals(out)...)
	for _, kind := range []config.HookKind{config.HookOnSuccess, config.HookOnFailure} {
		for i := range r.DF.Tasks[task].Hooks(kind) {
			steps, sec, err := r.prepare(unrollHook(r.DF, task, kind, i, nil, ""), hosts)
			if err = collect(err); err != nil {
				return nil, nil, err
			}
			for _, p := range steps {
				p.title = string(kind) + ": " + p.title
			}
			out, secrets = append(out, steps...), mergeMasks(secrets, sec)
		}
	}
	if len(problems) > 0 {
		return nil, nil, &RefusedError{Problems: problems}
	}
	return out, secrets, nil
}

// hookOf names the hook a step comes from ("deploy.on_failure[1]"): the
// first part of its label.
func hookOf(ps planStep) string {
	first, _, _ := strings.Cut(ps.label, " > ")
	return first
}

// mergeMasks joins two lists of strings to mask, longest first as
// maskForms orders them.
func mergeMasks(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, func(x, y string) int {
		if d := len(y) - len(x); d != 0 {
			return d
		}
		return strings.Compare(x, y)
	})
	return slices.Compact(out)
}

// unconditional is how many of the first steps run whatever the outcome:
// the conditional hooks' steps come after them.
func unconditional(steps []*prepared) int {
	n := 0
	for n < len(steps) && steps[n].ps.when == "" {
		n++
	}
	return n
}

// runResult is the run's outcome as the journal and DEPLOY_RESULT name it.
func (x *execution) runResult(ctx context.Context) string {
	switch {
	case ctx.Err() != nil:
		return ResultInterrupted
	case x.res.RolledBack:
		return ResultRolledBack
	case x.res.Failure != nil:
		return ResultFailed
	}
	return ResultOK
}

// runConditional runs the on_success or on_failure hooks the outcome
// calls for, once it is decided (after settle); the others are not part
// of the run. A plan evaluates both. Their steps take the next numbers,
// after any step of a rollback. Each hook task runs on its own: a failure
// stops the rest of its steps, not the next hook; it is reported in
// res.HookFailures and never changes the run's outcome. An interrupted
// run's on_failure hooks run on a context of their own, for at most
// hookTimeout.
func (x *execution) runConditional(ctx context.Context, start time.Time, result string) {
	want := config.HookOnSuccess
	if result != ResultOK {
		want = config.HookOnFailure
	}
	var steps []*prepared
	for _, p := range x.steps[x.main:] {
		if x.r.DryRun || p.ps.when == want {
			steps = append(steps, p)
		}
	}
	if len(steps) == 0 {
		return
	}
	if !x.r.DryRun {
		// The guards checked with the lock were of the hosts as they
		// were then, and numbered otherwise: check them again.
		x.r.batch.changed()
	}
	if result == ResultInterrupted {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), hookTimeout)
		defer cancel()
	}
	x.res.HookStart = len(x.res.Steps)
	env := x.summaryEnv(start, result)
	failedHook := ""
	for _, p := range steps {
		i, hook := len(x.res.Steps), hookOf(p.ps)
		x.res.Steps = append(x.res.Steps, p.title)
		if ctx.Err() != nil || hook == failedHook {
			for _, h := range p.hostNames() {
				x.res.Results = append(x.res.Results, StepResult{Step: i, Host: h, Outcome: NotReached, Status: -1})
			}
			continue
		}
		p.hookEnv = env
		results := x.r.runStep(ctx, i, p, x.pr)
		x.res.Results = append(x.res.Results, results...)
		for _, sr := range results {
			if sr.Outcome == Failed && !p.ps.step.IgnoreErrors && sr.Reason != errAbort.Error() {
				sr.Reason = config.Mask(sr.Reason, x.secrets)
				x.res.HookFailures = append(x.res.HookFailures, sr)
				failedHook = hook
			}
		}
	}
}

// summaryEnv is the run's summary as the conditional hooks' steps get it,
// beside what every hook's steps get (hookEnv). Secrets are masked, and
// every value is one line.
func (x *execution) summaryEnv(start time.Time, result string) map[string]string {
	if result == ResultRolledBack {
		result = ResultFailed // and DEPLOY_ROLLED_BACK says the rest
	}
	env := map[string]string{
		"DEPLOY_RESULT":   result,
		"DEPLOY_DURATION": strconv.FormatFloat(time.Since(start).Seconds(), 'f', 1, 64),
		// 0: nothing new, every step was done already (a hook may keep
		// quiet then).
		"DEPLOY_CHANGED": strconv.Itoa(x.res.Changed()),
	}
	if x.res.RolledBack {
		env["DEPLOY_ROLLED_BACK"] = "1"
	}
	if f := x.res.Failure; f != nil {
		var hosts []string
		for _, sr := range x.res.Results {
			if sr.Step == f.Step && sr.Outcome == Failed && sr.Reason != errAbort.Error() {
				hosts = append(hosts, sr.Host)
			}
		}
		env["DEPLOY_FAILED_STEP"] = x.res.Steps[f.Step]
		env["DEPLOY_FAILED_HOSTS"] = strings.Join(hosts, ",")
		env["DEPLOY_ERROR"] = fmt.Sprintf("step %d (%s) failed on %s: %s", f.Step+1, x.res.Steps[f.Step], f.Host, f.Reason)
	} else if result == ResultInterrupted {
		env["DEPLOY_ERROR"] = "interrupted"
	}
	for k, v := range env {
		env[k] = config.FirstLine(config.Mask(v, x.secrets), 500)
	}
	return env
}

// withHookEnv is what a hook's step gets on host beside its own env: the
// run's task, target, user, run id, the commit and the host's release
// (when known), and, for on_success and on_failure hooks, the summary
// (summaryEnv). The values travel like every env value: exported in the
// script on stdin (remote.Exports), never in a command line.
func (r *Runner) withHookEnv(p *prepared, host string, hc *hostCmd) *hostCmd {
	if !p.ps.hooked {
		return hc
	}
	env := map[string]string{
		"DEPLOY_TASK":   r.run.Task,
		"DEPLOY_TARGET": r.run.Target,
		"DEPLOY_RUN_ID": r.run.ID,
	}
	if user, _, ok := strings.Cut(r.run.Owner, "@"); ok {
		env["DEPLOY_USER"] = user
	}
	if sha := r.State.SHA(); sha != "" {
		env["DEPLOY_COMMIT"] = sha
	}
	if host == config.LocalHost && len(p.hosts) == 0 && len(r.runHosts) > 0 {
		host = r.runHosts[0].Name // a local step names the first host's release
	}
	if name, _ := r.releaseOf(host); name != "" {
		env["DEPLOY_RELEASE"] = name
	}
	for k, v := range p.hookEnv {
		env[k] = v
	}
	for k, v := range hc.env {
		env[k] = v // the step's own env wins
	}
	out := *hc
	out.env = env
	return &out
}
