package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

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
}

// Connector opens connections to a Deployfile's hosts: one SSH connection
// per host for the whole run, or the local transport for "local".
type Connector struct {
	df   *Deployfile
	pool *remote.Pool
}

// NewConnector reads ssh_config and known_hosts; it connects lazily.
func NewConnector(df *Deployfile, s SSHSettings) (*Connector, error) {
	opts := remote.Options{
		ConfigFile:        cmpOr(s.ConfigFile, df.relative(df.SSH.Config)),
		AcceptNewHostKeys: s.AcceptNewHostKeys,
		KnownHostsFiles:   s.KnownHostsFiles,
		IdentityFiles:     s.IdentityFiles,
		AgentSocket:       s.AgentSocket,
		Passphrase:        s.Passphrase,
		SudoPassword:      s.SudoPassword,
		ConnectTimeout:    df.SSH.ConnectTimeout,
	}
	pool, err := remote.NewPool(opts)
	if err != nil {
		return nil, err
	}
	return &Connector{df: df, pool: pool}, nil
}

// relative resolves a path written in the Deployfile against the
// Deployfile's directory, so `deploy -f ../app/Deployfile` finds the same
// files as `deploy` run beside it.
func (df *Deployfile) relative(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	return filepath.Join(filepath.Dir(df.File), p)
}

// Target is how the host is reached: its spec, with [ssh] user and port
// filling what the spec leaves out (ssh_config fills the rest).
func (df *Deployfile) Target(h *Host) remote.Target {
	t := remote.Target{Host: h.Host, User: h.User, Port: h.Port}
	if t.User == "" {
		t.User = df.SSH.User
	}
	if t.Port == 0 {
		t.Port = df.SSH.Port
	}
	return t
}

// Conn returns the connection to h, connecting on first use.
func (c *Connector) Conn(ctx context.Context, h *Host) (remote.Conn, error) {
	if h.Local() {
		return remote.Local{}, nil
	}
	conn, err := c.pool.Dial(ctx, c.df.Target(h))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", h.Name, err)
	}
	return conn, nil
}

// SSHClientConfig is the SSH configuration deploy's own connections use
// for target, for git to push with the same keys and known_hosts.
func (c *Connector) SSHClientConfig(target remote.Target) (*ssh.ClientConfig, error) {
	return c.pool.ClientConfig(target)
}

// Close closes every connection.
func (c *Connector) Close() error { return c.pool.Close() }
