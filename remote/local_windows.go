package remote

import (
	"os/exec"
	"strconv"
)

// On Windows, Local runs scripts with the sh that PATH finds (Git for
// Windows and MSYS2 install one); without it, Run fails with
// exec.ErrNotFound.
//
// Windows has no process groups to signal and no SIGTERM. Cancelling
// ends the whole tree at once with `taskkill /T /F`, which walks the
// parent-child links from the shell down: a command has no chance to
// clean up, as with SIGKILL. (A Job object would also catch processes
// whose parent already exited; taskkill keeps this free of extra
// dependencies and is enough for the shells and tools of a deploy.)

// stopTreeOnCancel makes cancelling c's context kill its process tree.
func stopTreeOnCancel(c *exec.Cmd) {
	c.Cancel = func() error {
		if err := taskkill(c.Process.Pid); err != nil {
			// taskkill missing or refused: at least the shell goes.
			return c.Process.Kill()
		}
		return nil
	}
}

// killTree does nothing on Windows: Cancel already killed the tree, and
// once the shell has exited its pid may belong to another process.
func killTree(*exec.Cmd) {}

func taskkill(pid int) error {
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}

// exitError is the status of a command that ran.
func exitError(exit *exec.ExitError) *ExitError {
	return &ExitError{Status: exit.ExitCode()}
}
