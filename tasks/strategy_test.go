package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// centralRepo makes a bare repository with n commits of a tiny app and
// returns its path and the commits, oldest first.
func centralRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	work, bare := filepath.Join(dir, "work"), filepath.Join(dir, "central.git")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	os.MkdirAll(work, 0o755)
	git("init", "--quiet", "-b", "main")
	var commits []string
	for i := range n {
		os.WriteFile(filepath.Join(work, "app.txt"), []byte{byte('a' + i), '\n'}, 0o644)
		git("add", ".")
		git("commit", "--quiet", "-m", "commit")
		commits = append(commits, git("rev-parse", "HEAD"))
	}
	git("clone", "--quiet", "--bare", work, bare)
	return bare, commits
}

// hostileRoot is a deploy root whose name a shell would misread.
func hostileRoot(t *testing.T) string {
	return filepath.Join(t.TempDir(), `it's "$(touch pwned)" `+"`x`")
}

func newEnv(t *testing.T, root, repo string, conn remote.Conn) *Env {
	app := &App{Repo: repo, Path: root, Strategy: "releases", Shared: []string{"media/"}}
	var out bytes.Buffer
	return &Env{Conn: conn, Host: "h", State: NewRunState("run-1"), Stdout: &out, Stderr: &out, App: app, Strategy: NewStrategy(app)}
}

// The release state machine, transition by transition, on real files:
// each transition is one command, and what Read finds afterwards is what
// the transition recorded. It runs under this machine's sh, and under
// dash and busybox with nothing but busybox's utilities, as on a minimal
// host.
func TestReleasesStateMachine(t *testing.T) {
	hosts := []sshtest.ShellHost{{Name: "sh", Conn: remote.Local{}}}
	hosts = append(hosts, sshtest.POSIXShells(t)...)
	for _, h := range hosts {
		t.Run(h.Name, func(t *testing.T) { testReleasesStateMachine(t, h.Conn) })
	}
}

func testReleasesStateMachine(t *testing.T, host remote.Conn) {
	repo, commits := centralRepo(t, 2)
	root := hostileRoot(t)
	rec := &sshtest.Recorder{Next: host}
	env := newEnv(t, root, repo, rec)
	s := env.Strategy
	ctx := context.Background()
	oneCommand := func(what string, f func() error) {
		t.Helper()
		rec.Reset()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := len(rec.Commands()); n != 1 {
			t.Errorf("%s took %d commands, want 1", what, n)
		}
	}
	read := func() *HostState {
		t.Helper()
		st, err := s.Read(ctx, host)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	if st := read(); st.Current != "" || st.Record.Phase != "" || len(st.Releases) != 0 {
		t.Fatalf("fresh host: %+v", st)
	}
	var r1, r2 Release
	oneCommand("prepare", func() (err error) { r1, err = s.Prepare(ctx, env, commits[0]); return })
	if got, _ := os.ReadFile(filepath.Join(root, "releases", r1.Name, "REVISION")); strings.TrimSpace(string(got)) != commits[0] {
		t.Errorf("REVISION of %s: %q", r1.Name, got)
	}
	if l, err := os.Readlink(filepath.Join(root, "releases", r1.Name, "media")); err != nil || l != root+"/shared/media" {
		t.Errorf("shared media link: %q %v", l, err)
	}
	st := read()
	if st.Current != "" || len(st.Releases) != 1 || st.History[len(st.History)-1].Phase != PhasePrepared {
		t.Errorf("after prepare, nothing is in use and the log says prepared: %+v", st)
	}

	oneCommand("switch", func() error {
		return s.Switch(ctx, rec, Record{Release: r1.Name, Commit: commits[0], Run: "run-1"})
	})
	st = read()
	if st.Current != r1.Name || st.CurrentCommit != commits[0] || st.Record.Phase != PhaseSwitched || !st.Consistent() {
		t.Errorf("after switch: %+v", st)
	}
	env.Release = st
	oneCommand("reload", func() error { return applyStep(ctx, env, "touch reloaded", PhaseReloaded) })
	oneCommand("health", func() error { return applyStep(ctx, env, "true", PhaseHealthy) })
	if st = read(); !st.Serves(commits[0], PhaseHealthy) {
		t.Errorf("after the health check: %s", st)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", r1.Name, "reloaded")); err != nil {
		t.Error("the reload did not run in the release in use")
	}

	// The second release fails its health check.
	env.State = NewRunState("run-2")
	oneCommand("prepare 2", func() (err error) { r2, err = s.Prepare(ctx, env, commits[1]); return })
	oneCommand("switch 2", func() error {
		return s.Switch(ctx, rec, Record{Release: r2.Name, Commit: commits[1], Run: "run-2"})
	})
	env.Release = read()
	if env.Release.Record.Previous != r1.Name {
		t.Errorf("switch 2 recorded previous %q, want %s", env.Release.Record.Previous, r1.Name)
	}
	err := applyStep(ctx, env, "echo broken >&2; exit 3", PhaseHealthy)
	var exit *remote.ExitError
	if !errors.As(err, &exit) || exit.Status != 3 {
		t.Fatalf("failing health check: %v", err)
	}
	st = read()
	if st.Record.Phase != PhaseFailed || st.Record.Error != "exit status 3" || st.Current != r2.Name {
		t.Errorf("after the failed check: %+v", st.Record)
	}
	if env.Release.Record.Phase != PhaseFailed {
		t.Errorf("the in-memory state did not follow: %s", env.Release.Record.Phase)
	}

	// Roll back: to the last healthy release, recorded as a rollback.
	target, err := RollbackTarget(st, "")
	if err != nil || target.Name != r1.Name {
		t.Fatalf("rollback target: %+v %v", target, err)
	}
	oneCommand("rollback", func() error {
		return s.Switch(ctx, rec, Record{Release: r1.Name, Commit: r1.SHA, RollbackOf: r2.Name, Run: "run-2"})
	})
	st = read()
	if st.Current != r1.Name || st.Record.RollbackOf != r2.Name || st.Record.Previous != r2.Name {
		t.Errorf("after rollback: %+v", st.Record)
	}
	if _, ok := st.LastGood(); ok {
		t.Errorf("the rolled-back release is still a rollback target: %+v", st.History)
	}

	// A second prepare of the same commit reuses the whole release.
	os.WriteFile(filepath.Join(root, "releases", r2.Name, "marker"), nil, 0o644)
	again, err := s.Prepare(ctx, env, commits[1])
	if err != nil || again.Name != r2.Name {
		t.Errorf("prepare again: %+v %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", r2.Name, "marker")); err != nil {
		t.Error("the release was rebuilt, not reused")
	}
	// A half-built one (no REVISION) is not.
	half := filepath.Join(root, "releases", "20200101T000000Z-"+commits[1][:7])
	os.MkdirAll(half, 0o755)
	if again, _ := s.Prepare(ctx, env, commits[1]); again.Name == filepath.Base(half) {
		t.Error("a release without REVISION was reused")
	}

	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "pwned")); err == nil {
		t.Fatal("the deploy root's name ran as a command")
	}
}

// Prune keeps the release in use and the rollback target, whatever keep.
func TestPruneKeepsCurrentAndRollbackTarget(t *testing.T) {
	repo, commits := centralRepo(t, 3)
	root := t.TempDir()
	env := newEnv(t, root, repo, remote.Local{})
	s, ctx := env.Strategy, context.Background()
	var names []string
	for i, c := range commits {
		env.State = &RunState{id: "run", stamp: fmt.Sprintf("2026010%dT000000Z", i+1)}
		r, err := s.Prepare(ctx, env, c)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, r.Name)
		phase := PhaseHealthy
		if i == 1 {
			phase = PhaseFailed
		}
		if err := s.Switch(ctx, env.Conn, Record{Release: r.Name, Commit: c, Phase: phase}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Read(ctx, env.Conn)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := s.Prune(ctx, env.Conn, st, 1)
	if err != nil {
		t.Fatal(err)
	}
	// names[0] is the last healthy one before current; names[1] failed,
	// but it is the one before current: both kept.
	if len(removed) != 0 {
		t.Errorf("removed %v, want nothing", removed)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, "releases", n)); err != nil {
			t.Errorf("%s is gone", n)
		}
	}
}

func TestInPlaceStateMachine(t *testing.T) {
	repo, commits := centralRepo(t, 2)
	root := t.TempDir()
	env := newEnv(t, root, repo, remote.Local{})
	env.App.Strategy = "inplace"
	env.Strategy = NewStrategy(env.App)
	s, ctx := env.Strategy, context.Background()
	var out bytes.Buffer
	env.Stderr = &out
	defer func() {
		if t.Failed() {
			t.Log(out.String())
		}
	}()
	for i, c := range commits {
		r, err := s.Prepare(ctx, env, c)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Current {
			t.Fatalf("an in-place prepare left %s not in use", r.Name)
		}
		if got, _ := os.ReadFile(filepath.Join(root, "app.txt")); got[0] != byte('a'+i) {
			t.Errorf("work tree at %d: %q", i, got)
		}
		env.Release, err = s.Read(ctx, env.Conn)
		if err != nil {
			t.Fatal(err)
		}
		if err := applyStep(ctx, env, "true", PhaseHealthy); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Read(ctx, env.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Serves(commits[1], PhaseHealthy) || st.Record.Previous != commits[0] {
		t.Fatalf("after two deploys: %s %+v", st, st.Record)
	}
	target, err := RollbackTarget(st, "")
	if err != nil || target.Name != commits[0] {
		t.Fatalf("rollback target: %+v %v", target, err)
	}
	if err := s.Switch(ctx, env.Conn, Record{Release: target.Name, Commit: target.SHA, RollbackOf: st.Current}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "app.txt")); got[0] != 'a' {
		t.Errorf("work tree after rollback: %q", got)
	}
}

// On a host whose mv has neither -T (GNU, busybox) nor -h (BSD), the
// switch still replaces `current` by rename, never moving the new link
// into the directory `current` points at.
func TestRenameOverWithoutMvT(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"sh", "ln", "rm", "readlink", "mkdir", "perl", "python3"} {
		if p, err := exec.LookPath(tool); err == nil {
			os.Symlink(p, filepath.Join(bin, tool))
		}
	}
	realMv, _ := exec.LookPath("mv")
	os.WriteFile(filepath.Join(bin, "mv"), []byte("#!/bin/sh\ncase \"$1\" in -T|-h) echo \"mv: illegal option -- ${1#-}\" >&2; exit 64;; esac\nexec "+realMv+" \"$@\"\n"), 0o755)
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "current"))
	script := "next=" + q(dir+"/next") + "\ndest=" + q(dir+"/current") + "\nln -s " + q(dir+"/b") + " \"$next\"\n" + renameOver
	if err := (remote.Local{Path: bin}).Run(context.Background(), &remote.Cmd{Script: script}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(filepath.Join(dir, "current")); got != filepath.Join(dir, "b") {
		t.Errorf("current → %q, want b", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a", "next")); err == nil {
		t.Error("the link was moved into the old release")
	}
}

// Values from the Deployfile in a build — its output path, inputs and
// command — are data to the shell, never code.
func TestBuildScriptHostileValues(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	os.MkdirAll(release, 0o755)
	hostile := `x"; touch pwned1; echo "$(touch pwned2)` + "`touch pwned3`"
	b := Build{Run: "echo built > \"$DEPLOY_OUTPUT/out\"", Inputs: []string{hostile}, Output: "deps/" + hostile}
	var out bytes.Buffer
	script := "cd " + q(release) + "\n" + buildScript(dir, b)
	if err := (remote.Local{}).Run(context.Background(), &remote.Cmd{Script: script, Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, f := range []string{"pwned1", "pwned2", "pwned3"} {
		if _, err := os.Stat(filepath.Join(release, f)); err == nil {
			t.Errorf("%s: a value ran as a command", f)
		}
	}
	if got, err := os.ReadFile(filepath.Join(release, "deps", hostile, "out")); err != nil || string(got) != "built\n" {
		t.Errorf("the build's output is not linked where it was asked: %q %v\n%s", got, err, out.String())
	}
	if _, err := (releases{app: &App{Path: dir, Repo: "r"}}).Prepare(context.Background(), &Env{State: NewRunState("r")}, "abc; touch pwned"); err == nil {
		t.Error("a commit that is not hex was taken")
	}
}

func TestBuildOutputInsideTheRelease(t *testing.T) {
	for _, tt := range []struct {
		out string
		ok  bool
	}{{"venv", true}, {"static/build", true}, {"a/../b", true}, {"../x", false}, {"..", false}, {"/etc", false}, {"", false}, {".", false}, {"a/../../x", false}} {
		if err := checkBuildOutput(tt.out); (err == nil) != tt.ok {
			t.Errorf("%q: %v, want ok=%v", tt.out, err, tt.ok)
		}
	}
}
