package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// errNoTerminal is a prompt with no terminal to ask it on.
var errNoTerminal = errors.New("no terminal to ask on")

// IOStreams are the program's standard streams, whether each is a
// terminal, whether to colour them, and the terminal that questions are
// asked on. main makes the real one (systemIO); tests make one over
// buffers (newIOStreams) and may give it a fake terminal that answers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	outTTY, errTTY bool
	dumb           bool // TERM=dumb: a terminal that cannot redraw
	noColor        bool // NO_COLOR; --no-color is the Session's
	// openTerminal opens the terminal to ask on: /dev/tty on unix,
	// the console on Windows. It fails when there is none.
	openTerminal func() (terminal, error)

	mu sync.Mutex
	// status is the live status block a run draws on the terminal, while
	// it does: a notice goes above it, and it is cleared before an exit.
	status statusBlock
}

// withErrOut is the streams with stderr going to w instead; the copy
// has no status block of its own.
func (s *IOStreams) withErrOut(w io.Writer) *IOStreams {
	return &IOStreams{In: s.In, Out: s.Out, ErrOut: w, outTTY: s.outTTY, errTTY: s.errTTY, dumb: s.dumb,
		noColor: s.noColor, openTerminal: s.openTerminal}
}

// statusBlock is a live status block on the terminal (ui.LivePrinter).
type statusBlock interface {
	Interject(line string)
	Clear()
}

// SetStatus makes b the status block on the terminal (nil: none).
func (s *IOStreams) SetStatus(b statusBlock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = b
}

// Notice writes a line of the program's own to stderr on a line of its
// own (after a ^C the terminal echoed), above the status block if there
// is one.
func (s *IOStreams) Notice(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != nil {
		s.status.Interject(line)
		return
	}
	fmt.Fprintln(s.ErrOut, "\n"+line)
}

// ClearStatus erases the status block, if there is one, before the
// program exits.
func (s *IOStreams) ClearStatus() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != nil {
		s.status.Clear()
	}
}

// terminal is where questions are asked: the user's terminal itself, not
// stdin and stdout, so that piped input and output stay clean.
type terminal interface {
	io.Writer
	// ReadLine reads a line of the answer, echoed, without its newline.
	ReadLine() (string, error)
	// ReadSecret reads a line without echoing it.
	ReadSecret() ([]byte, error)
	Close() error
}

// systemIO is this process's streams and its controlling terminal.
func systemIO() *IOStreams {
	ios := newIOStreams(os.Stdin, os.Stdout, os.Stderr)
	ios.openTerminal = func() (terminal, error) {
		t, err := openTTY()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNoTerminal, err)
		}
		return t, nil
	}
	return ios
}

// newIOStreams are streams with no terminal to ask on: a prompt fails
// with errNoTerminal. Out and ErrOut count as terminals when they are.
func newIOStreams(in io.Reader, out, errOut io.Writer) *IOStreams {
	return &IOStreams{
		In: in, Out: out, ErrOut: errOut,
		outTTY:  isTerminal(out),
		errTTY:  isTerminal(errOut),
		dumb:    os.Getenv("TERM") == "dumb",
		noColor: os.Getenv("NO_COLOR") != "",
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// CanRedraw reports whether stdout and stderr are both a terminal that can
// redraw lines (not TERM=dumb): where a live status block may go.
func (s *IOStreams) CanRedraw() bool { return s.outTTY && s.errTTY && !s.dumb }

// ColorEnabled reports whether stdout may be coloured: a terminal, and
// no NO_COLOR. --no-color is the Session's.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.noColor }

// ErrColorEnabled is ColorEnabled for stderr.
func (s *IOStreams) ErrColorEnabled() bool { return s.errTTY && !s.noColor }

// CanPrompt reports whether there is a terminal to ask on.
func (s *IOStreams) CanPrompt() bool {
	t, err := s.terminal()
	if err != nil {
		return false
	}
	t.Close()
	return true
}

func (s *IOStreams) terminal() (terminal, error) {
	if s.openTerminal == nil {
		return nil, errNoTerminal
	}
	return s.openTerminal()
}

// Confirm asks a yes/no question; only y or yes is yes. An error means
// there is no terminal to ask on.
func (s *IOStreams) Confirm(question string) (bool, error) {
	line, err := s.Ask(question)
	if err != nil && line == "" {
		if errors.Is(err, errNoTerminal) {
			return false, err
		}
		return false, nil // end of input: no
	}
	answer := ""
	if f := strings.Fields(line); len(f) > 0 {
		answer = strings.ToLower(f[0])
	}
	return answer == "y" || answer == "yes", nil
}

// Ask asks for a line of text, echoed, and returns it trimmed.
func (s *IOStreams) Ask(prompt string) (string, error) {
	t, err := s.terminal()
	if err != nil {
		return "", err
	}
	defer t.Close()
	if _, err := io.WriteString(t, prompt); err != nil {
		return "", fmt.Errorf("asking %q: %w", prompt, err)
	}
	line, err := t.ReadLine()
	return strings.TrimSpace(line), err
}

// AskSecret asks for a passphrase or a password without echoing it.
func (s *IOStreams) AskSecret(prompt string) ([]byte, error) {
	t, err := s.terminal()
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if _, err := io.WriteString(t, prompt); err != nil {
		return nil, fmt.Errorf("asking %q: %w", prompt, err)
	}
	return t.ReadSecret()
}

// ttyTerminal is the real terminal: one file both ways on unix, the
// console's input and output on Windows.
type ttyTerminal struct {
	in, out *os.File
	r       *bufio.Reader
}

func (t *ttyTerminal) Write(p []byte) (int, error) { return t.out.Write(p) }

func (t *ttyTerminal) ReadLine() (string, error) {
	if t.r == nil {
		t.r = bufio.NewReader(t.in)
	}
	line, err := t.r.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func (t *ttyTerminal) ReadSecret() ([]byte, error) {
	answer, err := term.ReadPassword(int(t.in.Fd()))
	fmt.Fprintln(t.out)
	return answer, err
}

func (t *ttyTerminal) Close() error {
	err := t.in.Close()
	if t.out != t.in {
		err = errors.Join(err, t.out.Close())
	}
	return err
}
