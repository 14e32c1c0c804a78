// Package tasks holds every kind of step behind one interface, Step: the
// built-ins a Deployfile names with `builtin = "…"` (test, commit, push,
// collectstatic, sync-static, pull, migrate, reload, healthcheck) and the
// run, local and upload steps (Command, Upload). Each knows how to tell
// whether it is already done, so a second run changes nothing. The
// release strategies (releases, inplace) and their state machine live
// here too, behind Strategy.
//
// It must never import the CLI (package main), the engine (deploy) nor
// the Deployfile (deploy/config): the engine calls it, through Registry
// and Strategy.
package tasks

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/deploy-tool/deploy/remote"
)

// Env is what a built-in step gets for one host.
type Env struct {
	Conn remote.Conn       // the host (remote.Local for local steps)
	Host string            // its name in the Deployfile
	Vars map[string]string // its variables, {{path}} among them
	// With is the step's `with` table, {{variables}} not yet filled in.
	With           map[string]any
	Stdout, Stderr io.Writer
	// CmdEnv is the step's env, for the commands the step runs.
	CmdEnv map[string]string
	// App is the [app] table, {{path}} filled in for this host.
	App *App
	// State is shared by the steps of one run.
	State *RunState
	// Strategy moves the host between releases; Release is the host's
	// release state, read when the run took its lock and kept current by
	// the run's own transitions. Both are nil for steps on this machine
	// and for hosts without a deploy root.
	Strategy Strategy
	Release  *HostState
	// Laptop is set for the steps that run on this machine.
	Laptop *Laptop
	// Verbose (-v): say more — sync-static lists each file it uploads.
	Verbose bool
}

// Laptop is what the steps that work on this machine's repository need.
type Laptop struct {
	Dir     string // where the Deployfile is; its git repository holds it
	Remote  string // [app] remote: where push goes
	Branch  string // [app] branch, or --branch
	Message string // -m: the commit message
	Retest  bool   // --retest: ignore the test cache
	// AddUntracked is --add-untracked: the commit step commits untracked
	// files git does not ignore, as with.add_untracked does.
	AddUntracked bool
	// RunTask runs a task of the Deployfile here (the test step runs
	// "test").
	RunTask func(ctx context.Context, name string) error
	// Ask asks a question on the terminal; nil when there is none.
	Ask func(prompt string) (string, error)
	// Auth authenticates git over SSH like deploy's own connections.
	Auth transport.AuthMethod
}

// RunState is what the steps of one run share: its id, the commit to
// deploy (push finds it, the release steps use it) and the stamp that
// names its releases. What each host's release is lives in that host's
// HostState.
type RunState struct {
	mu       sync.Mutex
	id       string
	sha      string
	stamp    string
	floor    time.Time // the stamp is later than this (StampAfter)
	migrated string    // the commit whose migrations the run applied or found applied
	// wouldCommit: in a plan, the commit step would make a new commit, so
	// what pushes and releases the commit would run too.
	wouldCommit bool
	// wouldCollect: in a plan, collectstatic would collect anew, so the
	// static files synced would be new too.
	wouldCollect bool
	tested       string // the work tree the test step ran (or found passed) on
}

// NewRunState is the state of the run with this id.
func NewRunState(id string) *RunState { return &RunState{id: id} }

// SetRunID names the run, when it was made before its id was known.
func (s *RunState) SetRunID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = id
}

// RunID is the id of the run, recorded with each transition.
func (s *RunState) RunID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// SetSHA records the commit being deployed: the one push pushed.
func (s *RunState) SetSHA(sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sha = sha
}

// SHA is the commit being deployed, once known.
func (s *RunState) SHA() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sha
}

// SetTested records the work tree (Repo.TreeID) the test step ran on, or
// found passed: the commit step commits that tree or nothing.
func (s *RunState) SetTested(tree string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tested = tree
}

// Tested is the work tree the tests ran on in this run; "" when none did.
func (s *RunState) Tested() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tested
}

// SetMigrated records that the migrations of commit are applied: the
// records of the hosts that go live on it say so (Record.Migrated).
func (s *RunState) SetMigrated(commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrated = commit
}

// SetWouldCommit says, in a plan, that the commit step would commit.
func (s *RunState) SetWouldCommit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wouldCommit = true
}

// WouldCommit reports whether, in a plan, the commit step would commit:
// the commit deployed would be a new one.
func (s *RunState) WouldCommit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wouldCommit
}

// SetWouldCollect says, in a plan, that collectstatic would collect.
func (s *RunState) SetWouldCollect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wouldCollect = true
}

// WouldCollect reports whether, in a plan, collectstatic would collect.
func (s *RunState) WouldCollect() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wouldCollect
}

// Collects marks the step that collects the static files: in a plan, the
// steps that sync them see new files coming.
type Collects interface {
	Step
	Collects()
}

// Commits marks the step that commits the work tree: in a plan, the
// steps after it see a new commit coming.
type Commits interface {
	Step
	Commits()
}

// Migrated reports whether the run applied, or found applied, the
// migrations of commit.
func (s *RunState) Migrated(commit string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return commit != "" && s.migrated == commit
}

// Stamp names this run's releases: the UTC time of the first call, the
// same on every host — or, when a host has a release of that second or
// later (a deploy a moment ago, a laptop whose clock is ahead), the
// second after the latest, so release names sort as the releases were
// made.
func (s *RunState) Stamp() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stamp == "" {
		t := time.Now().UTC().Truncate(time.Second)
		if !t.After(s.floor) {
			t = s.floor.Add(time.Second)
		}
		s.stamp = t.Format(stampLayout)
	}
	return s.stamp
}

// stampLayout is the time in a release's name.
const stampLayout = "20060102T150405Z"

// StampAfter notes the releases of a host, read before any is made: the
// run's stamp will be later than each.
func (s *RunState) StampAfter(releases []Release) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range releases {
		if t, err := r.Time(); err == nil && t.After(s.floor) {
			s.floor = t
		}
	}
}

// LocalStep is a built-in step that runs on this machine, once, whatever
// the target: test, commit, push, collectstatic.
type LocalStep interface {
	Step
	Local()
}

// BeforeLock is a local built-in step that changes nothing on the hosts
// nor in the repository they fetch from — the test suite — so a run may
// start it while it takes the hosts' locks.
type BeforeLock interface {
	LocalStep
	BeforeLock()
}

// Step is a step of a task, on one host (or on this machine): every step
// kind is one — the built-ins, and the run, local and upload steps.
type Step interface {
	// Check reports whether the step is done on the host already, and
	// why; deploy plan shows it, and the run skips the step. What it
	// found on the way is handed to Run, so Run does not do it again.
	Check(ctx context.Context, env *Env) (Verdict, error)
	// Run does the step, given what Check found.
	Run(ctx context.Context, env *Env, found Verdict) error
}

// Verdict is what a step's Check found.
type Verdict struct {
	Done   bool
	Reason string // why it is done
	// Found is what the check learnt that Run needs too (a hash of the
	// work tree, the files a host lacks); nil when nothing.
	Found any
}

// done is the verdict of a step found done, and why.
func done(reason string) Verdict { return Verdict{Done: true, Reason: reason} }

// Registry maps built-in names to steps.
type Registry map[string]Step

// Names are the built-in steps, in the order a deploy uses them.
func Names() []string {
	return []string{"test", "commit", "push", "collectstatic", "sync-static", "pull", "migrate", "reload", "healthcheck"}
}

// Builtins are the built-in steps, by name.
func Builtins() Registry {
	return Registry{
		"test":          testStep{},
		"commit":        commitStep{},
		"push":          pushStep{},
		"collectstatic": collectstaticStep{},
		"sync-static":   syncStaticStep{},
		"pull":          pullStep{},
		"migrate":       migrateStep{},
		"reload":        reloadStep{},
		"healthcheck":   healthcheckStep{},
	}
}

// WithKeys are the keys of a built-in step's `with` table; deploy check
// refuses any other.
func WithKeys(builtin string) []string {
	return map[string][]string{
		"test":          {"task"},
		"commit":        {"add_untracked"},
		"push":          nil,
		"collectstatic": {"python", "settings"},
		"sync-static":   {"dest", "python"},
		"pull":          nil,
		"migrate":       {"python", "settings", "always"},
		"reload":        {"method", "path", "pid_file", "unit", "command", "always", "wsgi", "bind", "workers", "python"},
		"healthcheck":   {"url", "command", "expect", "timeout", "always", "host", "fail_after", "status", "header"},
	}[builtin]
}
