package tcpproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// queueLen bounds the chunks read but not yet written of one direction:
// past it the reader stops reading and TCP pushes back on the sender.
const queueLen = 4096

// conn is one forwarded connection: two directions, each a reader and a
// writer goroutine joined by a queue of chunks due at a time.
type conn struct {
	client, server net.Conn
	up, down       gate          // client→server, server→client
	done           chan struct{} // closed by close
	once           sync.Once
}

func newConn(client, server net.Conn) *conn {
	return &conn{client: client, server: server, done: make(chan struct{})}
}

// chunk is what one read returned, to be written at due. data is nil for
// the end of the stream, err saying how it ended.
type chunk struct {
	data []byte
	err  error
	due  time.Time
}

// forward copies both directions until both have ended or c is closed.
func (c *conn) forward(opts Options) {
	var wg sync.WaitGroup
	wg.Go(func() { c.pipe(c.server, c.client, &c.up, opts.Up) })
	wg.Go(func() { c.pipe(c.client, c.server, &c.down, opts.Down) })
	wg.Wait()
	c.close()
}

// pipe copies src to dst, each chunk delay after it was read and not
// while g is frozen.
func (c *conn) pipe(dst, src net.Conn, g *gate, delay time.Duration) {
	q := make(chan chunk, queueLen)
	var wg sync.WaitGroup
	wg.Go(func() { c.read(src, q, g, delay) })
	c.write(dst, q, g)
	wg.Wait()
}

// read queues what src sends, then its end; it stops early once c is
// closed. While g is frozen it stops reading, so that the sender's TCP
// window fills as on a stalled path, instead of the queue.
func (c *conn) read(src net.Conn, q chan<- chunk, g *gate, delay time.Duration) {
	defer close(q)
	buf := make([]byte, 32<<10)
	for g.wait(c.done) {
		n, err := src.Read(buf)
		if n > 0 && !c.send(q, chunk{data: bytes.Clone(buf[:n]), due: time.Now().Add(delay)}) {
			return
		}
		if err != nil {
			c.send(q, chunk{err: err, due: time.Now().Add(delay)})
			return
		}
	}
}

func (c *conn) send(q chan<- chunk, ch chunk) bool {
	select {
	case q <- ch:
		return true
	case <-c.done:
		return false
	}
}

// write writes the queued chunks to dst, each when due and thawed. A
// clean end of the source half-closes dst; any other end, or a failed
// write, closes the whole connection.
func (c *conn) write(dst net.Conn, q <-chan chunk, g *gate) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ch := range q {
		if !c.sleepUntil(timer, ch.due) || !g.wait(c.done) {
			return
		}
		if ch.data == nil {
			c.endWrite(dst, ch.err)
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.close()
			return
		}
	}
}

// endWrite passes the end of a stream on: a FIN for a FIN, else a close.
func (c *conn) endWrite(dst net.Conn, err error) {
	tc, ok := dst.(*net.TCPConn)
	if !errors.Is(err, io.EOF) || !ok || tc.CloseWrite() != nil {
		c.close()
	}
}

// sleepUntil waits for due; false if c is closed first.
func (c *conn) sleepUntil(t *time.Timer, due time.Time) bool {
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// close closes both sides; the goroutines of c then end.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.server.Close()
	})
}

// reset closes both sides with an RST.
func (c *conn) reset() {
	for _, nc := range []net.Conn{c.client, c.server} {
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	c.close()
}

// gate holds one direction back while frozen.
type gate struct {
	mu     sync.Mutex
	thawed chan struct{} // nil unless frozen; closed by thaw
}

func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.thawed == nil {
		g.thawed = make(chan struct{})
	}
}

func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.thawed != nil {
		close(g.thawed)
		g.thawed = nil
	}
}

// wait returns true once g is not frozen, false once done is closed.
func (g *gate) wait(done <-chan struct{}) bool {
	for {
		g.mu.Lock()
		thawed := g.thawed
		g.mu.Unlock()
		if thawed == nil {
			select {
			case <-done:
				return false
			default:
				return true
			}
		}
		select {
		case <-thawed:
		case <-done:
			return false
		}
	}
}
