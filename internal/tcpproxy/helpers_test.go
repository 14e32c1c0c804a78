package tcpproxy

import (
	"io"
	"net"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"
)

// target is a server on 127.0.0.1 whose accepted connections the test
// gets, to read and write the server's side itself.
type target struct {
	ln    net.Listener
	conns chan net.Conn
}

// newTarget starts a target; call it before starting proxies, its cleanup
// checks that theirs left no goroutine.
func newTarget(t *testing.T) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, conns: make(chan net.Conn, 16)}
	var (
		mu       sync.Mutex
		accepted []net.Conn
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
			tg.conns <- c
		}
	})
	t.Cleanup(func() {
		// Runs after the cleanups of the proxies (started later): none
		// of their goroutines may outlive Close.
		noGoroutines(t)
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})
	return tg
}

func (tg *target) addr() string { return tg.ln.Addr().String() }

// echo makes every connection of tg send back what it receives, until
// cleanup.
func (tg *target) echo(t *testing.T) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		taken   []net.Conn
		stopped bool
	)
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case c := <-tg.conns:
				mu.Lock()
				if stopped {
					c.Close()
				} else {
					taken = append(taken, c)
					wg.Go(func() { io.Copy(c, c) })
				}
				mu.Unlock()
			case <-done:
				return
			}
		}
	})
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		for _, c := range taken {
			c.Close()
		}
		mu.Unlock()
		close(done)
		wg.Wait()
	})
}

// start starts a proxy to addr and closes it at cleanup (newTarget's
// cleanup then checks that none of its goroutines is left).
func start(t *testing.T, addr string, opts Options) *Proxy {
	t.Helper()
	p, err := New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// proxyFrame is a stack frame of the proxy's code.
var proxyFrame = regexp.MustCompile(`tcpproxy\.\(\*(Proxy|conn|gate)\)`)

// noGoroutines fails t if a goroutine of a closed Proxy is still there.
// It does not wait: Close must have waited for them.
func noGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if proxyFrame.MatchString(stacks) {
		t.Errorf("goroutines of the proxy outlive Close:\n%s", stacks)
	}
}

// pair connects a client through p to tg and returns both ends, once p
// counts the connection.
func pair(t *testing.T, p *Proxy, tg *target) (client, server net.Conn) {
	t.Helper()
	before := p.Conns()
	client, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-tg.conns:
	case <-time.After(5 * time.Second):
		t.Fatal("the proxy did not connect to the target")
	}
	eventually(t, func() bool { return p.Conns() > before })
	return client, server
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// send writes s to c.
func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// expect reads len(want) bytes from c within 5s and compares them.
func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %q: %v", want, err)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// silent fails t if c receives anything within d.
func silent(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 1)
	n, err := c.Read(buf)
	if n > 0 || !isTimeout(err) {
		t.Fatalf("got %q, %v; want nothing for %v", buf[:n], err, d)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
