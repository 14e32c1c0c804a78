//go:build unix

package sshtest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Proxy forwards TCP connections to a server and can freeze them: stop
// forwarding in both directions while keeping every connection open, as a
// stalled network path does. Nothing is lost: what was read while frozen
// is sent on Thaw.
type Proxy struct {
	Name string // its Host alias in the Env's ssh_config
	Host string // 127.0.0.1
	Port int

	target   string
	listener net.Listener
	done     chan struct{} // closed by Close

	mu     sync.Mutex
	thawed chan struct{} // nil unless frozen; closed by Thaw
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// Addr is host:port.
func (p *Proxy) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// StartProxy listens on 127.0.0.1 and forwards to addr, the server whose
// host key is hostKey; "Host name" in the Env's ssh_config reaches that
// server through the proxy. It stops at cleanup.
func (e *Env) StartProxy(t testing.TB, name, addr string, hostKey ssh.PublicKey) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Name: name, Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, target: addr, listener: l, done: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)

	e.mu.Lock()
	defer e.mu.Unlock()
	appendFile(t, e.KnownHosts, fmt.Sprintf("[%s]:%d %s", p.Host, p.Port, ssh.MarshalAuthorizedKey(hostKey)))
	appendFile(t, e.SSHConfig, fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		name, p.Host, p.Port, e.User, e.ClientKey, e.KnownHosts))
	return p
}

// Freeze stops forwarding on every connection, present and future.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed == nil {
		p.thawed = make(chan struct{})
	}
}

// Thaw forwards again, starting with what was held back.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed != nil {
		close(p.thawed)
		p.thawed = nil
	}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.listener.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns = append(p.conns, client, server)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.forward(server, client)
		go p.forward(client, server)
	}
}

// forward copies src to dst, holding each read back while frozen.
func (p *Proxy) forward(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait returns once the proxy is not frozen, or false once it is closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	if thawed == nil {
		return true
	}
	select {
	case <-thawed:
		return true
	case <-p.done:
		return false
	}
}
