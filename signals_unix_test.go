//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// waitExit waits for cmd to end, failing the test after timeout, and
// returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("deploy still ran %s after the signal", timeout)
		return -1
	}
}

// A signal that ends a terminal session or a service interrupts the real
// binary like Ctrl-C: exit 130 at once, and the remote command is gone.
func TestSignalsInterruptBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := deployBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			env, _, flags := fleet(t, 1)
			pidFile := filepath.Join(env.UserDir(t), "pid")
			script := fmt.Sprintf(`sh -c 'echo $$ > "$0"; exec sleep 300' %s`, pidFile)
			cmd := exec.Command(bin, append(flags, "exec", "web1", "--", script)...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := sshtest.WaitForPID(t, pidFile)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd, 10*time.Second); code != exitInterrupt {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitInterrupt, out.String(), errOut.String())
			}
			sshtest.WaitGone(t, pid)
		})
	}
}

// A closed stdout pipe (deploy exec … | head -1) interrupts the run
// instead of killing deploy: it stops the remote command and exits 1 (the
// output was lost; nobody asked it to stop).
func TestBrokenStdoutInterrupts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := deployBinary(t)
	env, _, flags := fleet(t, 1)
	pidFile := filepath.Join(env.UserDir(t), "pid")
	script := fmt.Sprintf(`echo $$ > %s; while :; do echo line; sleep 0.05; done`, pidFile)
	cmd := exec.Command(bin, append(flags, "exec", "web1", "--", script)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sshtest.WaitForPID(t, pidFile)
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "line") {
		t.Fatalf("first line %q: %v", line, err)
	}
	stdout.Close() // as head does once it has its line
	if code := waitExit(t, cmd, 10*time.Second); code != exitFailed {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitFailed, errOut.String())
	}
	sshtest.WaitGone(t, pid)
}
