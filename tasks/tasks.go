// Package tasks holds the built-in steps a Deployfile names with
// `builtin = "…"`: test, commit, push, collectstatic, sync-static, pull,
// migrate, reload, healthcheck, rollback. Each knows how to tell whether
// it is already done, so a second run changes nothing. It knows nothing of
// the CLI; the engine in package deploy calls it through Registry.
package tasks

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
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
	// Laptop is set for the steps that run on this machine.
	Laptop *Laptop

	// What a step's Check found, for its Run: the repository, and the hash
	// of its work tree, which cannot change in between.
	repo       *Repo
	tree       string
	static     *staticDiff
	remoteHead *plumbing.Hash
}

// Laptop is what the steps that work on this machine's repository need.
type Laptop struct {
	Dir     string // where the Deployfile is; its git repository holds it
	Remote  string // [app] remote: where push goes
	Branch  string // [app] branch, or --branch
	Message string // -m: the commit message
	Retest  bool   // --retest: ignore the test cache
	// RunTask runs a task of the Deployfile here (the test step runs
	// "test").
	RunTask func(ctx context.Context, name string) error
	// Ask asks a question on the terminal; nil when there is none.
	Ask func(prompt string) (string, error)
	// Auth authenticates git over SSH like deploy's own connections.
	Auth transport.AuthMethod
}

// RunState is what steps of one run tell later ones: the commit to deploy,
// and per host the release built and the release switched to.
type RunState struct {
	mu       sync.Mutex
	sha      string
	stamp    string
	pending  map[string]string    // host → release built, not yet current
	switched map[string][2]string // host → previous and new release
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

// Stamp names this run's releases: the UTC time of the first call, the
// same on every host.
func (s *RunState) Stamp() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stamp == "" {
		s.stamp = time.Now().UTC().Format("20060102T150405Z")
	}
	return s.stamp
}

// Prepared records a release built on host, waiting for the switch.
func (s *RunState) Prepared(host, release string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[string]string{}
	}
	s.pending[host] = release
}

// Pending is the release built on host and not yet switched to.
func (s *RunState) Pending(host string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[host]
}

// TakePending returns the releases waiting for the switch, by host, and
// forgets them.
func (s *RunState) TakePending() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	return p
}

// Switched records that host now serves release, instead of previous.
func (s *RunState) Switched(host, previous, release string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.switched == nil {
		s.switched = map[string][2]string{}
	}
	s.switched[host] = [2]string{previous, release}
}

// TakeSwitched returns the hosts this run switched, with their previous
// and new releases, and forgets them.
func (s *RunState) TakeSwitched() map[string][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.switched
	s.switched = nil
	return sw
}

// HasSwitched reports whether this run changed the release of host.
func (s *RunState) HasSwitched(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.switched[host]
	return ok
}

// LocalStep is a built-in step that runs on this machine, once, whatever
// the target: test, commit, push, collectstatic.
type LocalStep interface {
	Step
	Local()
}

// Step is a built-in step.
type Step interface {
	// Check reports whether the step is done on the host already, and
	// why; deploy plan shows it, and the run skips the step.
	Check(ctx context.Context, env *Env) (done bool, reason string, err error)
	// Run does the step.
	Run(ctx context.Context, env *Env) error
}

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
