package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fatih/color"

	"github.com/deploy-tool/deploy/deploy"
)

// jsonEncoder writes values as lines of JSON, one at a time.
type jsonEncoder struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonEncoder) write(v any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(v)
}

// JSONPrinter writes each event as one line of JSON.
type JSONPrinter struct{ lines jsonEncoder }

// NewJSONPrinter writes events to w.
func NewJSONPrinter(w io.Writer) *JSONPrinter {
	return &JSONPrinter{jsonEncoder{enc: json.NewEncoder(w)}}
}

func (p *JSONPrinter) Event(e deploy.Event) { p.lines.write(e) }

// TextPrinter writes output lines prefixed by their host, one whole line
// at a time; stdout lines to out, stderr lines to errOut. On a terminal
// each host has its own colour.
type TextPrinter struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer
	style  Style
	hosts  hostPrefix
	steps  stepTracker
}

// hostColours cycle over the hosts of a run.
var hostColours = [...]color.Attribute{color.FgCyan, color.FgGreen, color.FgYellow, color.FgBlue, color.FgMagenta,
	color.FgHiCyan, color.FgHiGreen, color.FgHiYellow, color.FgHiBlue, color.FgHiMagenta}

// NewTextPrinter prints for people; hosts are the names to align.
func NewTextPrinter(out, errOut io.Writer, st Style, hosts []string) *TextPrinter {
	return &TextPrinter{out: out, errOut: errOut, style: st, hosts: newHostPrefix(hosts, st)}
}

func (p *TextPrinter) prefix(host string) string { return p.hosts.of(host) }

// hostPrefix is what starts a host's lines, "web1  | ": its name padded
// to the widest, in a colour of its own on a terminal.
type hostPrefix struct {
	style  Style
	width  int
	colour map[string]*color.Color
}

func newHostPrefix(hosts []string, st Style) hostPrefix {
	h := hostPrefix{style: st, colour: map[string]*color.Color{}}
	for i, name := range hosts {
		h.width = max(h.width, len(name))
		c := color.New(hostColours[i%len(hostColours)])
		c.EnableColor()
		h.colour[name] = c
	}
	return h
}

func (h hostPrefix) of(host string) string {
	pad := host + strings.Repeat(" ", max(0, h.width-len(host)))
	if c := h.colour[host]; c != nil && h.style.Enabled() {
		pad = c.Sprint(pad)
	}
	return pad + " " + h.style.Faint("|") + " "
}

func (p *TextPrinter) Event(e deploy.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case deploy.EventOutput:
		w := p.out
		if e.Stream == "stderr" {
			w = p.errOut
		}
		fmt.Fprintln(w, p.prefix(e.Host)+e.Line)
	case deploy.EventHostEnd:
		if e.Line == string(deploy.Interrupted) {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Yellow("■ interrupted")+p.style.Faint(fmt.Sprintf(" after %.2fs", e.Duration)))
		} else if e.Error != "" {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ "+e.Error))
		}
	case deploy.EventRunStart:
		p.steps.runStart(e)
	case deploy.EventStepStart:
		fmt.Fprintf(p.out, "%s %s  %s\n", p.style.Cyan("▸"), p.style.Bold(p.steps.start(e)),
			p.style.Faint("on "+hostList(e.Hosts)))
	case deploy.EventStepEnd:
		switch deploy.Outcome(e.Line) {
		case deploy.Failed:
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ "+e.Error))
		case deploy.Skipped:
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Faint("– skipped: "+e.Error))
		case deploy.Changed:
			if e.SubStep > 0 {
				break // a step of the test task: the test step's own ✓ follows
			}
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Green("✓")+p.style.Faint(fmt.Sprintf(" %.2fs", e.Duration)))
		case deploy.WouldRun:
			fmt.Fprintln(p.out, p.prefix(e.Host)+p.style.Yellow("→ would run"))
		case deploy.Unreachable:
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ unreachable"))
		case deploy.Interrupted:
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Yellow("■ interrupted")+p.style.Faint(fmt.Sprintf(" after %.2fs", e.Duration)))
		}
	}
}

// hostList names the hosts of a step for its header: all of them while
// they are few, else the first ones and how many more — a step on 1,000
// hosts has a header of one line.
func hostList(hosts []string) string {
	const shown = 8
	if len(hosts) <= shown {
		return strings.Join(hosts, ", ")
	}
	return strings.Join(hosts[:shown-1], ", ") + fmt.Sprintf(" and %d more", len(hosts)-shown+1)
}
