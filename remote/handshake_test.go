//go:build unix

package remote_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// dialAll dials n connections to host at once, as users u1…un (one
// connection each), and returns the first error.
func dialAll(t *testing.T, pool *remote.Pool, host string, n int) error {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := pool.Dial(context.Background(), remote.Target{Host: host, User: fmt.Sprintf("u%d", i+1)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sshd counts a connection against MaxStartups from its accept: the
// per-server limit holds for connections, not only for key exchanges.
func TestHandshakesPerServerCountFromConnect(t *testing.T) {
	env := sshtest.New(t)
	srv := env.StartInProcessConfig(t, sshtest.InProcessConfig{Name: "busy", HandshakeDelay: 50 * time.Millisecond})
	opts := env.Options()
	opts.MaxHandshakesPerServer = 2
	if err := dialAll(t, newPool(t, opts), "busy", 10); err != nil {
		t.Fatal(err)
	}
	// The server counts a connection until its own goroutine is done
	// with it, a moment after the client is: it may see a turn's next
	// connection before the last one's end. Without the limit it sees 10.
	if got := srv.Unauthenticated.Peak(); got > 4 || got < 1 {
		t.Errorf("the server saw %d unauthenticated connections at once, want 1 to 4 (MaxHandshakesPerServer 2, and its lag)", got)
	}
}

// A host that waits for its turn behind others still has the whole
// connect timeout for its own connection.
func TestConnectTimeoutExcludesTheWaitForATurn(t *testing.T) {
	env := sshtest.New(t)
	env.StartInProcessConfig(t, sshtest.InProcessConfig{Name: "slow", HandshakeDelay: 250 * time.Millisecond})
	opts := env.Options()
	opts.MaxHandshakes = 1
	opts.ConnectTimeout = time.Second
	// One at a time, 6 × 250 ms: the last waits 1.25 s for its turn.
	if err := dialAll(t, newPool(t, opts), "slow", 6); err != nil {
		t.Fatal(err)
	}
}
