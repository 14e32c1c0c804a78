package main

import (
	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/tasks"
)

// statusCommand is `deploy status TARGET`: what runs where, and drift.
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:         "status",
		Usage:        "what each host of a target runs: release, commit, state, what the app serves, lock, last run; flags drift",
		ArgsUsage:    "TARGET",
		Action:       cmdStatus,
		BashComplete: completeGroups,
	}
}

func cmdStatus(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("status: name a target: deploy status TARGET")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("status: %s has no [app] path, so no releases to report", df.File)
	}
	hosts, conns, err := connectTarget(c, df, c.Args().First())
	if err != nil {
		return err
	}
	defer conns.Close()
	runner := &deploy.Runner{DF: df, Conns: conns, Builtins: tasks.Builtins()}
	list, err := runner.Status(c.Context, hosts)
	if err != nil {
		return err
	}
	if err := ui.WriteStatus(c.App.Writer, style(c), list, c.Bool("json")); err != nil {
		return err
	}
	if !deploy.Consistent(list) {
		return exitStatus(exitFailed)
	}
	return nil
}
