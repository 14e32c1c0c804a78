package main

import (
	"os"
	"os/signal"
)

// interruptSignals stop a run: on Windows, Ctrl-C and Ctrl-Break, which
// Go delivers as os.Interrupt.
func interruptSignals() []os.Signal {
	return []os.Signal{os.Interrupt}
}

// notifyInterrupts relays to c the signals that interrupt a run. Windows
// has no SIGPIPE: a write to a closed pipe just fails.
func notifyInterrupts(c chan<- os.Signal) {
	signal.Notify(c, interruptSignals()...)
}

// brokenPipe reports whether sig says stdout or stderr was closed: never
// a signal on Windows.
func brokenPipe(os.Signal) bool { return false }
