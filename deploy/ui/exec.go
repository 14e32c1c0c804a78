package ui

import (
	"fmt"
	"io"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/tasks"
)

// WriteExecSummary prints, for people, how many hosts succeeded and which
// failed with what.
func WriteExecSummary(w io.Writer, st Style, res deploy.ExecResult) {
	failed, stopped := res.Failed(), res.Interrupted()
	line := hostCounts(st, len(res.Hosts), len(failed), len(stopped))
	fmt.Fprintf(w, "%s  %s\n", line, st.Faint(fmt.Sprintf("(%s, %.2fs)", tasks.Plural(len(res.Hosts), "host"), res.Duration.Seconds())))
	width := 0
	for _, f := range failed {
		width = max(width, len(f.Host))
	}
	for _, f := range failed {
		fmt.Fprintf(w, "  %-*s  %s\n", width, f.Host, f.Err)
	}
}

// hostCounts is the first line of a summary of a command on every host:
// "✓ 3 ok  ✗ 1 failed  ■ 1 interrupted".
func hostCounts(st Style, hosts, failed, stopped int) string {
	line := st.Green(fmt.Sprintf("✓ %d ok", hosts-failed-stopped))
	if failed > 0 {
		line += "  " + st.Red(fmt.Sprintf("✗ %d failed", failed))
	}
	if stopped > 0 {
		line += "  " + st.Yellow(fmt.Sprintf("■ %d interrupted", stopped))
	}
	return line
}
