package vt

import (
	"fmt"
	"strings"
	"testing"
)

func TestScreen(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"text and line feeds", "a\nb\n", []string{"a", "b"}},
		{"carriage return overwrites", "hello\rj", []string{"jello"}},
		{"erase to end of line", "hello\r\x1b[Kbye", []string{"bye"}},
		{"status block drawn and erased", "out\nweb1 ▸ 1s\x1b[K\nweb2 ▸ 1s\x1b[K\n\x1b[2A\r\x1b[Jmore\n", []string{"out", "more"}},
		{"erase moving up too little leaves lines", "out\nweb1 ▸\nweb2 ▸\nnote\n\x1b[2A\r\x1b[J", []string{"out", "web1 ▸"}},
		{"colours take no room", "\x1b[1;31mred\x1b[0m ok", []string{"red ok"}},
		{"sequence cut between writes", "ab\x1b", []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Screen
			for _, b := range []byte(tt.in) { // one byte a write: escapes and runes cut anywhere
				s.Write([]byte{b})
			}
			if got := s.Lines(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("screen %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScreenWholeWrite(t *testing.T) {
	var s Screen
	s.Write([]byte("one\ntwo\x1b[1A\rONE\n"))
	if got := strings.Join(s.Lines(), "|"); got != "ONE|two" {
		t.Errorf("screen %q", got)
	}
}
