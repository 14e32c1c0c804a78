//go:build unix

package remote

import (
	"os/exec"
	"syscall"
)

// stopTreeOnCancel starts c in a process group of its own; cancelling its
// context sends SIGTERM to the whole group, and after killGrace (the
// Cmd's WaitDelay) killTree sends SIGKILL.
func stopTreeOnCancel(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }
}

// killTree sends SIGKILL to c's process group: what is left of it once
// the shell has gone.
func killTree(c *exec.Cmd) {
	if c.Process != nil {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
}

// exitError is the status of a command that ran; a signal n is 128+n, as
// sh reports it.
func exitError(exit *exec.ExitError) *ExitError {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &ExitError{Status: 128 + int(ws.Signal()), Signal: ws.Signal().String()}
	}
	return &ExitError{Status: exit.ExitCode()}
}
