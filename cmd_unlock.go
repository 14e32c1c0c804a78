package main

import (
	"context"
	"fmt"

	"github.com/deploy-tool/deploy/tasks"
	"github.com/urfave/cli/v2"
)

// UnlockOptions are `deploy unlock TARGET`.
type UnlockOptions struct {
	*Session
	Target string
}

// NewCmdUnlock is `deploy unlock TARGET`.
func NewCmdUnlock(f *Factory, runF func(context.Context, *UnlockOptions) error) *cli.Command {
	if runF == nil {
		runF = unlockRun
	}
	return &cli.Command{
		Name:      "unlock",
		Usage:     "remove a stale deploy lock from the hosts of a target",
		ArgsUsage: "TARGET",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("unlock: name a target: deploy unlock TARGET")
			}
			return runF(c.Context, &UnlockOptions{Session: f.Session(c), Target: c.Args().First()})
		},
		BashComplete: completeGroups(f),
		OnUsageError: usageErr,
	}
}

// unlockRun shows the locks held and removes them once confirmed.
func unlockRun(ctx context.Context, opts *UnlockOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("unlock: %s has no [app] path, so no lock", df.File)
	}
	t, err := opts.ConnectForOne(df, opts.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	runner := opts.Runner(t, nil)
	held, err := runner.Unlock(ctx, t.Hosts, false)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	if len(held) == 0 {
		_, err := fmt.Fprintf(out, "No lock on %s.\n", t.Name)
		return err
	}
	for _, h := range t.Hosts {
		if info, ok := held[h.Name]; ok {
			fmt.Fprintf(out, "%s is locked: %s\n", h.Name, info)
		}
	}
	if !opts.Yes {
		ok, err := opts.IO.Confirm(fmt.Sprintf("Remove the lock from %s? Only do so if that deploy is dead. [y/N] ", tasks.Plural(len(held), "host")))
		if err != nil {
			return refusef("unlock asks for confirmation and there is no terminal to ask on: pass --yes")
		}
		if !ok {
			return refusef("not confirmed; the locks are kept")
		}
	}
	if _, err := runner.Unlock(ctx, t.Hosts, true); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "Unlocked %s.\n", tasks.Plural(len(held), "host"))
	return err
}
