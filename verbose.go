package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// tracer is what -v prints on stderr: each connection (address, user,
// host key and its verdict, the keys offered and the one accepted, the
// times) and each remote command (its command line, its script, how long
// it took and how it ended), each line prefixed by its host. Every text
// from a host or a script is masked with the run's secrets; environment
// values are never printed. One per command line, made by the Session.
type tracer struct {
	w io.Writer

	mu     sync.Mutex
	names  map[string]string // remote target → the host's name in the Deployfile
	masks  []string          // every form of every secret, longest first
	toldDF bool              // the Deployfile's origin was said
}

func newTracer(w io.Writer) *tracer { return &tracer{w: w, names: map[string]string{}} }

// name makes the trace of each host of hosts carry its Deployfile name.
func (t *tracer) name(df *config.Deployfile, hosts []*config.Host) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range hosts {
		if !h.Local() {
			t.names[deploy.Target(df, h).String()] = h.Name
		}
	}
}

// addSecrets adds the forms of a run's secrets to mask (a run and the
// test task it runs here each add theirs).
func (t *tracer) addSecrets(forms []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.masks = append(t.masks, forms...)
	// Longest first, so a secret holding another is masked whole.
	slices.SortStableFunc(t.masks, func(a, b string) int { return len(b) - len(a) })
}

// mask replaces every secret in s by ***. t.mu is held.
func (t *tracer) mask(s string) string {
	for _, m := range t.masks {
		if m != "" {
			s = strings.ReplaceAll(s, m, "***")
		}
	}
	return s
}

// trace prints one event, as whole lines in one write.
func (t *tracer) trace(e remote.TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	host := t.names[e.Host]
	if host == "" {
		host = e.Host
		if e.Kind == remote.TraceConnect {
			host = "jump " + e.Host // a hop of another host's ProxyJump
		}
	}
	var lines []string
	switch e.Kind {
	case remote.TraceConnect:
		lines = connectLines(e)
	case remote.TraceCommand:
		lines = commandLines(e)
	case remote.TraceCommandEnd:
		lines = []string{endLine(e)}
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s · %s\n", host, t.mask(l))
	}
	io.WriteString(t.w, b.String())
}

func connectLines(e remote.TraceEvent) []string {
	to := e.User + "@" + e.Addr
	if len(e.Jumps) > 0 {
		to += " via " + strings.Join(e.Jumps, " > ")
	}
	var out []string
	if e.Err != nil {
		out = append(out, fmt.Sprintf("connect %s failed after %s: %v", to, ms(e.Duration), e.Err))
	} else {
		out = append(out, fmt.Sprintf("connected %s in %s (tcp %s, ssh handshake and login %s)", to, ms(e.Duration), ms(e.Dial), ms(e.Handshake)))
	}
	if e.HostKey != "" {
		out = append(out, fmt.Sprintf("host key %s: %s", e.HostKey, e.HostKeyCheck))
	}
	if e.Accepted != "" {
		out = append(out, "logged in with "+e.Accepted)
	}
	if len(e.Keys) > 0 && (e.Err != nil || len(e.Keys) > 1) {
		out = append(out, fmt.Sprintf("keys offered, in order: %s", strings.Join(e.Keys, ", ")))
	} else if len(e.Keys) == 0 {
		out = append(out, "no key to offer (no ssh-agent key, no key file)")
	}
	return out
}

func commandLines(e remote.TraceEvent) []string {
	head := "run with " + e.Command
	if len(e.Env) > 0 {
		head += ", exporting " + strings.Join(e.Env, ", ") + " (values not shown)"
	}
	out := []string{head + ":"}
	for _, l := range strings.Split(strings.TrimRight(e.Script, "\n"), "\n") {
		out = append(out, "  │ "+l)
	}
	return out
}

func endLine(e remote.TraceEvent) string {
	var exit *remote.ExitError
	switch {
	case e.Err == nil:
		return "exit 0 after " + ms(e.Duration)
	case errors.As(e.Err, &exit):
		return fmt.Sprintf("%v after %s", exit, ms(e.Duration))
	}
	return fmt.Sprintf("failed after %s: %v", ms(e.Duration), e.Err)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// files says, once, where the Deployfile and ssh_config come from: for
// every command, those that reach no host included.
func (t *tracer) files(s *Session, df *config.Deployfile, none bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.toldDF {
		return
	}
	t.toldDF = true
	what := "no Deployfile (" + s.File + " does not exist): hosts from the command line"
	if !none {
		abs, _ := filepath.Abs(df.File)
		what = "Deployfile " + abs
		switch {
		case s.FileSet:
			what += " (-f or $DEPLOYFILE)"
		default:
			what += " (the default, ./Deployfile)"
		}
	}
	fmt.Fprintf(t.w, "deploy · %s\n", what)
	fmt.Fprintf(t.w, "deploy · ssh_config %s\n", sshConfigOrigin(s, df))
}

// sshConfigOrigin is which ssh_config files are read, and why.
func sshConfigOrigin(s *Session, df *config.Deployfile) string {
	switch {
	case s.SSHConfig != "":
		return s.SSHConfig + " (--ssh-config)"
	case df != nil && df.SSH.Config != "":
		return df.Relative(df.SSH.Config) + " ([ssh] config)"
	}
	home, _ := os.UserHomeDir()
	var read []string
	for _, f := range []string{filepath.Join(home, ".ssh", "config"), "/etc/ssh/ssh_config"} {
		if _, err := os.Stat(f); err == nil {
			read = append(read, f)
		}
	}
	if len(read) == 0 {
		return "none (neither ~/.ssh/config nor /etc/ssh/ssh_config exists)"
	}
	return strings.Join(read, " and ") + " (the defaults)"
}

// syncWriter lets one write through at a time.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
