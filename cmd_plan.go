package main

import (
	"context"

	"github.com/urfave/cli/v2"
)

// PlanOptions are `deploy plan TARGET [TASK]`.
type PlanOptions struct {
	*Session
	Target string
	Task   string // empty: [app] default_task
}

// NewCmdPlan is `deploy plan TARGET [TASK]`: a dry run.
func NewCmdPlan(f *Factory, runF func(context.Context, *PlanOptions) error) *cli.Command {
	if runF == nil {
		runF = planRun
	}
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what a task would do on a target, changing nothing",
		ArgsUsage: "TARGET [TASK]",
		Description: "TARGET is a group, a host, user@host:port, or a comma list of them; TASK defaults to [app] default_task.\n" +
			"Connects, evaluates every guard (creates, unless, only_if) on every host, and prints\n" +
			"for each step and host: would run, or would skip and why. Takes no lock, writes no journal.\n" +
			"Guards see the hosts as they are now, before any earlier step of the plan has run.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("plan: name a target, and a task if not the default: deploy plan TARGET [TASK]")
			}
			return runF(c.Context, &PlanOptions{Session: f.Session(c), Target: c.Args().First(), Task: c.Args().Get(1)})
		},
		BashComplete: completeGroupsThenTasks(f),
		OnUsageError: usageErr,
	}
}

func planRun(ctx context.Context, opts *PlanOptions) error {
	opts.DryRun = true
	return runRun(ctx, &RunOptions{Session: opts.Session, Task: opts.Task, Target: opts.Target, Verb: "plan"})
}
