// Package remote runs commands and copies files on hosts, over SSH or on
// this machine, behind one small interface, Conn.
//
// It must never import tasks, deploy or deploy/config: it knows nothing of
// Deployfiles nor steps.
package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Conn is one host: run commands on it, copy files to it.
type Conn interface {
	// Run runs cmd and waits for it. A command that ran and exited
	// non-zero gives an *ExitError; any other error means it could not be
	// run or its host was lost.
	//
	// Once ctx ends, Run returns within a second, whatever it was waiting
	// for (a session slot, the opening of the session, the exit status;
	// a stalled connection included), with an error that wraps ctx.Err()
	// and names the host. A command that had started is stopped. Without
	// a terminal its process group (the shell and every child that stays
	// in its group) gets SIGTERM, then SIGKILL 3s later: on this machine,
	// and over SSH for any login, root included, under sudo, and also
	// when the connection is lost (once sshd sees it go). Over SSH with a
	// terminal the command gets SIGTERM where sshd allows it (not on root
	// logins) and SIGHUP when its terminal is hung up. Processes that
	// leave the group (setsid, daemons) are not stopped. On a live
	// connection Run returns once the host has reported the command gone,
	// or after half a second if it has not.
	Run(ctx context.Context, cmd *Cmd) error
	// Upload copies a local file or directory (recursively) to dest on the
	// host. Each file is written under a temporary name and renamed into
	// place, so a reader never sees half a file; modes are kept. Once ctx
	// ends it returns within a second, as Run does.
	Upload(ctx context.Context, local, dest string) error
	// Close releases what the Conn holds.
	Close() error
}

// Cmd is a command to run on a host.
type Cmd struct {
	// Script is shell text, run by sh with `set -e`: a failing line stops
	// it, and `cd` on one line holds for the next. It travels on the
	// session's stdin, not in a command line `ps` on the host would show.
	// Over SSH without a terminal it runs in a subshell of a small
	// wrapper, which stops it if the session ends first: $$ is the
	// wrapper's pid, and the script's exit status is the command's.
	Script string
	// Env is exported before the script runs; like the script, it is not
	// visible in `ps`.
	Env map[string]string
	// Stdout and Stderr receive the command's output; nil discards it.
	// They are written from different goroutines: one writer given as
	// both must be safe for concurrent use. Nothing is written to them
	// after Run has returned.
	Stdout, Stderr io.Writer
	// Sudo runs the script as SudoUser (root when empty) through sudo.
	Sudo     bool
	SudoUser string
	// ForwardAgent lets the command use this machine's ssh-agent (to fetch
	// a private repository, say); the keys never leave this machine.
	ForwardAgent bool
	// TTY asks for a terminal. It merges stderr into stdout, so it is off
	// unless a command needs it. The terminal is the session's stdin, so
	// over SSH the script and Env travel ahead, in a command of their own
	// (one more round trip): they are written to a file only the login
	// (or sudo) user can read, which the command reads and removes first.
	// Neither is ever in a command line.
	TTY bool
	// ReadOnly says the command changes nothing on the host (a guard, a
	// check, a state read): the only kind a ReadOnly Conn lets through.
	ReadOnly bool
	// Public says the script holds no secret, so that, as the first
	// command on a connection, it may travel in the command line, where
	// the host's other users could see it (ps), and save a round trip.
	// Leave it false for a script that holds a secret; a Cmd with Env,
	// Sudo or TTY never goes in a command line.
	Public bool
	// Last says no command follows on this host (a run's journal and
	// unlock): no shell is started ahead for a next one. On a run over
	// 1,000 hosts that is 1,000 shells the hosts need not start.
	Last bool
}

// ExitError is a command that ran and did not exit 0.
type ExitError struct {
	Status int    // exit status; 128+n for a signal n, as sh reports it
	Signal string // the signal that ended it, if one did
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("killed by signal %s", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

// script is what sh reads on stdin: the environment, then the user's
// script in braces with its stdin from /dev/null. The braces make sh read
// the whole script before running any of it, so a command that reads its
// stdin (cat, a prompt) cannot eat the lines after it.
func (c *Cmd) script() (string, error) {
	exports, err := Exports(c.Env)
	if err != nil {
		return "", err
	}
	return "set -e\n" + exports + "{\n" + c.Script + "\n} </dev/null\n", nil
}

// Exports is env as shell lines that export it, in name order, each
// value quoted.
func Exports(env map[string]string) (string, error) {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(env)) {
		if !validEnvName(n) {
			return "", fmt.Errorf("environment variable name %q is not valid", n)
		}
		v, err := Quote(env[n])
		if err != nil {
			return "", fmt.Errorf("environment variable %s: %w", n, err)
		}
		fmt.Fprintf(&b, "export %s=%s\n", n, v)
	}
	return b.String(), nil
}

// shellCommand is the command line started on the host. With TTY the
// terminal is the session's stdin: the script is read from ttyFile, which
// ttyStager wrote. withPassword makes sudo read a password from the first
// line of stdin (-S) instead of failing when it needs one (-n); -k makes
// it ask even when it has a cached credential, so that line is always
// consumed by sudo and never run as a command.
func (c *Cmd) shellCommand(withPassword bool, ttyFile string) (string, error) {
	shell := "sh -s"
	if c.TTY {
		f, err := Quote(ttyFile)
		if err != nil {
			return "", err
		}
		q, err := Quote(". " + f)
		if err != nil {
			return "", err
		}
		shell = "sh -c " + q
	}
	if !c.Sudo {
		return shell, nil
	}
	user := c.SudoUser
	if user == "" {
		user = "root"
	}
	q, err := Quote(user)
	if err != nil {
		return "", err
	}
	if withPassword {
		return "sudo -S -k -p '' -u " + q + " -- " + shell, nil
	}
	return "sudo -n -u " + q + " -- " + shell, nil
}

// ttyStager is the command that writes the script of a TTY command, Env
// included, to a new file readable only by the user the command runs as
// (umask 077, mktemp), and prints the file's name. The file first removes
// itself, then runs the script. The text travels in a here-document on
// stdin, like any script, so no value is in a command line.
func (c *Cmd) ttyStager() (*Cmd, error) {
	s, err := c.script()
	if err != nil {
		return nil, err
	}
	end := "DEPLOY_TTY_SCRIPT_END"
	for slices.Contains(strings.Split(s, "\n"), end) {
		end += "_"
	}
	return &Cmd{
		Script: "umask 077\n" +
			"f=$(mktemp \"${TMPDIR:-/tmp}/deploy-tty.XXXXXXXXXX\")\n" +
			"printf \"rm -f -- '%s'\\n\" \"$f\" >\"$f\"\n" +
			"cat >>\"$f\" <<'" + end + "'\n" + s + end + "\n" +
			"printf '%s\\n' \"$f\"",
		Sudo: c.Sudo, SudoUser: c.SudoUser, ReadOnly: c.ReadOnly,
	}, nil
}

// ttyFileName checks the name ttyStager printed.
func ttyFileName(out string) (string, error) {
	name := strings.TrimSpace(out)
	ok := strings.HasPrefix(name, "/") && strings.Contains(name, "/deploy-tty.")
	for _, r := range name {
		ok = ok && (r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}
	if !ok {
		return "", fmt.Errorf("unexpected name of the script file: %q", name)
	}
	return name, nil
}

// SudoPasswordError is sudo refusing to run without a password.
type SudoPasswordError struct{ Host, User string }

func (e *SudoPasswordError) Error() string {
	return fmt.Sprintf("sudo on %s needs a password to run as %s: allow it without one (NOPASSWD in sudoers) "+
		"or run deploy on a terminal to be asked", e.Host, e.User)
}

// sudoNeedsPassword reports whether stderr of a failed `sudo -n` says it
// wanted a password.
func sudoNeedsPassword(stderr []byte) bool {
	return bytes.Contains(stderr, []byte("a password is required"))
}

// headWriter keeps the first bytes written through it, for recognising
// sudo's refusal, and passes everything on.
type headWriter struct {
	w    io.Writer
	head []byte
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := 512 - len(h.head); room > 0 {
		h.head = append(h.head, p[:min(room, len(p))]...)
	}
	return h.w.Write(p)
}

func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
