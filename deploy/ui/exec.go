package ui

import (
	"fmt"
	"io"

	"github.com/deploy-tool/deploy/deploy"
)

// WriteExecSummary prints, for people, how many hosts succeeded and which
// failed with what.
func WriteExecSummary(w io.Writer, st Style, res deploy.ExecResult) {
	failed := res.Failed()
	ok := len(res.Hosts) - len(failed)
	line := st.Green(fmt.Sprintf("✓ %d ok", ok))
	if len(failed) > 0 {
		line += "  " + st.Red(fmt.Sprintf("✗ %d failed", len(failed)))
	}
	fmt.Fprintf(w, "%s  %s\n", line, st.Faint(fmt.Sprintf("(%d hosts, %.2fs)", len(res.Hosts), res.Duration.Seconds())))
	width := 0
	for _, f := range failed {
		width = max(width, len(f.Host))
	}
	for _, f := range failed {
		fmt.Fprintf(w, "  %-*s  %s\n", width, f.Host, f.Err)
	}
}
