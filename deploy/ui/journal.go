package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// WriteHistory prints runs as a table, newest first.
func WriteHistory(w io.Writer, st Style, entries []deploy.HistoryEntry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No runs recorded on these hosts yet.")
		return err
	}
	rows := [][]cell{{{"WHEN", st.Faint}, {"WHO", st.Faint}, {"TASK", st.Faint}, {"TARGET", st.Faint},
		{"COMMIT", st.Faint}, {"RESULT", st.Faint}, {"TIME", st.Faint}, {"HOSTS", st.Faint}}}
	for _, e := range entries {
		result := cell{e.Result, st.Green}
		if e.Result != deploy.ResultOK {
			result.paint = st.Red
		}
		rows = append(rows, []cell{plain(e.Time.Local().Format("2006-01-02 15:04:05")), plain(e.Owner), plain(e.Task),
			plain(e.Target), plain(e.ToSHA[:min(7, len(e.ToSHA))]), result, plain(fmt.Sprintf("%.1fs", e.Duration)), plain(strings.Join(e.Hosts, ","))})
	}
	writeTable(w, rows)
	return nil
}

// WriteReleases prints each host's releases, newest first, marking the one
// in use.
func WriteReleases(w io.Writer, st Style, hosts []*config.Host, rels map[string][]tasks.Release, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, h := range hosts {
			if err := enc.Encode(map[string]any{"host": h.Name, "releases": rels[h.Name]}); err != nil {
				return err
			}
		}
		return nil
	}
	rows := [][]cell{{{"HOST", st.Faint}, {"RELEASE", st.Faint}, {"COMMIT", st.Faint}, {"BUILT", st.Faint}, {"", nil}}}
	for _, h := range hosts {
		list := rels[h.Name]
		if len(list) == 0 {
			rows = append(rows, []cell{plain(h.Name), {"(none)", st.Faint}})
		}
		for i := len(list) - 1; i >= 0; i-- {
			r := list[i]
			built := ""
			if t, err := r.Time(); err == nil {
				built = t.Local().Format("2006-01-02 15:04:05")
			}
			mark := cell{"", nil}
			if r.Current {
				mark = cell{"← current", st.Green}
			}
			sha := r.SHA
			if len(sha) > 12 {
				sha = sha[:12]
			}
			rows = append(rows, []cell{plain(h.Name), plain(r.Name), plain(sha), plain(built), mark})
		}
	}
	writeTable(w, rows)
	return nil
}
