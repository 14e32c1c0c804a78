//go:build unix

package remote_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Cancelling kills the whole process group, children included.
func TestLocalCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- remote.Local{}.Run(ctx, &remote.Cmd{Script: "sleep 300 &\necho $! > " + remote.MustQuote(pidFile) + "\nwait"})
	}()
	pid := sshtest.WaitForPID(t, pidFile)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
	sshtest.WaitGone(t, pid)
}
