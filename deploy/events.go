package deploy

import (
	"bytes"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
)

// Event is one thing that happened during a run, for people (Printer) and
// machines (--json, one event a line). README.md documents the schema.
type Event struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"event"`
	Host     string    `json:"host,omitempty"`
	Stream   string    `json:"stream,omitempty"` // stdout or stderr, for output
	Line     string    `json:"line,omitempty"`
	Status   *int      `json:"exit_status,omitempty"`
	Duration float64   `json:"duration_s,omitempty"`
	Error    string    `json:"error,omitempty"`
	Command  string    `json:"command,omitempty"`
	Target   string    `json:"target,omitempty"`
	Hosts    []string  `json:"hosts,omitempty"`
	OK       *int      `json:"ok,omitempty"`
	Failed   *int      `json:"failed,omitempty"`
	Plan     *Plan     `json:"plan,omitempty"` // EventPlan
}

// Event types.
const (
	EventRunStart = "run_start"
	EventOutput   = "output"
	EventHostEnd  = "host_end"
	EventRunEnd   = "run_end"
)

// Printer receives a run's events. Implementations are safe for concurrent
// use: each event is written whole.
type Printer interface {
	Event(Event)
}

// StepsOnly passes on the events of steps and their output, and drops
// those of the run itself: for a task run inside another run's step (the
// test step runs the test task), whose run_start and run_end would end the
// outer run's display.
type StepsOnly struct{ Next Printer }

func (p StepsOnly) Event(e Event) {
	if e.Type != EventRunStart && e.Type != EventRunEnd && e.Type != EventPlan {
		p.Next.Event(e)
	}
}

// maskingPrinter masks secrets in every event before passing it on, so no
// output, error or JSON line shows one.
type maskingPrinter struct {
	next    Printer
	secrets []string
}

func (p *maskingPrinter) Event(e Event) {
	e.Line = config.Mask(e.Line, p.secrets)
	e.Error = config.Mask(e.Error, p.secrets)
	e.Command = config.Mask(e.Command, p.secrets)
	p.next.Event(e)
}

// lineWriter cuts a stream into lines and hands each whole line on, so a
// line split across two reads is never broken, nor mixed with another
// host's. A line longer than maxLine is handed on in pieces.
type lineWriter struct {
	buf  []byte
	emit func(line string)
}

const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLine {
		w.emit(string(w.buf[:maxLine]))
		w.buf = w.buf[maxLine:]
	}
	return len(p), nil
}

// Flush hands on a last line that had no newline.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func intPtr(n int) *int { return &n }
