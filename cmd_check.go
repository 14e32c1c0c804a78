package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// CheckOptions are `deploy check [TARGET]`.
type CheckOptions struct {
	*Session
	Target string // empty: only the Deployfile
}

// NewCmdCheck is `deploy check [TARGET]`.
func NewCmdCheck(f *Factory, runF func(context.Context, *CheckOptions) error) *cli.Command {
	if runF == nil {
		runF = checkRun
	}
	return &cli.Command{
		Name:      "check",
		Usage:     "validate the Deployfile; with a TARGET, also connect to its hosts",
		ArgsUsage: "[TARGET]",
		Description: "Without TARGET: load and validate the Deployfile, connecting nowhere; exit 0 or 2.\n" +
			"With TARGET: connect to every host of it and print a table: reachable, host key,\n" +
			"authenticated, connect time and command round trip; exit 1 if any host is not fit.",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			return runF(c.Context, &CheckOptions{Session: f.Session(c), Target: c.Args().First()})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func checkRun(ctx context.Context, opts *CheckOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if opts.Target != "" {
		return checkTarget(ctx, opts.Session, df, opts.Target)
	}
	if opts.JSON {
		return json.NewEncoder(opts.IO.Out).Encode(map[string]any{
			"event": "check", "file": df.File, "ok": true,
			"groups": len(df.GroupOrder), "hosts": len(df.Hosts()), "tasks": len(df.TaskOrder)})
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s %s: %s\n", opts.Style().Green("ok"), df.File, df.Summary())
	return err
}

// checkTarget connects to every host of target and reports on each.
func checkTarget(ctx context.Context, s *Session, df *config.Deployfile, target string) error {
	t, err := s.ConnectForOne(df, target)
	if err != nil {
		return err
	}
	defer t.Close()
	checks := deploy.CheckHosts(ctx, df, t.Conns, t.Hosts, 100)
	if err := ui.WriteHostChecks(s.IO.Out, s.Style(), checks, s.JSON); err != nil {
		return err
	}
	for _, ch := range checks {
		if !ch.OK() {
			return exitStatus(exitFailed)
		}
	}
	return nil
}
