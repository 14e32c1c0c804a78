// Package vt is a very small terminal for tests: it takes what a program
// writes to its terminal — text, carriage returns, line feeds and the few
// escape sequences deploy's live status uses (cursor up, erase to the end
// of the line or the screen, colours) — and tells what the screen shows in
// the end, so a test can assert that no status line was left behind. It
// has no height: nothing scrolls off.
package vt

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Screen is what the terminal shows. It is safe for concurrent use.
type Screen struct {
	mu       sync.Mutex
	lines    [][]rune
	row, col int
	pending  []byte // an escape sequence or a UTF-8 rune cut between writes
}

// Write takes output as a terminal does. A line feed also returns the
// carriage, as a terminal's ONLCR output mode makes it do.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := append(s.pending, p...)
	s.pending = nil
	for len(buf) > 0 {
		n := s.step(buf)
		if n == 0 { // incomplete: wait for more
			s.pending = append([]byte(nil), buf...)
			break
		}
		buf = buf[n:]
	}
	return len(p), nil
}

// step interprets the start of buf and returns how many bytes it took, 0
// when buf holds only the start of a sequence.
func (s *Screen) step(buf []byte) int {
	switch c := buf[0]; c {
	case '\r':
		s.col = 0
		return 1
	case '\n':
		s.row++
		s.col = 0
		return 1
	case '\b':
		s.col = max(0, s.col-1)
		return 1
	case '\t':
		s.col = (s.col/8 + 1) * 8
		return 1
	case 0x1b:
		return s.escape(buf)
	}
	if buf[0] < 0x20 {
		return 1 // a bell or another control: nothing shown
	}
	if !utf8.FullRune(buf) {
		return 0
	}
	r, n := utf8.DecodeRune(buf)
	s.put(r)
	return n
}

// escape interprets an escape sequence: CSI n A (up), B (down), J (erase
// below), K (erase to the end of the line), m (colour: ignored); any other
// is skipped.
func (s *Screen) escape(buf []byte) int {
	if len(buf) < 2 {
		return 0
	}
	if buf[1] != '[' {
		return 2
	}
	i := 2
	for i < len(buf) && (buf[i] >= '0' && buf[i] <= '9' || buf[i] == ';' || buf[i] == '?') {
		i++
	}
	if i == len(buf) {
		return 0
	}
	n, err := strconv.Atoi(strings.Split(string(buf[2:i]), ";")[0])
	if err != nil || n == 0 {
		n = 1
	}
	switch buf[i] {
	case 'A':
		s.row = max(0, s.row-n)
	case 'B':
		s.row += n
	case 'J':
		s.eraseLine()
		if s.row+1 < len(s.lines) {
			s.lines = s.lines[:s.row+1]
		}
	case 'K':
		s.eraseLine()
	}
	return i + 1
}

func (s *Screen) line() []rune {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
	return s.lines[s.row]
}

// eraseLine erases from the cursor to the end of its line.
func (s *Screen) eraseLine() {
	if l := s.line(); s.col < len(l) {
		s.lines[s.row] = l[:s.col]
	}
}

func (s *Screen) put(r rune) {
	l := s.line()
	for len(l) <= s.col {
		l = append(l, ' ')
	}
	l[s.col] = r
	s.lines[s.row] = l
	s.col++
}

// Lines are the lines on the screen, without trailing blanks, and without
// the empty lines at the end.
func (s *Screen) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.lines))
	for i, l := range s.lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// String is the screen, a line each.
func (s *Screen) String() string { return strings.Join(s.Lines(), "\n") }
