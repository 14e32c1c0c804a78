package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure SSH connections. The zero value reads ~/.ssh/config,
// ~/.ssh/known_hosts and the default key files, uses $SSH_AUTH_SOCK, and
// refuses unknown host keys.
type Options struct {
	// ConfigFile is an ssh_config to read instead of ~/.ssh/config and
	// /etc/ssh/ssh_config.
	ConfigFile string
	// KnownHostsFiles replace ssh_config's UserKnownHostsFile and
	// ~/.ssh/known_hosts. New keys are written to the first.
	KnownHostsFiles []string
	// AcceptNewHostKeys records the key of a host not seen before instead
	// of refusing it (OpenSSH's StrictHostKeyChecking=accept-new). A
	// changed key is refused regardless.
	AcceptNewHostKeys bool
	// IdentityFiles are tried after ssh_config's IdentityFile entries.
	IdentityFiles []string
	// AgentSocket is the ssh-agent to ask first; "" uses $SSH_AUTH_SOCK.
	// "none" uses no agent.
	AgentSocket string
	// Passphrase asks for a key file's passphrase; nil never asks, and a
	// passphrase-protected key is skipped with a note.
	Passphrase func(file string) ([]byte, error)
	// SudoPassword asks for the password sudo wants on host to run as
	// user; nil never asks, and such a command fails with a
	// SudoPasswordError. The answer is sent on sudo's stdin.
	SudoPassword func(host, user string) ([]byte, error)
	// ConnectTimeout bounds dialling and the handshake, not the wait for
	// a handshake slot; default 15s.
	ConnectTimeout time.Duration
	// KeepaliveInterval sends a keepalive this often and drops a
	// connection that misses three; default 15s, negative disables.
	// ssh_config's ServerAliveInterval and ServerAliveCountMax win for
	// the hosts they name.
	KeepaliveInterval time.Duration
	// MaxHandshakes bounds the handshakes in flight in all, so a fleet
	// of hundreds does not do hundreds of key exchanges at once; default
	// 64. A connection waits for its turn once its TCP connection is
	// open, and the wait does not count against ConnectTimeout.
	MaxHandshakes int
	// MaxHandshakesPerServer bounds the connections being opened and
	// authenticated with one sshd (one address), under its MaxStartups
	// (default 10:30:100), past which it drops new connections; default
	// 8. A connection waits for this turn before its TCP connection.
	MaxHandshakesPerServer int
	// MaxSessions bounds the commands running at once over one
	// connection; default 7: with the shells started ahead and an SFTP
	// session, sshd's default MaxSessions of 10.
	MaxSessions int
	// ShellsAhead is how many shells each connection keeps started ahead,
	// waiting for a command's script, so that a command costs one round
	// trip; default 2, negative none (for a run of one command per host).
	ShellsAhead int
	// Trace, when set, is told of each connection and each command (see
	// TraceEvent), from many goroutines at once: deploy -v.
	Trace func(TraceEvent)
}

// Pool holds one SSH connection per host for a whole run; sessions are
// multiplexed over it, and hosts behind the same jump host share one
// connection to it. It is safe for concurrent use.
type Pool struct {
	opts   Options
	config *sshConfig
	keys   *keyring
	shakes chan struct{}

	mu       sync.Mutex
	clients  map[string]*pooledClient
	hostKeys map[string]*hostKeys     // by known_hosts file list
	perAddr  map[string]chan struct{} // handshake slots, by server address
	closed   bool
}

type pooledClient struct {
	ready    chan struct{} // closed once conn or err is set
	gone     chan struct{} // closed once the connection has ended
	conn     ssh.Conn
	chans    *channels // session channels, one opened ahead
	sessions chan struct{}
	err      error

	clientOnce sync.Once   // see sshClient
	client     *ssh.Client // set before ready for agent forwarding

	forwardOnce sync.Once // the agent's channel handler, set up once
	forwardErr  error
}

// NewPool reads ssh_config and known_hosts; it connects to nothing yet.
func NewPool(opts Options) (*Pool, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 15 * time.Second
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = 15 * time.Second
	}
	if opts.MaxHandshakes <= 0 {
		opts.MaxHandshakes = 64
	}
	if opts.MaxHandshakesPerServer <= 0 {
		opts.MaxHandshakesPerServer = 8
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 7
	}
	switch {
	case opts.ShellsAhead == 0:
		opts.ShellsAhead = 2
	case opts.ShellsAhead < 0:
		opts.ShellsAhead = 0
	}
	switch opts.AgentSocket {
	case "":
		opts.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	case "none":
		opts.AgentSocket = ""
	}
	cfg, err := loadSSHConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	return &Pool{
		opts:     opts,
		config:   cfg,
		keys:     &keyring{agentSocket: opts.AgentSocket, passphrase: opts.Passphrase},
		shakes:   make(chan struct{}, opts.MaxHandshakes),
		clients:  map[string]*pooledClient{},
		hostKeys: map[string]*hostKeys{},
		perAddr:  map[string]chan struct{}{},
	}, nil
}

// Dial returns a Conn to target, connecting on first use and sharing the
// connection afterwards.
func (p *Pool) Dial(ctx context.Context, target Target) (Conn, error) {
	e, err := p.config.resolve(target)
	if err != nil {
		return nil, err
	}
	pc, err := p.client(ctx, e)
	if err != nil {
		return nil, err
	}
	return &sshConn{pool: p, pc: pc, e: e, name: target.String()}, nil
}

// Drop closes the pool's connection to target, if it has one: a
// connection that stalls (a frozen NAT entry, a host that swallows
// packets) looks alive until keepalives give up on it; after Drop the next
// command dials again.
func (p *Pool) Drop(target Target) {
	e, err := p.config.resolve(target)
	if err != nil {
		return
	}
	p.mu.Lock()
	var victims []*pooledClient
	for _, key := range []string{e.key(), e.key() + " +agent"} {
		if pc, ok := p.clients[key]; ok {
			delete(p.clients, key)
			victims = append(victims, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range victims {
		select {
		case <-pc.ready:
			if pc.conn != nil {
				pc.conn.Close()
			}
		default: // still dialling: it ends by its own timeout
		}
	}
}

// Close closes every connection of the pool.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	clients := p.clients
	p.clients = map[string]*pooledClient{}
	p.mu.Unlock()
	var errs []error
	for _, pc := range clients {
		<-pc.ready
		if pc.conn != nil {
			if err := pc.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, p.keys.Close())
	return errors.Join(errs...)
}

// client returns the shared connection for e, dialling it (and its jump
// hosts) the first time; concurrent callers wait for the one dial.
func (p *Pool) client(ctx context.Context, e *endpoint) (*pooledClient, error) {
	key := e.key()
	if e.forwardAgent {
		// OpenSSH gives a connection one agent socket, seen by all its
		// sessions: forwarded commands get a connection of their own.
		key += " +agent"
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("ssh pool is closed")
	}
	pc, ok := p.clients[key]
	if !ok {
		pc = &pooledClient{ready: make(chan struct{}), gone: make(chan struct{}), sessions: make(chan struct{}, p.opts.MaxSessions)}
		p.clients[key] = pc
	}
	p.mu.Unlock()
	if ok {
		select {
		case <-pc.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return pc, pc.err
	}

	var chans <-chan ssh.NewChannel
	var reqs <-chan *ssh.Request
	pc.conn, chans, reqs, pc.err = p.dial(ctx, e)
	if pc.err != nil {
		// Forget the failure so that a later call may try again.
		p.mu.Lock()
		delete(p.clients, key)
		p.mu.Unlock()
	} else {
		if e.forwardAgent {
			// The host opens the forwarded agent's channels, which
			// x/crypto's Client hands to the agent's handler.
			pc.client = ssh.NewClient(pc.conn, chans, closed[*ssh.Request]())
			chans = nil
		}
		pc.chans = newChannels(pc.conn, p.opts.ShellsAhead)
		p.keepalive(pc, e)
		go p.serve(key, pc, chans, reqs)
	}
	close(pc.ready)
	return pc, pc.err
}

// dial connects to e. What the host asks of the connection, channels and
// requests, is the caller's to serve.
func (p *Pool) dial(ctx context.Context, e *endpoint) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	ct := p.newConnTrace(e)
	cc, chans, reqs, err := p.connect(ctx, e, ct)
	ct.done(p, err)
	return cc, chans, reqs, err
}

// connect is dial, telling ct what it learns.
func (p *Pool) connect(ctx context.Context, e *endpoint, ct *connTrace) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	timeout := p.opts.ConnectTimeout
	if e.connectTime > 0 {
		timeout = e.connectTime
	}
	jump, err := p.jumpClient(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	// Handshakes wait their turn, with this server before the TCP
	// connection is opened (sshd counts a connection against its
	// MaxStartups from its accept on), and in all once it is open. The
	// connect timeout bounds the connection and the handshake, not the
	// waits: a host behind a thousand others still has all of it.
	release, err := p.turn(ctx, p.serverSlots(e.addr()), e.addr())
	if err != nil {
		return nil, nil, nil, err
	}
	defer release()
	start := time.Now()
	dialCtx, cancelDial := context.WithTimeout(ctx, timeout)
	var conn net.Conn
	if jump == nil {
		var d net.Dialer
		conn, err = d.DialContext(dialCtx, "tcp", e.addr())
	} else {
		conn, err = jump.sshClient().DialContext(dialCtx, "tcp", e.addr())
	}
	cancelDial()
	spent := time.Since(start)
	ct.setDial(spent)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect to %s: %w", e.addr(), err)
	}
	releaseAll, err := p.turn(ctx, p.shakes, e.addr())
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	defer releaseAll()
	ctx, cancel := context.WithTimeout(ctx, timeout-spent)
	defer cancel()

	cfg, signers, notes, err := p.clientConfig(e, ct)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	shake := time.Now()
	defer func() { ct.setHandshake(time.Since(shake)) }()
	cfg.Timeout = timeout
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A cancelled context must interrupt a handshake that hangs.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	cc, chans, reqs, err := ssh.NewClientConn(conn, e.addr(), cfg)
	stop()
	if err != nil {
		conn.Close()
		var hkErr *HostKeyError
		switch {
		case errors.As(err, &hkErr):
			return nil, nil, nil, hkErr
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, nil, nil, authError(e, signers, notes, err)
		case ctx.Err() != nil:
			return nil, nil, nil, fmt.Errorf("ssh handshake with %s: %w", e.addr(), ctx.Err())
		}
		return nil, nil, nil, fmt.Errorf("ssh handshake with %s: %w", e.addr(), err)
	}
	conn.SetDeadline(time.Time{})
	return cc, chans, reqs, nil
}

// jumpClient is the connection to e's last jump host, which carries the
// TCP connection to e (nil when e is reached directly). It is dialled, or
// shared, before e waits for its handshake slots: it takes slots of its
// own.
func (p *Pool) jumpClient(ctx context.Context, e *endpoint) (*pooledClient, error) {
	if len(e.jumps) == 0 {
		return nil, nil
	}
	last := e.jumps[len(e.jumps)-1]
	je, err := p.config.resolve(last)
	if err != nil {
		return nil, err
	}
	// The last hop is itself reached through the hops before it.
	je.jumps = e.jumps[:len(e.jumps)-1]
	jc, err := p.client(ctx, je)
	if err != nil {
		return nil, fmt.Errorf("jump host %s: %w", last, err)
	}
	return jc, nil
}

// serverSlots are the handshake slots of the server at addr.
func (p *Pool) serverSlots(addr string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	slots, ok := p.perAddr[addr]
	if !ok {
		slots = make(chan struct{}, p.opts.MaxHandshakesPerServer)
		p.perAddr[addr] = slots
	}
	return slots
}

// turn waits for one of slots, for a handshake with addr; release gives
// it back. A dial takes its server's slot before the global one, always,
// so no two dials each hold what the other waits for.
func (p *Pool) turn(ctx context.Context, slots chan struct{}, addr string) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: waiting for a handshake slot: %w", addr, ctx.Err())
	}
}

// clientConfig is how deploy logs in to e: its user, the agent's keys then
// the key files, known_hosts with the accept-new policy, and the host key
// types known_hosts holds. It also says how many keys it offers and what
// it skipped, for the error when none is accepted.
func (p *Pool) clientConfig(e *endpoint, ct *connTrace) (cfg *ssh.ClientConfig, signers int, notes []string, err error) {
	hk, err := p.hostKeysFor(e)
	if err != nil {
		return nil, 0, nil, err
	}
	files := append(append([]string(nil), e.identityFiles...), p.opts.IdentityFiles...)
	if len(files) == 0 {
		files = defaultIdentityFiles(p.config.home)
	}
	keys, notes := p.keys.signers(files, e.identitiesOnly)
	acceptNew := p.opts.AcceptNewHostKeys || e.strict == "accept-new" || e.strict == "no" || e.strict == "off"
	cfg = &ssh.ClientConfig{
		User:              e.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(keys...)},
		HostKeyCallback:   hk.callback(acceptNew),
		HostKeyAlgorithms: hk.algorithms(e.addr()),
		Timeout:           p.opts.ConnectTimeout,
	}
	ct.watch(cfg, hk, keys, files)
	return cfg, len(keys), notes, nil
}

// ClientConfig is the SSH client configuration deploy uses for target,
// for a client that dials by itself (git over SSH): the same keys, the
// same known_hosts and the same policy as deploy's own connections.
func (p *Pool) ClientConfig(target Target) (*ssh.ClientConfig, error) {
	e, err := p.config.resolve(target)
	if err != nil {
		return nil, err
	}
	cfg, _, _, err := p.clientConfig(e, nil)
	return cfg, err
}

// hostKeysFor returns the known_hosts checker for e: the caller's files,
// else ssh_config's, else ~/.ssh/known_hosts. Checkers are shared by the
// hosts that use the same files.
func (p *Pool) hostKeysFor(e *endpoint) (*hostKeys, error) {
	files := p.opts.KnownHostsFiles
	if len(files) == 0 {
		files = e.knownHosts
	}
	if len(files) == 0 {
		files = []string{filepath.Join(p.config.home, ".ssh", "known_hosts")}
	}
	key := strings.Join(files, "\x00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if hk, ok := p.hostKeys[key]; ok {
		return hk, nil
	}
	hk, err := newHostKeys(files)
	if err != nil {
		return nil, err
	}
	p.hostKeys[key] = hk
	return hk, nil
}
