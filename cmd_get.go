package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// GetOptions are `deploy get TARGET REMOTE_PATH [LOCAL_DIR]`, or
// `deploy get -H HOSTS REMOTE_PATH [LOCAL_DIR]`.
type GetOptions struct {
	*Session
	Target   string
	Hosts    string // -H: a comma list of hosts, instead of Target
	Path     string // on the hosts
	Dir      string // here; "." when not given
	Force    bool
	Parallel int
}

// NewCmdGet is `deploy get TARGET REMOTE_PATH [LOCAL_DIR]`.
func NewCmdGet(f *Factory, runF func(context.Context, *GetOptions) error) *cli.Command {
	if runF == nil {
		runF = getRun
	}
	return &cli.Command{
		Name:      "get",
		Usage:     "copy a file or directory from every host of a target to this machine (SFTP)",
		ArgsUsage: "TARGET REMOTE_PATH [LOCAL_DIR]  |  deploy get -H HOSTS REMOTE_PATH [LOCAL_DIR]",
		Description: "TARGET is as for exec: a group, a host, user@host:port, or a comma list; -H takes hosts only.\n" +
			"REMOTE_PATH is a file or a directory (copied whole); ~/ is the login user's home, and a relative\n" +
			"path is under it. It lands in LOCAL_DIR (default .), or with several hosts in LOCAL_DIR/HOST/.\n" +
			"Without --force an existing file is never replaced: when one is in the way, nothing is written.\n" +
			"Links under REMOTE_PATH are not followed; modes are kept, without setuid and setgid.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace files that exist in LOCAL_DIR"},
			&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Value: 100, Usage: "at most `N` hosts at once"},
			hostsFlag(),
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			hosts := c.String("hosts")
			var target string
			if hosts == "" && len(args) > 0 {
				target, args = args[0], args[1:]
			}
			if len(args) < 1 || len(args) > 2 || hosts == "" && target == "" {
				return usagef("get: name a target and a path: deploy get TARGET REMOTE_PATH [LOCAL_DIR] (or deploy get -H user@host REMOTE_PATH)")
			}
			opts := &GetOptions{
				Session:  f.Session(c),
				Target:   target,
				Hosts:    hosts,
				Path:     args[0],
				Dir:      ".",
				Force:    c.Bool("force"),
				Parallel: c.Int("parallel"),
			}
			if len(args) == 2 {
				opts.Dir = args[1]
			}
			return runF(c.Context, opts)
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func getRun(ctx context.Context, opts *GetOptions) error {
	switch {
	case opts.Path == "":
		return usagef("get: REMOTE_PATH is empty: name a file or directory on the hosts")
	case strings.ContainsRune(opts.Path, 0) || strings.ContainsRune(opts.Dir, 0):
		return usagef("get: a path cannot hold a NUL byte")
	case opts.Dir == "":
		return usagef("get: LOCAL_DIR is empty: name a directory here, or leave it out for .")
	case opts.Parallel < 1:
		return usagef("get: --parallel must be at least 1")
	case opts.DryRun:
		return usagef("get: there is no dry run of get; deploy exec TARGET -- ls -lR PATH shows what is there")
	}
	df, none, err := opts.deployfileOrNone()
	if err != nil {
		return err
	}
	t, err := opts.connectAdHoc(df, none, opts.Target, opts.Hosts)
	if err != nil {
		return err
	}
	defer t.Close()
	var pr deploy.GetPrinter
	if opts.JSON {
		pr = ui.NewGetJSONPrinter(opts.IO.Out)
	} else {
		names := make([]string, len(t.Hosts))
		for i, h := range t.Hosts {
			names[i] = h.Name
		}
		pr = ui.NewGetTextPrinter(opts.IO.Out, opts.IO.ErrOut, opts.Style(), names, opts.Verbose) // -v: each file too
	}
	res := deploy.Get(ctx, t.Conns, t.Hosts, deploy.GetOptions{Path: opts.Path, Dir: opts.Dir, Force: opts.Force,
		Parallel: opts.Parallel}, pr)
	if !opts.JSON {
		ui.WriteGetSummary(opts.IO.ErrOut, opts.ErrStyle(), res)
	}
	if len(res.Failed()) > 0 {
		return exitStatus(exitFailed)
	}
	return nil
}
