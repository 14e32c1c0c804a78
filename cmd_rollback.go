package main

import (
	"context"
	"fmt"

	"github.com/deploy-tool/deploy/tasks"
	"github.com/urfave/cli/v2"
)

// RollbackOptions are `deploy rollback TARGET [--to RELEASE]`.
type RollbackOptions struct {
	*Session
	Target string
	To     string // a release name or a sha prefix; empty: the previous one
}

// NewCmdRollback is `deploy rollback TARGET`.
func NewCmdRollback(f *Factory, runF func(context.Context, *RollbackOptions) error) *cli.Command {
	if runF == nil {
		runF = rollbackRun
	}
	return &cli.Command{
		Name:      "rollback",
		Usage:     "switch every host of a target back to its previous release (or --to one) and reload",
		ArgsUsage: "TARGET",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the `RELEASE` to go back to: its name, or a commit sha (prefix)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("rollback: name a target: deploy rollback TARGET [--to RELEASE]")
			}
			return runF(c.Context, &RollbackOptions{Session: f.Session(c), Target: c.Args().First(), To: c.String("to")})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func rollbackRun(ctx context.Context, opts *RollbackOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("rollback needs [app] path, the deploy root on the hosts")
	}
	t, err := opts.Connect(df, opts.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	if df.Confirm(t.Name) && !opts.Yes && !opts.DryRun { // a dry run changes nothing
		ok, err := opts.IO.Confirm(fmt.Sprintf("Roll back %s (%s)? [y/N] ", t.Name, tasks.Plural(len(t.Hosts), "host")))
		if err != nil {
			return refusef("%s asks for confirmation and there is no terminal to ask on: pass --yes", t.Name)
		}
		if !ok {
			return refusef("not confirmed; nothing was changed")
		}
	}
	res, err := opts.Runner(t, opts.Printer(t.Hosts)).Rollback(ctx, df.App.DefaultTask, t.Hosts, opts.To)
	return runResult(opts.Session, res, err)
}
