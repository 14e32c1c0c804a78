//go:build unix

package sshtest

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/internal/tcpproxy"
)

// Proxy is a TCP proxy to a server that the Env's ssh_config names: its
// tcpproxy methods freeze, thaw or cut the connections going through it,
// as a stalled or broken network path does.
type Proxy struct {
	*tcpproxy.Proxy
	Name string // its Host alias in the Env's ssh_config
	Host string // 127.0.0.1
	Port int
}

// StartProxy listens on 127.0.0.1 and forwards to addr, the server whose
// host key is hostKey; "Host name" in the Env's ssh_config reaches that
// server through the proxy. It stops at cleanup.
func (e *Env) StartProxy(t testing.TB, name, addr string, hostKey ssh.PublicKey) *Proxy {
	t.Helper()
	tp, err := tcpproxy.New(addr, tcpproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	p := &Proxy{Proxy: tp, Name: name, Host: "127.0.0.1", Port: tp.Port()}

	e.mu.Lock()
	defer e.mu.Unlock()
	appendFile(t, e.KnownHosts, fmt.Sprintf("[%s]:%d %s", p.Host, p.Port, ssh.MarshalAuthorizedKey(hostKey)))
	appendFile(t, e.SSHConfig, fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		name, p.Host, p.Port, e.User, e.ClientKey, e.KnownHosts))
	return p
}
