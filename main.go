// Command deploy ships a web application from a laptop to servers over SSH.
// This file is the CLI wiring only: flags, commands and exit codes. The
// work is done in packages deploy/config (the Deployfile), deploy (the
// engine) and deploy/ui (what is shown).
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
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
	ctx := interruptible(context.Background(), os.Stderr)
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// errInterrupted is the cause of a context cancelled by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// interruptible cancels the context at the first Ctrl-C (or SIGTERM), so
// remote commands are signalled and locks released, and exits at once at
// the second.
func interruptible(parent context.Context, stderr io.Writer) context.Context {
	ctx, cancel := context.WithCancelCause(parent)
	signals := make(chan os.Signal, 2)
	notifyInterrupts(signals)
	go func() {
		<-signals
		fmt.Fprintln(stderr, "\ndeploy: interrupted; stopping remote commands (Ctrl-C again to quit at once)")
		cancel(errInterrupted)
		<-signals
		os.Exit(exitInterrupt)
	}()
	return ctx
}

// exitStatus ends the program with a code; what went wrong was printed
// already.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is the whole CLI, from arguments to exit status, so tests can drive
// it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, reorderArgs(app, args))
	if errors.Is(context.Cause(ctx), errInterrupted) {
		return exitInterrupt
	}
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	st := ui.NewStyle(stderr, slices.Contains(args, "--no-color"))
	asJSON := slices.Contains(args, "--json")

	var list config.ErrorList
	switch {
	case errors.As(err, &list):
		if asJSON {
			writeJSONErrors(stdout, list)
		}
		ui.WriteErrors(stderr, st, list)
		return exitUsage
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "%s %v\n%s\n", st.Red("deploy:"), err, st.Faint("Run `deploy help` for usage."))
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

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "deploy",
		Usage: "ship a web application to your servers over SSH",
		UsageText: "deploy [global options] TARGET            run the default task on a group or host\n" +
			"deploy [global options] COMMAND [arguments]",
		Description: "Reads a Deployfile (TOML) of tasks and host groups. See README.md and deployfile.example.toml.",
		Writer:      stdout,
		ErrWriter:   stderr,
		HideVersion: true,
		// urfave/cli's own help command is one package-level value that
		// each App mutates; ours is made per App (see cmdHelp).
		HideHelpCommand: true,
		Suggest:         true,
		// --var a=b,c is one value, not two.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		// Exit codes are decided in run(), in one place.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		Flags: []cli.Flag{
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
			&cli.BoolFlag{Name: "retest", Usage: "run the tests even if this exact tree passed before"},
			&cli.StringFlag{Name: "branch", Usage: "deploy `BRANCH` (checked out) instead of [app] branch"},
			&cli.StringFlag{Name: "ssh-config", Usage: "read this ssh_config `FILE` instead of ~/.ssh/config"},
			&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record the host key of a host not seen before in known_hosts " +
				"(OpenSSH's accept-new); a changed key is still refused"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			name := c.Args().First()
			// `deploy TARGET`: the default task, when TARGET is a group or
			// host of the Deployfile.
			df, err := loadDeployfile(c)
			if _, statErr := os.Stat(c.String("file")); err != nil && statErr == nil {
				return err // a Deployfile with problems: show them
			}
			if err == nil {
				if _, err := df.Resolve(name); err == nil {
					if c.NArg() > 1 {
						return usagef("deploy %s: unexpected argument %q (to run another task: deploy run TASK %s)", name, c.Args().Get(1), name)
					}
					return runTask(c, df, df.App.DefaultTask, name)
				}
			}
			names := commandNames(c.App)
			if s := cli.SuggestCommand(c.App.Commands, name); s != "" {
				return usagef("%q is not a deploy command. %s", name, s)
			}
			return usagef("%q is not a deploy command (commands: %s)", name, strings.Join(names, ", "))
		},
		Commands: []*cli.Command{
			{
				Name:         "tasks",
				Usage:        "list the tasks with their descriptions and steps",
				Action:       cmdTasks,
				OnUsageError: usageErr,
			},
			{
				Name:         "hosts",
				Usage:        "list the hosts of a group (user, host, port), or of every group",
				ArgsUsage:    "[GROUP]",
				Action:       cmdHosts,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:      "run",
				Usage:     "run a task of the Deployfile on a target",
				ArgsUsage: "TASK TARGET",
				Description: "Runs the steps of TASK over the hosts of TARGET (a group, a host, or a comma list).\n" +
					"Every host finishes a step before the next starts; the first failure stops the run.\n" +
					"`deploy TARGET` runs the default task ([app] default_task, else \"deploy\").",
				Action:       cmdRun,
				BashComplete: completeTasksThenGroups,
				OnUsageError: usageErr,
			},
			{
				Name:      "plan",
				Usage:     "show what a task would do on a target, changing nothing",
				ArgsUsage: "TARGET [TASK]",
				Description: "Connects, evaluates every guard (creates, unless, only_if) on every host, and prints\n" +
					"for each step and host: would run, or would skip and why. Takes no lock, writes no journal.\n" +
					"Guards see the hosts as they are now, before any earlier step of the plan has run.",
				Action:       cmdPlan,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:      "rollback",
				Usage:     "switch every host of a target back to its previous release (or --to one) and reload",
				ArgsUsage: "TARGET",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "to", Usage: "the `RELEASE` to go back to: its name, or a commit sha (prefix)"},
				},
				Action:       cmdRollback,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			statusCommand(),
			{
				Name:         "releases",
				Usage:        "list the releases on the hosts of a target, with their commit and time",
				ArgsUsage:    "TARGET",
				Action:       cmdReleases,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:      "history",
				Usage:     "who ran what on a target, when, with what result (from the hosts' journals)",
				ArgsUsage: "TARGET",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "n", Value: 20, Usage: "show the newest `N` runs (0: all)"},
				},
				Action:       cmdHistory,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:         "unlock",
				Usage:        "remove a stale deploy lock from the hosts of a target",
				ArgsUsage:    "TARGET",
				Action:       cmdUnlock,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:  "hook",
				Usage: "install or remove the git pre-push hook that runs the test task",
				Subcommands: []*cli.Command{
					{
						Name:  "install",
						Usage: "write .git/hooks/pre-push (or core.hooksPath), keeping and chaining a hook already there",
						Flags: []cli.Flag{
							&cli.StringFlag{Name: "task", Value: "test", Usage: "the `TASK` to run before a push"},
							&cli.BoolFlag{Name: "force", Usage: "write deploy's hook again over an older one"},
						},
						Action:       cmdHookInstall,
						OnUsageError: usageErr,
					},
					{
						Name:         "uninstall",
						Usage:        "remove deploy's pre-push hook and restore the one it chained",
						Action:       cmdHookUninstall,
						OnUsageError: usageErr,
					},
					{
						Name:      "pre-push",
						Usage:     "what the hook runs: the task, unless git only deletes refs or the tree already passed",
						ArgsUsage: "REMOTE URL",
						Flags: []cli.Flag{
							&cli.StringFlag{Name: "task", Value: "test", Usage: "the `TASK` to run"},
							&cli.BoolFlag{Name: "retest", Usage: "run the task even if this exact tree passed before"},
						},
						Action:       cmdHookPrePush,
						OnUsageError: usageErr,
					},
				},
			},
			{
				Name:      "exec",
				Usage:     "run a command on every host of a target, in parallel",
				ArgsUsage: "TARGET -- COMMAND [ARG...]",
				Description: "TARGET is a group, a host, or a comma list of them. One COMMAND argument is a shell script\n" +
					"as written ('cd /srv && ls | wc -l'); several are passed to the program exactly, each quoted.\n" +
					"Output lines are prefixed by host; a summary ends on stderr. Exit 1 if any host failed.",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Value: 100, Usage: "at most `N` hosts at once"},
					&cli.DurationFlag{Name: "timeout", Usage: "stop the command on a host after `DURATION` (default: [ssh] command_timeout)"},
					&cli.BoolFlag{Name: "sudo", Usage: "run the command as root with sudo -n"},
					&cli.StringFlag{Name: "sudo-user", Usage: "run the command as `USER` with sudo -n"},
				},
				Action:       cmdExec,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:      "check",
				Usage:     "validate the Deployfile; with a TARGET, also connect to its hosts",
				ArgsUsage: "[TARGET]",
				Description: "Without TARGET: load and validate the Deployfile, connecting nowhere; exit 0 or 2.\n" +
					"With TARGET: connect to every host of it and print a table: reachable, host key,\n" +
					"authenticated, connect time and command round trip; exit 1 if any host is not fit.",
				Action:       cmdCheck,
				BashComplete: completeGroups,
				OnUsageError: usageErr,
			},
			{
				Name:  "init",
				Usage: "write a commented starter Deployfile for the Django project here",
				Description: "Writes ./Deployfile (or -f FILE), filled in from manage.py and the git repository.\n" +
					"It never overwrites an existing file.",
				Action:       cmdInit,
				OnUsageError: usageErr,
			},
			{
				Name:         "version",
				Usage:        "print the version",
				Action:       cmdVersion,
				OnUsageError: usageErr,
			},
			{
				Name:         "help",
				Aliases:      []string{"h"},
				Usage:        "show the commands, or one command's help",
				ArgsUsage:    "[COMMAND]",
				Action:       cmdHelp,
				OnUsageError: usageErr,
			},
			{
				Name:      "completion",
				Usage:     "print a shell completion script (bash, zsh or fish)",
				ArgsUsage: "bash|zsh|fish",
				Description: "bash: source <(deploy completion bash)\n" +
					"zsh:  source <(deploy completion zsh)\n" +
					"fish: deploy completion fish | source",
				Action:       cmdCompletion,
				OnUsageError: usageErr,
			},
		},
	}
}

func usageErr(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }

// loadDeployfile reads the file named by -f with the --var overrides.
func loadDeployfile(c *cli.Context) (*config.Deployfile, error) {
	vars := map[string]string{}
	for _, kv := range c.StringSlice("var") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, usagef("--var %q: write --var NAME=VALUE", kv)
		}
		vars[name] = value
	}
	return config.Load(c.String("file"), config.LoadOptions{Vars: vars, Reserved: commandNames(c.App)})
}

// commandNames are the names and aliases of the app's commands: a group or
// host may not take one, since `deploy NAME` would be ambiguous.
func commandNames(app *cli.App) []string {
	var names []string
	for _, cmd := range app.Commands {
		names = append(names, cmd.Names()...)
	}
	return names
}

func style(c *cli.Context) ui.Style {
	return ui.NewStyle(c.App.Writer, c.Bool("no-color"))
}

func maxArgs(c *cli.Context, n int) error {
	if c.NArg() > n {
		return usagef("%s: unexpected argument %q (usage: deploy %s %s)", c.Command.Name, c.Args().Get(n), c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

func cmdTasks(c *cli.Context) error {
	if err := maxArgs(c, 0); err != nil {
		return err
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	return ui.WriteTasks(c.App.Writer, style(c), df, c.Bool("json"))
}

func cmdHosts(c *cli.Context) error {
	if err := maxArgs(c, 1); err != nil {
		return err
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if err := ui.WriteHosts(c.App.Writer, style(c), df, c.Args().First(), c.Bool("json")); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func cmdRun(c *cli.Context) error {
	if c.NArg() != 2 {
		return usagef("run: name a task and a target: deploy run TASK TARGET")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	return runTask(c, df, c.Args().Get(0), c.Args().Get(1))
}

// runTask runs a task over a target, asking first when the target wants
// confirmation, and prints the summary.
func runTask(c *cli.Context, df *config.Deployfile, task, target string) error {
	if _, ok := df.Tasks[task]; !ok {
		return usagef("no task %q in %s (tasks: %s)", task, df.File, strings.Join(df.TaskOrder, ", "))
	}
	hosts, conns, err := connectTarget(c, df, target)
	if err != nil {
		return err
	}
	defer conns.Close()
	if df.Confirm(target) && !c.Bool("yes") && !c.Bool("dry-run") {
		ok, err := confirm(fmt.Sprintf("Run %s on %s (%d hosts: %s)? [y/N] ", task, target, len(hosts), hostList(hosts)))
		if err != nil {
			return usagef("%s asks for confirmation and there is no terminal to ask on: pass --yes", target)
		}
		if !ok {
			return usagef("not confirmed; nothing was run")
		}
	}
	pr := printer(c, hosts)
	state := &tasks.RunState{}
	runner := &deploy.Runner{DF: df, Conns: conns, Printer: pr, Target: target, DryRun: c.Bool("dry-run"),
		Builtins: tasks.Builtins(), Laptop: laptop(c, df, conns, pr, state), State: state, LockWait: c.Duration("lock-wait")}
	res, err := runner.Run(c.Context, task, hosts)
	return runResult(c, res, err)
}

// runResult turns a run's outcome into output and an exit status: a run
// refused before it started is bad usage (2), a held lock 3, a failed
// step 1.
func runResult(c *cli.Context, res *deploy.RunResult, err error) error {
	var refused *deploy.RefusedError
	var held *deploy.LockHeldError
	switch {
	case errors.As(err, &refused):
		return usageError{err.Error()}
	case errors.As(err, &held):
		fmt.Fprintf(c.App.ErrWriter, "%s %v\n", style(c).Red("deploy:"), err)
		return exitStatus(exitLockHeld)
	case err != nil:
		return err
	}
	if !c.Bool("json") {
		ui.WriteRunSummary(c.App.ErrWriter, ui.NewStyle(c.App.ErrWriter, c.Bool("no-color")), res)
	}
	if res.Failure != nil {
		return exitStatus(exitFailed)
	}
	return nil
}

func cmdPlan(c *cli.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return usagef("plan: name a target, and a task if not the default: deploy plan TARGET [TASK]")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	task := df.App.DefaultTask
	if c.NArg() == 2 {
		task = c.Args().Get(1)
	}
	if err := c.Set("dry-run", "true"); err != nil {
		return err
	}
	return runTask(c, df, task, c.Args().First())
}

func cmdRollback(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("rollback: name a target: deploy rollback TARGET [--to RELEASE]")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("rollback needs [app] path, the deploy root on the hosts")
	}
	target := c.Args().First()
	hosts, conns, err := connectTarget(c, df, target)
	if err != nil {
		return err
	}
	defer conns.Close()
	if df.Confirm(target) && !c.Bool("yes") {
		ok, err := confirm(fmt.Sprintf("Roll back %s (%d hosts)? [y/N] ", target, len(hosts)))
		if err != nil {
			return usagef("%s asks for confirmation and there is no terminal to ask on: pass --yes", target)
		}
		if !ok {
			return usagef("not confirmed; nothing was changed")
		}
	}
	runner := &deploy.Runner{DF: df, Conns: conns, Printer: printer(c, hosts), Target: target, Builtins: tasks.Builtins(),
		LockWait: c.Duration("lock-wait")}
	res, err := runner.Rollback(c.Context, df.App.DefaultTask, hosts, c.String("to"))
	return runResult(c, res, err)
}

func cmdReleases(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("releases: name a target: deploy releases TARGET")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("releases: %s has no [app] path", df.File)
	}
	hosts, conns, err := connectTarget(c, df, c.Args().First())
	if err != nil {
		return err
	}
	defer conns.Close()
	runner := &deploy.Runner{DF: df, Conns: conns}
	list, err := runner.Releases(c.Context, hosts)
	if err != nil {
		return err
	}
	return ui.WriteReleases(c.App.Writer, style(c), hosts, list, c.Bool("json"))
}

func cmdHistory(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("history: name a target: deploy history TARGET")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	hosts, conns, err := connectTarget(c, df, c.Args().First())
	if err != nil {
		return err
	}
	defer conns.Close()
	if df.App.Path == "" {
		return usagef("history: %s has no [app] path, so no journal", df.File)
	}
	runner := &deploy.Runner{DF: df, Conns: conns}
	entries, err := runner.History(c.Context, hosts, c.Int("n"))
	if err != nil {
		return err
	}
	return ui.WriteHistory(c.App.Writer, style(c), entries, c.Bool("json"))
}

func cmdUnlock(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("unlock: name a target: deploy unlock TARGET")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if df.App.Path == "" {
		return usagef("unlock: %s has no [app] path, so no lock", df.File)
	}
	target := c.Args().First()
	hosts, conns, err := connectTarget(c, df, target)
	if err != nil {
		return err
	}
	defer conns.Close()
	runner := &deploy.Runner{DF: df, Conns: conns}
	held, err := runner.Unlock(c.Context, hosts, false)
	if err != nil {
		return err
	}
	if len(held) == 0 {
		_, err := fmt.Fprintf(c.App.Writer, "No lock on %s.\n", target)
		return err
	}
	for _, h := range hosts {
		if info, ok := held[h.Name]; ok {
			fmt.Fprintf(c.App.Writer, "%s is locked: %s\n", h.Name, info)
		}
	}
	if !c.Bool("yes") {
		ok, err := confirm(fmt.Sprintf("Remove the lock from %d hosts? Only do so if that deploy is dead. [y/N] ", len(held)))
		if err != nil {
			return usagef("unlock asks for confirmation and there is no terminal to ask on: pass --yes")
		}
		if !ok {
			return usagef("not confirmed; the locks are kept")
		}
	}
	if _, err := runner.Unlock(c.Context, hosts, true); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "Unlocked %d hosts.\n", len(held))
	return err
}

// laptop is this machine's side of a run: the repository the Deployfile
// is in, the command line's -m, --retest and --branch, and a way to run a
// task here for the test step.
func laptop(c *cli.Context, df *config.Deployfile, conns *deploy.Connector, pr deploy.Printer, state *tasks.RunState) *tasks.Laptop {
	abs, _ := filepath.Abs(df.File)
	l := &tasks.Laptop{
		Dir:     filepath.Dir(abs),
		Remote:  df.App.Remote,
		Branch:  cmp.Or(c.String("branch"), df.App.Branch),
		Message: c.String("message"),
		Retest:  c.Bool("retest"),
	}
	if repo, err := tasks.OpenRepo(l.Dir); err == nil {
		if head, err := repo.Head(); err == nil {
			state.SetSHA(head.String())
		}
		// git over SSH with deploy's keys, known_hosts and policy.
		if url, err := repo.RemoteURL(l.Remote); err == nil {
			if host, user, port, ok := tasks.SSHEndpoint(url); ok {
				if cfg, err := conns.SSHClientConfig(remote.Target{Host: host, User: user, Port: port}); err == nil {
					l.Auth = tasks.SSHAuth(cfg)
				}
			}
		}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		tty.Close()
		l.Ask = askLine
	}
	l.RunTask = runHere(df, conns, deploy.StepsOnly{Next: pr})
	return l
}

// runHere returns a function that runs a task of the Deployfile on this
// machine, printing to pr: what the test step and the pre-push hook run.
// A failed step is an error naming the task, the step and why.
func runHere(df *config.Deployfile, conns *deploy.Connector, pr deploy.Printer) func(ctx context.Context, task string) error {
	return func(ctx context.Context, task string) error {
		hosts, err := df.Resolve(config.LocalHost)
		if err != nil {
			return err
		}
		runner := &deploy.Runner{DF: df, Conns: conns, Printer: pr, Target: config.LocalHost, Builtins: tasks.Builtins()}
		res, err := runner.Run(ctx, task, hosts)
		if err != nil {
			return err
		}
		if f := res.Failure; f != nil {
			return fmt.Errorf("%s failed (step %d, %s: %s)", task, f.Step+1, res.Steps[f.Step], f.Reason)
		}
		return nil
	}
}

// askLine asks for a line of text on the terminal, echoed.
func askLine(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	return strings.TrimSpace(line), err
}

// repoOf opens the git repository the Deployfile lives in.
func repoOf(c *cli.Context) (*tasks.Repo, error) {
	abs, err := filepath.Abs(c.String("file"))
	if err != nil {
		return nil, err
	}
	return tasks.OpenRepo(filepath.Dir(abs))
}

func cmdHookInstall(c *cli.Context) error {
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	task := c.String("task")
	if _, ok := df.Tasks[task]; !ok {
		return usagef("hook install: no task %q in %s (tasks: %s)", task, df.File, strings.Join(df.TaskOrder, ", "))
	}
	repo, err := repoOf(c)
	if err != nil {
		return usageError{err.Error()}
	}
	bin, err := os.Executable()
	if err != nil {
		bin = "deploy"
	}
	file := ""
	if c.IsSet("file") {
		if file, err = filepath.Abs(c.String("file")); err != nil {
			return err
		}
	}
	hook, chained, err := repo.InstallHook(tasks.HookOptions{Binary: bin, Deployfile: file, Task: task, Force: c.Bool("force")})
	if err != nil {
		return usageError{err.Error()}
	}
	fmt.Fprintf(c.App.Writer, "%s %s: every git push runs the task %s first\n", style(c).Green("installed"), hook, task)
	if chained != "" {
		fmt.Fprintf(c.App.Writer, "the hook that was there is kept as %s and runs first; deploy hook uninstall puts it back\n", chained)
	}
	return nil
}

func cmdHookUninstall(c *cli.Context) error {
	repo, err := repoOf(c)
	if err != nil {
		return usageError{err.Error()}
	}
	restored, err := repo.UninstallHook()
	if err != nil {
		return usageError{err.Error()}
	}
	if restored != "" {
		fmt.Fprintf(c.App.Writer, "removed deploy's pre-push hook; restored the previous one at %s\n", restored)
	} else {
		fmt.Fprintln(c.App.Writer, "removed deploy's pre-push hook")
	}
	return nil
}

// cmdHookPrePush runs the test task before a push, here on this machine.
// Deleting refs needs no tests; a tree whose tests passed before is not
// tested again (--retest to insist).
func cmdHookPrePush(c *cli.Context) error {
	refs, err := tasks.ReadPushedRefs(c.App.Reader)
	if err != nil {
		return usageError{err.Error()}
	}
	pushes := 0
	for _, r := range refs {
		if !r.Deletion() {
			pushes++
		}
	}
	if pushes == 0 {
		return nil
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	task := c.String("task")
	if _, ok := df.Tasks[task]; !ok {
		return usagef("pre-push: no task %q in %s", task, df.File)
	}
	repo, err := repoOf(c)
	if err != nil {
		return usageError{err.Error()}
	}
	tree, err := repo.TreeID()
	if err != nil {
		return err
	}
	if done, reason := repo.TestedTree(tree, c.Bool("retest")); done {
		fmt.Fprintf(c.App.ErrWriter, "deploy: %s: %s\n", task, reason)
		return nil
	}
	conns, err := deploy.NewConnector(df, sshSettings(c))
	if err != nil {
		return err
	}
	defer conns.Close()
	pr := ui.NewTextPrinter(c.App.ErrWriter, c.App.ErrWriter, ui.NewStyle(c.App.ErrWriter, c.Bool("no-color")), []string{config.LocalHost})
	if err := runHere(df, conns, pr)(c.Context, task); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "deploy: %v: push blocked\n", err)
		return exitStatus(exitFailed)
	}
	if err := repo.RecordTestsPassed(tree, time.Now()); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "deploy: could not remember the passing tree: %v\n", err)
	}
	return nil
}

func hostList(hosts []*config.Host) string {
	names := make([]string, 0, len(hosts))
	for i, h := range hosts {
		if i == 5 {
			names = append(names, "…")
			break
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ", ")
}

// confirm asks a yes/no question on the terminal; an error means there is
// no terminal.
func confirm(question string) (bool, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer tty.Close()
	fmt.Fprint(tty, question)
	var answer string
	fmt.Fscanln(tty, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}

// completeTasksThenGroups offers tasks for the first argument of run, then
// groups.
func completeTasksThenGroups(c *cli.Context) {
	df, err := loadDeployfile(c)
	if err != nil {
		return
	}
	list := df.TaskOrder
	if c.NArg() == 1 {
		list = df.GroupOrder
	} else if c.NArg() > 1 {
		return
	}
	for _, n := range list {
		fmt.Fprintln(c.App.Writer, n)
	}
}

func cmdExec(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return usagef("exec: name a target and a command: deploy exec web -- uptime")
	}
	target, command := args[0], args[1:]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	if len(command) == 0 {
		return usagef("exec: no command: deploy exec %s -- COMMAND", target)
	}
	if c.Int("parallel") < 1 {
		return usagef("exec: --parallel must be at least 1")
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	hosts, conns, err := connectTarget(c, df, target)
	if err != nil {
		return err
	}
	defer conns.Close()

	opts := deploy.ExecOptions{
		Command:  command,
		Parallel: c.Int("parallel"),
		Timeout:  c.Duration("timeout"),
		Sudo:     c.Bool("sudo") || c.String("sudo-user") != "",
		SudoUser: c.String("sudo-user"),
	}
	if opts.Timeout == 0 {
		opts.Timeout = df.SSH.CommandTimeout
	}
	res := deploy.Exec(c.Context, conns, hosts, opts, printer(c, hosts))
	if !c.Bool("json") && c.Context.Err() == nil {
		ui.WriteExecSummary(c.App.ErrWriter, ui.NewStyle(c.App.ErrWriter, c.Bool("no-color")), res)
	}
	if len(res.Failed()) > 0 {
		return exitStatus(exitFailed)
	}
	return nil
}

// connectTarget resolves a target (an unknown name is a usage error) and
// makes the connector that will reach its hosts; it connects lazily.
func connectTarget(c *cli.Context, df *config.Deployfile, target string) ([]*config.Host, *deploy.Connector, error) {
	hosts, err := df.Resolve(target)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	conns, err := deploy.NewConnector(df, sshSettings(c))
	if err != nil {
		return nil, nil, err
	}
	return hosts, conns, nil
}

// printer is how a run's events are shown: JSON lines, or lines prefixed
// by host, with a live status block when on a terminal.
func printer(c *cli.Context, hosts []*config.Host) deploy.Printer {
	if c.Bool("json") {
		return ui.NewJSONPrinter(c.App.Writer)
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	text := ui.NewTextPrinter(c.App.Writer, c.App.ErrWriter, style(c), names)
	// On a terminal, a status line per host under the output.
	if ui.IsTerminal(c.App.Writer) && ui.IsTerminal(c.App.ErrWriter) {
		return ui.NewLivePrinter(text, c.App.ErrWriter, style(c))
	}
	return text
}

// sshSettings are the SSH options of the command line. A passphrase is
// asked on the terminal when there is one.
func sshSettings(c *cli.Context) deploy.SSHSettings {
	s := deploy.SSHSettings{
		ConfigFile:        c.String("ssh-config"),
		AcceptNewHostKeys: c.Bool("accept-new-host-keys"),
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		tty.Close()
		s.Passphrase = askPassphrase
		s.SudoPassword = sudoPasswordOnce()
	}
	return s
}

// sudoPasswordOnce asks for the sudo password the first time a host wants
// it and gives the same answer to the other hosts, as one person typing
// it once expects. It is never printed nor logged.
func sudoPasswordOnce() func(host, user string) ([]byte, error) {
	var mu sync.Mutex
	var pass []byte
	return func(host, user string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if pass != nil {
			return pass, nil
		}
		p, err := askTTY(fmt.Sprintf("sudo password (as %s, starting with %s): ", user, host))
		if err == nil {
			pass = p
		}
		return p, err
	}
}

// askPassphrase reads a key's passphrase from the terminal, not echoed.
func askPassphrase(file string) ([]byte, error) {
	return askTTY(fmt.Sprintf("Passphrase for %s: ", file))
}

// askTTY asks on the terminal itself, so that piped output stays clean,
// and reads the answer without echoing it.
func askTTY(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	answer, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return answer, err
}

func cmdCheck(c *cli.Context) error {
	if err := maxArgs(c, 1); err != nil {
		return err
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return err
	}
	if target := c.Args().First(); target != "" {
		return checkTarget(c, df, target)
	}
	if c.Bool("json") {
		return json.NewEncoder(c.App.Writer).Encode(map[string]any{
			"event": "check", "file": df.File, "ok": true,
			"groups": len(df.GroupOrder), "hosts": len(df.Hosts()), "tasks": len(df.TaskOrder)})
	}
	st := style(c)
	_, err = fmt.Fprintf(c.App.Writer, "%s %s: %s\n", st.Green("ok"), df.File, df.Summary())
	return err
}

// checkTarget connects to every host of target and reports on each.
func checkTarget(c *cli.Context, df *config.Deployfile, target string) error {
	hosts, conns, err := connectTarget(c, df, target)
	if err != nil {
		return err
	}
	defer conns.Close()
	checks := deploy.CheckHosts(c.Context, df, conns, hosts, 100)
	if err := ui.WriteHostChecks(c.App.Writer, style(c), checks, c.Bool("json")); err != nil {
		return err
	}
	for _, ch := range checks {
		if !ch.OK() {
			return exitStatus(exitFailed)
		}
	}
	return nil
}

func cmdInit(c *cli.Context) error {
	if err := maxArgs(c, 0); err != nil {
		return err
	}
	path := c.String("file")
	if err := config.Init(c.Context, path); err != nil {
		if errors.Is(err, config.ErrExists) {
			return usageError{err.Error()}
		}
		return fmt.Errorf("init: %w", err)
	}
	st := style(c)
	_, err := fmt.Fprintf(c.App.Writer, "%s %s\nNext: edit the hosts, then `deploy check` and `deploy tasks`.\n", st.Green("wrote"), path)
	return err
}

func cmdHelp(c *cli.Context) error {
	if err := maxArgs(c, 1); err != nil {
		return err
	}
	name := c.Args().First()
	if name == "" {
		return cli.ShowAppHelp(c)
	}
	if c.App.Command(name) == nil {
		return usagef("help: no command %q", name)
	}
	return cli.ShowCommandHelp(c.Lineage()[1], name)
}

func cmdVersion(c *cli.Context) error {
	v := version
	if v == "" {
		v = "(devel)"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	_, err := fmt.Fprintf(c.App.Writer, "deploy %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// completeGroups offers the Deployfile's groups; it stays silent when the
// file does not load, as a completion must.
func completeGroups(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	df, err := loadDeployfile(c)
	if err != nil {
		return
	}
	for _, g := range df.GroupOrder {
		fmt.Fprintln(c.App.Writer, g)
	}
}

const bashCompletion = `# bash completion for deploy: source <(deploy completion bash)
_deploy_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  return 0
}
complete -o bashdefault -o default -F _deploy_complete deploy
`

func cmdCompletion(c *cli.Context) error {
	if err := maxArgs(c, 1); err != nil {
		return err
	}
	switch shell := c.Args().First(); shell {
	case "bash":
		_, err := io.WriteString(c.App.Writer, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(c.App.Writer, "# zsh completion for deploy: source <(deploy completion zsh)\n"+
			"autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+bashCompletion)
		return err
	case "fish":
		script, err := c.App.ToFishCompletion()
		if err != nil {
			return err
		}
		_, err = io.WriteString(c.App.Writer, script)
		return err
	default:
		return usagef("completion: name a shell: bash, zsh or fish")
	}
}
