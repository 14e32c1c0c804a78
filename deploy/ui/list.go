package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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

// WriteHosts prints the hosts of a group, or every group and its hosts.
func WriteHosts(w io.Writer, st Style, df *config.Deployfile, group string, asJSON bool) error {
	if group != "" {
		if _, ok := df.Groups[group]; !ok {
			return fmt.Errorf("no group %q in %s — %s", group, df.File, df.TargetsFix(group))
		}
	}
	if asJSON {
		// One host a line, with its groups; every host once.
		groups := df.GroupOrder
		if group != "" {
			groups = []string{group}
		}
		var hosts []config.HostSummary
		seen := map[string]bool{}
		for _, g := range groups {
			for _, h := range df.HostSummaries(g) {
				if !seen[h.Name] {
					seen[h.Name] = true
					hosts = append(hosts, h)
				}
			}
		}
		return jsonLines(w, hosts)
	}
	groups := df.GroupOrder
	if group != "" {
		groups = []string{group}
	}
	if len(groups) == 0 {
		_, err := fmt.Fprintf(w, "%s defines no host groups: add them under [hosts]\n", df.File)
		return err
	}
	rows := [][]cell{{{"GROUP", st.Faint}, {"NAME", st.Faint}, {"USER", st.Faint}, {"HOST", st.Faint}, {"PORT", st.Faint}}}
	defaulted := false
	for _, g := range groups {
		hosts := df.HostSummaries(g)
		if len(hosts) == 0 {
			rows = append(rows, []cell{{g, st.Bold}, {"(no hosts)", st.Faint}})
		}
		for _, h := range hosts {
			user, port := h.User, strconv.Itoa(h.Port)
			if h.Host == config.LocalHost {
				user, port = "(you)", "(no ssh)"
			}
			if user == "" {
				user, defaulted = "-", true
			}
			if port == "0" {
				port, defaulted = "-", true
			}
			rows = append(rows, []cell{{g, st.Bold}, plain(h.Name), plain(user), plain(h.Host), plain(port)})
		}
	}
	writeTable(w, rows)
	if defaulted {
		fmt.Fprintln(w, st.Faint("-: from ~/.ssh/config, else your login name and port 22"))
	}
	return nil
}
