package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/tasks"
)

// RunOptions are `deploy run TARGET [TASK]`, and `deploy TARGET [TASK]`.
type RunOptions struct {
	*Session
	Target string
	Task   string // empty: [app] default_task
	// Verb is how the command was typed ("run", "plan", ""), for the
	// messages that quote it.
	Verb string
}

// NewCmdRun is `deploy run TARGET [TASK]`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cli.Command {
	if runF == nil {
		runF = runRun
	}
	return &cli.Command{
		Name:      "run",
		Usage:     "run a task of the Deployfile on a target",
		ArgsUsage: "TARGET [TASK]",
		Description: "Runs the steps of TASK (default: [app] default_task, else \"deploy\") over the hosts of TARGET:\n" +
			"a group, a host, user@host:port, or a comma list of them. Every host finishes a step before\n" +
			"the next starts; the first failure stops the run. `deploy TARGET [TASK]` is the same.\n" +
			"The old order, deploy run TASK TARGET, still works when it cannot be mistaken, with a note.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("run: name a target, and a task if not the default: deploy run TARGET [TASK]")
			}
			return runF(c.Context, &RunOptions{Session: f.Session(c), Target: c.Args().Get(0), Task: c.Args().Get(1), Verb: "run"})
		},
		BashComplete: completeGroupsThenTasks(f),
		OnUsageError: usageErr,
	}
}

// newDefaultAction is `deploy TARGET [TASK]`: a task (the default one
// unless named) when TARGET is a group or host of the Deployfile;
// otherwise a mistyped command or target, and the nearest of each.
func newDefaultAction(f *Factory, runF func(context.Context, *RunOptions) error) cli.ActionFunc {
	if runF == nil {
		runF = runRun
	}
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			return cli.ShowAppHelp(c)
		}
		s := f.Session(c)
		name := c.Args().First()
		df, err := s.Deployfile()
		if _, statErr := os.Stat(s.File); err != nil && statErr == nil {
			return err // a Deployfile with problems: show them
		}
		if err == nil {
			if _, err := df.Resolve(name); err == nil {
				if c.NArg() > 2 {
					return usagef("deploy %s: unexpected argument %q (usage: deploy TARGET [TASK])", name, c.Args().Get(2))
				}
				return runF(c.Context, &RunOptions{Session: s, Target: name, Task: c.Args().Get(1)})
			}
		}
		return notACommand(c.App, df, name, c.Args().Get(1))
	}
}

// notACommand is the error for `deploy WORD` when WORD is neither a
// command nor a target: the nearest command and the nearest group or
// host, each when one is near.
func notACommand(app *cli.App, df *config.Deployfile, name, next string) error {
	var hints []string
	if df != nil && next != "" {
		// Task first, as fab and cap have it: deploy deploy prod.
		if _, isTask := df.Tasks[name]; isTask {
			if _, err := df.Resolve(next); err == nil {
				return usagef("%q is a task, and the target goes first: deploy %s %s", name, next, name)
			}
		}
	}
	if cmd := config.Suggest(name, visibleCommands(app)); cmd != "" {
		hints = append(hints, fmt.Sprintf("the command %q", cmd))
	}
	if df != nil {
		targets := append(slices.Clone(df.GroupOrder), hostNames(df)...)
		if t := config.Suggest(name, targets); t != "" {
			hints = append(hints, fmt.Sprintf("the target %q (deploy %s)", t, t))
		}
	}
	what := fmt.Sprintf("%q is not a deploy command (and there is no Deployfile, so no targets)", name)
	if df != nil {
		what = fmt.Sprintf("%q is neither a deploy command nor a group or host of %s", name, df.File)
	}
	if len(hints) > 0 {
		return usagef("%s. Did you mean %s?", what, strings.Join(hints, " or "))
	}
	return usagef("%s (commands: %s)", what, strings.Join(visibleCommands(app), ", "))
}

func runRun(ctx context.Context, opts *RunOptions) error {
	df, err := opts.needDeployfile(cmp.Or(opts.Verb, "deploy TARGET"))
	if err != nil {
		return err
	}
	target, task := opts.Target, opts.Task
	if opts.Verb == "run" {
		var old bool
		if target, task, old = runOrder(df, target, task); old {
			fmt.Fprintf(opts.IO.ErrOut, "deploy: \"%s TASK TARGET\" is deprecated: write deploy %s TARGET TASK (deploy %s %s %s)\n",
				opts.Verb, opts.Verb, opts.Verb, target, task)
		} else if err := mixedOrder(df, target, task); err != nil {
			return err
		}
	}
	if task == "" {
		task = df.App.DefaultTask
	}
	return runTask(ctx, opts.Session, df, task, target)
}

// runTask runs a task over a target, asking first when the target wants
// confirmation, and prints the summary. It is run, plan and deploy TARGET.
func runTask(ctx context.Context, s *Session, df *config.Deployfile, task, target string) error {
	if _, ok := df.Tasks[task]; !ok {
		return usagef("no task %q in %s — %s", task, df.File, df.KnownTasksFix(task))
	}
	t, err := s.Connect(df, target)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := deploy.CheckEnv(df, t.Hosts); err != nil {
		return runResult(s, nil, err) // before asking to confirm
	}
	if df.Confirm(target) && !s.Yes && !s.DryRun {
		ok, err := s.IO.Confirm(fmt.Sprintf("Run %s on %s (%s: %s)? [y/N] ", task, target, tasks.Plural(len(t.Hosts), "host"), hostList(t.Hosts)))
		if err != nil {
			return refusef("%s asks for confirmation and there is no terminal to ask on: pass --yes", target)
		}
		if !ok {
			return refusef("not confirmed; nothing was run")
		}
	}
	res, err := s.TaskRunner(t, s.Printer(t.Hosts)).Run(ctx, task, t.Hosts)
	return runResult(s, res, err)
}

// runResult turns a run's outcome into output and an exit status: a run
// refused before it started is bad usage (2), a held lock 3, a failed
// step 1.
func runResult(s *Session, res *deploy.RunResult, err error) error {
	var refused *deploy.RefusedError
	var held *deploy.LockHeldError
	var missing *deploy.MissingEnvError
	switch {
	case errors.As(err, &refused):
		return usageError{msg: err.Error(), refusal: true}
	case errors.As(err, &missing):
		for _, line := range strings.Split(missing.Error(), "\n") {
			fmt.Fprintf(s.IO.ErrOut, "%s %s\n", s.ErrStyle().Red("deploy:"), line)
		}
		return exitStatus(exitUsage)
	case errors.As(err, &held):
		fmt.Fprintf(s.IO.ErrOut, "%s %v\n", s.ErrStyle().Red("deploy:"), err)
		return exitStatus(exitLockHeld)
	case err != nil:
		return err
	}
	if !s.JSON {
		ui.WriteRunSummary(s.IO.ErrOut, s.ErrStyle(), res)
	}
	if res.Failure != nil || len(res.Unreachable) > 0 {
		return exitStatus(exitFailed)
	}
	return nil
}
