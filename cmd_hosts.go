package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
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
	conns, err := deploy.NewConnector(df, opts.sshSettings())
	if err != nil {
		return err // it names the ssh_config file
	}
	defer conns.Close()
	if err := ui.WriteHosts(opts.IO.Out, opts.Style(), df, opts.Group, opts.JSON, endpoints(df, conns)); err != nil {
		return usageError{msg: err.Error()}
	}
	return nil
}

// endpoints tells where each host of df is reached, from the Deployfile
// and ssh_config, connecting to nothing.
func endpoints(df *config.Deployfile, conns *deploy.Connector) ui.Where {
	return func(name string) (deploy.Endpoint, error) {
		for _, h := range df.Hosts() {
			if h.Name == name {
				return conns.Endpoint(h)
			}
		}
		return deploy.Endpoint{}, fmt.Errorf("no host %q", name)
	}
}
