package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// SSHSettings are the SSH options of the command line; they win over the
// Deployfile's [ssh] table.
type SSHSettings struct {
	ConfigFile        string // --ssh-config
	AcceptNewHostKeys bool   // --accept-new-host-keys
	KnownHostsFiles   []string
	IdentityFiles     []string
	AgentSocket       string
	// Passphrase asks for a key's passphrase on a terminal; nil when there
	// is none.
	Passphrase func(file string) ([]byte, error)
	// SudoPassword asks for sudo's password on a terminal; nil when there
	// is none, and sudo must then work without one.
	SudoPassword func(host, user string) ([]byte, error)
	// OneCommand says each host gets one command (exec, check): no shell
	// is started ahead for a next one (remote.Options.ShellsAhead).
	OneCommand bool
	// Trace is told of each connection and command (remote.Options.Trace):
	// -v. Scripts reach it unmasked; Runner.OnSecrets says what to mask.
	Trace func(remote.TraceEvent)
}

// Connector opens connections to a Deployfile's hosts: one SSH connection
// per host for the whole run, or the local transport for "local".
type Connector struct {
	df   *config.Deployfile
	pool *remote.Pool
}

// NewConnector reads ssh_config and known_hosts; it connects lazily.
func NewConnector(df *config.Deployfile, s SSHSettings) (*Connector, error) {
	opts := remote.Options{
		ConfigFile:        cmp.Or(s.ConfigFile, df.Relative(df.SSH.Config)),
		AcceptNewHostKeys: s.AcceptNewHostKeys,
		KnownHostsFiles:   s.KnownHostsFiles,
		IdentityFiles:     s.IdentityFiles,
		AgentSocket:       s.AgentSocket,
		Passphrase:        s.Passphrase,
		SudoPassword:      s.SudoPassword,
		ConnectTimeout:    df.SSH.ConnectTimeout,
		Trace:             s.Trace,
	}
	if s.OneCommand {
		opts.ShellsAhead = -1
	}
	pool, err := remote.NewPool(opts)
	if err != nil {
		return nil, err
	}
	return &Connector{df: df, pool: pool}, nil
}

// Target is how the host is reached: its spec, with [ssh] user and port
// filling what the spec leaves out (ssh_config fills the rest).
func Target(df *config.Deployfile, h *config.Host) remote.Target {
	t := remote.Target{Host: h.Host, User: h.User, Port: h.Port}
	if t.User == "" {
		t.User = df.SSH.User
	}
	if t.Port == 0 {
		t.Port = df.SSH.Port
	}
	return t
}

// Resolve is where h really is, after ssh_config: "user@hostname:port",
// jump hosts first. Two aliases of one machine resolve the same.
// User is the user h logs in as, ssh_config and this machine's user name
// included ("" for this machine): {{user}}.
func (c *Connector) User(h *config.Host) string {
	if h.Local() {
		return ""
	}
	u, _ := c.pool.User(Target(c.df, h))
	return u
}

func (c *Connector) Resolve(h *config.Host) (string, error) {
	if h.Local() {
		return config.LocalHost, nil
	}
	return c.pool.Resolve(Target(c.df, h))
}

// Conn returns the connection to h, connecting on first use.
func (c *Connector) Conn(ctx context.Context, h *config.Host) (remote.Conn, error) {
	if h.Local() {
		return remote.Local{}, nil
	}
	conn, err := c.pool.Dial(ctx, Target(c.df, h))
	if err != nil {
		return nil, &ConnectError{Host: h.Name, Err: err}
	}
	return conn, nil
}

// ConnectError is a host that could not be reached. It says "connect to"
// once, with the host's name and, when it differs, the address dialled:
// "connect to web1 (10.0.0.5:22): connection refused".
type ConnectError struct {
	Host string
	Err  error
}

func (e *ConnectError) Unwrap() error { return e.Err }

func (e *ConnectError) Error() string {
	addr, why := "", e.Err.Error()
	var op *net.OpError
	if errors.As(e.Err, &op) && op.Op == "dial" && op.Addr != nil {
		// "dial tcp ADDR: connect: connection refused" names the address
		// and the system call: the reason is what is left.
		addr, why = op.Addr.String(), op.Err.Error()
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			why = sys.Err.Error()
		}
	} else if rest, ok := strings.CutPrefix(why, "connect to "); ok {
		// remote says which address it was connecting to.
		if a, r, ok := strings.Cut(rest, ": "); ok {
			addr, why = a, r
		}
	}
	var dns *net.DNSError
	if errors.As(e.Err, &dns) && dns.IsNotFound {
		why = fmt.Sprintf("no such host %q: neither the ssh_config read (~/.ssh/config, or --ssh-config FILE) names it as a Host with a HostName, nor DNS knows it", dns.Name)
	}
	if addr == "" || addr == e.Host {
		return fmt.Sprintf("connect to %s: %s", e.Host, why)
	}
	return fmt.Sprintf("connect to %s (%s): %s", e.Host, addr, why)
}

// SSHClientConfig is the SSH configuration deploy's own connections use
// for target, for git to push with the same keys and known_hosts.
func (c *Connector) SSHClientConfig(target remote.Target) (*ssh.ClientConfig, error) {
	return c.pool.ClientConfig(target)
}

// Close closes every connection.
func (c *Connector) Close() error { return c.pool.Close() }

// Drop closes the connection to h, so the next command dials again.
func (c *Connector) Drop(h *config.Host) {
	if !h.Local() {
		c.pool.Drop(Target(c.df, h))
	}
}

// Endpoint is where a host is reached once ssh_config has been applied —
// HostName, User, Port and ProxyJump, else the defaults ssh uses (this
// machine's user name, port 22) — as `deploy hosts` shows it.
type Endpoint struct {
	User     string   `json:"user"`
	HostName string   `json:"hostname"`
	Port     int      `json:"port"`
	Via      []string `json:"via,omitempty"` // jump hosts, first hop first: user@host:port
}

// String is user@hostname:port, after " via " the jump hosts.
func (e Endpoint) String() string {
	s := net.JoinHostPort(e.HostName, strconv.Itoa(e.Port))
	if e.User != "" {
		s = e.User + "@" + s
	}
	if len(e.Via) > 0 {
		s += " via " + strings.Join(e.Via, ", ")
	}
	return s
}

// Endpoint is where h is reached, read from the Deployfile and ssh_config;
// it connects to nothing.
func (c *Connector) Endpoint(h *config.Host) (Endpoint, error) {
	id, err := c.Resolve(h) // "jump1>jump2>user@hostname:port"
	if err != nil {
		return Endpoint{}, err
	}
	hops := strings.Split(id, ">")
	last := hops[len(hops)-1]
	at := strings.LastIndex(last, "@")
	host, port, err := net.SplitHostPort(last[at+1:])
	if err != nil {
		return Endpoint{}, fmt.Errorf("resolve %s: %w", h.Name, err)
	}
	e := Endpoint{User: last[:max(at, 0)], HostName: host, Via: hops[:len(hops)-1]}
	if e.Port, err = strconv.Atoi(port); err != nil {
		return Endpoint{}, fmt.Errorf("resolve %s: port %q: %w", h.Name, port, err)
	}
	return e, nil
}
