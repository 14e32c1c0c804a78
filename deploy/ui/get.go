package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/tasks"
)

// GetJSONPrinter writes each event of a get as one line of JSON.
type GetJSONPrinter struct{ lines jsonEncoder }

// NewGetJSONPrinter writes events to w.
func NewGetJSONPrinter(w io.Writer) *GetJSONPrinter {
	return &GetJSONPrinter{jsonEncoder{enc: json.NewEncoder(w)}}
}

func (p *GetJSONPrinter) GetEvent(e deploy.GetEvent) { p.lines.write(e) }

// GetTextPrinter prints a get for people: a line per host when it is done
// (on out, or errOut when it failed) and each thing skipped (on errOut),
// prefixed by the host. Verbose prints each file too.
type GetTextPrinter struct {
	mu      sync.Mutex
	out     io.Writer
	errOut  io.Writer
	style   Style
	hosts   hostPrefix
	verbose bool
	skipped map[string]int // per host, to show only the first few
}

// shownSkips is how many things left out on purpose are shown per host;
// the rest are counted (--json lists every one).
const shownSkips = 10

// NewGetTextPrinter prints for people; hosts are the names to align.
func NewGetTextPrinter(out, errOut io.Writer, st Style, hosts []string, verbose bool) *GetTextPrinter {
	return &GetTextPrinter{out: out, errOut: errOut, style: st, hosts: newHostPrefix(hosts, st), verbose: verbose,
		skipped: map[string]int{}}
}

func (p *GetTextPrinter) prefix(host string) string { return p.hosts.of(host) }

func (p *GetTextPrinter) GetEvent(e deploy.GetEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case deploy.EventSkip:
		text := fmt.Sprintf("skipped %s: %s", printable(e.Path), e.Reason)
		if e.Error != "" {
			text = p.style.Red("not read: " + printable(e.Path) + ": " + e.Reason)
		} else if p.skipped[e.Host]++; p.skipped[e.Host] > shownSkips {
			return
		}
		fmt.Fprintln(p.errOut, p.prefix(e.Host)+text)
	case deploy.EventFile:
		if p.verbose {
			fmt.Fprintln(p.out, p.prefix(e.Host)+fmt.Sprintf("%s (%s)", e.Local, tasks.HumanSize(deref(e.Bytes))))
		}
	case deploy.EventHostEnd:
		if n := p.skipped[e.Host] - shownSkips; n > 0 {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+fmt.Sprintf("… and %d more skipped (--json lists them all)", n))
		}
		if e.Line == string(deploy.Interrupted) {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Yellow("■ interrupted")+p.style.Faint(fmt.Sprintf(" after %.2fs, %s in place",
				e.Duration, tasks.Plural(deref(e.Files), "file"))))
			return
		}
		if e.Error != "" {
			fmt.Fprintln(p.errOut, p.prefix(e.Host)+p.style.Red("✗ "+e.Error))
			return
		}
		line := fmt.Sprintf("✓ %s, %s → %s", tasks.Plural(deref(e.Files), "file"), tasks.HumanSize(deref(e.Bytes)), e.Local)
		if n := deref(e.Skipped); n > 0 {
			line += p.style.Faint(fmt.Sprintf(" (%d skipped)", n))
		}
		fmt.Fprintln(p.out, p.prefix(e.Host)+line)
	}
}

// printable is a path as it can be shown on one line: quoted when it holds
// what a terminal would not show as it is (a newline would forge a line).
func printable(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(s)
	}
	return s
}

func deref[T int | int64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

// WriteGetSummary prints, for people, how many hosts succeeded, what was
// fetched, and which hosts failed with what.
func WriteGetSummary(w io.Writer, st Style, res deploy.GetResult) {
	failed, stopped := res.Failed(), res.Interrupted()
	line := hostCounts(st, len(res.Hosts), len(failed), len(stopped))
	files, bytes := res.Totals()
	fmt.Fprintf(w, "%s  %s\n", line, st.Faint(fmt.Sprintf("(%s, %s, %s, %.2fs)", tasks.Plural(len(res.Hosts), "host"),
		tasks.Plural(files, "file"), tasks.HumanSize(bytes), res.Duration.Seconds())))
	width := 0
	for _, f := range failed {
		width = max(width, len(f.Host))
	}
	for _, f := range failed {
		fmt.Fprintf(w, "  %-*s  %s\n", width, f.Host, f.Problem())
	}
}
