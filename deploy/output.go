package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
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

// JSONPrinter writes each event as one line of JSON.
type JSONPrinter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONPrinter writes events to w.
func NewJSONPrinter(w io.Writer) *JSONPrinter {
	return &JSONPrinter{enc: json.NewEncoder(w)}
}

func (p *JSONPrinter) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(e)
}

// TextPrinter writes output lines prefixed by their host, one whole line
// at a time; stdout lines to out, stderr lines to errOut. On a terminal
// each host has its own colour.
type TextPrinter struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer
	style  Style
	width  int // of the widest host name, to align the prefixes
	colour map[string]*color.Color
}

// hostColours cycle over the hosts of a run.
var hostColours = [...]color.Attribute{color.FgCyan, color.FgGreen, color.FgYellow, color.FgBlue, color.FgMagenta,
	color.FgHiCyan, color.FgHiGreen, color.FgHiYellow, color.FgHiBlue, color.FgHiMagenta}

// NewTextPrinter prints for people; hosts are the names to align.
func NewTextPrinter(out, errOut io.Writer, st Style, hosts []string) *TextPrinter {
	p := &TextPrinter{out: out, errOut: errOut, style: st, colour: map[string]*color.Color{}}
	for i, h := range hosts {
		p.width = max(p.width, len(h))
		c := color.New(hostColours[i%len(hostColours)])
		c.EnableColor()
		p.colour[h] = c
	}
	return p
}

func (p *TextPrinter) prefix(host string) string {
	pad := host + strings.Repeat(" ", max(0, p.width-len(host)))
	if c := p.colour[host]; c != nil && p.style.Enabled() {
		pad = c.Sprint(pad)
	}
	return pad + " " + p.style.Faint("|") + " "
}

func (p *TextPrinter) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case EventOutput:
		w := p.out
		if e.Stream == "stderr" {
			w = p.errOut
		}
		fmt.Fprintln(w, p.prefix(e.Host)+e.Line)
	case EventHostEnd:
		if e.Error != "" {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ "+e.Error))
		}
	case EventStepStart:
		fmt.Fprintf(p.out, "%s %s %s\n", p.style.Cyan("▸"), p.style.Bold(e.Command),
			p.style.Faint(e.Line+" on "+strings.Join(e.Hosts, ", ")))
	case EventStepEnd:
		switch Outcome(e.Line) {
		case Failed:
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ "+e.Error))
		case Skipped:
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Faint("– skipped: "+e.Error))
		case Changed:
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Green("✓")+p.style.Faint(fmt.Sprintf(" %.2fs", e.Duration)))
		case WouldRun:
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Yellow("→ would run"))
		}
	}
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

// StepsOnly passes on the events of steps and their output, and drops
// those of the run itself: for a task run inside another run's step (the
// test step runs the test task), whose run_start and run_end would end the
// outer run's display.
type StepsOnly struct{ Next Printer }

func (p StepsOnly) Event(e Event) {
	if e.Type != EventRunStart && e.Type != EventRunEnd {
		p.Next.Event(e)
	}
}
