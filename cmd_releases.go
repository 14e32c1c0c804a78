package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/ui"
)

// ReleasesOptions are `deploy releases TARGET`.
type ReleasesOptions struct {
	*Session
	Target string
}

// NewCmdReleases is `deploy releases TARGET`.
func NewCmdReleases(f *Factory, runF func(context.Context, *ReleasesOptions) error) *cli.Command {
	if runF == nil {
		runF = releasesRun
	}
	return &cli.Command{
		Name:      "releases",
		Usage:     "list the releases on the hosts of a target, with their commit and time",
		ArgsUsage: "TARGET",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("releases: name a target: deploy releases TARGET")
			}
			return runF(c.Context, &ReleasesOptions{Session: f.Session(c), Target: c.Args().First()})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func releasesRun(ctx context.Context, opts *ReleasesOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("releases: %s has no [app] path", df.File)
	}
	t, err := opts.ConnectForOne(df, opts.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	list, err := opts.Runner(t, nil).Releases(ctx, t.Hosts)
	if err != nil {
		return err
	}
	_ = rememberReleases("", df, opts.Target, t.Hosts, list) // for completing rollback --to; a cache only
	return ui.WriteReleases(opts.IO.Out, opts.Style(), t.Hosts, list, opts.JSON)
}
