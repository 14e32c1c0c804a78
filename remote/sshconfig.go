package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// sshConfig is the ssh_config files in force, first match wins: the one
// the user named, or ~/.ssh/config then /etc/ssh/ssh_config.
type sshConfig struct {
	files []*ssh_config.Config
	home  string
}

func loadSSHConfig(named string) (*sshConfig, error) {
	home, _ := os.UserHomeDir()
	c := &sshConfig{home: home}
	paths := []string{filepath.Join(home, ".ssh", "config"), "/etc/ssh/ssh_config"}
	if named != "" {
		paths = []string{named}
	}
	for i, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) && (named == "" || i > 0) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ssh_config: %w", err)
		}
		cfg, err := ssh_config.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ssh_config %s: %w", p, err)
		}
		c.files = append(c.files, cfg)
	}
	return c, nil
}

func (c *sshConfig) get(alias, key string) string {
	for _, f := range c.files {
		if v, err := f.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

func (c *sshConfig) getAll(alias, key string) []string {
	for _, f := range c.files {
		if v, err := f.GetAll(alias, key); err == nil && len(v) > 0 {
			return v
		}
	}
	return nil
}

// Target names a host to connect to: an address or an ssh_config alias,
// with the user and port the caller insists on (zero values leave them to
// ssh_config, then to the defaults: the local user name and port 22).
type Target struct {
	Host string
	User string
	Port int
}

func (t Target) String() string {
	s := t.Host
	if t.Port != 0 {
		s = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	}
	if t.User != "" {
		s = t.User + "@" + s
	}
	return s
}

// endpoint is a Target with ssh_config applied: everything needed to dial.
type endpoint struct {
	name          string // the Target as given, for traces
	alias         string
	hostname      string
	user          string
	port          int
	identityFiles []string
	// identitiesOnly offers only the IdentityFile keys, not the agent's
	// others (ssh_config IdentitiesOnly yes).
	identitiesOnly bool
	jumps          []Target // ProxyJump chain, first hop first
	knownHosts     []string
	strict         string // StrictHostKeyChecking: yes, accept-new, no, ask
	connectTime    time.Duration
	// keepalive is ssh_config's ServerAliveInterval (0: not set; -1: 0
	// there, keepalives off) and keepaliveMax its ServerAliveCountMax (0:
	// not set).
	keepalive    time.Duration
	keepaliveMax int
	forwardAgent bool // a connection for commands that use the forwarded agent
}

func (e *endpoint) addr() string { return net.JoinHostPort(e.hostname, strconv.Itoa(e.port)) }

// key identifies a connection: the same host reached the same way.
func (e *endpoint) key() string {
	var hops []string
	for _, j := range e.jumps {
		hops = append(hops, j.String())
	}
	return strings.Join(append(hops, e.user+"@"+e.addr()), " > ")
}

func (c *sshConfig) resolve(t Target) (*endpoint, error) {
	e := &endpoint{name: t.String(), alias: t.Host, hostname: t.Host, user: t.User, port: t.Port}
	if hn := c.get(t.Host, "HostName"); hn != "" {
		e.hostname = strings.ReplaceAll(hn, "%h", t.Host)
	}
	if e.user == "" {
		e.user = c.get(t.Host, "User")
	}
	if e.user == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no user for %s and no local user name: %w", t.Host, err)
		}
		e.user = u.Username
	}
	if e.port == 0 {
		if p := c.get(t.Host, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("ssh_config: Port %q for %s is not a port", p, t.Host)
			}
			e.port = n
		} else {
			e.port = 22
		}
	}
	for _, f := range c.getAll(t.Host, "IdentityFile") {
		e.identityFiles = append(e.identityFiles, c.expand(f, e))
	}
	e.identitiesOnly = strings.EqualFold(c.get(t.Host, "IdentitiesOnly"), "yes")
	for _, f := range c.getAll(t.Host, "UserKnownHostsFile") {
		for _, one := range strings.Fields(f) {
			e.knownHosts = append(e.knownHosts, c.expand(one, e))
		}
	}
	e.strict = strings.ToLower(c.get(t.Host, "StrictHostKeyChecking"))
	if s := c.get(t.Host, "ConnectTimeout"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ssh_config: ConnectTimeout %q for %s is not a number of seconds", s, t.Host)
		}
		e.connectTime = time.Duration(n) * time.Second
	}
	if s := c.get(t.Host, "ServerAliveInterval"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ssh_config: ServerAliveInterval %q for %s is not a number of seconds", s, t.Host)
		}
		e.keepalive = time.Duration(n) * time.Second
		if n == 0 {
			e.keepalive = -1 // ServerAliveInterval 0: none, as ssh
		}
	}
	if s := c.get(t.Host, "ServerAliveCountMax"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("ssh_config: ServerAliveCountMax %q for %s is not a number from 1 to 1000", s, t.Host)
		}
		e.keepaliveMax = n
	}
	if pj := c.get(t.Host, "ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
		for _, hop := range strings.Split(pj, ",") {
			jt, err := parseJump(strings.TrimSpace(hop))
			if err != nil {
				return nil, fmt.Errorf("ssh_config: ProxyJump for %s: %w", t.Host, err)
			}
			e.jumps = append(e.jumps, jt)
		}
	}
	return e, nil
}

// parseJump reads one ProxyJump hop: [user@]host[:port], or ssh://… .
func parseJump(s string) (Target, error) {
	s = strings.TrimPrefix(s, "ssh://")
	var t Target
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		t.User, s = s[:at], s[at+1:]
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host = strings.Trim(s, "[]")
	} else {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("hop %q: bad port", s)
		}
		t.Port = n
	}
	if host == "" || strings.HasPrefix(host, "-") || strings.HasPrefix(t.User, "-") {
		return t, fmt.Errorf("hop %q is not [user@]host[:port]", s)
	}
	t.Host = host
	return t, nil
}

// expand does ssh_config's ~ and the %-tokens deploy supports: %h (host
// name), %p (port), %r (remote user), %u (local user), %d (home), %%.
func (c *sshConfig) expand(s string, e *endpoint) string {
	if strings.HasPrefix(s, "~/") {
		s = filepath.Join(c.home, s[2:])
	}
	if !strings.Contains(s, "%") {
		return s
	}
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	r := strings.NewReplacer("%%", "%", "%h", e.hostname, "%p", strconv.Itoa(e.port), "%r", e.user, "%u", local, "%d", c.home)
	return r.Replace(s)
}
