package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/tasks"
)

// RunOptions are `deploy run TASK TARGET`, and `deploy TARGET`.
type RunOptions struct {
	*Session
	Task   string // empty: [app] default_task
	Target string
}

// NewCmdRun is `deploy run TASK TARGET`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cli.Command {
	if runF == nil {
		runF = runRun
	}
	return &cli.Command{
		Name:      "run",
		Usage:     "run a task of the Deployfile on a target",
		ArgsUsage: "TASK TARGET",
		Description: "Runs the steps of TASK over the hosts of TARGET (a group, a host, or a comma list).\n" +
			"Every host finishes a step before the next starts; the first failure stops the run.\n" +
			"`deploy TARGET` runs the default task ([app] default_task, else \"deploy\").",
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("run: name a task and a target: deploy run TASK TARGET")
			}
			return runF(c.Context, &RunOptions{Session: f.Session(c), Task: c.Args().Get(0), Target: c.Args().Get(1)})
		},
		BashComplete: completeTasksThenGroups(f),
		OnUsageError: usageErr,
	}
}

// newDefaultAction is `deploy TARGET`: the default task, when TARGET is
// a group or host of the Deployfile; otherwise a mistyped command.
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
				if c.NArg() > 1 {
					return usagef("deploy %s: unexpected argument %q (to run another task: deploy run TASK %s)", name, c.Args().Get(1), name)
				}
				return runF(c.Context, &RunOptions{Session: s, Target: name})
			}
		}
		if sug := cli.SuggestCommand(c.App.Commands, name); sug != "" {
			return usagef("%q is not a deploy command. %s", name, sug)
		}
		return usagef("%q is not a deploy command (commands: %s)", name, strings.Join(commandNames(c.App), ", "))
	}
}

func runRun(ctx context.Context, opts *RunOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	task := opts.Task
	if task == "" {
		task = df.App.DefaultTask
	}
	return runTask(ctx, opts.Session, df, task, opts.Target)
}

// runTask runs a task over a target, asking first when the target wants
// confirmation, and prints the summary. It is run, plan and deploy TARGET.
func runTask(ctx context.Context, s *Session, df *config.Deployfile, task, target string) error {
	if _, ok := df.Tasks[task]; !ok {
		return usagef("no task %q in %s (tasks: %s)", task, df.File, strings.Join(df.TaskOrder, ", "))
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
			return usagef("%s asks for confirmation and there is no terminal to ask on: pass --yes", target)
		}
		if !ok {
			return usagef("not confirmed; nothing was run")
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
		return usageError{err.Error()}
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
