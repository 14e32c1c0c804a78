package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// parse runs the command line args through an app of global flags and
// the one command cmd, as newApp would, so that its constructor fills
// its options; the command's runF keeps them.
func parse(t *testing.T, cmd *cli.Command, args string) {
	t.Helper()
	ios, _, stderr, _ := testIO("")
	app := &cli.App{Name: "deploy", Flags: globalFlags(), Commands: []*cli.Command{cmd},
		Writer: ios.Out, ErrWriter: ios.ErrOut, DisableSliceFlagSeparator: true, ExitErrHandler: func(*cli.Context, error) {}}
	if err := app.RunContext(context.Background(), reorderArgs(app, strings.Fields(args))); err != nil {
		t.Fatalf("%s: %v\n%s", args, err, stderr)
	}
}

// Flags go before or after the arguments; each lands in its command's
// options.
func TestCommandsFillOptions(t *testing.T) {
	f := &Factory{IO: newIOStreams(strings.NewReader(""), nil, nil)}
	var exec *ExecOptions
	parse(t, NewCmdExec(f, func(_ context.Context, o *ExecOptions) error { exec = o; return nil }),
		"deploy exec web --sudo-user www -p 3 --json -- ls -l")
	if exec.Target != "web" || !slices.Equal(exec.Command, []string{"ls", "-l"}) || exec.Parallel != 3 ||
		!exec.Sudo || exec.SudoUser != "www" || !exec.JSON {
		t.Errorf("exec options: %+v", exec)
	}

	var run *RunOptions
	parse(t, NewCmdRun(f, func(_ context.Context, o *RunOptions) error { run = o; return nil }),
		"deploy run prod release --lock-wait 30s -m fix -f x.toml --var a=b,c --branch hotfix")
	if run.Task != "release" || run.Target != "prod" || run.LockWait != 30*time.Second || run.Message != "fix" ||
		run.File != "x.toml" || !run.FileSet || !slices.Equal(run.Vars, []string{"a=b,c"}) || run.Branch != "hotfix" {
		t.Errorf("run options: %+v %+v", run, run.GlobalOptions)
	}

	var plan *PlanOptions
	parse(t, NewCmdPlan(f, func(_ context.Context, o *PlanOptions) error { plan = o; return nil }), "deploy plan web")
	if plan.Target != "web" || plan.Task != "" || plan.File != "Deployfile" || plan.FileSet {
		t.Errorf("plan options: %+v", plan)
	}

	var rb *RollbackOptions
	parse(t, NewCmdRollback(f, func(_ context.Context, o *RollbackOptions) error { rb = o; return nil }), "deploy rollback prod --to abc1234 -y")
	if rb.Target != "prod" || rb.To != "abc1234" || !rb.Yes {
		t.Errorf("rollback options: %+v", rb)
	}

	var hist *HistoryOptions
	parse(t, NewCmdHistory(f, func(_ context.Context, o *HistoryOptions) error { hist = o; return nil }), "deploy history web -n 5")
	if hist.Target != "web" || hist.N != 5 {
		t.Errorf("history options: %+v", hist)
	}

	var hook *HookOptions
	keep := func(_ context.Context, o *HookOptions) error { hook = o; return nil }
	parse(t, &cli.Command{Name: "hook", Subcommands: []*cli.Command{NewCmdHookInstall(f, keep)}},
		"deploy hook install --task check --force")
	if hook.Task != "check" || !hook.Force || hook.Retest {
		t.Errorf("install options: %+v", hook)
	}
	parse(t, &cli.Command{Name: "hook", Subcommands: []*cli.Command{NewCmdHookPrePush(f, keep)}},
		"deploy hook pre-push origin git@x:y --task lint --retest")
	if hook.Task != "lint" || !hook.Retest || hook.PushedRefs != f.IO.In {
		t.Errorf("pre-push options: %+v", hook)
	}
}

// The run functions work from their options alone.
func TestRunFunctions(t *testing.T) {
	ios, out, _, _ := testIO("")
	s := &Session{IO: ios, GlobalOptions: GlobalOptions{File: example, NoColor: true}}
	tests := []struct {
		name    string
		run     func() error
		wantOut string
		wantErr string
	}{
		{"hosts", func() error { return hostsRun(context.Background(), &HostsOptions{Session: s, Group: "static"}) },
			"static  deploy@static1.example.com  deploy  static1.example.com", ""},
		{"hosts of no group", func() error { return hostsRun(context.Background(), &HostsOptions{Session: s, Group: "nope"}) },
			"", `"nope"`},
		{"check", func() error { return checkRun(context.Background(), &CheckOptions{Session: s}) },
			"ok deployfile.example.toml: 4 groups", ""},
		{"version", func() error { return versionRun(context.Background(), &VersionOptions{IO: ios, Version: "v1.2.3"}) },
			"deploy v1.2.3 go", ""},
		{"completion zsh", func() error { return completionRun(context.Background(), &CompletionOptions{IO: ios, Shell: "zsh"}) },
			"compdef _deploy deploy", ""},
		{"completion tcsh", func() error { return completionRun(context.Background(), &CompletionOptions{IO: ios, Shell: "tcsh"}) },
			"", "name a shell"},
		{"help of no command", func() error {
			return helpRun(context.Background(), &HelpOptions{Command: "nope", Exists: func(string) bool { return false }})
		}, "", `help: no command "nope"`},
		{"exec without a command", func() error { return execRun(context.Background(), &ExecOptions{Session: s, Target: "web"}) },
			"", "exec: no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			err := tt.run()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr != "" && !errors.As(err, new(usageError)) {
				t.Errorf("%v is not a usage error", err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
		})
	}
}

// Every deploy.Runner comes from Session.Runner, with the command line's
// settings; a task run adds this machine's side.
func TestSessionRunner(t *testing.T) {
	ios, _, _, _ := testIO("")
	s := &Session{IO: ios, GlobalOptions: GlobalOptions{File: example, LockWait: time.Minute, DryRun: true, Message: "m"}}
	df, err := s.Deployfile()
	if err != nil {
		t.Fatal(err)
	}
	target, err := s.Connect(df, "web")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	r := s.Runner(target, nil)
	if r.LockWait != time.Minute || !r.DryRun || r.Target != "web" || r.DF != df || r.Builtins == nil || r.Laptop != nil {
		t.Errorf("Runner: %+v", r)
	}
	tr := s.TaskRunner(target, s.Printer(target.Hosts))
	if tr.LockWait != time.Minute || tr.Laptop == nil || tr.Laptop.Message != "m" || tr.State == nil || tr.Laptop.Ask == nil {
		t.Errorf("TaskRunner: %+v, laptop %+v", tr, tr.Laptop)
	}
	if _, err := s.Connect(df, "nope"); !errors.As(err, new(usageError)) {
		t.Errorf("an unknown target: %v, want a usage error", err)
	}
}
