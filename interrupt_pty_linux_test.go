//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/internal/vt"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Ctrl-C typed on the terminal during `deploy run`: the real binary on a
// pseudo-terminal draws its live status lines, and once it has exited the
// screen holds none of them (nor the ^C), and says the hosts were
// interrupted.
func TestRunInterruptedOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := deployBinary(t)
	flags, pidFiles := sleepyFleet(t)
	master, slave, err := vt.OpenPTY(30, 120)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	cmd := exec.Command(bin, append(flags, "run", "slow", "web")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=xterm", "NO_COLOR=")
	// Its own session, the pty its controlling terminal: ^C typed there
	// goes to it as to a program started in a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var screen vt.Screen
	var raw bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(io.MultiWriter(&screen, &raw), master) // until EIO: the program's side is closed
		close(read)
	}()
	var pids []int
	for _, f := range pidFiles {
		pids = append(pids, sshtest.WaitForPID(t, f))
	}
	waitForScreen(t, &screen, "▸ [2/3] run: sh -c")
	time.Sleep(600 * time.Millisecond)                 // the status block is redrawn a few times
	if _, err := master.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	code := waitExit(t, cmd, 15*time.Second)
	<-read
	text := screen.String()
	if code != exitInterrupt {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupt, text)
	}
	if !strings.Contains(raw.String(), "\x1b[J") {
		t.Fatalf("no status block was drawn:\n%q", raw.String())
	}
	for _, line := range screen.Lines() {
		if strings.HasPrefix(line, "  web") || strings.Contains(line, "^C") {
			t.Errorf("line %q of the status block is left on the screen:\n%s", line, text)
		}
	}
	for _, want := range []string{"deploy: interrupted; stopping remote commands", "web1 | ■ interrupted",
		"2 interrupted", "■ interrupted during step 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the screen does not say %q:\n%s", want, text)
		}
	}
	for _, pid := range pids {
		sshtest.WaitGone(t, pid)
	}
}

// waitForScreen waits until the screen shows want.
func waitForScreen(t *testing.T, screen *vt.Screen, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(screen.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q:\n%s", want, screen.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
