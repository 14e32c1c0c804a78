//go:build unix

package sshtest

import (
	"path/filepath"
	"testing"
	"time"
)

// RestartWithNewHostKey stops the server and starts another sshd in its
// place, on the same address and port, with the same settings and a new
// ed25519 host key — a reinstalled host, or someone in the middle. The
// Env's known_hosts is not changed. HostKey becomes the new key.
func (s *Server) RestartWithNewHostKey(t testing.TB, e *Env) {
	t.Helper()
	s.Stop()
	_, s.HostKey = writeKey(t, filepath.Join(s.Dir, "host_ed25519_key"))
	// The port was just freed; give the kernel a moment if it is slow
	// to let go of it.
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.start(e, s.setup); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart sshd %s on port %d: %v", s.Name, s.Port, err)
}
