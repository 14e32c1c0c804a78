package main

import "os"

// openTTY opens the console, whatever stdin and stdout are: CONIN$ to
// read the answer, CONOUT$ to write the question.
func openTTY() (*ttyTerminal, error) {
	in, err := os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &ttyTerminal{in: in, out: out}, nil
}
