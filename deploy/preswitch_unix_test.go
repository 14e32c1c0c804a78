//go:build unix

package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// fakePull makes a release directory, as pull does, without git.
type fakePull struct{}

func (fakePull) PreparesRelease() {}

func (fakePull) Check(context.Context, *tasks.Env) (tasks.Verdict, error) {
	return tasks.Verdict{}, nil
}

func (fakePull) Run(ctx context.Context, env *tasks.Env, _ tasks.Verdict) error {
	name := env.State.Stamp() + "-abcdef1"
	if err := os.MkdirAll(env.Strategy.ReleaseDir(name), 0o755); err != nil {
		return err
	}
	env.Release.Prepared = name
	return nil
}

// fakeTry is a step after the switch whose pre-switch check fails on
// web2, or waits for the run to be interrupted (block), and which records
// that it ran after the switch.
type fakeTry struct {
	block   bool
	waiting chan string // a host's check has started
}

func (fakeTry) AfterSwitch() {}

func (fakeTry) Check(context.Context, *tasks.Env) (tasks.Verdict, error) { return tasks.Verdict{}, nil }

func (fakeTry) Run(ctx context.Context, env *tasks.Env, _ tasks.Verdict) error {
	return os.WriteFile(filepath.Join(env.App.Path, "reloaded"), nil, 0o644)
}

func (f fakeTry) PreSwitch(ctx context.Context, env *tasks.Env, dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("the check did not get the new release: %w", err)
	}
	if f.block {
		f.waiting <- env.Host
		<-ctx.Done()
		return ctx.Err()
	}
	if env.Host == "web2" {
		return errors.New("ImportError: no module named mysite")
	}
	return nil
}

type localConns struct{}

func (localConns) Conn(context.Context, *config.Host) (remote.Conn, error) {
	return remote.Local{}, nil
}

// preSwitchRun deploys to web1 and web2 (deploy roots under root), each
// serving release "old", with the given pre-switch step.
func preSwitchRun(t *testing.T, ctx context.Context, try fakeTry) (*RunResult, string) {
	t.Helper()
	root := t.TempDir()
	for _, h := range []string{"web1", "web2"} {
		os.MkdirAll(filepath.Join(root, h, "releases", "old"), 0o755)
		os.Symlink("releases/old", filepath.Join(root, h, "current"))
	}
	df, err := config.Parse("Deployfile", []byte(fmt.Sprintf(`[app]
path = "%s/{{host}}"
[hosts]
web = ["web1", "web2"]
[tasks.deploy]
steps = [{ builtin = "pull" }, { builtin = "reload", with = { method = "gunicorn", wsgi = "mysite.wsgi" } }]
`, root)), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := df.Resolve("web")
	r := &Runner{DF: df, Conns: localConns{}, Printer: &collect{}, Builtins: tasks.Registry{"pull": fakePull{}, "reload": try}}
	r.State = tasks.NewRunState("run1")
	r.State.SetSHA("abcdef1234567890abcdef1234567890abcdef12")
	res, err := r.Run(ctx, "deploy", hosts)
	if err != nil {
		t.Fatal(err)
	}
	return res, root
}

// A release that fails its pre-switch check on one host goes live on
// none: the switch fails there, the other host is not switched, and the
// step after the switch never runs.
func TestPreSwitchFailureSwitchesNoHost(t *testing.T) {
	res, root := preSwitchRun(t, context.Background(), fakeTry{})
	if res.Failure == nil || res.Failure.Host != "web2" || res.Steps[res.Failure.Step] != "switch current" {
		t.Fatalf("failure %+v, want the switch on web2", res.Failure)
	}
	for _, sr := range res.Results {
		if sr.Host == "web1" && res.Steps[sr.Step] == "switch current" && sr.Outcome != NotReached {
			t.Errorf("web1's switch: %s (%s), want not reached", sr.Outcome, sr.Reason)
		}
	}
	for _, h := range []string{"web1", "web2"} {
		if cur, _ := os.Readlink(filepath.Join(root, h, "current")); cur != "releases/old" {
			t.Errorf("%s: current is %s, want releases/old", h, cur)
		}
		if _, err := os.Stat(filepath.Join(root, h, "reloaded")); err == nil {
			t.Errorf("%s: the step after the switch ran", h)
		}
	}
}

// Ctrl-C while the hosts try their release: nothing switches, and the
// hosts are interrupted, not failed.
func TestPreSwitchInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	try := fakeTry{block: true, waiting: make(chan string, 2)}
	go func() {
		<-try.waiting
		<-try.waiting
		cancel()
	}()
	res, root := preSwitchRun(t, ctx, try)
	if !res.Interrupted {
		t.Error("the run is not marked interrupted")
	}
	for _, sr := range res.Results {
		if res.Steps[sr.Step] == "switch current" && sr.Outcome != Interrupted {
			t.Errorf("%s's switch: %s (%s), want interrupted", sr.Host, sr.Outcome, sr.Reason)
		}
	}
	for _, h := range []string{"web1", "web2"} {
		if cur, _ := os.Readlink(filepath.Join(root, h, "current")); cur != "releases/old" {
			t.Errorf("%s: current is %s, want releases/old", h, cur)
		}
	}
}
