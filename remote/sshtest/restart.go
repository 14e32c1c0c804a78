//go:build unix

package sshtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
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

// Restart starts a stopped server again: the same sshd_config, host key,
// authorized keys and port, so the Env's ssh_config and known_hosts still
// reach it. A running server is stopped first. It fails the test when sshd
// does not answer within 10s.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	cfgFile := filepath.Join(s.Dir, "sshd_config")
	var lastErr error
	// The port was just freed: a connection of the killed server may
	// hold it for a moment.
	for attempt := 0; attempt < 10; attempt++ {
		if lastErr = s.restart(cfgFile); lastErr == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart sshd %s: %v", s.Name, lastErr)
}

func (s *Server) restart(cfgFile string) error {
	log := &Buffer{}
	cmd := exec.Command(SSHD, "-D", "-e", "-f", cfgFile)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.log, s.done = cmd, log, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("sshd exited: %s", log.String())
		default:
		}
		if banner(s.Addr()) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("sshd did not answer on %s within 10s: %s", s.Addr(), log.String())
}
