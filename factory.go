package main

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/deploy/ui"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// Factory is what every command is built from: the IO streams, made once
// in main (or by a test). Its Session method reads the global flags.
type Factory struct {
	IO *IOStreams
}

// GlobalOptions are the flags every command takes.
type GlobalOptions struct {
	File              string   // -f, --file
	FileSet           bool     // -f was given (or DEPLOYFILE)
	Vars              []string // --var NAME=VALUE
	JSON              bool
	NoColor           bool
	Yes               bool
	DryRun            bool
	LockWait          time.Duration
	Message           string // -m, for the commit step
	AddUntracked      bool   // --add-untracked, for the commit step
	Retest            bool
	Branch            string
	SSHConfig         string
	AcceptNewHostKeys bool
	Verbose           bool // -v: trace connections and commands on stderr
}

// Session is one command's view of the world: the IO streams and the
// global flags. From it come the Deployfile, a target's hosts and
// connections, the printer, the laptop side and the engine, each made in
// one place whatever the command.
type Session struct {
	IO *IOStreams
	GlobalOptions
	// Reserved are the names of the CLI's commands: no group may take one.
	Reserved []string
	// trace is what -v prints; nil without -v.
	trace *tracer
}

// Session reads the global flags of the command line c.
func (f *Factory) Session(c *cli.Context) *Session {
	s := &Session{
		IO: f.IO,
		GlobalOptions: GlobalOptions{
			File:              c.String("file"),
			FileSet:           c.IsSet("file"),
			Vars:              c.StringSlice("var"),
			JSON:              c.Bool("json"),
			NoColor:           c.Bool("no-color"),
			Yes:               c.Bool("yes"),
			DryRun:            c.Bool("dry-run"),
			LockWait:          c.Duration("lock-wait"),
			Message:           c.String("message"),
			AddUntracked:      c.Bool("add-untracked"),
			Retest:            c.Bool("retest"),
			Branch:            c.String("branch"),
			SSHConfig:         c.String("ssh-config"),
			AcceptNewHostKeys: c.Bool("accept-new-host-keys"),
			Verbose:           c.Bool("verbose"),
		},
		Reserved: commandNames(c.App),
	}
	if s.Verbose {
		// The trace and the run's output share stderr: one write at a time.
		s.IO = f.IO.withErrOut(&syncWriter{w: f.IO.ErrOut})
		s.trace = newTracer(s.IO.ErrOut)
	}
	return s
}

// Deployfile reads the file named by -f with the --var overrides.
func (s *Session) Deployfile() (*config.Deployfile, error) {
	if err := s.checkVars(); err != nil {
		return nil, err
	}
	df, err := config.Load(s.File, s.loadOptions())
	if err == nil && s.trace != nil {
		s.trace.files(s, df, false)
	}
	return df, err
}

// checkVars refuses a --var that is not NAME=VALUE.
func (s *Session) checkVars() error {
	for _, kv := range s.Vars {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return usagef("--var %q: write --var NAME=VALUE", kv)
		}
	}
	return nil
}

// loadOptions are the --var overrides (checked by Deployfile) and the
// names no group may take.
func (s *Session) loadOptions() config.LoadOptions {
	vars := map[string]string{}
	for _, kv := range s.Vars {
		if name, value, ok := strings.Cut(kv, "="); ok && name != "" {
			vars[name] = value
		}
	}
	return config.LoadOptions{Vars: vars, Reserved: s.Reserved}
}

// Style is how stdout is coloured.
func (s *Session) Style() ui.Style { return ui.NewStyle(s.IO.Out, s.NoColor || !s.IO.ColorEnabled()) }

// ErrStyle is how stderr is coloured.
func (s *Session) ErrStyle() ui.Style {
	return ui.NewStyle(s.IO.ErrOut, s.NoColor || !s.IO.ErrColorEnabled())
}

// Target is the hosts of a target of the Deployfile and the connector
// that reaches them; it connects lazily. Close closes its connections.
type Target struct {
	Name  string
	DF    *config.Deployfile
	Hosts []*config.Host
	Conns *deploy.Connector
}

// Close closes the connections to the target's hosts.
func (t *Target) Close() error { return t.Conns.Close() }

// Connect resolves a target (an unknown name is a usage error) and makes
// the connector, with the SSH settings of the command line.
func (s *Session) Connect(df *config.Deployfile, target string) (*Target, error) {
	return s.connect(df, target, s.sshSettings())
}

// ConnectForOne is Connect for a command that sends one command to each
// host (exec, check, status): no shell is started ahead for a next one.
func (s *Session) ConnectForOne(df *config.Deployfile, target string) (*Target, error) {
	set := s.sshSettings()
	set.OneCommand = true
	return s.connect(df, target, set)
}

func (s *Session) connect(df *config.Deployfile, target string, set deploy.SSHSettings) (*Target, error) {
	hosts, err := df.Resolve(target)
	if err != nil {
		return nil, usageError{msg: err.Error()}
	}
	return s.connectTo(df, target, hosts, set)
}

// connectTo makes the connector to hosts, the hosts of target.
func (s *Session) connectTo(df *config.Deployfile, target string, hosts []*config.Host, set deploy.SSHSettings) (*Target, error) {
	collectSooner(len(hosts))
	if s.trace != nil {
		s.trace.name(df, hosts)
		set.Trace = s.trace.trace
	}
	conns, err := deploy.NewConnector(df, set)
	if err != nil {
		return nil, err // it names the ssh_config or known_hosts file
	}
	df.LoginUser = conns.User
	return &Target{Name: target, DF: df, Hosts: hosts, Conns: conns}, nil
}

// sshSettings are the SSH options of the command line. Passphrases and
// the sudo password are asked when there is a terminal to ask on.
func (s *Session) sshSettings() deploy.SSHSettings {
	set := deploy.SSHSettings{
		ConfigFile:        s.SSHConfig,
		AcceptNewHostKeys: s.AcceptNewHostKeys,
	}
	if s.IO.CanPrompt() {
		set.Passphrase = func(file string) ([]byte, error) {
			return s.IO.AskSecret(fmt.Sprintf("Passphrase for %s: ", file))
		}
		set.SudoPassword = sudoPasswordOnce(s.IO)
	}
	return set
}

// sudoPasswordOnce asks for the sudo password the first time a host wants
// it and gives the same answer to the other hosts, as one person typing
// it once expects. It is never printed nor logged.
func sudoPasswordOnce(ios *IOStreams) func(host, user string) ([]byte, error) {
	var mu sync.Mutex
	var pass []byte
	return func(host, user string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if pass != nil {
			return pass, nil
		}
		p, err := ios.AskSecret(fmt.Sprintf("sudo password (as %s, starting with %s): ", user, host))
		if err == nil {
			pass = p
		}
		return p, err
	}
}

// Printer is how a run's events are shown: JSON lines, or lines prefixed
// by host, with a live status block when on a terminal.
func (s *Session) Printer(hosts []*config.Host) deploy.Printer {
	if s.JSON {
		return ui.NewJSONPrinter(s.IO.Out)
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	text := ui.NewTextPrinter(s.IO.Out, s.IO.ErrOut, s.Style(), names)
	// On a terminal, a status line per host under the output; not under
	// -v, whose lines it would redraw over.
	if s.IO.CanRedraw() && s.trace == nil {
		live := ui.NewLivePrinter(text, s.IO.ErrOut, s.Style())
		s.IO.SetStatus(live)
		return live
	}
	return text
}

// Runner is the engine over t, printing to pr (nil for the commands that
// only read the hosts). It is the one place a deploy.Runner is made, so
// each of its settings is made once.
func (s *Session) Runner(t *Target, pr deploy.Printer) *deploy.Runner {
	return &deploy.Runner{
		DF:        t.DF,
		Conns:     t.Conns,
		Printer:   pr,
		Target:    t.Name,
		LockWait:  s.LockWait,
		DryRun:    s.DryRun,
		Builtins:  tasks.Builtins(),
		OnSecrets: s.onSecrets(),
		Verbose:   s.Verbose,
	}
}

// onSecrets is what the engine tells the run's secrets to: -v's tracer.
func (s *Session) onSecrets() func([]string) {
	if s.trace == nil {
		return nil
	}
	return s.trace.addSecrets
}

// TaskRunner is Runner with this machine's side, for a task run (run,
// plan, deploy TARGET), whose steps may test, commit and push here.
func (s *Session) TaskRunner(t *Target, pr deploy.Printer) *deploy.Runner {
	r := s.Runner(t, pr)
	r.State = &tasks.RunState{}
	r.Laptop = s.laptop(t, pr, r.State)
	return r
}

// laptop is this machine's side of a run: the repository the Deployfile
// is in, the command line's -m, --add-untracked, --retest and --branch,
// and a way to run a task here for the test step.
func (s *Session) laptop(t *Target, pr deploy.Printer, state *tasks.RunState) *tasks.Laptop {
	abs, _ := filepath.Abs(t.DF.File)
	l := &tasks.Laptop{
		Dir:          filepath.Dir(abs),
		Remote:       t.DF.App.Remote,
		Branch:       cmp.Or(s.Branch, t.DF.App.Branch),
		Message:      s.Message,
		AddUntracked: s.AddUntracked,
		Retest:       s.Retest,
	}
	if repo, err := tasks.OpenRepo(l.Dir); err == nil {
		if head, err := repo.Head(); err == nil {
			state.SetSHA(head.String())
		}
		// git over SSH with deploy's keys, known_hosts and policy.
		if url, err := repo.RemoteURL(l.Remote); err == nil {
			if host, user, port, ok := tasks.SSHEndpoint(url); ok {
				if cfg, err := t.Conns.SSHClientConfig(remote.Target{Host: host, User: user, Port: port}); err == nil {
					l.Auth = tasks.SSHAuth(cfg)
				}
			}
		}
	}
	if s.IO.CanPrompt() {
		l.Ask = s.IO.Ask
	}
	l.RunTask = s.runHere(t.DF, t.Conns, deploy.StepsOnly{Next: pr})
	return l
}

// runHere returns a function that runs a task of the Deployfile on this
// machine, printing to pr: what the test step and the pre-push hook run.
// It is never a dry run, and does not wait for a lock. A failed step is
// an error naming the task, the step and why.
func (s *Session) runHere(df *config.Deployfile, conns *deploy.Connector, pr deploy.Printer) func(ctx context.Context, task string) error {
	local := *s
	local.DryRun, local.LockWait = false, 0
	return func(ctx context.Context, task string) error {
		hosts, err := df.Resolve(config.LocalHost)
		if err != nil {
			return err
		}
		t := &Target{Name: config.LocalHost, DF: df, Hosts: hosts, Conns: conns}
		res, err := local.Runner(t, pr).Run(ctx, task, hosts)
		if err != nil {
			return err
		}
		if f := res.Failure; f != nil {
			what := res.Steps[f.Step]
			if f.Command != "" {
				what = config.FirstLine(f.Command, 80) // its {{variables}} filled in
			}
			return fmt.Errorf("task %q, step %d (%s): %s", task, f.Step+1, what, f.Reason)
		}
		return nil
	}
}
