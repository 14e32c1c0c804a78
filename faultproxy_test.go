//go:build faults && unix

package main

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy between deploy and one sshd that can hurt the
// connections going through it: delay the server's bytes, cut every
// connection at once (new ones are still accepted), or freeze them (stop
// forwarding, in both directions, without closing).
type faultProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration // added to every server→client chunk

	mu    sync.Mutex
	conns map[*proxyConn]bool
	wg    sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	frozen         atomic.Bool // both directions
	frozenUp       atomic.Bool // client → server only
	closed         chan struct{}
	once           sync.Once
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.client.Close()
		c.server.Close()
	})
}

// wait blocks while the connection is frozen; false once it is closed.
func (c *proxyConn) wait() bool {
	for c.frozen.Load() {
		select {
		case <-c.closed:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-c.closed:
		return false
	default:
		return true
	}
}

// waitUp blocks while the client → server direction is frozen.
func (c *proxyConn) waitUp() bool {
	for c.frozenUp.Load() {
		select {
		case <-c.closed:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

func newFaultProxy(t *testing.T, target string, delay time.Duration) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, delay: delay, conns: map[*proxyConn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, closed: make(chan struct{})}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		go p.up(c)
		go p.down(c)
	}
}

// up forwards client → server as it comes.
func (p *faultProxy) up(c *proxyConn) {
	defer p.drop(c)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if !c.wait() || !c.waitUp() {
				return
			}
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// down forwards server → client, each chunk p.delay after it came.
func (p *faultProxy) down(c *proxyConn) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		buf := make([]byte, 32<<10)
		for {
			n, err := c.server.Read(buf)
			if n > 0 {
				select {
				case queue <- chunk{time.Now().Add(p.delay), append([]byte(nil), buf[:n]...)}:
				case <-c.closed:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer p.drop(c)
	for ch := range queue {
		select {
		case <-time.After(time.Until(ch.at)):
		case <-c.closed:
			return
		}
		if !c.wait() {
			return
		}
		if _, err := c.client.Write(ch.data); err != nil {
			return
		}
	}
}

func (p *faultProxy) drop(c *proxyConn) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *faultProxy) current() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

// Cut closes every connection open now; it returns how many.
func (p *faultProxy) Cut() int {
	list := p.current()
	for _, c := range list {
		p.drop(c)
	}
	return len(list)
}

// Freeze stops forwarding on every connection open now, without closing
// them; it returns how many. Connections made later are not frozen.
func (p *faultProxy) Freeze() int {
	list := p.current()
	for _, c := range list {
		c.frozen.Store(true)
	}
	return len(list)
}

// FreezeUp stops forwarding what the client sends on every connection
// open now (the server's answers still come); it returns how many.
func (p *faultProxy) FreezeUp() int {
	list := p.current()
	for _, c := range list {
		c.frozenUp.Store(true)
	}
	return len(list)
}

// Close stops accepting and closes every connection.
func (p *faultProxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
