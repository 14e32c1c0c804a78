package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/ui"
)

// HostsOptions are `deploy hosts [GROUP]`.
type HostsOptions struct {
	*Session
	Group string // empty: every group
}

// NewCmdHosts is `deploy hosts [GROUP]`.
func NewCmdHosts(f *Factory, runF func(context.Context, *HostsOptions) error) *cli.Command {
	if runF == nil {
		runF = hostsRun
	}
	return &cli.Command{
		Name:      "hosts",
		Usage:     "list the hosts of a group (user, host, port), or of every group",
		ArgsUsage: "[GROUP]",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			return runF(c.Context, &HostsOptions{Session: f.Session(c), Group: c.Args().First()})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func hostsRun(_ context.Context, opts *HostsOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if err := ui.WriteHosts(opts.IO.Out, opts.Style(), df, opts.Group, opts.JSON); err != nil {
		return usageError{err.Error()}
	}
	return nil
}
