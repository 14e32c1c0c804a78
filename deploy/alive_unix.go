//go:build unix

package deploy

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process of this machine exists (or may:
// one of another user answers EPERM).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
