package tcpproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// roundTrip sends one byte to an echo server through c and reads it back.
func roundTrip(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	send(t, c, "x")
	expect(t, c, "x")
	return time.Since(start)
}

func dialEcho(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// minRoundTrip is the fastest of n round trips on c.
func minRoundTrip(t *testing.T, c net.Conn, n int) time.Duration {
	t.Helper()
	best := time.Hour
	for range n {
		best = min(best, roundTrip(t, c))
	}
	return best
}

func TestRTTCostsEveryRoundTrip(t *testing.T) {
	const rtt = 40 * time.Millisecond
	tg := newTarget(t)
	tg.echo(t)

	fast := dialEcho(t, start(t, tg.addr(), Options{}))
	roundTrip(t, fast)
	if d := minRoundTrip(t, fast, 5); d >= rtt/2 {
		t.Errorf("a round trip without latency took %v", d)
	}

	slow := dialEcho(t, start(t, tg.addr(), RTT(rtt)))
	if d := roundTrip(t, slow); d < 2*rtt {
		t.Errorf("the first round trip (with the handshake's) took %v, want ≥ %v", d, 2*rtt)
	}
	for i := range 5 {
		if d := roundTrip(t, slow); d < rtt {
			t.Errorf("round trip %d took %v, want ≥ %v", i, d, rtt)
		}
	}
}

func TestDelayPerDirection(t *testing.T) {
	const up, down = 20 * time.Millisecond, 80 * time.Millisecond
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{Up: up, Down: down})
	client, server := pair(t, p, tg)

	begin := time.Now()
	send(t, client, "up")
	expect(t, server, "up")
	if d := time.Since(begin); d < up || d >= down {
		t.Errorf("client→server took %v, want [%v, %v)", d, up, down)
	}
	begin = time.Now()
	send(t, server, "down")
	expect(t, client, "down")
	if d := time.Since(begin); d < down {
		t.Errorf("server→client took %v, want ≥ %v", d, down)
	}
}

// Many small writes through a delay arrive whole and in order, and the
// proxy does not start a goroutine per chunk.
func TestDelayKeepsOrder(t *testing.T) {
	tg := newTarget(t)
	tg.echo(t)
	p := start(t, tg.addr(), Options{Up: 5 * time.Millisecond, Down: 15 * time.Millisecond})
	c := dialEcho(t, p)
	roundTrip(t, c)

	var want bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&want, "%d,", i)
	}
	base := runtime.NumGoroutine()
	written := make(chan error, 1)
	go func() {
		var err error
		for _, b := range bytes.SplitAfter(want.Bytes(), []byte(",")) {
			if _, err = c.Write(b); err != nil {
				break
			}
		}
		written <- err
	}()
	time.Sleep(5 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > base+5 {
		t.Errorf("%d goroutines while streaming, %d before", n, base)
	}
	expect(t, c, want.String())
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

func TestFreezeHoldsThenThawSends(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{})
	client, server := pair(t, p, tg)
	send(t, client, "before")
	expect(t, server, "before")

	if n := p.Freeze(); n != 1 {
		t.Fatalf("Freeze: %d connections, want 1", n)
	}
	send(t, client, "up")
	send(t, server, "down")
	silent(t, server, 200*time.Millisecond)
	silent(t, client, 10*time.Millisecond)

	// A connection made now is not frozen.
	c2, s2 := pair(t, p, tg)
	send(t, c2, "new")
	expect(t, s2, "new")

	if n := p.Thaw(); n != 2 {
		t.Fatalf("Thaw: %d connections, want 2", n)
	}
	expect(t, server, "up")
	expect(t, client, "down")
}

// A frozen connection stops reading: the sender's writes block, as on a
// stalled path, instead of filling the proxy's memory.
func TestFreezePushesBack(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{})
	client, _ := pair(t, p, tg)
	p.Freeze()
	client.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := client.Write(make([]byte, 256<<20))
	if !isTimeout(err) {
		t.Fatalf("wrote %d bytes to a frozen connection: %v", n, err)
	}
	if n > 32<<20 {
		t.Errorf("%d bytes written before the push back", n)
	}
}

func TestFreezeUpHoldsOnlyTheClient(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{})
	client, server := pair(t, p, tg)

	if n := p.FreezeUp(); n != 1 {
		t.Fatalf("FreezeUp: %d connections, want 1", n)
	}
	send(t, client, "up")
	silent(t, server, 200*time.Millisecond)
	send(t, server, "down")
	expect(t, client, "down")

	p.Thaw()
	expect(t, server, "up")
}

func TestCutResetsEveryConnection(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{Down: 10 * time.Millisecond})
	c1, s1 := pair(t, p, tg)
	c2, s2 := pair(t, p, tg)
	p.Freeze() // a frozen connection is cut too

	if n := p.Cut(); n != 2 {
		t.Fatalf("Cut: %d connections, want 2", n)
	}
	if n := p.Conns(); n != 0 {
		t.Errorf("%d connections after the cut", n)
	}
	for _, c := range []net.Conn{c1, s1, c2, s2} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read after the cut: %v, want a reset", err)
		}
	}

	c3, s3 := pair(t, p, tg)
	send(t, c3, "again")
	expect(t, s3, "again")
}

func TestConnsCountsOpenConnections(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{})
	client, server := pair(t, p, tg)
	pair(t, p, tg)
	if n := p.Conns(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	client.Close()
	server.Close()
	eventually(t, func() bool { return p.Conns() == 1 })
}

// A FIN is passed on as a FIN: the other direction still flows.
func TestHalfClose(t *testing.T) {
	tg := newTarget(t)
	p := start(t, tg.addr(), Options{Down: 5 * time.Millisecond})
	client, server := pair(t, p, tg)
	send(t, client, "request")
	client.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "request" {
		t.Fatalf("server read %q, %v", got, err)
	}
	send(t, server, "reply")
	server.Close()
	got, err = io.ReadAll(client)
	if err != nil || string(got) != "reply" {
		t.Fatalf("client read %q, %v", got, err)
	}
	eventually(t, func() bool { return p.Conns() == 0 })
}

func TestTargetDownClosesTheClient(t *testing.T) {
	tg := newTarget(t)
	addr := tg.addr()
	tg.ln.Close()
	p := start(t, addr, Options{})
	c := dialEcho(t, p)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
}

// Close ends frozen connections, delayed bytes and a handshake being
// delayed, at once, and waits for every goroutine (start's cleanup checks
// none is left).
func TestCloseEndsEverything(t *testing.T) {
	tg := newTarget(t)
	p, err := New(tg.addr(), Options{Down: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	frozen, fs := pair(t, p, tg)
	p.Freeze()
	send(t, frozen, "held")
	delayed, ds := pair(t, p, tg)
	send(t, ds, "delayed")
	silent(t, delayed, 20*time.Millisecond)

	slow, err := New(tg.addr(), Options{Dial: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dialing := dialEcho(t, slow)

	begin := time.Now()
	p.Close()
	slow.Close()
	p.Close() // again: nothing
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	noGoroutines(t)
	for _, c := range []net.Conn{frozen, fs, delayed, dialing} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
			t.Errorf("read after Close: %v, want the connection closed", err)
		}
	}
}
