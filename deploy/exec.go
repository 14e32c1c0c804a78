package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// ExecOptions are the options of `deploy exec`.
type ExecOptions struct {
	// Command is the command line after "--". One argument is a shell
	// script as written ('cd /srv && ls | wc -l'); several are quoted
	// one by one, so each reaches the program unchanged.
	Command  []string
	Parallel int           // hosts at once; 0 means all
	Timeout  time.Duration // per host; 0 means none
	Sudo     bool
	SudoUser string
}

// Script is the shell text the command line stands for.
func (o ExecOptions) Script() (string, error) {
	switch len(o.Command) {
	case 0:
		return "", errors.New("no command")
	case 1:
		return o.Command[0], nil
	}
	return remote.QuoteArgs(o.Command)
}

// HostResult is how a command ended on one host.
type HostResult struct {
	Host     string
	Status   int   // exit status; -1 when the command could not run
	Err      error // nil when the command exited 0
	Duration time.Duration
	// Interrupted: the run was interrupted (Ctrl-C) before the command
	// ended here; not a failure of the command.
	Interrupted bool
}

// Failed reports whether the command failed on this host.
func (r HostResult) Failed() bool { return r.Err != nil && !r.Interrupted }

// ExecResult is how a command ended on every host, in target order.
type ExecResult struct {
	Hosts    []HostResult
	Duration time.Duration
}

// Failed are the hosts where the command failed.
func (r ExecResult) Failed() []HostResult { return where(r.Hosts, HostResult.Failed) }

// Interrupted are the hosts whose command the interrupt stopped.
func (r ExecResult) Interrupted() []HostResult {
	return where(r.Hosts, func(h HostResult) bool { return h.Interrupted })
}

// where are the xs that keep says to keep, in order.
func where[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// connector is what Exec needs of a Connector.
type connector interface {
	Conn(ctx context.Context, h *config.Host) (remote.Conn, error)
}

// Exec runs one command on every host, in parallel, streaming each host's
// output as whole lines to pr. A host's failure does not stop the others;
// cancelling ctx stops them all.
func Exec(ctx context.Context, conns connector, hosts []*config.Host, opts ExecOptions, pr Printer) ExecResult {
	script, err := opts.Script()
	start := time.Now()
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	pr.Event(Event{Time: start, Type: EventRunStart, Command: strings.Join(opts.Command, " "), Hosts: names})

	results := make([]HostResult, len(hosts))
	done := closeWhenDone(conns, hosts)
	var g errgroup.Group
	if opts.Parallel > 0 {
		g.SetLimit(opts.Parallel)
	}
	for i, h := range hosts {
		g.Go(func() error {
			if err != nil {
				results[i] = HostResult{Host: h.Name, Status: -1, Err: err}
			} else {
				results[i] = execOne(ctx, conns, h, script, opts, pr)
				results[i].Interrupted = results[i].Err != nil && ctx.Err() != nil
				done(h)
			}
			r := results[i]
			ev := Event{Time: time.Now(), Type: EventHostEnd, Host: h.Name, Duration: r.Duration.Seconds()}
			if r.Status >= 0 {
				ev.Status = intPtr(r.Status)
			}
			switch {
			case r.Interrupted:
				ev.Line = string(Interrupted)
			case r.Err != nil:
				ev.Error = r.Err.Error()
			}
			pr.Event(ev)
			return nil
		})
	}
	g.Wait()
	res := ExecResult{Hosts: results, Duration: time.Since(start)}
	failed, stopped := len(res.Failed()), len(res.Interrupted())
	ev := Event{Time: time.Now(), Type: EventRunEnd, OK: intPtr(len(hosts) - failed - stopped), Failed: intPtr(failed),
		Duration: res.Duration.Seconds()}
	if stopped > 0 {
		ev.Interrupted = intPtr(stopped)
	}
	pr.Event(ev)
	return res
}

// closeWhenDone returns what to call once a host's command is over: it
// closes the host's connection when no other host of hosts shares it (two
// aliases of one machine do). exec has one command a host; without this a
// run over 1,000 hosts keeps 1,000 connections, and their memory, until
// the last host is done. A connector that cannot resolve and drop hosts
// (a test's fake) keeps its connections.
func closeWhenDone(conns connector, hosts []*config.Host) func(*config.Host) {
	rs, canResolve := conns.(resolver)
	d, canDrop := conns.(dropper)
	if !canResolve || !canDrop {
		return func(*config.Host) {}
	}
	where := make(map[*config.Host]string, len(hosts)) // read only, once made
	left := map[string]int{}                           // hosts still running, by where
	for _, h := range hosts {
		if w, err := rs.Resolve(h); err == nil {
			where[h] = w
			left[w]++
		}
	}
	var mu sync.Mutex
	return func(h *config.Host) {
		w, ok := where[h]
		if !ok {
			return
		}
		mu.Lock()
		left[w]--
		last := left[w] == 0
		mu.Unlock()
		if last {
			d.Drop(h)
		}
	}
}

func execOne(ctx context.Context, conns connector, h *config.Host, script string, opts ExecOptions, pr Printer) HostResult {
	start := time.Now()
	r := HostResult{Host: h.Name, Status: -1}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	conn, err := conns.Conn(ctx, h)
	if err != nil {
		r.Err, r.Duration = err, time.Since(start)
		return r
	}
	stream := func(name string) *lineWriter {
		return &lineWriter{emit: func(line string) {
			pr.Event(Event{Time: time.Now(), Type: EventOutput, Host: h.Name, Stream: name, Line: line})
		}}
	}
	stdout, stderr := stream("stdout"), stream("stderr")
	// The command was typed on this machine's command line: like ssh, it
	// may go in the host's (Public), which saves a round trip.
	err = conn.Run(ctx, &remote.Cmd{Script: script, Stdout: stdout, Stderr: stderr, Sudo: opts.Sudo, SudoUser: opts.SudoUser, Public: true})
	stdout.Flush()
	stderr.Flush()
	r.Duration = time.Since(start)
	var exit *remote.ExitError
	switch {
	case err == nil:
		r.Status = 0
	case errors.As(err, &exit):
		r.Status, r.Err = exit.Status, exit
	case errors.Is(err, context.DeadlineExceeded):
		r.Err = fmt.Errorf("timed out after %s", opts.Timeout)
	default:
		r.Err = err
	}
	return r
}
