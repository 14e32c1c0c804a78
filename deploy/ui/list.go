package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/deploy-tool/deploy/deploy/config"
)

// WriteTasks prints the tasks with their descriptions and steps; as JSON,
// one task a line, like every --json output.
func WriteTasks(w io.Writer, st Style, df *config.Deployfile, asJSON bool) error {
	if asJSON {
		return jsonLines(w, df.TaskSummaries())
	}
	if len(df.TaskOrder) == 0 {
		_, err := fmt.Fprintf(w, "%s defines no tasks: add a [tasks.NAME] table\n", df.File)
		return err
	}
	for i, t := range df.TaskSummaries() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		title := st.Bold(t.Name)
		if t.Default {
			title += st.Faint(" (default)")
		}
		if t.Description != "" {
			title += "  " + t.Description
		}
		fmt.Fprintln(w, title)
		var rows [][]cell
		for j, s := range t.Steps {
			what := string(s.Kind) + " " + config.FirstLine(s.Arg, 60)
			if s.Name != "" {
				what = s.Name + " (" + string(s.Kind) + ")"
			}
			rows = append(rows, []cell{plain(fmt.Sprintf("  %d.", j+1)), plain(what), {strings.Join(s.Modifiers, ", "), st.Faint}})
		}
		writeTable(w, rows)
		if hooks := df.Tasks[t.Name].HookSummary(); len(hooks) > 0 {
			fmt.Fprintln(w, st.Faint("  hooks: "+strings.Join(hooks, "; ")))
		}
	}
	return nil
}

// jsonLines writes each value as a JSON object on a line of its own.
func jsonLines[T any](w io.Writer, values []T) error {
	enc := json.NewEncoder(w)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
