package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"os"
	"os/user"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// LockInfo is what a lock holds: who took it, for what, since when.
type LockInfo struct {
	ID      string    `json:"id"` // the run's id; only the run that took a lock releases it
	Owner   string    `json:"owner"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Task    string    `json:"task"`
	Target  string    `json:"target"`
	SHA     string    `json:"sha,omitempty"`
}

// LockHeldError is a lock another run holds.
type LockHeldError struct {
	Host string
	Info LockInfo
	Raw  string // the lock's content, when it is not a LockInfo
	// Pending are the runs that were taking a lock, when the lock has no
	// info: its taker stopped between creating it and writing who it is
	// (one of these), or is writing it now.
	Pending []LockInfo
}

// parseHeld reads what the lock script printed of a lock held.
func parseHeld(host, out string) *LockHeldError {
	held := &LockHeldError{Host: host, Raw: out}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "pending "); ok {
			var p LockInfo
			if json.Unmarshal([]byte(rest), &p) == nil {
				held.Pending = append(held.Pending, p)
			}
		}
	}
	if len(held.Pending) > 0 {
		held.Info = held.Pending[0]
		held.Raw = "the lock has no details; being taken by " + held.Pending[0].Owner
	} else if json.Unmarshal([]byte(strings.TrimSpace(out)), &held.Info) != nil {
		held.Info = LockInfo{}
	}
	return held
}

// pendingFile names the run taking a lock, beside the lock.
func pendingFile(base, id string) string { return base + "/lock-pending." + id }

func (e *LockHeldError) Error() string {
	if e.Info.Owner == "" || len(e.Pending) > 0 {
		return fmt.Sprintf("%s is locked by another deploy (%s); if it is stale, run `deploy unlock`", e.Host, strings.TrimSpace(e.Raw))
	}
	age := time.Since(e.Info.Started).Round(time.Second)
	return fmt.Sprintf("%s is locked by %s (pid %d, task %s on %s) since %s, %s ago; if that deploy is dead, run `deploy unlock %s`",
		e.Host, e.Info.Owner, e.Info.PID, e.Info.Task, e.Info.Target, e.Info.Started.Format(time.RFC3339), age, e.Info.Target)
}

// newRunInfo describes this run, for the lock and the journal.
func newRunInfo(task, target string) LockInfo {
	id := make([]byte, 8)
	rand.Read(id)
	return LockInfo{ID: hex.EncodeToString(id), Owner: owner(), PID: os.Getpid(), Started: time.Now().UTC(), Task: task, Target: target}
}

// owner is user@machine.
func owner() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// lockExitHeld is the exit status of the lock script when the lock is
// taken already (EX_TEMPFAIL).
const lockExitHeld = 75

// hostLock is one host's lock directory.
type hostLock struct {
	host string
	h    *config.Host
	conn remote.Conn
	dir  string // {path}/.deploy/lock
}

// lockSet is the locks a run may hold: a lock is added before its command
// is sent, so one whose reply is lost (Ctrl-C, a cut connection) is still
// released. Releasing checks the run id, so releasing one never taken
// does nothing.
type lockSet struct {
	mu    sync.Mutex
	locks []*hostLock
}

func (s *lockSet) add(l *hostLock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks = append(s.locks, l)
}

func (s *lockSet) all() []*hostLock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.locks)
}

// resolver says where a host really is; the Connector does.
type resolver interface {
	Resolve(h *config.Host) (string, error)
}

// lockKey orders the locks of every run the same way: by where the host
// really is (after ssh_config, so two aliases of one machine sort
// together), then its deploy root.
func (r *Runner) lockKey(h *config.Host) string {
	where := ""
	if rs, ok := r.Conns.(resolver); ok {
		where, _ = rs.Resolve(h)
	}
	if where == "" {
		t := Target(r.DF, h)
		where = fmt.Sprintf("%s@%s:%d", t.User, t.Host, t.Port)
	}
	root := ""
	if sc, err := r.DF.Scope(h); err == nil {
		root = sc.Get("path")
	}
	return where + " " + root
}

// takeLocks takes {path}/.deploy/lock on every host, reading each host's
// release state in the same command. Each lock is atomic — mkdir either
// creates the directory or fails, so of two deployers only one wins — and
// the locks are taken in one global order: the first host alone, then the
// others at once. Two runs over the same hosts meet at the first, so one
// of them gets every lock. When any host is held, every lock taken is
// released and a *LockHeldError returned; with LockWait the run backs off
// and tries again until that much time has passed.
func (r *Runner) takeLocks(ctx context.Context, hosts []*config.Host, info LockInfo) ([]*hostLock, error) {
	deadline := time.Now().Add(r.LockWait)
	waiting := false
	for attempt := 0; ; attempt++ {
		locks, err := r.tryLocks(ctx, hosts, info)
		var held *LockHeldError
		if !errors.As(err, &held) {
			return locks, err
		}
		if r.breakStale(ctx, held, hosts) {
			continue
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		if !waiting {
			waiting = true
			r.Printer.Event(Event{Time: time.Now(), Type: EventOutput, Host: held.Host, Stream: "stderr",
				Line: "waiting for the lock: " + held.Error()})
		}
		// Back off with jitter, so waiting runs do not retry in step.
		pause := time.Duration(200+mrand.IntN(300*min(attempt+1, 6))) * time.Millisecond
		select {
		case <-time.After(min(pause, time.Until(deadline)+time.Millisecond)):
		case <-ctx.Done():
			return nil, err
		}
	}
}

// tryLocks makes one attempt at every lock, in order.
func (r *Runner) tryLocks(ctx context.Context, hosts []*config.Host, info LockInfo) ([]*hostLock, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	keys := map[*config.Host]string{}
	for _, h := range hosts {
		keys[h] = r.lockKey(h)
	}
	ordered := slices.Clone(hosts)
	slices.SortStableFunc(ordered, func(a, b *config.Host) int { return strings.Compare(keys[a], keys[b]) })
	taken := &lockSet{}
	lockOne := func(h *config.Host) error {
		conn, err := r.Conns.Conn(ctx, h)
		if err != nil {
			return err
		}
		sc, err := r.DF.Scope(h)
		if err != nil {
			return err
		}
		strategy := r.strategyFor(sc)
		base := stateDir(sc)
		l := &hostLock{host: h.Name, h: h, conn: conn, dir: base + "/lock"}
		taken.add(l)
		// A lock holding this run's id is this run's: another name
		// (an ssh_config alias) of a host locked already. Who takes the
		// lock is written beside it first (lock-pending.<id>), so a lock
		// whose taker was stopped between the mkdir and its info still
		// names that taker, and breakStale can tell a dead one.
		script := fmt.Sprintf(`mkdir -p %[1]s
printf '%%s\n' %[3]s > %[7]s
if mkdir %[2]s 2>/dev/null; then
  printf '%%s\n' %[3]s > %[2]s/info
  rm -f %[7]s
elif grep -q %[5]s %[2]s/info 2>/dev/null; then
  rm -f %[7]s
else
  rm -f %[7]s
  if [ -f %[2]s/info ]; then
    cat %[2]s/info
  else
    found=
    for f in %[1]s/lock-pending.*; do
      [ -f "$f" ] || continue
      found=1
      echo "pending $(cat "$f")"
    done
    [ -n "$found" ] || echo "(no details: the lock is being written, or was left empty)"
  fi
  exit %[4]d
fi
%[6]s`, remote.MustQuotePath(base), remote.MustQuotePath(l.dir), remote.MustQuote(string(data)), lockExitHeld,
			remote.MustQuote(`"id":"`+info.ID+`"`), strategy.StateScript()+"\n"+r.batch.script(h.Name), remote.MustQuotePath(pendingFile(base, info.ID)))
		var out, errOut bytes.Buffer
		err = conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &out, Stderr: &errOut, Public: r.public(script)})
		var exit *remote.ExitError
		if errors.As(err, &exit) && exit.Status == lockExitHeld {
			return parseHeld(h.Name, out.String())
		}
		if err != nil {
			return fmt.Errorf("lock on %s: %w%s", h.Name, err, tail(errOut.String()))
		}
		st, err := strategy.ParseState(out.String())
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		r.batch.take(h.Name, out.String())
		st.Lock, st.Start = "", st.Current
		r.rel.set(h.Name, &hostRelease{strategy: strategy, st: st})
		r.State.StampAfter(st.Releases)
		return nil
	}
	// The other hosts are dialled while the first is locked: their locks
	// wait for the first, their handshakes need not.
	for _, h := range ordered[min(1, len(ordered)):] {
		go func() { _, _ = r.Conns.Conn(ctx, h) }()
	}
	err = nil
	if len(ordered) > 0 {
		err = lockOne(ordered[0])
	}
	if err == nil && len(ordered) > 1 {
		var g errgroup.Group
		for _, h := range ordered[1:] {
			g.Go(func() error { return lockOne(h) })
		}
		err = g.Wait()
	}
	if err != nil {
		if left := r.releaseLocks(ctx, taken.all(), info); len(left) > 0 {
			err = &locksLeftError{err: err, left: left}
		}
		return nil, err
	}
	return taken.all(), nil
}

// locksLeftError is a failed attempt at the locks that could not give
// back every lock it may have taken: a host whose lock command lost its
// connection may hold this run's lock, and only `deploy unlock` (or this
// user's next run on this machine, once this process is gone) removes it.
type locksLeftError struct {
	err  error
	left map[string]string // host → why its lock could not be released
}

func (e *locksLeftError) Error() string {
	var b strings.Builder
	b.WriteString(e.err.Error())
	for _, h := range slices.Sorted(maps.Keys(e.left)) {
		fmt.Fprintf(&b, "\nthe deploy lock on %s may be left (it could not be released: %s): run `deploy unlock %s` once the host is reachable",
			h, e.left[h], h)
	}
	return b.String()
}

func (e *locksLeftError) Unwrap() error { return e.err }

func tail(stderr string) string {
	if s := strings.TrimSpace(stderr); s != "" {
		return ": " + s
	}
	return ""
}

// breakStale removes a lock left by a run of this same user on this same
// machine whose process is gone, and says so. It reports whether it did.
func (r *Runner) breakStale(ctx context.Context, held *LockHeldError, hosts []*config.Host) bool {
	// An empty lock is stale when every run that was taking a lock there
	// is one of this user's, on this machine, and gone.
	takers := held.Pending
	if len(takers) == 0 {
		takers = []LockInfo{held.Info}
	}
	for _, p := range takers {
		if p.Owner != owner() || p.PID <= 0 || processAlive(p.PID) {
			return false
		}
	}
	i := slices.IndexFunc(hosts, func(h *config.Host) bool { return h.Name == held.Host })
	if i < 0 {
		return false
	}
	conn, err := r.Conns.Conn(ctx, hosts[i])
	if err != nil {
		return false
	}
	sc, err := r.DF.Scope(hosts[i])
	if err != nil {
		return false
	}
	dir := stateDir(sc) + "/lock"
	var script strings.Builder
	for _, p := range takers {
		script.WriteString(unlockScript(dir, p.ID) + "\n")
	}
	if conn.Run(ctx, &remote.Cmd{Script: script.String()}) != nil {
		return false
	}
	r.Printer.Event(Event{Time: time.Now(), Type: EventOutput, Host: held.Host, Stream: "stderr",
		Line: fmt.Sprintf("broke a stale lock: its owner, pid %d on this machine (%s), is gone", held.Info.PID, held.Info.Owner)})
	return true
}

// releaseLocks removes the locks this run took — only if they still hold
// its id — even when ctx is cancelled (Ctrl-C): a run never leaves its
// lock behind while it can reach the host.
func (r *Runner) releaseLocks(ctx context.Context, locks []*hostLock, info LockInfo) map[string]string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var mu sync.Mutex
	left := map[string]string{}
	var g errgroup.Group
	for _, l := range locks {
		g.Go(func() error {
			// Ask the connector again: the connection the lock was
			// taken over may be gone, and a new one reach the host.
			conn := l.conn
			if l.h != nil {
				if c, err := r.Conns.Conn(ctx, l.h); err == nil {
					conn = c
				}
			}
			script := unlockScript(l.dir, info.ID)
			err := conn.Run(ctx, &remote.Cmd{Script: script, Last: true})
			if err != nil && l.h != nil && r.onFreshConnection(l.h, script) == nil {
				err = nil
			}
			if err != nil {
				mu.Lock()
				left[l.host] = err.Error()
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return left
}

// unlockScript removes the lock dir if it holds run id — or, when it
// has no info, if run id was taking it — and only then; and that run's
// pending file.
func unlockScript(dir, id string) string {
	pending := pendingFile(path.Dir(dir), id)
	return fmt.Sprintf(`if grep -q %[1]s %[2]s/info 2>/dev/null || { [ -d %[2]s ] && [ ! -e %[2]s/info ] && [ -f %[3]s ]; }; then rm -rf %[2]s; fi
rm -f %[3]s`, remote.MustQuote(`"id":"`+id+`"`), remote.MustQuotePath(dir), remote.MustQuotePath(pending))
}

// cleanupTimeout bounds each command a run still sends once it is over or
// interrupted: the journal, the unlock.
const cleanupTimeout = 4 * time.Second

// Unlock removes the lock on every host of hosts, whoever holds it, and
// returns what each held (hosts without a lock are left out).
func (r *Runner) Unlock(ctx context.Context, hosts []*config.Host, remove bool) (map[string]string, error) {
	held := map[string]string{}
	var mu sync.Mutex
	err := r.onEachHost(ctx, hosts, func(h *config.Host, conn remote.Conn, sc *config.Scope) error {
		dir := remote.MustQuotePath(stateDir(sc) + "/lock")
		script := "if [ -d " + dir + " ]; then cat " + dir + "/info 2>/dev/null || echo '(empty lock)'; fi"
		if remove {
			script += "; rm -rf " + dir + "; rm -f " + remote.MustQuotePath(stateDir(sc)) + "/lock-pending.*"
		}
		var out bytes.Buffer
		if err := conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &out}); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if s := strings.TrimSpace(out.String()); s != "" {
			mu.Lock()
			held[h.Name] = s
			mu.Unlock()
		}
		return nil
	})
	return held, err
}
