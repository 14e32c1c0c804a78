//go:build unix

package sshtest

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// InProcess is an SSH server inside the test process, built on
// x/crypto/ssh: fast to start, and able to misbehave on purpose. It runs
// "exec" requests with the local sh as the test's own user, and honours
// "signal" requests. It is for unit tests of the client; the tests that
// matter use Start's real sshd.
type InProcess struct {
	Name    string
	Host    string
	Port    int
	HostKey ssh.PublicKey

	// IgnoreKeepalives makes the server read global requests and never
	// answer them, as a host that hangs would.
	IgnoreKeepalives bool

	// Handshakes counts the handshakes in flight: from the client's first
	// byte (its version line) until it is authenticated or gives up.
	// Unauthenticated counts the connections not yet authenticated, from
	// the accept on: what sshd's MaxStartups limits.
	Handshakes, Unauthenticated *Gauge
	// Sessions counts the session channels open.
	Sessions *Gauge

	delay    time.Duration
	listener net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

// Addr is host:port.
func (s *InProcess) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// StartInProcess serves SSH on 127.0.0.1, accepting the Env's key, with
// its host key in the Env's known_hosts and "Host name" in its ssh_config.
// It stops at cleanup.
func (e *Env) StartInProcess(t testing.TB, name string) *InProcess {
	t.Helper()
	return e.StartInProcessConfig(t, InProcessConfig{Name: name})
}

// StartInProcessConfig is StartInProcess with the settings of c; its
// Client is the Env's key.
func (e *Env) StartInProcessConfig(t testing.TB, c InProcessConfig) *InProcess {
	t.Helper()
	c.Client = e.ClientPub
	s, err := ListenInProcess(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	e.mu.Lock()
	defer e.mu.Unlock()
	appendFile(t, e.KnownHosts, fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, ssh.MarshalAuthorizedKey(s.HostKey)))
	appendFile(t, e.SSHConfig, fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		s.Name, s.Host, s.Port, e.User, e.ClientKey, e.KnownHosts))
	return s
}

// InProcessConfig is what ListenInProcess serves.
type InProcessConfig struct {
	Name   string
	Client ssh.PublicKey // the one key it accepts
	// Handshakes and Unauthenticated are the gauges the server counts
	// into (see InProcess); nil makes new ones.
	Handshakes, Unauthenticated *Gauge
	// HandshakeDelay holds each handshake this long once the client has
	// said its version, as a busy or far server would.
	HandshakeDelay time.Duration
}

// ListenInProcess serves SSH on a new port of 127.0.0.1 with a new
// ed25519 host key, until Close. Unlike StartInProcess it needs no test:
// programs such as the benchmark's fleet use it.
func ListenInProcess(c InProcessConfig) (*InProcess, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("host key of %s: %w", c.Name, err)
	}
	hostSigner, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("host key of %s: %w", c.Name, err)
	}
	want := string(c.Client.Marshal())
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == want {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for %s: %w", c.Name, err)
	}
	s := &InProcess{Name: c.Name, Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, HostKey: hostSigner.PublicKey(),
		Handshakes: cmp.Or(c.Handshakes, NewGauge(nil)), Unauthenticated: cmp.Or(c.Unauthenticated, NewGauge(nil)),
		Sessions: NewGauge(nil), delay: c.HandshakeDelay, listener: l}
	s.wg.Add(1)
	go s.serve(cfg)
	return s, nil
}

// DropConnections cuts every client connection, as a failing network
// would; the server goes on accepting new ones.
func (s *InProcess) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// Close stops the server and drops its connections.
func (s *InProcess) Close() {
	s.listener.Close()
	s.DropConnections()
	s.wg.Wait()
}

func (s *InProcess) serve(cfg *ssh.ServerConfig) {
	defer s.wg.Done()
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c, cfg)
		}()
	}
}

func (s *InProcess) handle(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	s.Unauthenticated.Inc()
	fc := &firstRead{Conn: c, gauge: s.Handshakes, delay: s.delay}
	_, chans, reqs, err := ssh.NewServerConn(fc, cfg)
	fc.end()
	s.Unauthenticated.Dec()
	if err != nil {
		return
	}
	go func() {
		for r := range reqs {
			if !s.IgnoreKeepalives && r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		s.Sessions.Inc()
		go func() {
			defer wg.Done()
			defer s.Sessions.Dec()
			session(ch, chReqs)
		}()
	}
}

// firstRead counts a handshake in its gauge from the connection's first
// byte read until end, and holds that first read for delay.
type firstRead struct {
	net.Conn
	gauge *Gauge
	delay time.Duration

	mu             sync.Mutex
	started, ended bool
}

func (c *firstRead) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		first := !c.started && !c.ended
		if first {
			c.started = true
			c.gauge.Inc()
		}
		c.mu.Unlock()
		if first {
			time.Sleep(c.delay)
		}
	}
	return n, err
}

func (c *firstRead) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started && !c.ended {
		c.gauge.Dec()
	}
	c.ended = true
}

// session serves one channel: an exec request runs sh -c in its own
// process group, which a signal request signals.
func session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	done := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			if cmd != nil {
				r.Reply(false, nil)
				continue
			}
			var payload struct{ Command string }
			if ssh.Unmarshal(r.Payload, &payload) != nil {
				r.Reply(false, nil)
				continue
			}
			cmd = exec.Command("sh", "-c", payload.Command)
			cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			// As sshd does, the exit status goes out when the command
			// exits, whether or not the client has ended stdin.
			stdin, err := cmd.StdinPipe()
			if err != nil {
				r.Reply(false, nil)
				return
			}
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				return
			}
			r.Reply(true, nil)
			go func() {
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			go func() {
				status := 0
				if err := cmd.Wait(); err != nil {
					status = 255
					if exit, ok := err.(*exec.ExitError); ok {
						status = exit.ExitCode()
						if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
							status = 128 + int(ws.Signal())
						}
					}
				}
				b := make([]byte, 4)
				binary.BigEndian.PutUint32(b, uint32(status))
				ch.SendRequest("exit-status", false, b)
				ch.CloseWrite()
				close(done)
				ch.Close()
			}()
		case "signal":
			var payload struct{ Signal string }
			if cmd != nil && ssh.Unmarshal(r.Payload, &payload) == nil {
				sig := syscall.SIGTERM
				if payload.Signal == "KILL" {
					sig = syscall.SIGKILL
				}
				syscall.Kill(-cmd.Process.Pid, sig)
			}
			if r.WantReply {
				r.Reply(true, nil)
			}
		case "pty-req", "env":
			if r.WantReply {
				r.Reply(true, nil)
			}
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
	// The client went away: nothing of its command runs on, and the
	// server is not done with the session (Close waits for it) until the
	// command has exited, or a moment longer when something it started
	// outside its group keeps its output open.
	if cmd != nil {
		select {
		case <-done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			io.Copy(io.Discard, ch)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
		}
	}
}
