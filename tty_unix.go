//go:build !windows

package main

import "os"

// openTTY opens the controlling terminal, whatever stdin and stdout are.
func openTTY() (*ttyTerminal, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &ttyTerminal{in: f, out: f}, nil
}
