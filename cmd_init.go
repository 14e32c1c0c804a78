package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
)

// InitOptions are `deploy init`; the file is -f's.
type InitOptions struct {
	*Session
}

// NewCmdInit is `deploy init`: a starter Deployfile.
func NewCmdInit(f *Factory, runF func(context.Context, *InitOptions) error) *cli.Command {
	if runF == nil {
		runF = initRun
	}
	return &cli.Command{
		Name:  "init",
		Usage: "write a commented starter Deployfile for the Django project here",
		Description: "Writes ./Deployfile (or -f FILE), filled in from manage.py and the git repository.\n" +
			"It never overwrites an existing file.",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 0); err != nil {
				return err
			}
			return runF(c.Context, &InitOptions{Session: f.Session(c)})
		},
		OnUsageError: usageErr,
	}
}

func initRun(ctx context.Context, opts *InitOptions) error {
	if err := config.Init(ctx, opts.File); err != nil {
		if errors.Is(err, config.ErrExists) {
			return usageError{msg: err.Error()}
		}
		return fmt.Errorf("init: %w", err)
	}
	_, err := fmt.Fprintf(opts.IO.Out, "%s %s\nNext: edit the hosts under [hosts], then `deploy plan prod` to see what a deploy would do, and `deploy prod`.\n", opts.Style().Green("wrote"), opts.File)
	return err
}
