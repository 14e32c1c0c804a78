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
	// Step is the step's number in the run, from 1: the number the
	// headers, the live status, the summary and the failure message show
	// (step_start, step_end). Steps, in run_start, is how many steps the
	// task has (a rollback after a failure adds some). A step of a task
	// run inside a step (the test step's test task) has its own number
	// as SubStep instead.
	Step    int `json:"step,omitempty"`
	Steps   int `json:"steps,omitempty"`
	SubStep int `json:"substep,omitempty"`
	// Interrupted, in a task's run_end, counts the hosts stopped mid-step
	// by Ctrl-C (or SIGTERM, SIGHUP).
	Interrupted *int `json:"interrupted,omitempty"`
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
// outer run's display. Its steps' numbers become sub-step numbers, so the
// outer run's numbering stays the only one.
type StepsOnly struct{ Next Printer }

func (p StepsOnly) Event(e Event) {
	if e.Type == EventRunStart || e.Type == EventRunEnd || e.Type == EventPlan {
		return
	}
	e.SubStep, e.Step = e.Step, 0
	p.Next.Event(e)
}

// maskingPrinter masks secrets in every event before passing it on, so no
// output, error or JSON line shows one; secrets holds every form of each
// (see maskForms).
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
// host's. A line longer than maxLine is handed on in pieces, never cut
// inside one of secrets (the masking printer masks whole pieces).
type lineWriter struct {
	buf     []byte
	emit    func(line string)
	secrets []string
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
	for len(w.buf) >= maxLine+w.overlap() {
		cut := w.cut()
		w.emit(string(w.buf[:cut]))
		w.buf = w.buf[cut:]
	}
	return len(p), nil
}

// overlap is how much more than maxLine must be read before a long line
// is cut: enough to see a secret that crosses the cut whole.
func (w *lineWriter) overlap() int {
	n := 0
	for _, s := range w.secrets {
		n = max(n, len(s))
	}
	return n
}

// cut is where to cut a long line: at maxLine, or before a secret that
// would cross it.
func (w *lineWriter) cut() int {
	cut := maxLine
	for _, s := range w.secrets {
		lo := max(0, maxLine-len(s)+1)
		if i := bytes.Index(w.buf[lo:min(len(w.buf), maxLine+len(s)-1)], []byte(s)); i >= 0 && lo+i < cut {
			cut = lo + i
		}
	}
	if cut == 0 {
		cut = maxLine
	}
	return cut
}

// Flush hands on a last line that had no newline.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func intPtr(n int) *int { return &n }
