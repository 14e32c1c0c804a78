//go:build unix

package remote_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// On a connection that stops carrying anything (without closing), every
// call returns once its context ends, whatever it was waiting for: the
// session's opening, the exit status, SFTP. After the thaw, the
// connection serves commands again.
func TestStalledConnectionBoundedByContext(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// call runs against the frozen connection; freeze freezes it,
		// before or during the call.
		call func(ctx context.Context, conn remote.Conn, local string, freeze func()) error
	}{
		{"open session", func(ctx context.Context, conn remote.Conn, _ string, freeze func()) error {
			freeze()
			return conn.Run(ctx, &remote.Cmd{Script: "true"})
		}},
		{"exit status", func(ctx context.Context, conn remote.Conn, _ string, freeze func()) error {
			var out sshtest.Buffer
			go func() {
				for i := 0; i < 100 && !strings.Contains(out.String(), "started"); i++ {
					time.Sleep(5 * time.Millisecond)
				}
				freeze()
			}()
			return conn.Run(ctx, &remote.Cmd{Script: "echo started; sleep 1", Stdout: &out})
		}},
		{"upload", func(ctx context.Context, conn remote.Conn, local string, freeze func()) error {
			freeze()
			return conn.Upload(ctx, local, filepath.Join(filepath.Dir(local), "copy"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := sshtest.New(t)
			srv := env.StartInProcess(t, "direct")
			proxy := env.StartProxy(t, "frozen", srv.Addr(), srv.HostKey)
			freeze := func() {
				if n := proxy.Freeze(); n != 1 {
					t.Errorf("froze %d connections, want the pool's 1", n)
				}
			}
			opts := env.Options()
			opts.KeepaliveInterval = -1
			pool := newPool(t, opts)
			conn, err := pool.Dial(context.Background(), remote.Target{Host: "frozen"})
			if err != nil {
				t.Fatal(err)
			}
			runOK(t, conn, "true")
			local := filepath.Join(t.TempDir(), "file")
			writeFile(t, local, "data\n", 0o644)

			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- tt.call(ctx, conn, local, freeze) }()
			select {
			case err := <-done:
				if d := time.Since(start); d > 1500*time.Millisecond {
					t.Errorf("returned after %v", d)
				}
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "frozen") {
					t.Errorf("got %v, want an error naming the host and the deadline", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("still blocked 5s into a 500ms deadline")
			}
			proxy.Thaw()
			runOK(t, conn, "true")

			// Abandoned again, then the pool closes while the connection
			// is still frozen: nothing of the call is left running.
			ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := tt.call(ctx, conn, local, freeze); err == nil {
				t.Error("a call on a frozen connection succeeded")
			}
			pool.Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				buf := make([]byte, 1<<20)
				stacks := string(buf[:runtime.Stack(buf, true)])
				if !strings.Contains(stacks, "deploy/remote.(*sshConn)") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("goroutines of the abandoned call outlive the pool:\n%s", stacks)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
