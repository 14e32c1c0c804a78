package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/ui"
)

// HistoryOptions are `deploy history TARGET [-n N]`.
type HistoryOptions struct {
	*Session
	Target string
	N      int // the newest N runs; 0: all
}

// NewCmdHistory is `deploy history TARGET`.
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cli.Command {
	if runF == nil {
		runF = historyRun
	}
	return &cli.Command{
		Name:      "history",
		Usage:     "who ran what on a target, when, with what result (from the hosts' journals)",
		ArgsUsage: "TARGET",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 20, Usage: "show the newest `N` runs (0: all)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("history: name a target: deploy history TARGET")
			}
			return runF(c.Context, &HistoryOptions{Session: f.Session(c), Target: c.Args().First(), N: c.Int("n")})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	t, err := opts.ConnectForOne(df, opts.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	if df.App.Path == "" {
		return usagef("history: %s has no [app] path, so no journal", df.File)
	}
	entries, err := opts.Runner(t, nil).History(ctx, t.Hosts, opts.N)
	if err != nil {
		return err
	}
	return ui.WriteHistory(opts.IO.Out, opts.Style(), entries, opts.JSON)
}
