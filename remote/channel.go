package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// A command on a host whose connection is open costs one round trip: the
// session channel it runs on was opened ahead of time, while the command
// before it ran (openAhead), and its exec request goes out without waiting
// for the reply, followed at once by the script on its stdin — as
// OpenSSH's own client does. x/crypto's ssh.Session would wait for the
// channel's confirmation and then for the exec reply: three round trips a
// command instead of one.
//
// The cost of not waiting for the exec reply: a server that refuses the
// command closes the channel with no exit status, which is reported as
// such (see channelSession.wait), and one that neither refuses nor runs
// it is stopped by the command's context like any stalled command.

// channelSession is one session channel: the command it runs, its output
// and its exit.
type channelSession struct {
	ch   ssh.Channel
	reqs <-chan *ssh.Request
}

// channels keeps a connection's session channel opened ahead of time.
type channels struct {
	client  *ssh.Client
	spare   chan *channelSession // at most one, opened ahead
	opening atomic.Bool          // an openAhead is in flight
}

func newChannels(c *ssh.Client) *channels {
	return &channels{client: c, spare: make(chan *channelSession, 1)}
}

// open returns a session channel: the one opened ahead when there is one,
// else a new one (retrying a refusal for a moment: sshd counts a closed
// session until its close handshake is done, so a slot freed here may
// still be taken there). Either way it starts opening the next one.
func (cs *channels) open(ctx context.Context) (*channelSession, error) {
	defer cs.openAhead()
	select {
	case s := <-cs.spare:
		return s, nil
	default:
	}
	delay := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ch, reqs, err := cs.client.OpenChannel("session", nil)
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

// openAhead opens a session channel for the next command, unless one is
// ready or on its way. A refusal is not retried: the next command opens
// its own.
func (cs *channels) openAhead() {
	if len(cs.spare) > 0 || !cs.opening.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer cs.opening.Store(false)
		ch, reqs, err := cs.client.OpenChannel("session", nil)
		if err != nil {
			return
		}
		select {
		case cs.spare <- &channelSession{ch: ch, reqs: reqs}:
		default:
			ch.Close()
		}
	}()
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
// ends, and returns how the command ended: nil, an *ssh.ExitError, or an
// *ssh.ExitMissingError when the channel closed without an exit status.
func (s *channelSession) wait(stdout, stderr io.Writer) error {
	var copies sync.WaitGroup
	for _, c := range []struct {
		w io.Writer
		r io.Reader
	}{{stdout, s.ch}, {stderr, s.ch.Stderr()}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(orDiscard(c.w), c.r)
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

// Close closes the channel.
func (s *channelSession) Close() error { return s.ch.Close() }

// exitStatus and exitSignal are how a command ended other than with 0.
type exitStatus struct{ status int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.status) }

type exitSignal struct{ signal string }

func (e *exitSignal) Error() string { return "killed by signal " + e.signal }
