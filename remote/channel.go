package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// A command on a host whose connection is open costs one round trip: a
// shell is started ahead of time (openAhead), while the command before it
// runs, on a session channel of its own, and waits for its script on
// stdin; the command's script goes out at once, and its output and exit
// status come back. OpenSSH's sshd opens a session channel with an empty
// window and opens it only once the command has started, so a script sent
// with its exec request would wait a round trip for that; and x/crypto's
// ssh.Session would wait for the channel's confirmation and then for the
// exec reply as well: three round trips a command.
//
// The first command on a connection has no shell started ahead: it opens
// a channel, and when its script is public (Cmd.Public), the script goes
// in the exec request itself (inlineCommand) — two round trips. Otherwise,
// and for a command run with sudo, a terminal or agent forwarding, the
// exec request goes without waiting for its reply and the script follows
// on stdin: three. A server that refuses a command closes the channel
// with no exit status, which is reported as such (channelSession.wait).

// aheadCommand is the command of the shell started ahead of time: the
// command line of every command run without sudo or a terminal.
const aheadCommand = "sh -s"

// channelSession is one session channel: the command it runs, its output
// and its exit.
type channelSession struct {
	ch   ssh.Channel
	reqs <-chan *ssh.Request
}

// channels keeps a connection's shells started ahead of time: two, so
// that commands back to back each find one whose window is open (a shell
// is ready two round trips after it is asked for, and a command takes
// one).
type channels struct {
	conn  ssh.Conn
	ahead int32                // shells to keep started ahead; 0: none
	spare chan *channelSession // shells started ahead
	asked atomic.Int32         // shells ready or on their way
}

func newChannels(c ssh.Conn, ahead int) *channels {
	return &channels{conn: c, ahead: int32(ahead), spare: make(chan *channelSession, max(ahead, 1))}
}

// ready returns the shell started ahead, when there is one and it is
// still there, waiting for its script (the caller then sends it, and
// nothing else starts); either way it starts the next one, when more
// commands may follow.
func (cs *channels) ready(more bool) (*channelSession, bool) {
	if more {
		defer cs.openAhead()
	}
	for {
		select {
		case s := <-cs.spare:
			cs.asked.Add(-1)
			select {
			case <-s.reqs:
				// The shell ended or sent a request before it had a
				// script: it is of no use.
				s.Close()
				continue
			default:
				return s, true
			}
		default:
			return nil, false
		}
	}
}

// open opens a session channel, retrying a refusal for a moment: sshd
// counts a closed session until its close handshake is done, so a slot
// freed here may still be taken there. It starts a shell ahead for the
// next command too, when more may follow.
func (cs *channels) open(ctx context.Context, more bool) (*channelSession, error) {
	if more {
		defer cs.openAhead()
	}
	delay := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ch, reqs, err := cs.conn.OpenChannel("session", nil)
		if err == nil {
			return &channelSession{ch: ch, reqs: reqs}, nil
		}
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) || attempt == 8 {
			return nil, err
		}
		select {
		case <-time.After(delay):
			delay *= 2
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// openAhead starts shells for the next commands, up to cs.ahead ready or
// on their way. A refusal is not retried: the next command opens its own.
// A shell reads its script from stdin; closing its channel unused ends
// its stdin, and it exits having run nothing.
func (cs *channels) openAhead() {
	for {
		n := cs.asked.Load()
		if n >= cs.ahead {
			return
		}
		if cs.asked.CompareAndSwap(n, n+1) {
			go cs.startOne()
		}
	}
}

// startOne starts a shell and keeps it for a command.
func (cs *channels) startOne() {
	ch, reqs, err := cs.conn.OpenChannel("session", nil)
	if err != nil {
		cs.asked.Add(-1)
		return
	}
	s := &channelSession{ch: ch, reqs: reqs}
	if s.start(aheadCommand) != nil {
		s.Close()
		cs.asked.Add(-1)
		return
	}
	select {
	case cs.spare <- s:
	default:
		s.Close()
		cs.asked.Add(-1)
	}
}

// inlineLimit is the longest command line a script is sent in, well
// under Linux's limit on one argument (128 KiB).
const inlineLimit = 32 << 10

// inlineCommand is a command line that runs script without reading it
// from stdin. Any login shell passes it to sh unchanged — csh, with its
// history expansion of '!' even in quotes, and fish included: the script
// is one word of letters, digits and a few safe marks, every other byte
// written as a printf %b octal escape (\0ooo), which sh turns back.
func inlineCommand(script string) (string, error) {
	var enc strings.Builder
	for i := 0; i < len(script); i++ {
		c := script[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" _-./,:=+@", c) >= 0 {
			enc.WriteByte(c)
			continue
		}
		fmt.Fprintf(&enc, "\\0%03o", c)
	}
	q, err := Quote(enc.String())
	if err != nil {
		return "", err
	}
	return `sh -c '_deploy_script=$(printf %b "$1"); shift; eval "$_deploy_script"' sh ` + q, nil
}

// request sends a channel request. Only a request whose refusal must stop
// the command (a terminal, agent forwarding) waits for the reply.
func (s *channelSession) request(name string, wantReply bool, payload []byte) error {
	ok, err := s.ch.SendRequest(name, wantReply, payload)
	if err != nil {
		return err
	}
	if wantReply && !ok {
		return fmt.Errorf("the server refused the %s request", name)
	}
	return nil
}

// start starts command without waiting for the server's reply.
func (s *channelSession) start(command string) error {
	return s.request("exec", false, ssh.Marshal(struct{ Command string }{command}))
}

// requestPty asks for a terminal of rows×cols with modes.
func (s *channelSession) requestPty(term string, rows, cols uint32, modes ssh.TerminalModes) error {
	var ml []byte
	for op, v := range modes {
		ml = append(ml, ssh.Marshal(struct {
			Op  byte
			Val uint32
		}{op, v})...)
	}
	ml = append(ml, 0) // TTY_OP_END
	return s.request("pty-req", true, ssh.Marshal(struct {
		Term                string
		Cols, Rows, Wx, Hpx uint32
		Modes               string
	}{term, cols, rows, cols * 8, rows * 8, string(ml)}))
}

// signal sends a signal to the command (sshd refuses it for root logins).
func (s *channelSession) signal(sig ssh.Signal) error {
	return s.request("signal", false, ssh.Marshal(struct{ Signal string }{string(sig)}))
}

// requestAgent asks the server to forward agent connections of the
// command back over this connection.
func (s *channelSession) requestAgent() error {
	return s.request("auth-agent-req@openssh.com", true, nil)
}

// wait copies the command's output to stdout and stderr until the channel
// ends, and returns how the command ended: nil, an *exitStatus or
// *exitSignal, or an *ssh.ExitMissingError when the channel closed without
// an exit status.
func (s *channelSession) wait(stdout, stderr io.Writer) error {
	var copies sync.WaitGroup
	for _, c := range []struct {
		w io.Writer
		r io.Reader
	}{{stdout, s.ch}, {stderr, s.ch.Stderr()}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_ = copyOutput(orDiscard(c.w), c.r)
		}()
	}
	var status *int
	var signal struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}
	for r := range s.reqs {
		switch r.Type {
		case "exit-status":
			if len(r.Payload) >= 4 {
				v := int(r.Payload[0])<<24 | int(r.Payload[1])<<16 | int(r.Payload[2])<<8 | int(r.Payload[3])
				status = &v
			}
		case "exit-signal":
			if ssh.Unmarshal(r.Payload, &signal) == nil {
				v := -1
				status = &v
			}
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
	copies.Wait()
	switch {
	case status == nil:
		return &ssh.ExitMissingError{}
	case signal.Signal != "":
		return &exitSignal{signal: signal.Signal}
	case *status != 0:
		return &exitStatus{status: *status}
	}
	return nil
}

// copyOutput copies a command's output from r to w until r ends. Its
// buffer starts small and grows only while reads fill it, up to a packet
// (32 kB): a run over 1,000 hosts has 2,000 of these copies waiting at
// once, most of them for a few bytes, and io.Copy's 32 kB each would be
// 64 MB.
func copyOutput(w io.Writer, r io.Reader) error {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if wn, werr := w.Write(buf[:n]); werr != nil || wn < n {
				return cmp.Or(werr, io.ErrShortWrite)
			}
			if n == len(buf) && len(buf) < 32<<10 {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Close closes the channel.
func (s *channelSession) Close() error { return s.ch.Close() }

// exitStatus and exitSignal are how a command ended other than with 0.
type exitStatus struct{ status int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.status) }

type exitSignal struct{ signal string }

func (e *exitSignal) Error() string { return "killed by signal " + e.signal }
