package deploy

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"golang.org/x/sync/errgroup"
)

// guardBatch is every guard of a run's remote steps on each host,
// evaluated before the first step in the command that runs anyway — the
// one that takes the lock and reads the release state (or, in a plan,
// reads it). Its verdicts stand until a step changes something: up to
// then a step whose guard said "skip" is skipped without a command, and a
// built-in whose guards passed goes straight to its Check. A rerun with
// nothing to do costs that one command per host.
//
// Left out, and guarded on their own as before: steps run with sudo (their
// guards run as another user) or a terminal, local steps, and a step whose
// variables are not known yet ({{sha}} before it is).
type guardBatch struct {
	mark string

	mu      sync.Mutex
	sha     string                  // the commit {{sha}} was when the guards ran
	verdict map[string]map[int]int  // host → step → the guard that said skip, or -1: none did
	stale   bool                    // a step has changed something since
	scripts map[string]string       // host → its script
	steps   map[string]map[int]bool // host → the steps its script evaluates
}

// newGuardBatch writes each host's script; hosts with no step to check
// are left out.
func (r *Runner) newGuardBatch(steps []*prepared) *guardBatch {
	b := &guardBatch{mark: newGuardMark(), sha: r.State.SHA(), verdict: map[string]map[int]int{},
		scripts: map[string]string{}, steps: map[string]map[int]bool{}}
	for i, p := range steps {
		if p.local || p.isSwitch || p.ps.step.Sudo || p.ps.step.TTY {
			continue
		}
		for _, h := range p.hosts {
			hc, err := r.refill(p, h.Name)
			if err != nil || len(guardsOf(hc)) == 0 {
				continue
			}
			hc = r.withHookEnv(p, h.Name, hc)
			script, err := b.stepScript(i, hc)
			if err != nil {
				continue
			}
			b.scripts[h.Name] += script
			if b.steps[h.Name] == nil {
				b.steps[h.Name] = map[int]bool{}
			}
			b.steps[h.Name][i] = true
		}
	}
	return b
}

// stepScript evaluates one step's guards, cheapest first, in a subshell
// with the step's directory and environment, and prints the step's
// verdict: "MARK step guard" for the guard that skips it, "MARK step -"
// when none does. A step whose directory does not exist gets no verdict:
// it runs, and reports that.
func (b *guardBatch) stepScript(index int, hc *hostCmd) (string, error) {
	exports, err := remote.Exports(hc.env)
	if err != nil {
		return "", err
	}
	var s strings.Builder
	s.WriteString("(\n" + exports)
	if hc.dir != "" {
		fmt.Fprintf(&s, "cd %s 2>/dev/null || exit 0\n", remote.MustQuotePath(hc.dir))
	}
	verdict := func(v string) string {
		return fmt.Sprintf("printf '%%s %%d %%s\\n' %s %d %s", remote.MustQuote(b.mark), index, v)
	}
	for _, g := range guardsOf(hc) {
		fmt.Fprintf(&s, "if %s; then %s; exit 0; fi\n", guardTest(g), verdict(strconv.Itoa(g.kind)))
	}
	s.WriteString(verdict("-") + "\n)\n")
	return s.String(), nil
}

// guardTest is a shell test that succeeds when guard g says skip. The
// guard runs in a shell of its own with set -e, its output discarded, as
// it would alone: a syntax error in it fails that guard only.
func guardTest(g guard) string {
	test := "sh -ec " + remote.MustQuote(g.script) + " >/dev/null 2>&1 </dev/null"
	if !g.skipIf {
		test = "! " + test
	}
	return test
}

// script is what host's command runs after the lock and the state read;
// "" when it has nothing to check.
func (b *guardBatch) script(host string) string {
	if b == nil {
		return ""
	}
	return b.scripts[host]
}

// take reads the verdicts in out, the output of host's command.
func (b *guardBatch) take(host, out string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, b.mark+" ")
		if !ok {
			continue
		}
		step, v, _ := strings.Cut(rest, " ")
		i, err := strconv.Atoi(step)
		if err != nil || !b.steps[host][i] {
			continue
		}
		kind := -1
		if v != "-" {
			if kind, err = strconv.Atoi(v); err != nil || kind < guardCreates || kind > guardOnlyIf {
				continue
			}
		}
		if b.verdict[host] == nil {
			b.verdict[host] = map[int]int{}
		}
		b.verdict[host][i] = kind
	}
}

// lookup is the verdict on step index for host, while it stands: ok false
// when there is none (not evaluated, or something changed since).
func (b *guardBatch) lookup(host string, index int, sha string) (skipBy int, ok bool) {
	if b == nil {
		return -1, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stale || sha != b.sha {
		return -1, false
	}
	v, ok := b.verdict[host][index]
	return v, ok
}

// changed ends the batch's verdicts: a step changed something.
func (b *guardBatch) changed() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.stale = true
	b.mu.Unlock()
}

// checkGuards runs the batch on each host that has two steps or more to
// check, when no lock command carries it (a Deployfile without [app]
// path); a host with one such step checks it with the step.
func (r *Runner) checkGuards(ctx context.Context, hosts []*config.Host) {
	b := r.batch
	var g errgroup.Group
	for _, h := range hosts {
		if len(b.steps[h.Name]) < 2 {
			continue
		}
		g.Go(func() error {
			conn, err := r.connFor(ctx, h)
			if err != nil {
				if r.DryRun {
					r.unreachable.add(h.Name, err) // a plan goes on without it
				}
				return nil // the steps report it
			}
			var out bytes.Buffer
			if conn.Run(ctx, &remote.Cmd{Script: b.script(h.Name), Stdout: &out, ReadOnly: true, Public: r.public(b.script(h.Name))}) == nil {
				b.take(h.Name, out.String())
			}
			return nil
		})
	}
	g.Wait()
}
