package ui

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
)

// WriteRunSummary prints the table of a run, step × host (changed,
// skipped, failed, not reached, with times), then what failed and why, or
// that there was nothing to do.
func WriteRunSummary(w io.Writer, st Style, res *deploy.RunResult) {
	hosts := slices.Clone(res.Hosts)
	for _, r := range res.Results {
		if r.Host == config.LocalHost && !slices.Contains(hosts, config.LocalHost) {
			hosts = append([]string{config.LocalHost}, hosts...)
		}
	}
	outcomes := map[[2]any]deploy.StepResult{}
	for _, r := range res.Results {
		outcomes[[2]any{r.Step, r.Host}] = r
	}
	fmt.Fprintln(w)
	header := []cell{{text: "STEP", paint: st.Faint}}
	for _, h := range hosts {
		header = append(header, cell{text: h, paint: st.Faint})
	}
	rows := [][]cell{header}
	for i, title := range res.Steps {
		row := []cell{plain(fmt.Sprintf("%d. %s", i+1, config.FirstLine(title, 40)))}
		for _, h := range hosts {
			r, ok := outcomes[[2]any{i, h}]
			switch {
			case !ok:
				row = append(row, plain(""))
			case r.Outcome == deploy.Changed:
				row = append(row, cell{fmt.Sprintf("✓ %.1fs", r.Duration.Seconds()), st.Green})
			case r.Outcome == deploy.Skipped:
				row = append(row, cell{"– skipped", st.Faint})
			case r.Outcome == deploy.WouldRun:
				row = append(row, cell{"→ would run", st.Yellow})
			case r.Outcome == deploy.Failed:
				row = append(row, cell{fmt.Sprintf("✗ %.1fs", r.Duration.Seconds()), st.Red})
			case r.Outcome == deploy.Unreachable:
				row = append(row, cell{"✗ unreachable", st.Red})
			case r.Outcome == deploy.Interrupted:
				row = append(row, cell{fmt.Sprintf("■ interrupted %.1fs", r.Duration.Seconds()), st.Yellow})
			default:
				row = append(row, cell{"· not reached", st.Faint})
			}
		}
		rows = append(rows, row)
	}
	writeTable(w, rows)

	counts := map[deploy.Outcome]int{}
	for _, r := range res.Results {
		counts[r.Outcome]++
	}
	if res.DryRun {
		fmt.Fprintf(w, "\n%s %s, %d would skip, %s %s\n", st.Bold("plan of "+res.Task+":"),
			st.Yellow(fmt.Sprintf("%d would run", counts[deploy.WouldRun])), counts[deploy.Skipped],
			st.Red(fmt.Sprintf("%d could not be checked", counts[deploy.Failed])), st.Faint("(nothing was changed)"))
		for _, r := range res.Results {
			if r.Outcome == deploy.Failed {
				fmt.Fprintf(w, "  %s on %s: %s\n", res.Steps[r.Step], r.Host, r.Reason)
			}
		}
		writeUnreachable(w, st, res)
		return
	}
	interrupted := ""
	if res.Interrupted {
		interrupted = st.Yellow(fmt.Sprintf("%d interrupted", counts[deploy.Interrupted])) + ", "
	}
	fmt.Fprintf(w, "\n%s %s, %s, %s, %s%s %s\n", st.Bold(res.Task+":"),
		st.Green(fmt.Sprintf("%d changed", counts[deploy.Changed])), fmt.Sprintf("%d skipped", counts[deploy.Skipped]),
		st.Red(fmt.Sprintf("%d failed", counts[deploy.Failed])), interrupted, fmt.Sprintf("%d not reached", counts[deploy.NotReached]),
		st.Faint(fmt.Sprintf("(%.2fs)", res.Duration.Seconds())))
	if c := res.Commit; c != nil {
		line := "commit " + st.Bold(c.SHA[:min(7, len(c.SHA))])
		if c.Subject != "" {
			line += " " + c.Subject
		}
		fmt.Fprintln(w, line)
	}
	if f := res.Failure; f != nil {
		fmt.Fprintf(w, "%s step %d (%s) failed on %s: %s\n", st.Red("✗"), f.Step+1, res.Steps[f.Step], f.Host, f.Reason)
		if f.Command != "" {
			fmt.Fprintf(w, "  command: %s\n", strings.ReplaceAll(strings.TrimSpace(f.Command), "\n", "\n           "))
		}
		if len(f.Stderr) > 0 {
			fmt.Fprintf(w, "  last lines of its stderr:\n")
			for _, l := range f.Stderr {
				fmt.Fprintf(w, "  %s %s\n", st.Faint("|"), l)
			}
		}
		if res.HookStart > 0 && slices.ContainsFunc(res.Results, func(r deploy.StepResult) bool { return r.Step >= res.HookStart && r.Outcome != deploy.NotReached }) {
			fmt.Fprintln(w, "  No later step ran but the on_failure hooks'.")
		} else {
			fmt.Fprintln(w, "  No later step ran.")
		}
	} else if res.Interrupted {
		writeInterrupted(w, st, res)
	} else if res.Changed() == 0 && counts[deploy.Failed] == 0 {
		fmt.Fprintln(w, st.Green("Nothing to do: every step was already done."))
	}
	for _, f := range res.HookFailures {
		fmt.Fprintf(w, "%s hook step %d (%s) failed on %s: %s — the run's outcome stands\n", st.Yellow("!"), f.Step+1, res.Steps[f.Step], f.Host, f.Reason)
	}
	writeHostStates(w, st, res)
	if res.JournalErr != nil {
		fmt.Fprintf(w, "%s the run could not be recorded in the journal: %v\n", st.Yellow("!"), res.JournalErr)
	}
}

// writeHostStates says what each host is after a failed or interrupted
// run, as read back from it: never what the engine meant to do.
func writeHostStates(w io.Writer, st Style, res *deploy.RunResult) {
	if len(res.States) == 0 && len(res.Unknown) == 0 {
		return
	}
	if res.RolledBack {
		fmt.Fprintln(w, "  Every host this run had switched was switched back to its previous release, and reloaded.")
	}
	fmt.Fprintln(w, "  What each host is now, read back from it:")
	width := 0
	for _, h := range res.Hosts {
		width = max(width, len(h))
	}
	for _, h := range res.Hosts {
		if s := res.States[h]; s != nil {
			fmt.Fprintf(w, "    %-*s  %s\n", width, h, s)
		} else if why, ok := res.Unknown[h]; ok {
			fmt.Fprintf(w, "    %-*s  %s %s — `deploy status %s` tells once it is reachable\n", width, h, st.Red("unknown:"), why, h)
		}
	}
}
