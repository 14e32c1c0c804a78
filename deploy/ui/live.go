package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
)

// LivePrinter shows, under the scrolling output, one status line per host:
// the step it is on and for how long, redrawn at every event and a few
// times a second, and erased when the run ends. When the hosts do not fit
// (more than perHostMax, or more than the terminal's height leaves room
// for), it shows a compact block instead: a line of counts, then the
// failed hosts and the slowest running ones (compact.go). It is for a
// terminal; the lines themselves are printed by the TextPrinter it wraps.
type LivePrinter struct {
	inner *TextPrinter
	term  io.Writer // where the status block is drawn (a terminal)
	st    Style
	every time.Duration
	size  func() (width, height int) // of the terminal

	mu     sync.Mutex
	closed bool // Clear was called: nothing is drawn any more
	hosts  []string
	state  map[string]*liveState
	drawn  int // lines of the status block on the screen now
	stop   chan struct{}
	width  int
	steps  stepTracker
	title  string    // what the run is on: "[3/8] migrate"
	since  time.Time // when it started on it
}

type liveState struct {
	step    string
	started time.Time
	done    string // how its last step ended, while it waits
}

// NewLivePrinter draws the status block on term (normally stderr) and
// prints the run's lines with inner.
func NewLivePrinter(inner *TextPrinter, term io.Writer, st Style) *LivePrinter {
	return &LivePrinter{inner: inner, term: term, st: st, every: 250 * time.Millisecond, state: map[string]*liveState{},
		size: func() (int, int) { return terminalSize(term) }}
}

func (p *LivePrinter) Event(e deploy.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	switch e.Type {
	case deploy.EventRunStart:
		p.hosts = append([]string(nil), e.Hosts...)
		for _, h := range p.hosts {
			p.width = max(p.width, len(h))
			// exec runs its command on every host at once; a task fills
			// this in step by step.
			p.state[h] = &liveState{step: "running " + config.FirstLine(e.Command, 40), started: e.Time}
		}
		p.title, p.since = "running "+config.FirstLine(e.Command, 40), e.Time
		p.steps.runStart(e)
		if p.stop == nil {
			p.stop = make(chan struct{})
			go p.tick(p.stop)
		}
	case deploy.EventStepStart:
		p.title, p.since = p.steps.start(e), e.Time
		for _, h := range e.Hosts {
			if _, ok := p.state[h]; !ok {
				p.hosts = append(p.hosts, h)
				p.width = max(p.width, len(h))
			}
			p.state[h] = &liveState{step: p.title, started: e.Time}
		}
	case deploy.EventStepEnd, deploy.EventHostEnd:
		if s := p.state[e.Host]; s != nil {
			s.done = string(deploy.Outcome(e.Line))
			if e.Type == deploy.EventHostEnd {
				s.done = "done"
				if e.Error != "" {
					s.done = "failed"
				}
				if e.Line == string(deploy.Interrupted) {
					s.done = e.Line
				}
			}
		}
	case deploy.EventRunEnd:
		if p.stop != nil {
			close(p.stop)
			p.stop = nil
		}
		p.hosts = nil
	}
	p.inner.Event(e)
	p.draw()
}

// Interject writes a line of its own to the terminal — the notice that
// the run is being interrupted — above the status block: the block is
// erased first and drawn again under it, so no stale line is left. The
// line the cursor is on is cleared too: the terminal echoed ^C there.
func (p *LivePrinter) Interject(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	io.WriteString(p.term, "\r\x1b[K"+line+"\n")
	p.draw()
}

// Clear erases the status block for good: the program is about to exit
// (a second Ctrl-C) and must leave no status line behind.
func (p *LivePrinter) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	p.closed = true
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

func (p *LivePrinter) tick(stop chan struct{}) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.erase()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// erase moves up over the status block and clears to the end of the
// screen, so the next output line takes its place.
func (p *LivePrinter) erase() {
	if p.drawn > 0 {
		fmt.Fprintf(p.term, "\x1b[%dA\r\x1b[J", p.drawn)
		p.drawn = 0
	}
}

func (p *LivePrinter) draw() {
	if len(p.hosts) == 0 || p.closed {
		return
	}
	width, height := p.size()
	var lines []string
	if n := perHostLimit(height); len(p.hosts) <= n {
		lines = make([]string, 0, len(p.hosts))
		for _, h := range p.hosts {
			lines = append(lines, p.hostLine(h, width))
		}
	} else {
		lines = p.compact(compactLimit(height), width)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\x1b[K\n")
	}
	io.WriteString(p.term, b.String())
	p.drawn = len(lines)
}

// hostLine is a host's status line: the step it runs and for how long,
// or how its last step ended; the step's name is shortened to fit in
// width, since a line that wraps would not be erased.
func (p *LivePrinter) hostLine(h string, width int) string {
	s := p.state[h]
	line := fmt.Sprintf("  %-*s  ", p.width, h)
	switch {
	case s == nil:
		return line + p.st.Faint("waiting")
	case s.done == string(deploy.Interrupted):
		return line + p.st.Yellow("■ interrupted")
	case s.done != "":
		return line + p.st.Faint(s.done+", waiting for the others")
	}
	elapsed := fmt.Sprintf("  %.1fs", time.Since(s.started).Seconds())
	step := clip(s.step, width-1-utf8.RuneCountInString(line)-2-len(elapsed))
	return line + p.st.Cyan("▸ ") + step + p.st.Faint(elapsed)
}
