package main

import (
	"context"

	"github.com/urfave/cli/v2"
)

// HelpOptions are `deploy help [COMMAND]`. Help is drawn by urfave/cli
// from the app itself, so the options carry the functions that draw it.
type HelpOptions struct {
	Command     string // empty: the app's help
	ShowApp     func() error
	ShowCommand func(name string) error
	Exists      func(name string) bool
}

// NewCmdHelp is `deploy help`: ours, made per app, rather than urfave/cli's
// one package-level help command that each app mutates.
func NewCmdHelp(_ *Factory, runF func(context.Context, *HelpOptions) error) *cli.Command {
	if runF == nil {
		runF = helpRun
	}
	return &cli.Command{
		Name:      "help",
		Aliases:   []string{"h"},
		Usage:     "show the commands, or one command's help",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			return runF(c.Context, &HelpOptions{
				Command:     c.Args().First(),
				ShowApp:     func() error { return cli.ShowAppHelp(c) },
				ShowCommand: func(name string) error { return cli.ShowCommandHelp(c.Lineage()[1], name) },
				Exists:      func(name string) bool { return c.App.Command(name) != nil },
			})
		},
		OnUsageError: usageErr,
	}
}

func helpRun(_ context.Context, opts *HelpOptions) error {
	if opts.Command == "" {
		return opts.ShowApp()
	}
	if !opts.Exists(opts.Command) {
		return usagef("help: no command %q", opts.Command)
	}
	return opts.ShowCommand(opts.Command)
}
