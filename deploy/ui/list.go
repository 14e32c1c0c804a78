package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/deploy-tool/deploy/deploy/config"
)

// WriteTasks prints the tasks with their descriptions and steps.
func WriteTasks(w io.Writer, st Style, df *config.Deployfile, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(df.TaskSummaries())
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
		if group != "" {
			return json.NewEncoder(w).Encode(df.HostSummaries(group))
		}
		all := map[string][]config.HostSummary{}
		for _, g := range df.GroupOrder {
			all[g] = df.HostSummaries(g)
		}
		return json.NewEncoder(w).Encode(all)
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
