package ui

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
)

// Where tells where a host of the Deployfile is reached, ssh_config
// applied, without connecting (deploy.Connector.Endpoint, by name).
type Where func(name string) (deploy.Endpoint, error)

// resolvedHost is a host as `deploy hosts` shows it: the Deployfile's
// summary with the user and port ssh will use (ssh_config's, else its
// defaults), the address it dials and the jump hosts on the way.
type resolvedHost struct {
	config.HostSummary
	HostName string   `json:"hostname,omitempty"`
	Via      []string `json:"via,omitempty"`
	Error    string   `json:"error,omitempty"` // why ssh_config could not be applied
}

func resolveHost(h config.HostSummary, where Where) resolvedHost {
	r := resolvedHost{HostSummary: h}
	if h.Host == config.LocalHost {
		return r
	}
	ep, err := where(h.Name)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.User, r.Port, r.HostName, r.Via = ep.User, ep.Port, ep.HostName, ep.Via
	return r
}

// WriteHosts prints the hosts of a group, or every group and its hosts:
// the user, address and port each is reached at, ssh_config applied.
func WriteHosts(w io.Writer, st Style, df *config.Deployfile, group string, asJSON bool, where Where) error {
	if group != "" {
		if _, ok := df.Groups[group]; !ok {
			return fmt.Errorf("no group %q in %s — %s", group, df.File, df.TargetsFix(group))
		}
	}
	groups := df.GroupOrder
	if group != "" {
		groups = []string{group}
	}
	if asJSON {
		// One host a line, with its groups; every host once.
		var hosts []resolvedHost
		seen := map[string]bool{}
		for _, g := range groups {
			for _, h := range df.HostSummaries(g) {
				if !seen[h.Name] {
					seen[h.Name] = true
					hosts = append(hosts, resolveHost(h, where))
				}
			}
		}
		return jsonLines(w, hosts)
	}
	if len(groups) == 0 {
		_, err := fmt.Fprintf(w, "%s defines no host groups: add them under [hosts]\n", df.File)
		return err
	}
	writeHostTable(w, st, df, groups, where)
	return nil
}

// writeHostTable is the table of `deploy hosts`: a row a host of each
// group, then why a host's ssh_config could not be read.
func writeHostTable(w io.Writer, st Style, df *config.Deployfile, groups []string, where Where) {
	var rows [][]cell
	problems := map[string]string{}
	jumps := false
	for _, g := range groups {
		hosts := df.HostSummaries(g)
		if len(hosts) == 0 {
			rows = append(rows, []cell{{g, st.Bold}, {"(no hosts)", st.Faint}})
		}
		for _, h := range hosts {
			r := resolveHost(h, where)
			user, host, port := r.User, r.HostName, strconv.Itoa(r.Port)
			switch {
			case h.Host == config.LocalHost:
				user, host, port = "(you)", h.Host, "(no ssh)"
			case r.Error != "":
				user, host, port = "?", h.Host, "?"
				problems[h.Name] = r.Error
			}
			jumps = jumps || len(r.Via) > 0
			rows = append(rows, []cell{{g, st.Bold}, plain(h.Name), plain(user), plain(host), plain(port), {strings.Join(r.Via, " > "), st.Faint}})
		}
	}
	header := []cell{{"GROUP", st.Faint}, {"NAME", st.Faint}, {"USER", st.Faint}, {"HOST", st.Faint}, {"PORT", st.Faint}}
	if jumps {
		header = append(header, cell{"VIA", st.Faint})
	} else {
		for i, r := range rows {
			rows[i] = r[:min(len(r), 5)]
		}
	}
	writeTable(w, append([][]cell{header}, rows...))
	for _, h := range df.Hosts() {
		if why, ok := problems[h.Name]; ok {
			fmt.Fprintf(w, "%s %s: %s\n", st.Red("?"), h.Name, why)
		}
	}
}
