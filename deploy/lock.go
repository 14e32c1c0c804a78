package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
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
}

func (e *LockHeldError) Error() string {
	if e.Info.Owner == "" {
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
	conn remote.Conn
	dir  string // {path}/.deploy/lock
}

// takeLocks takes {path}/.deploy/lock on every host, atomically on each:
// mkdir either creates the directory or fails, so of two deployers only
// one wins, with no window between a test and a set. When any host is held,
// the locks taken so far are released and a *LockHeldError returned.
func (r *Runner) takeLocks(ctx context.Context, hosts []*config.Host, info LockInfo) ([]*hostLock, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var taken []*hostLock
	err = r.onEachHost(ctx, hosts, func(h *config.Host, conn remote.Conn, sc *config.Scope) error {
		base := stateDir(sc)
		l := &hostLock{conn: conn, dir: base + "/lock"}
		script := fmt.Sprintf(`mkdir -p %[1]s
if mkdir %[2]s 2>/dev/null; then
  printf '%%s\n' %[3]s > %[2]s/info
else
  cat %[2]s/info 2>/dev/null || echo "(no details: the lock is being written, or was left empty)"
  exit %[4]d
fi`, remote.MustQuote(base), remote.MustQuote(l.dir), remote.MustQuote(string(data)), lockExitHeld)
		var out, errOut bytes.Buffer
		err := conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &out, Stderr: &errOut})
		var exit *remote.ExitError
		if errors.As(err, &exit) && exit.Status == lockExitHeld {
			held := &LockHeldError{Host: h.Name, Raw: out.String()}
			if json.Unmarshal(bytes.TrimSpace(out.Bytes()), &held.Info) != nil {
				held.Info = LockInfo{}
			}
			return held
		}
		if err != nil {
			return fmt.Errorf("lock on %s: %w: %s", h.Name, err, strings.TrimSpace(errOut.String()))
		}
		mu.Lock()
		taken = append(taken, l)
		mu.Unlock()
		return nil
	})
	if err != nil {
		r.releaseLocks(ctx, taken, info)
		return nil, err
	}
	return taken, nil
}

// releaseLocks removes the locks this run took — only if they still hold
// its id — even when ctx is cancelled (Ctrl-C): a run never leaves its
// lock behind while it can reach the host.
func (r *Runner) releaseLocks(ctx context.Context, locks []*hostLock, info LockInfo) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var g errgroup.Group
	for _, l := range locks {
		g.Go(func() error {
			script := fmt.Sprintf(`if grep -q %s %s/info 2>/dev/null; then rm -rf %s; fi`,
				remote.MustQuote(`"id":"`+info.ID+`"`), remote.MustQuote(l.dir), remote.MustQuote(l.dir))
			return l.conn.Run(ctx, &remote.Cmd{Script: script})
		})
	}
	g.Wait()
}

// Unlock removes the lock on every host of hosts, whoever holds it, and
// returns what each held (hosts without a lock are left out).
func (r *Runner) Unlock(ctx context.Context, hosts []*config.Host, remove bool) (map[string]string, error) {
	held := map[string]string{}
	var mu sync.Mutex
	err := r.onEachHost(ctx, hosts, func(h *config.Host, conn remote.Conn, sc *config.Scope) error {
		dir := remote.MustQuote(stateDir(sc) + "/lock")
		script := "if [ -d " + dir + " ]; then cat " + dir + "/info 2>/dev/null || echo '(empty lock)'; fi"
		if remove {
			script += "; rm -rf " + dir
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
