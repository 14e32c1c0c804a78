package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
)

// LivePrinter shows, under the scrolling output, one status line per host:
// the step it is on and for how long, redrawn at every event and a few
// times a second, and erased when the run ends. It is for a terminal; the
// lines themselves are printed by the TextPrinter it wraps.
type LivePrinter struct {
	inner *TextPrinter
	term  io.Writer // where the status block is drawn (a terminal)
	st    Style
	every time.Duration

	mu     sync.Mutex
	hosts  []string
	state  map[string]*liveState
	drawn  int // lines of the status block on the screen now
	stop   chan struct{}
	width  int
	stepNo int
}

type liveState struct {
	step    string
	started time.Time
	done    string // how its last step ended, while it waits
}

// NewLivePrinter draws the status block on term (normally stderr) and
// prints the run's lines with inner.
func NewLivePrinter(inner *TextPrinter, term io.Writer, st Style) *LivePrinter {
	return &LivePrinter{inner: inner, term: term, st: st, every: 250 * time.Millisecond, state: map[string]*liveState{}}
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
		if p.stop == nil {
			p.stop = make(chan struct{})
			go p.tick(p.stop)
		}
	case deploy.EventStepStart:
		p.stepNo++
		for _, h := range e.Hosts {
			if _, ok := p.state[h]; !ok {
				p.hosts = append(p.hosts, h)
				p.width = max(p.width, len(h))
			}
			p.state[h] = &liveState{step: fmt.Sprintf("step %d: %s", p.stepNo, config.FirstLine(e.Command, 40)), started: e.Time}
		}
	case deploy.EventStepEnd, deploy.EventHostEnd:
		if s := p.state[e.Host]; s != nil {
			s.done = string(deploy.Outcome(e.Line))
			if e.Type == deploy.EventHostEnd {
				s.done = "done"
				if e.Error != "" {
					s.done = "failed"
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
	if len(p.hosts) == 0 {
		return
	}
	var b strings.Builder
	for _, h := range p.hosts {
		s := p.state[h]
		line := fmt.Sprintf("  %-*s  ", p.width, h)
		switch {
		case s == nil:
			line += p.st.Faint("waiting")
		case s.done != "":
			line += p.st.Faint(s.done + ", waiting for the others")
		default:
			line += p.st.Cyan("▸ ") + s.step + p.st.Faint(fmt.Sprintf("  %.1fs", time.Since(s.started).Seconds()))
		}
		b.WriteString(line + "\x1b[K\n")
	}
	io.WriteString(p.term, b.String())
	p.drawn = len(p.hosts)
}
