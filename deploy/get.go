package deploy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// GetOptions are the options of `deploy get`.
type GetOptions struct {
	Path     string // on the hosts; "~/" is the login user's home
	Dir      string // here
	Force    bool   // replace files that exist here
	Parallel int    // hosts at once; 0 means all
}

// GetHost is how a get ended on one host.
type GetHost struct {
	Host     string
	Dir      string // the directory its files went to
	Dest     string // what was fetched, here: Dir/<name of Path>
	Files    int
	Bytes    int64
	Skipped  []remote.Skip
	Err      error
	Duration time.Duration
	// Interrupted: the run was interrupted (Ctrl-C) before the host was
	// done; not a failure of the host. Files already in place stay.
	Interrupted bool
}

// Failed reports whether the get failed on this host: an error, or
// something under the path that could not be read.
func (h GetHost) Failed() bool { return (h.Err != nil || h.unreadable() > 0) && !h.Interrupted }

// Problem is what went wrong on the host, for people; "" when nothing did.
func (h GetHost) Problem() string {
	switch n := h.unreadable(); {
	case h.Err != nil:
		return h.Err.Error()
	case n == 1:
		return "1 entry could not be read; the rest was copied"
	case n > 1:
		return fmt.Sprintf("%d entries could not be read; the rest was copied", n)
	}
	return ""
}

func (h GetHost) unreadable() int {
	n := 0
	for _, s := range h.Skipped {
		if s.Failed {
			n++
		}
	}
	return n
}

// GetResult is how a get ended on every host, in target order.
type GetResult struct {
	Hosts    []GetHost
	Duration time.Duration
	// Refused says nothing was written, on any host, because files here
	// were in the way.
	Refused bool
}

// Failed are the hosts where the get failed.
func (r GetResult) Failed() []GetHost { return where(r.Hosts, GetHost.Failed) }

// Interrupted are the hosts the interrupt stopped.
func (r GetResult) Interrupted() []GetHost {
	return where(r.Hosts, func(h GetHost) bool { return h.Interrupted })
}

// Totals are the files and bytes fetched from every host.
func (r GetResult) Totals() (files int, bytes int64) {
	for _, h := range r.Hosts {
		files += h.Files
		bytes += h.Bytes
	}
	return files, bytes
}

// GetEvent is one thing that happened during a get, for people and for
// --json (one event a line).
type GetEvent struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"event"` // run_start, skip, file, host_end, run_end
	Command string    `json:"command,omitempty"`
	Host    string    `json:"host,omitempty"`
	Path    string    `json:"path,omitempty"`  // on the host
	Local   string    `json:"local,omitempty"` // here
	Hosts   []string  `json:"hosts,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Line is "interrupted" in the host_end of a host the interrupt
	// stopped, as exec's; Interrupted counts them in run_end.
	Line        string  `json:"line,omitempty"`
	Interrupted *int    `json:"interrupted,omitempty"`
	Files       *int    `json:"files,omitempty"`
	Bytes       *int64  `json:"bytes,omitempty"`
	Skipped     *int    `json:"skipped,omitempty"`
	OK          *int    `json:"ok,omitempty"`
	Failed      *int    `json:"failed,omitempty"`
	Duration    float64 `json:"duration_s,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// Get event types beyond those of a run.
const (
	EventSkip = "skip"
	EventFile = "file"
)

// GetPrinter receives a get's events; it is safe for concurrent use.
type GetPrinter interface {
	GetEvent(GetEvent)
}

// getHost is one host's get in progress.
type getHost struct {
	h       *config.Host
	conn    remote.Fetcher
	listing *remote.Listing
	res     GetHost
	start   time.Time
}

// Get copies a file or a directory tree from every host to this machine,
// in two passes over the hosts in parallel: list what is there, then,
// when nothing here is in the way on any host (or with Force), copy it.
// A host whose path is missing or unreachable does not stop the others;
// a file in the way stops every host before anything is written.
func Get(ctx context.Context, conns connector, hosts []*config.Host, opts GetOptions, pr GetPrinter) GetResult {
	start := time.Now()
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	pr.GetEvent(GetEvent{Time: start, Type: EventRunStart, Command: "get", Path: opts.Path, Local: opts.Dir, Hosts: names})

	dirs := HostDirs(hosts, opts.Dir)
	work := make([]*getHost, len(hosts))
	for i, h := range hosts {
		work[i] = &getHost{h: h, start: start, res: GetHost{Host: h.Name, Dir: dirs[i]}}
	}
	done := closeWhenDone(conns, hosts)
	eachHost(work, opts.Parallel, func(g *getHost) {
		g.list(ctx, conns, opts)
		if g.res.Err != nil {
			done(g.h)
		}
	})
	refused := checkDestinations(work, opts.Force)
	eachHost(work, opts.Parallel, func(g *getHost) {
		if g.res.Err == nil && !refused {
			g.fetch(ctx, opts, pr)
			done(g.h)
		}
		g.res.Interrupted = g.res.Err != nil && ctx.Err() != nil
		g.res.Duration = time.Since(g.start)
		pr.GetEvent(g.endEvent())
	})
	res := GetResult{Duration: time.Since(start), Refused: refused}
	for _, g := range work {
		res.Hosts = append(res.Hosts, g.res)
	}
	failed, stopped := len(res.Failed()), len(res.Interrupted())
	files, bytes := res.Totals()
	end := GetEvent{Time: time.Now(), Type: EventRunEnd, OK: intPtr(len(hosts) - failed - stopped), Failed: intPtr(failed),
		Files: &files, Bytes: &bytes, Duration: res.Duration.Seconds()}
	if stopped > 0 {
		end.Interrupted = intPtr(stopped)
	}
	pr.GetEvent(end)
	return res
}

func eachHost(work []*getHost, parallel int, fn func(*getHost)) {
	var g errgroup.Group
	if parallel > 0 {
		g.SetLimit(parallel)
	}
	for _, w := range work {
		g.Go(func() error {
			fn(w)
			return nil
		})
	}
	g.Wait()
}

// list connects and lists the path on the host.
func (g *getHost) list(ctx context.Context, conns connector, opts GetOptions) {
	conn, err := conns.Conn(ctx, g.h)
	if err != nil {
		g.res.Err = err
		return
	}
	f, ok := conn.(remote.Fetcher)
	if !ok {
		g.res.Err = fmt.Errorf("%s cannot send files (%T)", g.h.Name, conn)
		return
	}
	g.conn = f
	g.listing, g.res.Err = f.List(ctx, opts.Path)
	if g.listing != nil {
		g.res.Dest = g.listing.Destination(g.res.Dir)
		g.res.Skipped = slices.Clone(g.listing.Skipped)
	}
}

// checkDestinations looks for files in the way on every host that listed,
// before anything is written; it reports whether any host had one, in
// which case every host is refused.
func checkDestinations(work []*getHost, force bool) bool {
	refused := false
	for _, g := range work {
		if g.res.Err != nil {
			continue
		}
		if err := g.listing.Check(g.res.Dir, force); err != nil {
			g.res.Err = inTheWay(err, force)
			refused = true
		}
	}
	if refused {
		for _, g := range work {
			if g.res.Err == nil {
				g.res.Err = errors.New("not fetched: files of another host are in the way; nothing was written")
			}
		}
	}
	return refused
}

// inTheWay says what to do about files in the way.
func inTheWay(err error, force bool) error {
	var ex *remote.ExistsError
	if !errors.As(err, &ex) {
		return err
	}
	switch {
	case ex.Blocked:
		return fmt.Errorf("%w, and is in the way whatever --force says (a directory where a file goes, "+
			"or not a directory where one goes); nothing was written — move it, or choose another LOCAL_DIR", err)
	case force:
		return err
	}
	return fmt.Errorf("%w; nothing was written — pass --force to replace files that exist", err)
}

// fetch copies what was listed.
func (g *getHost) fetch(ctx context.Context, opts GetOptions, pr GetPrinter) {
	for _, s := range g.listing.Skipped {
		ev := GetEvent{Time: time.Now(), Type: EventSkip, Host: g.h.Name, Path: path.Join(g.listing.Path, s.Rel), Reason: s.Why}
		if s.Failed {
			ev.Error = s.Why
		}
		pr.GetEvent(ev)
	}
	// Counted as each file is in place, so that an interrupted fetch,
	// which returns before its result is known, still says how many are.
	var mu sync.Mutex
	files, bytes := 0, int64(0)
	fo := remote.FetchOptions{Force: opts.Force, File: func(local string, n int64) {
		mu.Lock()
		files, bytes = files+1, bytes+n
		mu.Unlock()
		pr.GetEvent(GetEvent{Time: time.Now(), Type: EventFile, Host: g.h.Name, Local: local, Bytes: &n})
	}}
	res, err := g.conn.Fetch(ctx, g.listing, g.res.Dir, fo)
	mu.Lock()
	g.res.Files, g.res.Bytes = files, bytes
	mu.Unlock()
	for _, s := range res.Unread {
		g.res.Skipped = append(g.res.Skipped, s)
		pr.GetEvent(GetEvent{Time: time.Now(), Type: EventSkip, Host: g.h.Name, Path: path.Join(g.listing.Path, s.Rel),
			Reason: s.Why, Error: s.Why})
	}
	if err != nil {
		var ex *remote.ExistsError
		if errors.As(err, &ex) {
			// Made here since the check: never replaced.
			err = inTheWay(err, opts.Force)
		}
		g.res.Err = err
	}
}

func (g *getHost) endEvent() GetEvent {
	r := g.res
	skipped := len(r.Skipped)
	ev := GetEvent{Time: time.Now(), Type: EventHostEnd, Host: r.Host, Local: r.Dest, Files: &r.Files, Bytes: &r.Bytes,
		Skipped: &skipped, Duration: r.Duration.Seconds()}
	if r.Interrupted {
		ev.Line = string(Interrupted)
	} else {
		ev.Error = r.Problem()
	}
	return ev
}

// HostDirs are the local directories the hosts' files go to, in hosts'
// order: dir itself for one host. For several, dir/NAME, NAME being the
// host's address from the Deployfile (web1.example.com); when hosts of
// the target share one (one machine on two ports, or as two users), each
// of those is named as the Deployfile names it instead, with ':' written
// '_' (web1.example.com, web1.example.com_2222, deploy@web1.example.com),
// and "-2", "-3"… added to a name that still clashes. Names are compared
// ignoring case, for file systems that do; characters other than
// letters, digits and ._@- are written '_'.
func HostDirs(hosts []*config.Host, dir string) []string {
	out := make([]string, len(hosts))
	if len(hosts) == 1 {
		out[0] = dir
		return out
	}
	count := map[string]int{}
	for _, h := range hosts {
		count[strings.ToLower(dirName(h.Host))]++
	}
	taken := map[string]bool{}
	for i, h := range hosts {
		name := dirName(h.Host)
		if count[strings.ToLower(name)] > 1 {
			name = dirName(h.Name)
		}
		unique := name
		for n := 2; taken[strings.ToLower(unique)]; n++ {
			unique = name + "-" + strconv.Itoa(n)
		}
		taken[strings.ToLower(unique)] = true
		out[i] = filepath.Join(dir, unique)
	}
	return out
}

// dirName is s as a directory name: letters, digits and ._@- kept, any
// other character '_'; never "", "." nor "..".
func dirName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@-", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	name := string(b)
	if name == "" || name == "." || name == ".." {
		return "_"
	}
	return name
}
