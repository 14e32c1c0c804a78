package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/ui"
)

// TasksOptions are `deploy tasks`.
type TasksOptions struct {
	*Session
}

// NewCmdTasks is `deploy tasks`: the tasks with their steps.
func NewCmdTasks(f *Factory, runF func(context.Context, *TasksOptions) error) *cli.Command {
	if runF == nil {
		runF = tasksRun
	}
	return &cli.Command{
		Name:  "tasks",
		Usage: "list the tasks with their descriptions and steps",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 0); err != nil {
				return err
			}
			return runF(c.Context, &TasksOptions{Session: f.Session(c)})
		},
		OnUsageError: usageErr,
	}
}

func tasksRun(_ context.Context, opts *TasksOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	return ui.WriteTasks(opts.IO.Out, opts.Style(), df, opts.JSON)
}
