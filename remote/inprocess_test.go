//go:build unix

package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

func TestInProcessExitStatus(t *testing.T) {
	env := sshtest.New(t)
	env.StartInProcess(t, "fast")
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "fast"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{0, 1, 2, 42, 255} {
		err := conn.Run(context.Background(), &remote.Cmd{Script: "exit " + itoa(want)})
		got := 0
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			got = exit.Status
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("exit %d reported as %d", want, got)
		}
	}
}

// A connection cut mid-command is an error, never an exit status.
func TestInProcessDisconnect(t *testing.T) {
	env := sshtest.New(t)
	srv := env.StartInProcess(t, "flaky")
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "flaky"})
	if err != nil {
		t.Fatal(err)
	}
	var out sshtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- conn.Run(context.Background(), &remote.Cmd{Script: "echo started; sleep 30", Stdout: &out})
	}()
	for i := 0; i < 500 && !strings.Contains(out.String(), "started"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	srv.DropConnections()
	err = <-done
	var exit *remote.ExitError
	if err == nil || errors.As(err, &exit) {
		t.Fatalf("got %v, want a lost connection", err)
	}
	// The host is back: the next command dials again rather than fail on
	// the dead connection (a run reads a lost host's state this way).
	var again error
	for i := 0; i < 50; i++ {
		if again = conn.Run(context.Background(), &remote.Cmd{Script: "true"}); again == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if again != nil {
		t.Errorf("after the cut: %v, want a new connection", again)
	}
}

// A host that stops answering is dropped after three missed keepalives,
// and the command fails instead of hanging.
func TestKeepaliveDropsHungHost(t *testing.T) {
	env := sshtest.New(t)
	srv := env.StartInProcess(t, "hung")
	srv.IgnoreKeepalives = true
	opts := env.Options()
	opts.KeepaliveInterval = 50 * time.Millisecond
	conn, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "hung"})
	if err != nil {
		t.Fatal(err)
	}
	failsNotHangs(t, conn, "the command hung with its host")
}

// failsNotHangs runs a long command on conn, whose host stopped
// answering: it must fail within 20 s, not hang.
func failsNotHangs(t *testing.T, conn remote.Conn, hung string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- conn.Run(context.Background(), &remote.Cmd{Script: "sleep 30"}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a command on a hung host succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal(hung)
	}
}

// ssh_config's ServerAliveInterval and ServerAliveCountMax for a host win
// over the pool's default: one missed keepalive a second drops it, while
// the default (an hour here) would have hung the command.
func TestServerAliveFromSSHConfig(t *testing.T) {
	env := sshtest.New(t)
	srv := env.StartInProcess(t, "hung")
	srv.IgnoreKeepalives = true
	base, err := os.ReadFile(env.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "ssh_config")
	writeFile(t, config, "Host hung\n  ServerAliveInterval 1\n  ServerAliveCountMax 1\n"+string(base), 0o644)
	opts := env.Options()
	opts.ConfigFile = config
	opts.KeepaliveInterval = time.Hour
	conn, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "hung"})
	if err != nil {
		t.Fatal(err)
	}
	failsNotHangs(t, conn, "ServerAliveInterval 1 from ssh_config was not used: the command hung with its host")
}

func TestServerAliveBadValues(t *testing.T) {
	for _, line := range []string{"ServerAliveInterval x", "ServerAliveInterval -1", "ServerAliveCountMax 0", "ServerAliveCountMax many"} {
		config := filepath.Join(t.TempDir(), "ssh_config")
		writeFile(t, config, "Host h\n  "+line+"\n", 0o644)
		p := newPool(t, remote.Options{ConfigFile: config, AgentSocket: "none"})
		_, err := p.Dial(context.Background(), remote.Target{Host: "h"})
		if err == nil || !strings.Contains(err.Error(), strings.Fields(line)[0]) {
			t.Errorf("%s: %v, want an error naming it", line, err)
		}
	}
}

func itoa(n int) string {
	return strconv.Itoa(n)
}
