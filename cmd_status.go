package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// StatusOptions are `deploy status TARGET`.
type StatusOptions struct {
	*Session
	Target string
}

// NewCmdStatus is `deploy status TARGET`: what runs where, and drift.
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cli.Command {
	if runF == nil {
		runF = statusRun
	}
	return &cli.Command{
		Name:      "status",
		Usage:     "what each host of a target runs: release, commit, state, what the app serves, lock, last run; flags drift",
		ArgsUsage: "TARGET",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("status: name a target: deploy status TARGET")
			}
			return runF(c.Context, &StatusOptions{Session: f.Session(c), Target: c.Args().First()})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("status: %s has no [app] path, so no releases to report", df.File)
	}
	t, err := opts.ConnectForOne(df, opts.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	list, err := opts.Runner(t, nil).Status(ctx, t.Hosts)
	if err != nil {
		return err
	}
	if err := ui.WriteStatus(opts.IO.Out, opts.Style(), list, opts.JSON); err != nil {
		return err
	}
	if !deploy.Consistent(list) {
		return exitStatus(exitFailed)
	}
	return nil
}
