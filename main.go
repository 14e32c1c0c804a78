// Command deploy ships a web application from a laptop to servers over SSH.
// This package is the CLI only: main.go holds the app (global flags, the
// list of commands, exit codes); each command is a cmd_*.go file with an
// options struct, a NewCmdX constructor that fills it from the command
// line, and a run function that does the work. factory.go builds what
// every command shares; iostreams.go is stdin, stdout, stderr and the
// terminal. The work is done in packages deploy/config (the Deployfile),
// deploy (the engine) and deploy/ui (what is shown).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes, as README.md documents them.
const (
	exitOK        = 0
	exitFailed    = 1 // a step or a host failed
	exitUsage     = 2 // bad usage or a bad Deployfile
	exitLockHeld  = 3
	exitInterrupt = 130
)

func main() {
	ios := systemIO()
	ctx := interruptible(context.Background(), ios)
	os.Exit(runStreams(ctx, os.Args, ios))
}

// errInterrupted is the cause of a context cancelled by Ctrl-C;
// errBrokenPipe of one cancelled because stdout was closed.
var (
	errInterrupted = errors.New("interrupted")
	errBrokenPipe  = errors.New("stdout closed")
)

// interruptible cancels the context at the first Ctrl-C (or SIGTERM), so
// remote commands are signalled and locks released, and exits at once at
// the second. Its notices go above the live status block, which is
// cleared before that exit.
func interruptible(parent context.Context, ios *IOStreams) context.Context {
	ctx, cancel := context.WithCancelCause(parent)
	signals := make(chan os.Signal, 2)
	notifyInterrupts(signals)
	go func() {
		if sig := <-signals; brokenPipe(sig) {
			ios.Notice("deploy: the output was closed; stopping remote commands")
			cancel(errBrokenPipe)
		} else {
			ios.Notice("deploy: interrupted; stopping remote commands (Ctrl-C again to quit at once)")
			cancel(errInterrupted)
		}
		<-signals
		ios.ClearStatus()
		os.Exit(exitInterrupt)
	}()
	return ctx
}

// run is the whole CLI, from arguments to exit status, so tests can drive
// it in-process. There is no terminal to ask on: a confirmation fails as
// it does in a pipe.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runStreams(ctx, args, newIOStreams(strings.NewReader(""), stdout, stderr))
}

// runStreams is run over any IO streams: the real ones in main, fakes in
// tests.
func runStreams(ctx context.Context, args []string, ios *IOStreams) int {
	app := newApp(&Factory{IO: ios})
	err := app.RunContext(ctx, reorderArgs(app, args))
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errInterrupted):
		return exitInterrupt
	case errors.Is(cause, errBrokenPipe):
		return exitFailed
	}
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	stderr := ios.ErrOut
	st := ui.NewStyle(stderr, slices.Contains(args, "--no-color") || !ios.ErrColorEnabled())
	asJSON := slices.Contains(args, "--json")

	var list config.ErrorList
	var usage usageError
	switch {
	case errors.As(err, &list):
		if asJSON {
			writeJSONErrors(ios.Out, list)
		}
		ui.WriteErrors(stderr, st, list)
		return exitUsage
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s %v\n", st.Red("deploy:"), err)
		if !usage.refusal {
			fmt.Fprintln(stderr, st.Faint("Run `deploy help` for usage."))
		}
		return exitUsage
	}
	// urfave/cli's own errors (a bad flag, an unknown help topic) are
	// usage errors whatever code it picked.
	var coder cli.ExitCoder
	if errors.As(err, &coder) || strings.HasPrefix(err.Error(), "flag provided but not defined") {
		fmt.Fprintf(stderr, "%s %v\n", st.Red("deploy:"), err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "%s %v\n", st.Red("deploy:"), err)
	return exitFailed
}

func writeJSONErrors(w io.Writer, list config.ErrorList) {
	enc := json.NewEncoder(w)
	for _, e := range list {
		enc.Encode(struct {
			Event string `json:"event"`
			*config.Error
		}{"error", e})
	}
}

// newApp is the CLI: its global flags and its commands. Each command
// builds itself from f; nil runF means the real run function.
func newApp(f *Factory) *cli.App {
	return withOwnHelp(&cli.App{
		Name:  "deploy",
		Usage: "ship a web application to your servers over SSH",
		UsageText: "deploy [global options] TARGET [TASK]     run a task (default: the default task) on a target\n" +
			"deploy [global options] COMMAND [arguments]\n\n" +
			"Arguments go TARGET first, then TASK, in every command (deploy run web migrate, deploy plan prod).\n" +
			"A TARGET is a group, a host, user@host:port, or a comma list of them.",
		Description: "Reads a Deployfile (TOML) of tasks and host groups. See README.md and deployfile.example.toml.",
		Reader:      f.IO.In,
		Writer:      f.IO.Out,
		ErrWriter:   f.IO.ErrOut,
		HideVersion: true,
		// urfave/cli's own help command is one package-level value that
		// each App mutates; ours is made per App (see cmd_help.go).
		HideHelpCommand: true,
		Suggest:         true,
		// --var a=b,c is one value, not two.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		// Exit codes are decided in run(), in one place.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{msg: flagFix(err.Error())}
		},
		Flags:  globalFlags(),
		Action: newDefaultAction(f, nil),
		Commands: []*cli.Command{
			NewCmdTasks(f, nil),
			NewCmdHosts(f, nil),
			NewCmdRun(f, nil),
			NewCmdPlan(f, nil),
			NewCmdRollback(f, nil),
			NewCmdStatus(f, nil),
			NewCmdReleases(f, nil),
			NewCmdHistory(f, nil),
			NewCmdUnlock(f, nil),
			NewCmdHook(f),
			NewCmdExec(f, nil),
			NewCmdGet(f, nil),
			NewCmdCheck(f, nil),
			NewCmdInit(f, nil),
			NewCmdVersion(f, nil),
			NewCmdHelp(f, nil),
			NewCmdCompletion(f, nil),
		},
	})
}

// globalFlags are read by Factory.Session into GlobalOptions.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "Deployfile", EnvVars: []string{"DEPLOYFILE"},
			Usage: "read the Deployfile `FILE`"},
		&cli.StringSliceFlag{Name: "var", Usage: "set a variable, `NAME=VALUE`; repeatable; wins over the Deployfile"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON, one object a line, for machines"},
		&cli.BoolFlag{Name: "no-color", Usage: "no colours (the NO_COLOR environment variable works too)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say more"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to confirmations"},
		&cli.BoolFlag{Name: "dry-run", Usage: "evaluate every guard and change nothing (as deploy plan)"},
		&cli.DurationFlag{Name: "lock-wait", Usage: "when another run holds the lock, wait up to `DURATION` (30s, 5m) for it, then go on"},
		&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit `MESSAGE` for the commit step"},
		&cli.BoolFlag{Name: "add-untracked", Usage: "the commit step commits untracked files git does not ignore, too"},
		&cli.BoolFlag{Name: "retest", Usage: "run the tests even if this exact tree passed before"},
		&cli.StringFlag{Name: "branch", Usage: "deploy `BRANCH` (checked out) instead of [app] branch"},
		&cli.StringFlag{Name: "ssh-config", Usage: "read this ssh_config `FILE` instead of ~/.ssh/config"},
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record the host key of a host not seen before in known_hosts " +
			"(OpenSSH's accept-new); a changed key is still refused"},
	}
}
