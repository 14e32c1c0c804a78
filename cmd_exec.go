package main

import (
	"cmp"
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// ExecOptions are `deploy exec TARGET -- COMMAND [ARG...]`, or
// `deploy exec -H HOSTS -- COMMAND [ARG...]`.
type ExecOptions struct {
	*Session
	Target   string
	Hosts    string // -H: a comma list of hosts, instead of Target
	Command  []string
	Parallel int
	Timeout  time.Duration // 0: [ssh] command_timeout
	SudoUser string        // run as this user with sudo -n
	Sudo     bool          // run as root with sudo -n (or as SudoUser)
}

// NewCmdExec is `deploy exec TARGET -- COMMAND`.
func NewCmdExec(f *Factory, runF func(context.Context, *ExecOptions) error) *cli.Command {
	if runF == nil {
		runF = execRun
	}
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command on every host of a target, in parallel",
		ArgsUsage: "TARGET -- COMMAND [ARG...]  |  deploy exec -H HOSTS -- COMMAND [ARG...]",
		Description: "TARGET is a group, a host, user@host:port, or a comma list of them; -H takes hosts only,\n" +
			"any [user@]host[:port] (an ssh_config alias too). Neither needs a Deployfile: ssh_config decides\n" +
			"user, port and keys, as for ssh, and host keys are checked against known_hosts.\n" +
			"One COMMAND argument is a shell script\n" +
			"as written ('cd /srv && ls | wc -l'); several are passed to the program exactly, each quoted.\n" +
			"Output lines are prefixed by host; a summary ends on stderr. Exit 1 if any host failed.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Value: 100, Usage: "at most `N` hosts at once"},
			&cli.DurationFlag{Name: "timeout", Usage: "stop the command on a host after `DURATION` (default: [ssh] command_timeout)"},
			&cli.BoolFlag{Name: "sudo", Usage: "run the command as root with sudo -n"},
			&cli.StringFlag{Name: "sudo-user", Usage: "run the command as `USER` with sudo -n"},
			hostsFlag(),
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			hosts := c.String("hosts")
			if hosts == "" && len(args) == 0 {
				return usagef("exec: name a target and a command: deploy exec web -- uptime (or deploy exec -H user@host -- uptime)")
			}
			var target string
			if hosts == "" {
				target, args = args[0], args[1:]
			}
			opts := &ExecOptions{
				Session:  f.Session(c),
				Target:   target,
				Hosts:    hosts,
				Command:  args,
				Parallel: c.Int("parallel"),
				Timeout:  c.Duration("timeout"),
				Sudo:     c.Bool("sudo") || c.String("sudo-user") != "",
				SudoUser: c.String("sudo-user"),
			}
			if len(opts.Command) > 0 && opts.Command[0] == "--" {
				opts.Command = opts.Command[1:]
			}
			return runF(c.Context, opts)
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

func execRun(ctx context.Context, opts *ExecOptions) error {
	if len(opts.Command) == 0 {
		return usagef("exec: no command: deploy exec %s -- COMMAND", cmp.Or(opts.Target, "-H "+opts.Hosts))
	}
	if opts.Parallel < 1 {
		return usagef("exec: --parallel must be at least 1")
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
	eo := deploy.ExecOptions{
		Command:  opts.Command,
		Parallel: opts.Parallel,
		Timeout:  opts.Timeout,
		Sudo:     opts.Sudo,
		SudoUser: opts.SudoUser,
	}
	if eo.Timeout == 0 {
		eo.Timeout = df.SSH.CommandTimeout
	}
	res := deploy.Exec(ctx, t.Conns, t.Hosts, eo, opts.Printer(t.Hosts))
	if !opts.JSON {
		ui.WriteExecSummary(opts.IO.ErrOut, opts.ErrStyle(), res)
	}
	if len(res.Failed()) > 0 {
		return exitStatus(exitFailed)
	}
	return nil
}
