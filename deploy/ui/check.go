package ui

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/deploy-tool/deploy/deploy"
)

// WriteHostChecks prints the checks as a table, and the errors below it.
func WriteHostChecks(w io.Writer, st Style, checks []deploy.HostCheck, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, c := range checks {
			if err := enc.Encode(struct {
				Event string `json:"event"`
				deploy.HostCheck
			}{"host_check", c}); err != nil {
				return err
			}
		}
		return nil
	}
	yesNo := func(ok bool, known bool) cell {
		switch {
		case !known:
			return cell{"-", st.Faint}
		case ok:
			return cell{"yes", st.Green}
		}
		return cell{"no", st.Red}
	}
	rows := [][]cell{{{"HOST", st.Faint}, {"ADDRESS", st.Faint}, {"REACHABLE", st.Faint}, {"HOST KEY", st.Faint},
		{"AUTHENTICATED", st.Faint}, {"CONNECT", st.Faint}, {"RTT", st.Faint}}}
	for _, c := range checks {
		key := cell{"-", st.Faint}
		switch c.HostKey {
		case "ok":
			key = cell{"ok", st.Green}
		case "":
		default:
			key = cell{c.HostKey, st.Red}
		}
		rtt := cell{"-", st.Faint}
		if c.Authenticated {
			rtt = plain(fmt.Sprintf("%.1fms", float64(c.RTT.Microseconds())/1000))
		}
		keyTrusted := c.HostKey != "unknown" && c.HostKey != "changed" && c.HostKey != "revoked"
		rows = append(rows, []cell{plain(c.Host), plain(c.Address), yesNo(c.Reachable, true), key,
			yesNo(c.Authenticated, c.Reachable && keyTrusted), plain(fmt.Sprintf("%.1fms", float64(c.Connect.Microseconds())/1000)), rtt})
	}
	writeTable(w, rows)
	for _, c := range checks {
		if c.Error != "" {
			fmt.Fprintf(w, "\n%s %s\n", st.Red(c.Host+":"), c.Error)
		}
	}
	return nil
}
