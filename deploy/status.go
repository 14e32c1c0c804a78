package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// HostStatus is what runs where on one host, as read from it.
type HostStatus struct {
	Host  string           `json:"host"`
	Error string           `json:"error,omitempty"` // unreachable, or its state unreadable
	State *tasks.HostState `json:"-"`
	// Served is the commit the app answers with, found in the health
	// check's answer; "" when there is no health check URL or the answer
	// names no release of the host (drift only when the health check
	// expects the commit in it: {{sha}}).
	Served string `json:"served,omitempty"`
	// ServedErr is why the app could not be asked.
	ServedErr string `json:"served_error,omitempty"`
	// Server is gunicorn's master and its workers, read from the pid file
	// in the shared directory ("" when there is none); ServerGone the pid
	// a stale pid file names.
	Server     string        `json:"server,omitempty"`
	ServerGone string        `json:"server_gone_pid,omitempty"`
	LastRun    *JournalEntry `json:"last_run,omitempty"`
	Drift      []string      `json:"drift,omitempty"` // what is wrong here
}

// Status reads, on every host at once and in one command each, its
// release state, its lock, the last run of its journal and — when the
// default task has a health check URL — the commit the app serves. Then
// it flags drift: a host whose state does not match `current`, that does
// not serve `current`, that failed or is half-way, and hosts on different
// commits.
func (r *Runner) Status(ctx context.Context, hosts []*config.Host) ([]HostStatus, error) {
	probes, err := r.probes(hosts)
	if err != nil {
		return nil, err
	}
	out := make([]HostStatus, len(hosts))
	var g errgroup.Group
	for i, h := range hosts {
		g.Go(func() error {
			out[i] = r.statusOf(ctx, h, probes[h.Name])
			return nil
		})
	}
	g.Wait()
	flagFleetDrift(out)
	return out, nil
}

// probe asks a host's app for its answer; names says the answer names the
// commit served (the health check expects {{sha}} in it), so an answer
// without one is drift.
type probe struct {
	script string
	names  bool
}

// probes are the scripts that ask each host's app for its answer: the
// first step of the default task that can probe (a health check URL).
func (r *Runner) probes(hosts []*config.Host) (map[string]probe, error) {
	out := map[string]probe{}
	task := r.DF.App.DefaultTask
	if _, ok := r.DF.Tasks[task]; !ok {
		return out, nil
	}
	for _, ps := range unroll(r.DF, task, nil, "") {
		prober, ok := r.Builtins[ps.step.Arg].(tasks.Prober)
		if !ok || ps.step.Kind != config.StepBuiltin {
			continue
		}
		for _, h := range narrow(r.DF, hosts, ps.on) {
			if _, done := out[h.Name]; done {
				continue
			}
			sc, err := r.DF.Scope(h)
			if err != nil {
				return nil, err
			}
			sc = sc.With("sha", shaPlaceholder)
			hc, err := fill(ps.step, sc)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", ps.label, h.Name, err)
			}
			if script := prober.Probe(&tasks.Env{With: hc.with, App: r.appFor(sc, nil)}); script != "" {
				out[h.Name] = probe{script: script, names: ps.step.Uses("sha")}
			}
		}
	}
	return out, nil
}

// statusOf reads one host.
func (r *Runner) statusOf(ctx context.Context, h *config.Host, pb probe) HostStatus {
	hs := HostStatus{Host: h.Name}
	conn, err := r.Conns.Conn(ctx, h)
	if err != nil {
		hs.Error = err.Error()
		return hs
	}
	sc, err := r.DF.Scope(h)
	if err != nil {
		hs.Error = err.Error()
		return hs
	}
	s := r.strategyFor(sc)
	if s == nil {
		hs.Error = r.DF.File + " has no [app] path"
		return hs
	}
	journal := remote.MustQuotePath(stateDir(sc) + "/journal")
	script := s.StateScript() + "\nif [ -f " + journal + " ]; then echo \"journal $(tail -n 1 " + journal + ")\"; fi"
	// gunicorn's master, as a reload of method gunicorn (or hup with the
	// usual pid file) finds it: running with its workers, or gone.
	pidFile := remote.MustQuotePath(sc.Get("shared_path") + "/gunicorn.pid")
	script += "\nif [ -f " + pidFile + " ]; then p=$(cat " + pidFile + "); if kill -0 \"$p\" 2>/dev/null; then " +
		"echo \"server $p $(ps -e -o ppid= 2>/dev/null | awk -v m=\"$p\" '$1 == m' | wc -l)\"; else echo \"server-gone $p\"; fi; fi"
	if pb.script != "" {
		// The answer, on one line; its failure does not fail the status
		// (and is the probe's own, not the last command of a pipe's).
		script += "\nif ans=$( (" + pb.script + ") 2>&1 ); then how=served; else how=unserved; fi\n" +
			"echo \"$how $(printf '%s' \"$ans\" | tr '\\n' ' ' | cut -c1-2000)\""
	}
	var stdout, stderr bytes.Buffer
	// Only the state script may go in a command line: a health check's
	// URL or headers could hold a token.
	if err := conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &stdout, Stderr: &stderr, ReadOnly: true, Public: pb.script == ""}); err != nil {
		hs.Error = err.Error() + tail(stderr.String())
		return hs
	}
	if hs.State, err = s.ParseState(stdout.String()); err != nil {
		hs.Error = err.Error()
		return hs
	}
	answer, answered := "", false
	for _, line := range strings.Split(stdout.String(), "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "journal":
			var e JournalEntry
			if json.Unmarshal([]byte(val), &e) == nil {
				hs.LastRun = &e
			}
		case "served":
			answer, answered = val, true
		case "server":
			pid, workers, _ := strings.Cut(val, " ")
			hs.Server = fmt.Sprintf("gunicorn %s, %s", pid, tasks.Plural(atoiOr0(workers), "worker"))
		case "server-gone":
			hs.Server = "gunicorn not running"
			hs.ServerGone = strings.TrimSpace(val)
		case "unserved":
			hs.ServedErr = strings.TrimSpace(val)
			if hs.ServedErr == "" {
				hs.ServedErr = "the health check URL did not answer"
			}
		}
	}
	if answered {
		hs.Served = servedCommit(answer, hs.State)
	}
	hs.Drift = hostDrift(hs, pb)
	return hs
}

// servedCommit finds which of the host's commits the app's answer names:
// the one in use first, else any release's.
func servedCommit(answer string, st *tasks.HostState) string {
	names := func(sha string) bool { return len(sha) >= 7 && strings.Contains(answer, sha[:7]) }
	if names(st.CurrentCommit) {
		return st.CurrentCommit
	}
	for _, rel := range slices.Backward(st.Releases) {
		if names(rel.SHA) {
			return rel.SHA
		}
	}
	return ""
}

// hostDrift is what is wrong on one host.
func hostDrift(hs HostStatus, pb probe) []string {
	st := hs.State
	var drift []string
	switch {
	case st.Current == "" && st.Record.Phase == "":
	case st.Record.Phase == "":
		drift = append(drift, "no state recorded for the release in use (deployed by an older deploy?)")
	case !st.Consistent():
		drift = append(drift, fmt.Sprintf("the state says %s %s, but current is %s", st.Record.Phase, st.Record.Release, orNone(st.Current)))
	case st.Record.Phase == tasks.PhaseFailed:
		drift = append(drift, "the release in use failed: "+st.Record.Error)
	case !st.Record.Phase.AtLeast(tasks.PhaseReloaded):
		drift = append(drift, "the release in use was switched to but never reloaded: the next deploy reloads it")
	}
	if pb.script != "" && st.Current != "" {
		switch {
		case hs.ServedErr != "":
			drift = append(drift, "the app's health check URL fails: "+hs.ServedErr)
		case hs.Served == "" && pb.names:
			drift = append(drift, "the app's answer names no release of this host")
		case hs.Served != "" && hs.Served != st.CurrentCommit:
			drift = append(drift, fmt.Sprintf("the app serves %s, not current (%s)", short(hs.Served), short(st.CurrentCommit)))
		}
	}
	if hs.ServerGone != "" && st.Current != "" {
		drift = append(drift, fmt.Sprintf("gunicorn is not running (its pid file names %s, gone): a deploy with reload method gunicorn starts it", hs.ServerGone))
	}
	if st.Lock != "" {
		drift = append(drift, "locked: "+st.Lock)
	}
	return drift
}

// atoiOr0 is s as a number, 0 when it is none.
func atoiOr0(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// flagFleetDrift flags hosts whose commit differs from the others'.
func flagFleetDrift(list []HostStatus) {
	commits := map[string][]string{}
	for _, hs := range list {
		if hs.State != nil && hs.State.CurrentCommit != "" {
			commits[hs.State.CurrentCommit] = append(commits[hs.State.CurrentCommit], hs.Host)
		}
	}
	if len(commits) < 2 {
		return
	}
	for i, hs := range list {
		if hs.State == nil || hs.State.CurrentCommit == "" {
			continue
		}
		var others []string
		for c, hosts := range commits {
			if c != hs.State.CurrentCommit {
				others = append(others, short(c)+" on "+strings.Join(hosts, ", "))
			}
		}
		slices.Sort(others)
		list[i].Drift = append(list[i].Drift, "the fleet is mixed: "+strings.Join(others, "; "))
	}
}

// Consistent reports whether every host was read and none drifts.
func Consistent(list []HostStatus) bool {
	return !slices.ContainsFunc(list, func(hs HostStatus) bool { return hs.Error != "" || len(hs.Drift) > 0 })
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// MarshalJSON adds the state's fields to the JSON of a host's status.
func (hs HostStatus) MarshalJSON() ([]byte, error) {
	type plain HostStatus
	v := struct {
		plain
		Current  string       `json:"current,omitempty"`
		Commit   string       `json:"commit,omitempty"`
		Phase    tasks.Phase  `json:"phase,omitempty"`
		Record   tasks.Record `json:"state"`
		Locked   string       `json:"lock,omitempty"`
		Releases int          `json:"releases"`
		Time     time.Time    `json:"time"`
	}{plain: plain(hs), Time: time.Now().UTC()}
	if st := hs.State; st != nil {
		v.Current, v.Commit, v.Record, v.Locked, v.Releases = st.Current, st.CurrentCommit, st.Record, st.Lock, len(st.Releases)
		if st.Consistent() {
			v.Phase = st.Record.Phase
		}
	}
	return json.Marshal(v)
}
