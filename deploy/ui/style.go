package ui

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"
	"golang.org/x/term"

	"github.com/deploy-tool/deploy/deploy/config"
)

// Style colours text for a person at a terminal and leaves it plain
// elsewhere. Each Style decides for itself, without touching fatih/color's
// package-level switch, so two outputs (a terminal and a pipe) can differ.
type Style struct {
	enabled bool
}

// NewStyle enables colour when w is a terminal, NO_COLOR is unset and
// noColor is false.
func NewStyle(w io.Writer, noColor bool) Style {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return Style{}
	}
	f, ok := w.(*os.File)
	return Style{enabled: ok && term.IsTerminal(int(f.Fd()))}
}

// IsTerminal reports whether w is a terminal that can redraw lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// Enabled reports whether the style writes colour.
func (s Style) Enabled() bool { return s.enabled }

func (s Style) paint(text string, attrs ...color.Attribute) string {
	if !s.enabled {
		return text
	}
	c := color.New(attrs...)
	c.EnableColor()
	return c.Sprint(text)
}

// Bold, Faint, Red, Green, Yellow and Cyan paint text when colour is on.
func (s Style) Bold(t string) string   { return s.paint(t, color.Bold) }
func (s Style) Faint(t string) string  { return s.paint(t, color.Faint) }
func (s Style) Red(t string) string    { return s.paint(t, color.FgRed, color.Bold) }
func (s Style) Green(t string) string  { return s.paint(t, color.FgGreen) }
func (s Style) Yellow(t string) string { return s.paint(t, color.FgYellow) }
func (s Style) Cyan(t string) string   { return s.paint(t, color.FgCyan) }

// WriteErrors prints a Deployfile's problems, one a line: the place in
// bold, the fix faint.
func WriteErrors(w io.Writer, st Style, errs config.ErrorList) {
	for _, e := range errs {
		place := e.File
		if e.Pos.Line > 0 {
			place += ":" + e.Pos.String()
		}
		line := st.Bold(place+":") + " " + st.Red("error:") + " " + e.Message
		if e.Fix != "" {
			line += st.Faint(" — " + e.Fix)
		}
		io.WriteString(w, line+"\n")
	}
}

// cell is table text and how to paint it; the padding is worked out on
// the plain text, since colour codes take bytes but no room on screen.
type cell struct {
	text  string
	paint func(string) string
}

func plain(text string) cell { return cell{text: text} }

// writeTable writes rows as columns two spaces apart, painting each cell
// after padding it.
func writeTable(w io.Writer, rows [][]cell) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			text := c.text
			if i < len(r)-1 {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			}
			if c.paint != nil {
				// Paint the words, not the padding.
				trimmed := strings.TrimRight(text, " ")
				text = c.paint(trimmed) + text[len(trimmed):]
			}
			b.WriteString(text)
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}
