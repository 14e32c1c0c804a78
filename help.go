package main

import (
	"github.com/urfave/cli/v2"
)

// urfave/cli v2's help flag and help command are package-level values
// that every App writes to as it sets itself up, so two apps in one
// process race. Ours are made per app: a --help/-h flag on the app and on
// every command, answered before anything runs, exit 0.

// helpFlag is a new --help flag.
func helpFlag() cli.Flag {
	return &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
}

// withOwnHelp hides urfave/cli's help on the app and every command and
// gives each its own --help.
func withOwnHelp(app *cli.App) *cli.App {
	app.HideHelp = true
	app.Flags = append(app.Flags, helpFlag(), &cli.BoolFlag{Name: "version", Usage: "print the version (as deploy version)"})
	app.Before = chainBefore(app.Before, func(c *cli.Context) error {
		if c.Bool("version") && !c.Bool("help") {
			if v := app.Command("version"); v != nil {
				if err := v.Action(c); err != nil {
					return err
				}
				return exitStatus(exitOK)
			}
		}
		if !c.Bool("help") {
			return nil
		}
		// reorderArgs puts --help with the global flags: `deploy run
		// --help` asks for run's help.
		if cmd := app.Command(c.Args().First()); cmd != nil {
			return showCommandHelp(c, cmd)
		}
		if err := cli.ShowAppHelp(c); err != nil {
			return err
		}
		return exitStatus(exitOK)
	})
	for _, cmd := range app.Commands {
		ownCommandHelp(cmd)
	}
	return app
}

func ownCommandHelp(cmd *cli.Command) {
	cmd.HideHelp = true
	cmd.Flags = append(cmd.Flags, helpFlag())
	cmd.Before = chainBefore(cmd.Before, func(c *cli.Context) error {
		if c.Bool("help") {
			return showCommandHelp(c, cmd)
		}
		return nil
	})
	for _, sub := range cmd.Subcommands {
		ownCommandHelp(sub)
	}
}

// showCommandHelp prints a command's help and ends the run, exit 0.
func showCommandHelp(c *cli.Context, cmd *cli.Command) error {
	tmpl := cli.CommandHelpTemplate
	data := any(cmd)
	if len(cmd.Subcommands) > 0 {
		tmpl = cli.SubcommandHelpTemplate
	}
	cli.HelpPrinter(c.App.Writer, tmpl, data)
	return exitStatus(exitOK)
}

func chainBefore(first, then cli.BeforeFunc) cli.BeforeFunc {
	if first == nil {
		return then
	}
	return func(c *cli.Context) error {
		if err := first(c); err != nil {
			return err
		}
		return then(c)
	}
}
