package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// onLaptop is what the steps on this machine learn in Check and use in
// Run: the repository, checked out on the right branch, and the hash of
// its work tree, which cannot change in between.
type onLaptop struct {
	repo       *Repo
	tree       string
	remoteHead *plumbing.Hash // push: the branch on the central repository
}

// laptopOf is what Check found, or a fresh start when Run is called alone.
func laptopOf(found Verdict) *onLaptop {
	if f, ok := found.Found.(*onLaptop); ok {
		return f
	}
	return &onLaptop{}
}

// repoFor opens the laptop's repository and checks the branch: a detached
// HEAD or another branch than the one deployed is refused.
func repoFor(env *Env, f *onLaptop) (*Repo, error) {
	if env.Laptop == nil {
		return nil, errors.New("this step runs on this machine only")
	}
	if f.repo != nil {
		return f.repo, nil
	}
	repo, err := OpenRepo(env.Laptop.Dir)
	if err != nil {
		return nil, err
	}
	branch, err := repo.Branch()
	if err != nil {
		return nil, err
	}
	if want := env.Laptop.Branch; want != "" && branch != want {
		return nil, fmt.Errorf("the branch checked out is %s, and %s is deployed: check out %s, or pass --branch %s", branch, want, want, branch)
	}
	f.repo = repo
	return repo, nil
}

// treeOf hashes the work tree once per step: Check and Run share it.
func treeOf(f *onLaptop) (string, error) {
	if f.tree == "" {
		tree, err := f.repo.TreeID()
		if err != nil {
			return "", err
		}
		f.tree = tree
	}
	return f.tree, nil
}

// testStep runs the Deployfile's test task, once per tree.
type testStep struct{}

func (testStep) Local() {}

// BeforeLock: the tests read the work tree and change nothing the hosts
// see, so they run while the locks are taken.
func (testStep) BeforeLock() {}

func (testStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	f := &onLaptop{}
	repo, err := repoFor(env, f)
	if err != nil {
		return Verdict{}, err
	}
	tree, err := treeOf(f)
	if err != nil {
		return Verdict{}, err
	}
	ok, reason := repo.TestedTree(tree, env.Laptop.Retest)
	if ok {
		env.State.SetTested(tree)
	}
	return Verdict{Done: ok, Reason: reason, Found: f}, nil
}

// TestedTree says whether the tests of tree passed before (and when);
// retest says to ignore that.
func (r *Repo) TestedTree(tree string, retest bool) (done bool, reason string) {
	if at, ok := r.TestsPassed(tree); ok && !retest {
		return true, fmt.Sprintf("tests passed for tree %s at %s", tree[:7], at.Local().Format("2006-01-02 15:04:05"))
	}
	return false, ""
}

func (testStep) Run(ctx context.Context, env *Env, found Verdict) error {
	f := laptopOf(found)
	repo, err := repoFor(env, f)
	if err != nil {
		return err
	}
	tree, err := treeOf(f)
	if err != nil {
		return err
	}
	task := "test"
	if t, ok := env.With["task"].(string); ok && t != "" {
		task = t
	}
	if err := env.Laptop.RunTask(ctx, task); err != nil {
		return fmt.Errorf("tests failed: %w", err)
	}
	env.State.SetTested(tree)
	return repo.RecordTestsPassed(tree, time.Now())
}

// commitStep commits the changes of tracked files, and the untracked ones
// with --add-untracked or with.add_untracked. A run whose tests would see
// untracked files it does not take is refused before it starts
// (Laptop.Refusals).
type commitStep struct{}

func (commitStep) Local() {}

func addUntracked(env *Env) bool {
	return env.Laptop != nil && env.Laptop.addsUntracked(env.With)
}

func (commitStep) Commits() {}

func (commitStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	f := &onLaptop{}
	repo, err := repoFor(env, f)
	if err != nil {
		return Verdict{}, err
	}
	tracked, untracked, err := repo.Changes()
	if err != nil {
		return Verdict{}, err
	}
	if len(tracked) == 0 && (len(untracked) == 0 || !addUntracked(env)) {
		return done("the work tree is clean"), nil
	}
	return Verdict{Found: f}, nil
}

func (commitStep) Run(ctx context.Context, env *Env, found Verdict) error {
	repo, err := repoFor(env, laptopOf(found))
	if err != nil {
		return err
	}
	tracked, untracked, err := repo.Changes()
	if err != nil {
		return err
	}
	add := addUntracked(env)
	if tested := env.State.Tested(); tested != "" {
		// What is committed must be what was tested: a file changed (or
		// made, and to be taken) while the tests ran is not.
		now, err := repo.treeID(add)
		if err != nil {
			return err
		}
		if now != tested {
			return fmt.Errorf("the work tree changed while the tests ran (tree %s tested, %s now): nothing committed; run again", tested[:7], now[:7])
		}
	}
	if len(tracked) > 0 {
		fmt.Fprintf(env.Stdout, "changed: %s\n", strings.Join(tracked, ", "))
	}
	if len(untracked) > 0 {
		if add {
			fmt.Fprintf(env.Stdout, "untracked, added: %s\n", strings.Join(untracked, ", "))
		} else {
			fmt.Fprintf(env.Stdout, "not committed (untracked; --add-untracked or with.add_untracked = true takes them): %s\n", strings.Join(untracked, ", "))
		}
	}
	msg := env.Laptop.Message
	if msg == "" {
		if env.Laptop.Ask == nil {
			return errors.New("the work tree has changes and there is no commit message: pass -m \"…\", or commit yourself")
		}
		if msg, err = env.Laptop.Ask("Commit message: "); err != nil {
			return err
		}
		if strings.TrimSpace(msg) == "" {
			return errors.New("empty commit message: nothing committed")
		}
	}
	h, err := repo.Commit(msg, add)
	if err != nil {
		return err
	}
	env.State.SetSHA(h.String())
	fmt.Fprintf(env.Stdout, "committed %s %s\n", h.String()[:7], firstLineOf(msg))
	return nil
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// pushStep pushes the branch to the central repository and records the
// commit pushed as the one to deploy.
type pushStep struct{}

func (pushStep) Local() {}

func (pushStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	if env.State.WouldCommit() {
		return Verdict{}, nil // a plan: the commit it pushes is not made yet
	}
	f := &onLaptop{}
	repo, err := repoFor(env, f)
	if err != nil {
		return Verdict{}, err
	}
	branch, _ := repo.Branch()
	local, err := repo.Head()
	if err != nil {
		return Verdict{}, err
	}
	remote, err := repo.RemoteHead(ctx, env.Laptop.Remote, branch, env.Laptop.Auth)
	if err != nil {
		return Verdict{}, err
	}
	f.remoteHead = &remote
	if remote == local {
		env.State.SetSHA(local.String())
		return done(fmt.Sprintf("%s/%s is at %s already", env.Laptop.Remote, branch, local.String()[:7])), nil
	}
	return Verdict{Found: f}, nil
}

func (pushStep) Run(ctx context.Context, env *Env, found Verdict) error {
	f := laptopOf(found)
	repo, err := repoFor(env, f)
	if err != nil {
		return err
	}
	branch, _ := repo.Branch()
	var res PushResult
	if f.remoteHead != nil {
		res, err = repo.PushOver(ctx, env.Laptop.Remote, branch, *f.remoteHead, env.Laptop.Auth)
	} else {
		res, err = repo.Push(ctx, env.Laptop.Remote, branch, env.Laptop.Auth)
	}
	if err != nil {
		return err
	}
	env.State.SetSHA(res.SHA.String())
	if res.Already {
		return &AlreadyDone{Reason: fmt.Sprintf("%s/%s is at %s already", env.Laptop.Remote, branch, res.SHA.String()[:7])}
	}
	fmt.Fprintf(env.Stdout, "pushed %s to %s/%s\n", res.SHA.String()[:7], env.Laptop.Remote, branch)
	return nil
}

// AlreadyDone is a step that found, while running, that it had nothing to
// do; the engine reports it as skipped, with the reason.
type AlreadyDone struct{ Reason string }

func (e *AlreadyDone) Error() string { return "already done: " + e.Reason }
