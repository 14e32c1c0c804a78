// Package tcpproxy is the one TCP proxy of the tests and benchmarks: it
// forwards connections from 127.0.0.1 to a target and can hurt them the
// ways a network does — latency on each direction, a stall (freeze) of
// both directions or only of what the client sends, and a cut that resets
// every connection at once.
//
// It is test infrastructure, in its own package (not a _test.go file) so
// that bench/, remote/sshtest and the root package's fault tests share it.
// The deploy binary does not import it.
package tcpproxy

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"
)

// dialTimeout bounds the dial to the target of each accepted connection.
const dialTimeout = 10 * time.Second

// Options are the harm a Proxy does to every connection. The zero value
// forwards as fast as it can.
type Options struct {
	// Up and Down delay every byte client→server and server→client by
	// that much, in order: bandwidth is not limited, only latency added.
	Up, Down time.Duration
	// Dial is waited after a client connects, before dialing the target:
	// the round trip of the TCP handshake to a far host.
	Dial time.Duration
}

// RTT is the latency of a far host: rtt added to every round trip (half
// each way) and to the TCP handshake.
func RTT(rtt time.Duration) Options {
	return Options{Up: rtt / 2, Down: rtt / 2, Dial: rtt}
}

// Proxy forwards TCP connections from 127.0.0.1 to one target. Its
// methods are safe for concurrent use.
type Proxy struct {
	target string
	opts   Options
	ln     net.Listener

	ctx  context.Context // done once Close begins
	stop context.CancelFunc
	wg   sync.WaitGroup // every goroutine of the proxy
	once sync.Once

	mu    sync.Mutex
	conns map[*conn]struct{} // forwarding now
}

// New listens on a free port of 127.0.0.1 and forwards every connection
// it accepts to target (host:port), harmed as opts say. Close it.
func New(target string, opts Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Proxy{target: target, opts: opts, ln: ln, ctx: ctx, stop: stop, conns: map[*conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Addr is 127.0.0.1:port.
func (p *Proxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port())) }

// Conns is how many connections are being forwarded now.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Freeze stops forwarding, in both directions, on every connection open
// now, without closing them; it returns how many. Nothing is lost: what
// arrives while frozen is held (up to a bounded queue, then TCP pushes
// back) and sent on Thaw. Connections made later are not frozen.
func (p *Proxy) Freeze() int {
	list := p.current()
	for _, c := range list {
		c.up.freeze()
		c.down.freeze()
	}
	return len(list)
}

// FreezeUp is Freeze of the client→server direction only: the server's
// bytes still come, the client's are held.
func (p *Proxy) FreezeUp() int {
	list := p.current()
	for _, c := range list {
		c.up.freeze()
	}
	return len(list)
}

// Thaw forwards again on every connection open now, starting with what
// was held back; it returns how many connections there are.
func (p *Proxy) Thaw() int {
	list := p.current()
	for _, c := range list {
		c.up.thaw()
		c.down.thaw()
	}
	return len(list)
}

// Cut resets every connection open now, both its client and its server
// side (an RST, not a FIN), as a middlebox that lost its state does; it
// returns how many. New connections are still accepted.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	list := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		list = append(list, c)
		delete(p.conns, c)
	}
	p.mu.Unlock()
	for _, c := range list {
		c.reset()
	}
	return len(list)
}

// Close stops listening, closes every connection, and returns once every
// goroutine of the proxy has ended. It may be called more than once.
func (p *Proxy) Close() {
	p.once.Do(func() {
		p.stop()
		p.ln.Close()
		for _, c := range p.current() {
			c.close()
		}
		p.wg.Wait()
	})
}

func (p *Proxy) current() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		list = append(list, c)
	}
	return list
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.handle(client) })
	}
}

// handle dials the target for client and forwards until both directions
// end, or the connection is cut or closed.
func (p *Proxy) handle(client net.Conn) {
	server, err := p.dial()
	if err != nil {
		client.Close()
		return
	}
	c := newConn(client, server)
	if !p.add(c) {
		c.close()
		return
	}
	defer p.remove(c)
	c.forward(p.opts)
}

// dial waits opts.Dial, then connects to the target; Close cancels both.
func (p *Proxy) dial() (net.Conn, error) {
	if p.opts.Dial > 0 {
		t := time.NewTimer(p.opts.Dial)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return nil, p.ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p.target)
}

// add registers c; false once the proxy is closing (Close would miss it).
func (p *Proxy) add(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}
