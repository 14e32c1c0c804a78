package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/tasks"
)

// HookOptions are `deploy hook install|uninstall|pre-push`.
type HookOptions struct {
	*Session
	Task  string // install, pre-push: the task to run before a push
	Force bool   // install: write deploy's hook again over an older one
	// PushedRefs is what git tells the pre-push hook on stdin.
	PushedRefs io.Reader
}

// NewCmdHook is `deploy hook`, with its subcommands.
func NewCmdHook(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "hook",
		Usage: "install or remove the git pre-push hook that runs the test task",
		Subcommands: []*cli.Command{
			NewCmdHookInstall(f, nil),
			NewCmdHookUninstall(f, nil),
			NewCmdHookPrePush(f, nil),
		},
	}
}

// hookAction fills HookOptions from c and calls runF.
func hookAction(f *Factory, runF func(context.Context, *HookOptions) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		return runF(c.Context, &HookOptions{Session: f.Session(c), Task: c.String("task"), Force: c.Bool("force"), PushedRefs: f.IO.In})
	}
}

// NewCmdHookInstall is `deploy hook install`.
func NewCmdHookInstall(f *Factory, runF func(context.Context, *HookOptions) error) *cli.Command {
	if runF == nil {
		runF = hookInstallRun
	}
	return &cli.Command{
		Name:  "install",
		Usage: "write .git/hooks/pre-push (or core.hooksPath), keeping and chaining a hook already there",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "task", Value: "test", Usage: "the `TASK` to run before a push"},
			&cli.BoolFlag{Name: "force", Usage: "write deploy's hook again over an older one"},
		},
		Action:       hookAction(f, runF),
		OnUsageError: usageErr,
	}
}

// NewCmdHookUninstall is `deploy hook uninstall`.
func NewCmdHookUninstall(f *Factory, runF func(context.Context, *HookOptions) error) *cli.Command {
	if runF == nil {
		runF = hookUninstallRun
	}
	return &cli.Command{
		Name:         "uninstall",
		Usage:        "remove deploy's pre-push hook and restore the one it chained",
		Action:       hookAction(f, runF),
		OnUsageError: usageErr,
	}
}

// NewCmdHookPrePush is `deploy hook pre-push REMOTE URL`, what the hook runs.
func NewCmdHookPrePush(f *Factory, runF func(context.Context, *HookOptions) error) *cli.Command {
	if runF == nil {
		runF = hookPrePushRun
	}
	return &cli.Command{
		Name:      "pre-push",
		Usage:     "what the hook runs: the task, unless git only deletes refs or the tree already passed",
		ArgsUsage: "REMOTE URL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "task", Value: "test", Usage: "the `TASK` to run"},
			&cli.BoolFlag{Name: "retest", Usage: "run the task even if this exact tree passed before"},
		},
		// --retest, the command's own flag here, is read as the global
		// one is: Session's c.Bool("retest") finds it first.
		Action:       hookAction(f, runF),
		OnUsageError: usageErr,
	}
}

// repo opens the git repository the Deployfile lives in.
func (o *HookOptions) repo() (*tasks.Repo, error) {
	abs, err := filepath.Abs(o.File)
	if err != nil {
		return nil, err
	}
	repo, err := tasks.OpenRepo(filepath.Dir(abs))
	if err != nil {
		return nil, usageError{msg: err.Error()}
	}
	return repo, nil
}

func hookInstallRun(_ context.Context, opts *HookOptions) error {
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if _, ok := df.Tasks[opts.Task]; !ok {
		return usagef("hook install: no task %q in %s (tasks: %s)", opts.Task, df.File, strings.Join(df.TaskOrder, ", "))
	}
	repo, err := opts.repo()
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		bin = "deploy"
	}
	file := ""
	if opts.FileSet {
		if file, err = filepath.Abs(opts.File); err != nil {
			return err
		}
	}
	hook, chained, err := repo.InstallHook(tasks.HookOptions{Binary: bin, Deployfile: file, Task: opts.Task, Force: opts.Force})
	if err != nil {
		return usageError{msg: err.Error()}
	}
	out := opts.IO.Out
	fmt.Fprintf(out, "%s %s: every git push runs the task %s first\n", opts.Style().Green("installed"), hook, opts.Task)
	if chained != "" {
		fmt.Fprintf(out, "the hook that was there is kept as %s and runs first; deploy hook uninstall puts it back\n", chained)
	}
	return nil
}

func hookUninstallRun(_ context.Context, opts *HookOptions) error {
	repo, err := opts.repo()
	if err != nil {
		return err
	}
	restored, err := repo.UninstallHook()
	if err != nil {
		return usageError{msg: err.Error()}
	}
	if restored != "" {
		fmt.Fprintf(opts.IO.Out, "removed deploy's pre-push hook; restored the previous one at %s\n", restored)
	} else {
		fmt.Fprintln(opts.IO.Out, "removed deploy's pre-push hook")
	}
	return nil
}

// hookPrePushRun runs the test task before a push, here on this machine.
// Deleting refs needs no tests; a tree whose tests passed before is not
// tested again (--retest to insist).
func hookPrePushRun(ctx context.Context, opts *HookOptions) error {
	refs, err := tasks.ReadPushedRefs(opts.PushedRefs)
	if err != nil {
		return usageError{msg: err.Error()}
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
	df, err := opts.Deployfile()
	if err != nil {
		return err
	}
	if _, ok := df.Tasks[opts.Task]; !ok {
		return usagef("pre-push: no task %q in %s", opts.Task, df.File)
	}
	repo, err := opts.repo()
	if err != nil {
		return err
	}
	tree, err := repo.TreeID()
	if err != nil {
		return err
	}
	errOut := opts.IO.ErrOut
	if done, reason := repo.TestedTree(tree, opts.Retest); done {
		fmt.Fprintf(errOut, "deploy: %s: %s\n", opts.Task, reason)
		return nil
	}
	conns, err := deploy.NewConnector(df, opts.sshSettings())
	if err != nil {
		return err
	}
	defer conns.Close()
	pr := ui.NewTextPrinter(errOut, errOut, opts.ErrStyle(), []string{config.LocalHost})
	if err := opts.runHere(df, conns, pr)(ctx, opts.Task); err != nil {
		fmt.Fprintf(errOut, "deploy: %v: push blocked\n", err)
		return exitStatus(exitFailed)
	}
	if err := repo.RecordTestsPassed(tree, time.Now()); err != nil {
		fmt.Fprintf(errOut, "deploy: could not remember the passing tree: %v\n", err)
	}
	return nil
}
