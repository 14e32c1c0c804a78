package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// fakeTerminal answers prompts from a script, one line each, and keeps
// the questions asked.
type fakeTerminal struct {
	answers *bufio.Reader
	asked   *bytes.Buffer
}

func (t *fakeTerminal) Write(p []byte) (int, error) { return t.asked.Write(p) }

func (t *fakeTerminal) ReadLine() (string, error) {
	line, err := t.answers.ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func (t *fakeTerminal) ReadSecret() ([]byte, error) {
	line, err := t.ReadLine()
	return []byte(line), err
}

func (t *fakeTerminal) Close() error { return nil }

// testIO are IO streams over buffers with a terminal that answers
// answers, one line a prompt; asked collects the prompts.
func testIO(answers string) (ios *IOStreams, stdout, stderr, asked *bytes.Buffer) {
	stdout, stderr, asked = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	ios = newIOStreams(strings.NewReader(""), stdout, stderr)
	term := &fakeTerminal{answers: bufio.NewReader(strings.NewReader(answers)), asked: asked}
	ios.openTerminal = func() (terminal, error) { return term, nil }
	return ios, stdout, stderr, asked
}

// runCLIAnswering runs the CLI in-process with a terminal that answers
// the prompts; it returns what was asked too.
func runCLIAnswering(t *testing.T, answers string, args ...string) (code int, stdout, stderr, asked string) {
	t.Helper()
	ios, out, errOut, q := testIO(answers)
	code = runStreams(context.Background(), append([]string{"deploy"}, args...), ios)
	return code, out.String(), errOut.String(), q.String()
}

func TestPrompts(t *testing.T) {
	tests := []struct {
		name    string
		answers string
		want    bool
	}{
		{"y", "y\n", true},
		{"yes, shouting", "YES\n", true},
		{"yes and more", "yes please\n", true},
		{"n", "n\n", false},
		{"empty", "\n", false},
		{"anything else", "sure\n", false},
		{"end of input", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, asked := testIO(tt.answers)
			got, err := ios.Confirm("Go? [y/N] ")
			if err != nil || got != tt.want {
				t.Errorf("Confirm with %q = %v, %v; want %v", tt.answers, got, err, tt.want)
			}
			if asked.String() != "Go? [y/N] " {
				t.Errorf("asked %q", asked.String())
			}
		})
	}

	ios, _, _, _ := testIO("  a message \nsecret\n")
	if line, err := ios.Ask("Message: "); err != nil || line != "a message" {
		t.Errorf("Ask = %q, %v", line, err)
	}
	if pass, err := ios.AskSecret("Password: "); err != nil || string(pass) != "secret" {
		t.Errorf("AskSecret = %q, %v", pass, err)
	}

	none := newIOStreams(strings.NewReader(""), io.Discard, io.Discard)
	if none.CanPrompt() {
		t.Error("streams over buffers say they can prompt")
	}
	if _, err := none.Confirm("Go? "); !errors.Is(err, errNoTerminal) {
		t.Errorf("Confirm without a terminal: %v, want errNoTerminal", err)
	}
	if _, err := none.AskSecret("Password: "); !errors.Is(err, errNoTerminal) {
		t.Errorf("AskSecret without a terminal: %v, want errNoTerminal", err)
	}
}

func TestColour(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	ios := newIOStreams(strings.NewReader(""), io.Discard, io.Discard)
	if ios.ColorEnabled() || ios.ErrColorEnabled() || ios.CanRedraw() {
		t.Error("buffers are taken for a terminal")
	}
	ios.outTTY, ios.errTTY = true, true
	if !ios.ColorEnabled() || !ios.CanRedraw() {
		t.Error("a terminal gets no colour")
	}
	t.Setenv("NO_COLOR", "1")
	if newIOStreams(nil, io.Discard, io.Discard).noColor != true {
		t.Error("NO_COLOR is ignored")
	}
}
