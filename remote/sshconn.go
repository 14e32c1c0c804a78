package remote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshConn is one host reached through the pool.
type sshConn struct {
	pool *Pool
	e    *endpoint
	name string

	mu sync.Mutex
	pc *pooledClient // the connection, replaced when it has ended
}

// live is the host's connection, dialled again when the one it had ended
// (cut, reset, dropped by keepalive).
func (c *sshConn) live(ctx context.Context) (*pooledClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.pc.gone:
		pc, err := c.pool.client(ctx, c.e)
		if err != nil {
			return nil, err
		}
		c.pc = pc
	default:
	}
	return c.pc, nil
}

var _ Conn = (*sshConn)(nil)

// Close does nothing: the pool owns the connection, which other Conns
// to the same host share.
func (c *sshConn) Close() error { return nil }

func (c *sshConn) Run(ctx context.Context, cmd *Cmd) error {
	if c.pool.opts.Trace != nil {
		return c.traced(ctx, cmd)
	}
	return c.runCmd(ctx, cmd)
}

// runCmd is Run, untraced.
func (c *sshConn) runCmd(ctx context.Context, cmd *Cmd) error {
	if !cmd.Sudo || cmd.TTY {
		return c.run(ctx, cmd, nil)
	}
	// sudo -n first; only when sudo says it needs a password, and there
	// is a way to ask for one, run again with the password on stdin.
	stderr := &headWriter{w: orDiscard(cmd.Stderr)}
	plain := *cmd
	plain.Stderr = stderr
	err := c.run(ctx, &plain, nil)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Status != 1 || !sudoNeedsPassword(stderr.head) {
		return err
	}
	user := cmp.Or(cmd.SudoUser, "root")
	if c.pool.opts.SudoPassword == nil {
		return &SudoPasswordError{Host: c.name, User: user}
	}
	pass, err := c.pool.opts.SudoPassword(c.name, user)
	if err != nil {
		return fmt.Errorf("sudo password: %w", err)
	}
	return c.run(ctx, cmd, pass)
}

// cancelWait is how long a command whose context ended is given to
// report that it stopped before Run returns regardless.
const cancelWait = 500 * time.Millisecond

// run runs cmd in a new session. A sudo password, when given, is sent on
// stdin ahead of the script, never in the command line.
//
// Everything that waits on the host (opening the session, its requests,
// the exit status) happens in a goroutine that owns the session, so Run
// returns once ctx ends however stalled the connection is; the goroutine
// then stops the command, closes the session and frees its slot when the
// connection lets it. Output arriving after Run returned is dropped.
func (c *sshConn) run(ctx context.Context, cmd *Cmd, sudoPassword []byte) error {
	var script string
	var err error
	if !cmd.TTY {
		if script, err = cmd.supervisedScript(); err != nil {
			return err
		}
	}
	pc, err := c.live(ctx)
	if err != nil {
		return fmt.Errorf("run on %s: %w", c.name, err)
	}
	if cmd.ForwardAgent {
		if c.pool.opts.AgentSocket == "" {
			return errors.New("agent forwarding asked for, and there is no ssh-agent (SSH_AUTH_SOCK)")
		}
		if err := c.mayForwardAgent(); err != nil {
			return err
		}
		fe := *c.e
		fe.forwardAgent = true
		if pc, err = c.pool.client(ctx, &fe); err != nil {
			return err
		}
	}
	var ttyFile string
	if cmd.TTY {
		if ttyFile, err = c.stageTTY(ctx, cmd); err != nil {
			return err
		}
	}
	command, err := cmd.shellCommand(sudoPassword != nil, ttyFile)
	if err != nil {
		return err
	}
	release, err := c.session(ctx, pc)
	if err != nil {
		return fmt.Errorf("run on %s: waiting for a session: %w", c.name, err)
	}
	var stdin []byte
	if !cmd.TTY {
		if sudoPassword != nil {
			stdin = append(append(stdin, sudoPassword...), '\n')
		}
		stdin = append(stdin, script...)
	}
	l := &launch{command: command, stdin: stdin, plain: command == aheadCommand && !cmd.ForwardAgent && !cmd.TTY,
		public: cmd.Public && len(cmd.Env) == 0, script: script}
	stdout, stderr := newGatedWriter(cmd.Stdout), newGatedWriter(cmd.Stderr)
	defer stderr.shut()
	defer stdout.shut()
	result := make(chan error, 1)
	go func() {
		defer release()
		result <- c.runSession(ctx, pc, cmd, l, stdout, stderr)
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
	}
	// runSession sees ctx end as well and stops the command; on a live
	// connection it reports back at once.
	select {
	case <-result:
	case <-time.After(cancelWait):
	}
	return c.ended(ctx, "run")
}

// stageTTY writes the script of a TTY command, with its environment, to
// a private file on the host, and returns the file's name (see ttyStager).
func (c *sshConn) stageTTY(ctx context.Context, cmd *Cmd) (string, error) {
	stager, err := cmd.ttyStager()
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	stager.Stdout, stager.Stderr = &out, &errOut
	if err := c.Run(ctx, stager); err != nil {
		return "", fmt.Errorf("write the script of a terminal command on %s: %w: %s", c.name, err, bytes.TrimSpace(errOut.Bytes()))
	}
	name, err := ttyFileName(out.String())
	if err != nil {
		return "", fmt.Errorf("write the script of a terminal command on %s: %w", c.name, err)
	}
	return name, nil
}

// ended is the error of an operation on the host cut short by ctx.
func (c *sshConn) ended(ctx context.Context, op string) error {
	return fmt.Errorf("%s on %s: %w", op, c.name, ctx.Err())
}

// runSession opens a session, starts command and waits for it. When ctx
// ends it stops the command: without a terminal it ends stdin, on which
// the watcher of supervisedScript kills the command's process group; with
// one it sends SIGTERM (which sshd refuses for root logins), and closing
// the session hangs up the terminal, which sends SIGHUP to the command.
func (c *sshConn) runSession(ctx context.Context, pc *pooledClient, cmd *Cmd, l *launch, stdout, stderr io.Writer) error {
	s, err := c.startSession(ctx, pc, cmd, l)
	if err != nil {
		return err
	}
	defer s.Close()
	written := make(chan struct{})
	if !cmd.TTY {
		// Written apart: a write waits for the channel's window, and a
		// failed one means the session is gone, which wait reports.
		// stdin stays open while the command runs, since its end is what
		// stops the command.
		go func() {
			defer close(written)
			_, _ = s.ch.Write(l.stdin)
		}()
	}
	// When ctx ends the command is stopped, and the session closed
	// cancelWait later if it has not ended by then. A timer, not a
	// goroutine, waits for that: a run over 1,000 hosts has 1,000
	// commands running at once.
	stop := context.AfterFunc(ctx, func() {
		if cmd.TTY {
			_ = s.signal(ssh.SIGTERM)
		} else {
			select {
			case <-written:
				_ = s.ch.CloseWrite()
			default:
				// The script is still on its way (x/crypto/ssh does not
				// let EOF race a write): closing the session ends stdin
				// before sh has a whole script, so none of it runs.
			}
		}
		time.AfterFunc(cancelWait, func() { _ = s.Close() })
	})
	err = s.wait(stdout, stderr)
	if !stop() {
		return c.ended(ctx, "run")
	}
	var status *exitStatus
	var signal *exitSignal
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &signal):
		return &ExitError{Status: 128 + signalNumber(signal.signal), Signal: "SIG" + signal.signal}
	case errors.As(err, &status):
		return &ExitError{Status: status.status}
	case errors.As(err, &missing):
		select {
		case <-pc.gone:
			return fmt.Errorf("connection to %s lost while the command ran", c.name)
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("%s ended the session without an exit status: the command was refused or killed there, or the connection was lost", c.name)
		}
	}
	return fmt.Errorf("run on %s: %w", c.name, err)
}

// launch is how a command starts: its command line and what its stdin
// gets first.
type launch struct {
	command string
	stdin   []byte
	plain   bool   // command is the plain shell, with no terminal nor agent
	public  bool   // the script may go in the command line (Cmd.Public)
	script  string // the script, for the command line
}

// startSession is a session running l's command: the shell started ahead
// when l is plain and one is ready; else a new channel, with a terminal or
// the agent as cmd asks — its script in the command line when l is plain
// and public.
func (c *sshConn) startSession(ctx context.Context, pc *pooledClient, cmd *Cmd, l *launch) (*channelSession, error) {
	// A command whose context ended while it waited for its slot does not
	// start: no script is sent, so nothing of it runs.
	if ctx.Err() != nil {
		return nil, c.ended(ctx, "run")
	}
	if l.plain {
		if s, ok := pc.chans.ready(!cmd.Last); ok {
			return s, nil
		}
		if l.public {
			if inline, err := inlineCommand(l.script); err == nil && len(inline) <= inlineLimit {
				l.command, l.stdin = inline, nil
			}
		}
	}
	s, err := pc.chans.open(ctx, !cmd.Last)
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.ended(ctx, "open session")
		}
		return nil, fmt.Errorf("open session on %s: %w", c.name, err)
	}
	err = c.prepareSession(pc, s, cmd)
	if err == nil && ctx.Err() == nil {
		if err = s.start(l.command); err != nil {
			err = fmt.Errorf("start on %s: %w", c.name, err)
		}
	}
	if err != nil || ctx.Err() != nil {
		s.Close()
		if ctx.Err() != nil {
			return nil, c.ended(ctx, "run")
		}
		return nil, err
	}
	return s, nil
}

// prepareSession makes the requests cmd needs before its command starts.
func (c *sshConn) prepareSession(pc *pooledClient, s *channelSession, cmd *Cmd) error {
	if cmd.ForwardAgent {
		if err := c.forwardAgent(pc, s); err != nil {
			return err
		}
	}
	if cmd.TTY {
		if err := s.requestPty("xterm", 40, 120, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
			return fmt.Errorf("terminal on %s: %w", c.name, err)
		}
	}
	return nil
}

// mayForwardAgent refuses agent forwarding to a host whose key was not
// known before this run: a key accepted on first sight (accept-new) has
// not been checked by anyone, and the host behind it could use the agent's
// keys for as long as the command runs.
func (c *sshConn) mayForwardAgent() error {
	hk, err := c.pool.hostKeysFor(c.e)
	if err != nil {
		return err
	}
	if hk.acceptedThisRun(c.e.addr()) {
		return fmt.Errorf("agent forwarding to %s refused: its host key was accepted in this run (accept-new), "+
			"not known before, and a host nobody has verified must not use your ssh-agent. "+
			"The key is now in known_hosts: check its fingerprint and run again (or run once without forward_agent "+
			"to record it, or add the host's key to known_hosts yourself)", c.name)
	}
	return nil
}

// forwardAgent serves this machine's ssh-agent to the session's command.
func (c *sshConn) forwardAgent(pc *pooledClient, s *channelSession) error {
	pc.forwardOnce.Do(func() {
		pc.forwardErr = agent.ForwardToRemote(pc.sshClient(), c.pool.opts.AgentSocket)
	})
	if pc.forwardErr != nil {
		return fmt.Errorf("agent forwarding to %s: %w", c.name, pc.forwardErr)
	}
	if err := s.requestAgent(); err != nil {
		return fmt.Errorf("agent forwarding to %s: %w (is AllowAgentForwarding off on the host?)", c.name, err)
	}
	return nil
}

// session takes one of the connection's session slots.
func (c *sshConn) session(ctx context.Context, pc *pooledClient) (release func(), err error) {
	select {
	case pc.sessions <- struct{}{}:
		return func() { <-pc.sessions }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func signalNumber(sig string) int {
	n := map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
		"SEGV": 11, "PIPE": 13, "ALRM": 14, "TERM": 15, "USR1": 10, "USR2": 12}[sig]
	return n
}
