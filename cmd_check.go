package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// CheckOptions are `deploy check [TARGET]`.
type CheckOptions struct {
	*Session
	Target string // empty: only the Deployfile
	Hosts  string // -H: a comma list of hosts, instead of Target
}

// NewCmdCheck is `deploy check [TARGET]`.
func NewCmdCheck(f *Factory, runF func(context.Context, *CheckOptions) error) *cli.Command {
	if runF == nil {
		runF = checkRun
	}
	return &cli.Command{
		Name:      "check",
		Usage:     "validate the Deployfile; with a TARGET, also connect to its hosts",
		ArgsUsage: "[TARGET]  |  deploy check -H HOSTS",
		Description: "Without TARGET: load and validate the Deployfile, connecting nowhere; exit 0 or 2.\n" +
			"With TARGET (a group, a host, user@host:port, or a comma list) or -H HOSTS: connect to every\n" +
			"host of it and print a table: reachable, host key, authenticated, connect time and command\n" +
			"round trip; exit 1 if any host is not fit. A TARGET written as hosts, or -H, needs no Deployfile.",
		Flags: []cli.Flag{hostsFlag()},
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			if c.String("hosts") != "" && c.NArg() > 0 {
				return usagef("check: name a target or -H hosts, not both")
			}
			return runF(c.Context, &CheckOptions{Session: f.Session(c), Target: c.Args().First(), Hosts: c.String("hosts")})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func checkRun(ctx context.Context, opts *CheckOptions) error {
	if opts.Target != "" || opts.Hosts != "" {
		return checkTarget(ctx, opts)
	}
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if opts.JSON {
		return json.NewEncoder(opts.IO.Out).Encode(map[string]any{
			"event": "check", "file": df.File, "ok": true,
			"groups": len(df.GroupOrder), "hosts": len(df.Hosts()), "tasks": len(df.TaskOrder)})
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s %s: %s\n", opts.Style().Green("ok"), df.File, df.Summary())
	return err
}

// checkTarget connects to every host of the target (or -H) and reports
// on each. It needs no Deployfile when the hosts are written as hosts.
func checkTarget(ctx context.Context, opts *CheckOptions) error {
	s := opts.Session
	df, none, err := s.deployfileOrNone()
	if err != nil {
		return err
	}
	t, err := s.connectAdHoc(df, none, opts.Target, opts.Hosts)
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
