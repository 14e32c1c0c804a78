package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/tasks"
)

// WriteStatus prints what runs where: a row per host, then each drift.
func WriteStatus(w io.Writer, st Style, list []deploy.HostStatus, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, hs := range list {
			if err := enc.Encode(hs); err != nil {
				return err
			}
		}
		return nil
	}
	rows := [][]cell{{{"HOST", st.Faint}, {"CURRENT", st.Faint}, {"COMMIT", st.Faint}, {"STATE", st.Faint},
		{"SERVES", st.Faint}, {"SERVER", st.Faint}, {"LOCK", st.Faint}, {"LAST RUN", st.Faint}}}
	for _, hs := range list {
		if hs.State == nil {
			rows = append(rows, []cell{plain(hs.Host), {"unknown: " + hs.Error, st.Red}})
			continue
		}
		s := hs.State
		phase := cell{string(s.Record.Phase), st.Green}
		switch {
		case s.Current == "" && s.Record.Phase == "":
			phase = cell{"no release", st.Faint}
		case !s.Consistent():
			phase = cell{"? (state: " + string(s.Record.Phase) + " " + s.Record.Release + ")", st.Red}
		case s.Record.Phase == "failed":
			phase.paint = st.Red
		case s.Record.Phase != "healthy" && s.Record.Phase != "reloaded":
			phase.paint = st.Yellow
		}
		if s.Record.RollbackOf != "" && s.Consistent() {
			phase.text += " (rolled back)"
		}
		served := cell{shortSHA(hs.Served), nil}
		if hs.Served == "" {
			served = cell{"-", st.Faint}
		} else if hs.Served != s.CurrentCommit {
			served.paint = st.Red
		}
		lock := cell{"-", st.Faint}
		if s.Lock != "" {
			lock = cell{"locked", st.Yellow}
		}
		last := cell{"-", st.Faint}
		if e := hs.LastRun; e != nil {
			last = plain(fmt.Sprintf("%s %s, %s ago by %s", e.Task, e.Result, time.Since(e.Time).Round(time.Second), e.Owner))
		}
		server := cell{orDash(hs.Server), nil}
		if hs.ServerGone != "" {
			server.paint = st.Red
		}
		rows = append(rows, []cell{plain(hs.Host), plain(orDash(s.Current)), plain(orDash(shortSHA(s.CurrentCommit))), phase, served, server, lock, last})
	}
	writeTable(w, rows)
	drifting := 0
	for _, hs := range list {
		for _, d := range hs.Drift {
			fmt.Fprintf(w, "%s %s: %s\n", st.Yellow("!"), hs.Host, d)
		}
		if len(hs.Drift) > 0 || hs.Error != "" {
			drifting++
		}
	}
	if drifting == 0 {
		fmt.Fprintln(w, st.Green("Consistent: every host serves what its state says, all on one commit."))
	} else {
		fmt.Fprintf(w, "%s\n", st.Red(fmt.Sprintf("%d of %s need attention.", drifting, tasks.Plural(len(list), "host"))))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
