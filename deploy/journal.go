package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// JournalEntry is one run as one host records it: a line of JSON appended
// to {path}/.deploy/journal.
type JournalEntry struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Owner   string    `json:"owner"` // user@machine
	User    string    `json:"user"`
	Machine string    `json:"machine"`
	Task    string    `json:"task"`
	Target  string    `json:"target"`
	Host    string    `json:"host"`
	FromSHA string    `json:"from_sha,omitempty"`
	ToSHA   string    `json:"to_sha,omitempty"`
	Result  string    `json:"result"` // ok, failed, interrupted, rolled back
	// State is the host's release state as the run ended, as read from it.
	State    string        `json:"state,omitempty"`
	Duration float64       `json:"duration_s"`
	Steps    []JournalStep `json:"steps"`
}

// JournalStep is how one step ended on the host.
type JournalStep struct {
	Step     string  `json:"step"`
	Outcome  Outcome `json:"outcome"`
	Duration float64 `json:"duration_s,omitempty"`
	Reason   string  `json:"reason,omitempty"`
}

// Journal results.
const (
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultInterrupted = "interrupted"
	ResultRolledBack  = "rolled back"
)

// stateDir is {path}/.deploy, where a host keeps its lock and journal.
func stateDir(sc *config.Scope) string { return strings.TrimSuffix(sc.Get("path"), "/") + "/.deploy" }

// onEachHost calls fn for every host at once, with its connection and its
// variables, and returns the first error.
func (r *Runner) onEachHost(ctx context.Context, hosts []*config.Host, fn func(h *config.Host, conn remote.Conn, sc *config.Scope) error) error {
	var g errgroup.Group
	for _, h := range hosts {
		g.Go(func() error {
			conn, err := r.Conns.Conn(ctx, h)
			if err != nil {
				return err
			}
			sc, err := r.DF.Scope(h)
			if err != nil {
				return err
			}
			return fn(h, conn, sc)
		})
	}
	return g.Wait()
}

// writeJournal appends the run's line to the journal of each host and, in
// the same command, releases the run's lock there. It runs even when ctx
// is cancelled, so an interrupted run is recorded, within cleanupTimeout.
// It returns the hosts where that failed — their lock is still held — and
// why.
func (r *Runner) writeJournal(ctx context.Context, hosts []*config.Host, info LockInfo, res *RunResult, result string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var mu sync.Mutex
	left := map[string]string{}
	done := map[string]bool{}
	err := r.onEachHost(ctx, hosts, func(h *config.Host, conn remote.Conn, sc *config.Scope) (err error) {
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				left[h.Name] = err.Error()
			} else {
				done[h.Name] = true
			}
		}()
		user, machine, _ := strings.Cut(info.Owner, "@")
		e := JournalEntry{ID: info.ID, Time: info.Started, Owner: info.Owner, User: user, Machine: machine, Task: info.Task, Target: info.Target,
			Host: h.Name, ToSHA: res.SHA, Result: result, Duration: res.Duration.Seconds(), Steps: []JournalStep{}}
		if hr := r.rel.get(h.Name); hr != nil {
			e.FromSHA = hr.startCommit()
			e.State = hr.st.String()
		}
		if st := res.States[h.Name]; st != nil {
			e.State = st.String()
		} else if why, ok := res.Unknown[h.Name]; ok {
			e.State = "unknown: " + why
		}
		for _, sr := range res.Results {
			if sr.Host == h.Name || sr.Host == config.LocalHost {
				e.Steps = append(e.Steps, JournalStep{Step: res.Steps[sr.Step], Outcome: sr.Outcome,
					Duration: sr.Duration.Seconds(), Reason: sr.Reason})
			}
		}
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		dir := stateDir(sc)
		// The line is secret-masked like all output, and travels in the
		// script on stdin.
		script := fmt.Sprintf("mkdir -p %[1]s && printf '%%s\\n' %[2]s >> %[1]s/journal\n%[3]s",
			remote.MustQuotePath(dir), remote.MustQuote(config.Mask(string(line), sc.Secrets())), unlockScript(dir+"/lock", info.ID))
		if err := conn.Run(ctx, &remote.Cmd{Script: script, Last: true}); err != nil {
			if err2 := r.onFreshConnection(h, script); err2 != nil {
				return fmt.Errorf("journal on %s: %w", h.Name, err)
			}
		}
		return nil
	})
	// A host that could not even be reached kept its lock too.
	for _, h := range hosts {
		if _, ok := left[h.Name]; !ok && !done[h.Name] {
			left[h.Name] = "could not reach it"
		}
	}
	return left, err
}

// HistoryEntry is one run, merged over the hosts that recorded it.
type HistoryEntry struct {
	JournalEntry
	Hosts []string `json:"hosts"`
}

// History reads the journals of hosts and merges them into runs, newest
// first; n > 0 keeps the newest n.
func (r *Runner) History(ctx context.Context, hosts []*config.Host, n int) ([]HistoryEntry, error) {
	var mu sync.Mutex
	byID := map[string]*HistoryEntry{}
	err := r.onEachHost(ctx, hosts, func(h *config.Host, conn remote.Conn, sc *config.Scope) error {
		var out bytes.Buffer
		file := remote.MustQuotePath(stateDir(sc) + "/journal")
		if err := conn.Run(ctx, &remote.Cmd{Script: "if [ -f " + file + " ]; then cat " + file + "; fi", Stdout: &out, ReadOnly: true}); err != nil {
			return fmt.Errorf("journal of %s: %w", h.Name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		return mergeJournal(byID, &out)
	})
	if err != nil {
		return nil, err
	}
	return newestFirst(byID, n), nil
}

// mergeJournal reads a host's journal, one JSON line a run, into byID:
// the runs merged over the hosts that recorded them. A host's journal is
// its own to write: a line that is not a run is skipped, never fatal.
func mergeJournal(byID map[string]*HistoryEntry, journal io.Reader) error {
	lines := bufio.NewScanner(journal)
	lines.Buffer(make([]byte, 1<<20), 1<<24)
	for lines.Scan() {
		var e JournalEntry
		if json.Unmarshal(lines.Bytes(), &e) != nil {
			continue // a line cut by a full disk is skipped, not fatal
		}
		he, ok := byID[e.ID]
		if !ok {
			he = &HistoryEntry{JournalEntry: e}
			byID[e.ID] = he
		}
		he.Hosts = append(he.Hosts, e.Host)
		// The run's result is its worst host's.
		if e.Result != ResultOK && he.Result == ResultOK {
			he.Result = e.Result
		}
		he.Duration = max(he.Duration, e.Duration)
	}
	return lines.Err()
}

// newestFirst lists the merged runs, newest first, at most n (0: all).
func newestFirst(byID map[string]*HistoryEntry, n int) []HistoryEntry {
	out := make([]HistoryEntry, 0, len(byID))
	for _, e := range byID {
		slices.Sort(e.Hosts)
		e.Host = ""
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b HistoryEntry) int { return b.Time.Compare(a.Time) })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Releases lists the releases of every host, oldest first.
func (r *Runner) Releases(ctx context.Context, hosts []*config.Host) (map[string][]tasks.Release, error) {
	var mu sync.Mutex
	out := map[string][]tasks.Release{}
	var g errgroup.Group
	for _, h := range hosts {
		g.Go(func() error {
			st, _, err := r.readState(ctx, h, nil)
			if err != nil {
				return fmt.Errorf("releases of %s: %w", h.Name, err)
			}
			mu.Lock()
			out[h.Name] = st.Releases
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// dropper can close a host's connection so that the next command dials
// again; the Connector can.
type dropper interface {
	Drop(h *config.Host)
}

// onFreshConnection runs a cleanup script again on a new connection to h:
// the one the run had may be stalled (it looks alive until keepalives give
// up), while the host itself answers.
func (r *Runner) onFreshConnection(h *config.Host, script string) error {
	d, ok := r.Conns.(dropper)
	if !ok {
		return errors.New("no way to dial again")
	}
	d.Drop(h)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	conn, err := r.Conns.Conn(ctx, h)
	if err != nil {
		return err
	}
	return conn.Run(ctx, &remote.Cmd{Script: script, Last: true})
}
