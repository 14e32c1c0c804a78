// Package bench measures deploy against its peers on real local sshd
// hosts, each optionally behind a userspace latency proxy. Run it with
// bench/run.sh; see BENCHMARKS.md for the figures.
package bench

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// LatencyProxy forwards TCP connections from 127.0.0.1 to one server,
// delaying the bytes of each direction by half the round-trip time, in
// order, so a conversation sees RTT per round trip (this kernel has no
// netem). Bandwidth is not limited. It listens on loopback only.
type LatencyProxy struct {
	Port   int
	target string
	delay  time.Duration // one way: RTT/2
	ln     net.Listener

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// NewLatencyProxy listens on a free port of 127.0.0.1 and forwards to
// target (host:port) with rtt added to every round trip.
func NewLatencyProxy(target string, rtt time.Duration) (*LatencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LatencyProxy{Port: ln.Addr().(*net.TCPAddr).Port, target: target, delay: rtt / 2, ln: ln}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is 127.0.0.1:port.
func (p *LatencyProxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *LatencyProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *LatencyProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			// The TCP handshake to a far host costs a round trip too.
			time.Sleep(2 * p.delay)
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				return
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
			go p.pipe(server, client)
			go p.pipe(client, server)
		}()
	}
}

type chunk struct {
	data []byte // nil: end of stream
	due  time.Time
}

// pipe copies src to dst, each read delivered delay after it was read.
func (p *LatencyProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	q := make(chan chunk, 1<<14)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if c.data == nil {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				} else {
					dst.Close()
				}
				return
			}
			if _, err := dst.Write(c.data); err != nil {
				src.Close()
				return
			}
		}
	}()
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{data: buf[:n], due: time.Now().Add(p.delay)}
		}
		if err != nil {
			q <- chunk{due: time.Now().Add(p.delay)}
			break
		}
	}
	close(q)
	<-done
}
