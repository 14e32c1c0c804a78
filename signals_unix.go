//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// interruptSignals stop a run as Ctrl-C does: SIGTERM from a process
// manager or kill, and SIGHUP from a closed terminal or a dropped SSH
// session, which must release locks and stop remote commands too.
func interruptSignals() []os.Signal {
	return []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
}

// notifyInterrupts relays to c the signals that interrupt a run.
//
// It also catches SIGPIPE. Uncaught, a write to a closed stdout or stderr
// pipe (`deploy exec web -- journalctl | head -1`) kills the process on
// the spot, with locks held and remote commands running. Caught, the
// write fails with EPIPE instead, and the first SIGPIPE interrupts the run
// as Ctrl-C does: remote commands are stopped, locks released, the journal
// written — and deploy exits 1 (exitFailed): nobody asked it to stop, its
// output was lost. Every later write to the closed pipe raises SIGPIPE again:
// those are dropped, so they are not taken for the second Ctrl-C that
// quits at once, before the locks are released.
func notifyInterrupts(c chan<- os.Signal) {
	signal.Notify(c, interruptSignals()...)
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	go func() {
		sig := <-pipe
		select {
		case c <- sig:
		default: // c is full: the run is being interrupted already
		}
		for range pipe {
		}
	}()
}

// brokenPipe reports whether sig says stdout or stderr was closed.
func brokenPipe(sig os.Signal) bool { return sig == syscall.SIGPIPE }
