package config

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/tasks"
)

// Deployfile is a loaded and validated Deployfile.
type Deployfile struct {
	File   string // the name errors are reported under
	App    App
	SSH    SSH
	Vars   map[string]*Var
	Groups map[string]*Group
	Tasks  map[string]*Task
	// Overrides are the --var values; they win over every definition.
	Overrides map[string]string
	// LoginUser, when set, is the user a host logs in as when neither its
	// spec nor [ssh] user names one (ssh_config's User, else this
	// machine's user name): {{user}}. The connector knows it.
	LoginUser func(h *Host) string

	GroupOrder []string // groups in file order
	TaskOrder  []string // tasks in file order
	hosts      map[string]*Host
	hostOrder  []string
	groups     *groupIndex // every group resolved once, at load
}

// App is the [app] table: the application and where it lives on the hosts.
type App struct {
	Name         string
	Repo         string // central repository the hosts fetch from
	Remote       string // git remote the laptop pushes to
	Branch       string
	Path         string // deploy root on every host; may use {{host}}
	KeepReleases int
	DefaultTask  string
	Strategy     string   // "releases" or "inplace"
	Shared       []string // paths every release links from {path}/shared
	Python       string   // interpreter the Django built-ins run
	Build        []Build  // commands run in each new release, when their inputs change
	ForwardAgent bool     // the hosts fetch Repo with this machine's ssh-agent
	// Env is the app's environment: every collectstatic, migrate and
	// reload step gets it (their own env wins), so the settings, the
	// migrations and the running app see the same variables.
	Env map[string]string
}

// Build is a command of [app] build: it runs in a new release, with
// $DEPLOY_OUTPUT the directory to build into, only when the files of
// Inputs changed since the last time; Output in the release links to it.
type Build struct {
	Run    string
	Inputs []string
	Output string
}

// Strategies.
const (
	StrategyReleases = "releases"
	StrategyInPlace  = "inplace"
)

// SSH is the [ssh] table: connection defaults; ~/.ssh/config still applies.
type SSH struct {
	User           string
	Port           int
	Config         string // ssh_config file to read instead of ~/.ssh/config
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
}

// Var is one variable, from [vars], a group or a host.
type Var struct {
	Name   string
	Value  string
	Env    string // read from this environment variable of the laptop at run time
	Secret bool   // shown as *** in every output, error and journal line
	Pos    Position
}

// Group is a named set of hosts under [hosts].
type Group struct {
	Name        string
	Description string
	Members     []Member
	Confirm     bool // ask before running on it, unless --yes
	Vars        map[string]*Var
	Pos         Position
}

// Member is one entry of a group: a host, or "@group" for another group.
type Member struct {
	Group string // set for "@group"
	Host  string // the host's name, otherwise
	Pos   Position
}

// Host is one resolved host.
type Host struct {
	Name string // how the Deployfile names it; {{host}}
	HostSpec
	Vars map[string]*Var
	Pos  Position
}

// Local reports whether the host is this machine, reached without SSH.
func (h *Host) Local() bool { return h.Host == LocalHost && h.Port == 0 && h.User == "" }

// Task is a named sequence of steps under [tasks].
type Task struct {
	Name        string
	Description string
	Steps       []*Step
	Pos         Position
	// hooks are the tasks run around this one, by kind; hookPos where
	// each is written.
	hooks   map[HookKind][]string
	hookPos map[HookKind][]Position
}

// StepKind says what a step does.
type StepKind string

// The kinds of step; a step is exactly one of them.
const (
	StepLocal   StepKind = "local"   // a command on this machine
	StepRun     StepKind = "run"     // a command on the hosts
	StepBuiltin StepKind = "builtin" // a built-in step from tasks/
	StepTask    StepKind = "task"    // another task
	StepUpload  StepKind = "upload"  // copy a local file or directory to the hosts
)

var stepKinds = [...]StepKind{StepLocal, StepRun, StepBuiltin, StepTask, StepUpload}

// Step is one step of a task.
type Step struct {
	Kind StepKind
	// Arg is the command (local, run), the built-in's or task's name, or the
	// local source path (upload).
	Arg  string
	Name string // shown in output; defaults to a summary of the step
	To   string // upload destination on the hosts
	Mode string // upload file mode, octal ("0644"); empty keeps the local mode

	On           string // group: run only on the target's hosts that are in it
	Once         bool
	Serial       int // rolling batch size; 0 = all at once
	Parallel     int // concurrency limit; 0 = no limit
	Sudo         bool
	SudoUser     string // with Sudo; empty means root
	TTY          bool
	Dir          string
	Env          map[string]string
	Timeout      time.Duration
	IgnoreErrors bool
	OnFailure    string // "cancel" (default) or "wait"
	Unless       string // skip if this command succeeds
	OnlyIf       string // skip unless this command succeeds
	Creates      string // skip if this path exists
	With         map[string]any

	Pos   Position
	index int // in the file's steps array, which may hold steps that failed to decode
}

// What to do with a step's other hosts when one fails.
const (
	OnFailureCancel = "cancel"
	OnFailureWait   = "wait"
)

// Title is the step's name, or a short summary of it.
func (s *Step) Title() string {
	if s.Name != "" {
		return s.Name
	}
	switch s.Kind {
	case StepBuiltin:
		return s.Arg
	case StepTask:
		return "task " + s.Arg
	case StepUpload:
		return "upload " + s.Arg
	}
	return string(s.Kind) + ": " + FirstLine(s.Arg, 48)
}

// FirstLine shortens s for a one-line display: its first line ("…" marks
// the rest), cut to max runes.
func FirstLine(s string, max int) string {
	for i, c := range s {
		if c == '\n' {
			s = s[:i] + " …"
			break
		}
	}
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// Builtins are the names a step's builtin may take: the built-in steps of
// the tasks package.
func Builtins() []string { return tasks.Names() }

// BuiltinVars are the variables every command may use without defining
// them; {{python}} is [app] python.
func BuiltinVars() []string {
	return []string{"host", "user", "path", "release", "sha", "current", "python",
		"release_path", "shared_path", "current_path"}
}

// Uses reports whether any text of the step uses the variable {{name}}.
func (s *Step) Uses(name string) bool {
	texts := append([]string{s.Arg, s.To, s.Dir, s.Unless, s.OnlyIf, s.Creates}, slices.Collect(maps.Values(s.Env))...)
	for _, v := range s.With {
		if str, ok := v.(string); ok {
			texts = append(texts, str)
		}
	}
	for _, t := range texts {
		for _, m := range templateRef.FindAllStringSubmatch(t, -1) {
			if m[1] == name {
				return true
			}
		}
	}
	return false
}

// Relative resolves a path written in the Deployfile against the
// Deployfile's directory, so `deploy -f ../app/Deployfile` finds the same
// files as `deploy` run beside it.
func (df *Deployfile) Relative(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	return filepath.Join(filepath.Dir(df.File), p)
}
