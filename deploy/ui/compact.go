package ui

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
)

// The compact status block, for a run over more hosts than fit on the
// terminal one line each:
//
//	[3/8] migrate — 812 done, 180 running, 8 failed · 12.3s
//	✗ failed: web17, web230, web512, web9 … and 4 more
//	web4    ▸ [3/8] migrate  12.3s
//	web18   ▸ [3/8] migrate  12.3s
const (
	perHostMax   = 10 // hosts shown one line each, at most
	compactMax   = 6  // lines of the compact block, at most
	reservedRows = 4  // rows of the terminal left to the scrolling output
)

// terminalSize is the size of w when it is a terminal, else 80×24.
func terminalSize(w io.Writer) (width, height int) {
	if f, ok := w.(*os.File); ok {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			return w, h
		}
	}
	return 80, 24
}

// perHostLimit is how many hosts may have a line each on a terminal of
// height rows.
func perHostLimit(height int) int { return min(perHostMax, height-reservedRows) }

// compactLimit is the most lines of the compact block on a terminal of
// height rows: always the line of counts.
func compactLimit(height int) int { return max(1, min(compactMax, height-reservedRows)) }

// liveCounts are the hosts of a run by state.
type liveCounts struct{ done, running, failed, interrupted, waiting int }

// compact is the compact block, at most limit lines: the counts, the
// failed hosts (as many names as fit in width), then the hosts running
// longest.
func (p *LivePrinter) compact(limit, width int) []string {
	var c liveCounts
	var failed, running []string
	for _, h := range p.hosts {
		switch s := p.state[h]; {
		case s == nil:
			c.waiting++
		case s.done == "failed":
			c.failed++
			failed = append(failed, h)
		case s.done == string(deploy.Interrupted):
			c.interrupted++
		case s.done != "":
			c.done++
		default:
			c.running++
			running = append(running, h)
		}
	}
	lines := []string{p.countsLine(c, width)}
	if len(failed) > 0 && len(lines) < limit {
		lines = append(lines, p.failedLine(failed, width))
	}
	slices.SortStableFunc(running, func(a, b string) int { return p.state[a].started.Compare(p.state[b].started) })
	for _, h := range running {
		if len(lines) >= limit {
			break
		}
		lines = append(lines, p.hostLine(h, width))
	}
	return lines
}

// countsLine is "  [3/8] migrate — 812 done, 180 running, 8 failed · 12.3s",
// the step's name shortened to fit in width.
func (p *LivePrinter) countsLine(c liveCounts, width int) string {
	counts := []string{fmt.Sprintf("%d done", c.done), fmt.Sprintf("%d running", c.running), fmt.Sprintf("%d failed", c.failed)}
	if c.interrupted > 0 {
		counts = append(counts, fmt.Sprintf("%d interrupted", c.interrupted))
	}
	if c.waiting > 0 {
		counts = append(counts, fmt.Sprintf("%d waiting", c.waiting))
	}
	elapsed := fmt.Sprintf("· %.1fs", time.Since(p.since).Seconds())
	rest := " — " + strings.Join(counts, ", ") + " " + elapsed
	title := clip(p.title, width-1-2-utf8.RuneCountInString(rest))
	painted := []string{p.st.Green(counts[0]), p.st.Cyan(counts[1]), p.st.Red(counts[2])}
	return fmt.Sprintf("  %s — %s %s", title, strings.Join(append(painted, counts[3:]...), ", "), p.st.Faint(elapsed))
}

// clip shortens s to n runes (at least 8), its end replaced by "…".
func clip(s string, n int) string { return config.FirstLine(s, max(n, 8)) }

// failedLine names the failed hosts, as many as fit in width (one at
// least), and how many more there are.
func (p *LivePrinter) failedLine(failed []string, width int) string {
	const prefix = "  ✗ failed: "
	text := func(n int) string {
		t := strings.Join(failed[:n], ", ")
		if rest := len(failed) - n; rest > 0 {
			t += fmt.Sprintf(" … and %d more", rest)
		}
		return t
	}
	shown := 1
	for shown < len(failed) && utf8.RuneCountInString(prefix+text(shown+1)) < width {
		shown++
	}
	return p.st.Red("  ✗ failed:") + " " + text(shown)
}
