//go:build unix

package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Cancelling Run stops the command and its children on the host, for a
// plain login, a root login (whose signal requests sshd refuses) and a
// command run as root through sudo.
func TestCancelStopsCommandAndChildren(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		root bool // log in as root
		sudo bool // run the command through sudo, as root
		tty  bool
	}{
		{name: "plain login"},
		{name: "root login", root: true},
		{name: "sudo to root", sudo: true},
		{name: "plain login with a terminal", tty: true},
		{name: "root login with a terminal", root: true, tty: true},
		{name: "sudo to root with a terminal", sudo: true, tty: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := sshtest.New(t)
			var opts []sshtest.ServerOption
			if tt.root {
				if os.Geteuid() != 0 {
					t.Skip("a root login needs the tests to run as root")
				}
				env.User = "root"
				opts = append(opts, sshtest.Config("PermitRootLogin yes"))
			}
			if tt.sudo {
				env.Sudoers(t, env.User+" ALL=(root) NOPASSWD: ALL")
			}
			env.Start(t, "web1", opts...)
			conn := dialWeb1(t, env)
			dir := env.UserDir(t)
			q := func(name string) string { return remote.MustQuote(filepath.Join(dir, name)) }
			// Two sleeps: one of the script, one of a child sh; each
			// records its pid and, if it is not stopped, leaves a marker.
			script := "sh -c 'sleep 3 & echo $! > " + q("sleep2.pid") + "; wait; touch " + q("m2") + "' &\n" +
				"sleep 3 & echo $! > " + q("sleep1.pid") + "\n" +
				"wait $!\n" +
				"touch " + q("marker") + "\n" +
				"wait\n"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			started := time.Now()
			go func() { done <- conn.Run(ctx, &remote.Cmd{Script: script, Sudo: tt.sudo, TTY: tt.tty}) }()
			pids := []int{
				sshtest.WaitForPID(t, filepath.Join(dir, "sleep1.pid")),
				sshtest.WaitForPID(t, filepath.Join(dir, "sleep2.pid")),
			}
			time.Sleep(time.Until(started.Add(300 * time.Millisecond)))
			cancel()
			cancelled := time.Now()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "web1") {
					t.Errorf("Run after cancel = %v, want context.Canceled naming web1", err)
				}
				if d := time.Since(cancelled); d > 2*time.Second {
					t.Errorf("Run returned %v after cancel", d)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run did not return within 2s of cancel")
			}
			for _, pid := range pids {
				sshtest.WaitGone(t, pid)
			}
			time.Sleep(time.Until(cancelled.Add(4 * time.Second)))
			for _, m := range []string{"marker", "m2"} {
				if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
					t.Errorf("%s was created: the command ran on after cancel", m)
				}
			}
			// The connection serves the next command.
			runOK(t, conn, "true")
		})
	}
}

// Without a cancel, the command's exit status, output and background
// processes are its own: the watcher that stops it on cancel changes
// none of them.
func TestSupervisedCommandUnchanged(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	conn := dialWeb1(t, env)
	dir := env.UserDir(t)
	for _, tt := range []struct {
		script string
		status int
		stdout string
	}{
		{"echo a; exit 3", 3, "a\n"},
		{"trap 'echo trapped' EXIT; false; echo no", 1, "trapped\n"},
		{"read x || echo eof", 0, "eof\n"},
		{"echo $((1+1)) >&2; echo out", 0, "out\n"},
	} {
		var out sshtest.Buffer
		err := conn.Run(context.Background(), &remote.Cmd{Script: tt.script, Stdout: &out})
		status := 0
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			status = exit.Status
		} else if err != nil {
			t.Fatalf("%q: %v", tt.script, err)
		}
		if status != tt.status || out.String() != tt.stdout {
			t.Errorf("%q: status %d stdout %q, want %d %q", tt.script, status, out.String(), tt.status, tt.stdout)
		}
	}
	// A process the script leaves in the background keeps running.
	pidFile := filepath.Join(dir, "bg.pid")
	runOK(t, conn, "sleep 30 >/dev/null 2>&1 &\necho $! > "+remote.MustQuote(pidFile))
	pid := sshtest.WaitForPID(t, pidFile)
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the background process is gone: %v", err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}
