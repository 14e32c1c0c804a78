package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// VersionOptions are `deploy version`.
type VersionOptions struct {
	IO      *IOStreams
	Version string // set at build time; empty: the module's, else (devel)
}

// NewCmdVersion is `deploy version`.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cli.Command {
	if runF == nil {
		runF = versionRun
	}
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			return runF(c.Context, &VersionOptions{IO: f.IO, Version: version})
		},
		OnUsageError: usageErr,
	}
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	v := opts.Version
	if v == "" {
		v = "(devel)"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	_, err := fmt.Fprintf(opts.IO.Out, "deploy %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
