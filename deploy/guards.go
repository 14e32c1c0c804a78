package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// guards evaluates creates, unless and only_if, cheapest first, each a
// read-only command on the host, in the step's directory, as its user:
// what a plan does, and what runs before a built-in step's Check.
func (r *Runner) guards(ctx context.Context, conn remote.Conn, hc *hostCmd, s *config.Step) (skip bool, reason string, err error) {
	succeeds := func(script string) (bool, error) {
		err := conn.Run(ctx, &remote.Cmd{Script: tasks.InDir(hc.dir, script), Env: hc.env, Sudo: s.Sudo, SudoUser: s.SudoUser,
			TTY: s.TTY, ReadOnly: true})
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			return false, nil
		}
		return err == nil, err
	}
	for _, g := range guardsOf(hc) {
		ok, err := succeeds(g.script)
		if err != nil {
			return false, "", err
		}
		if ok == g.skipIf {
			return true, guardReason(hc, g.kind), nil
		}
	}
	return false, "", nil
}

// Kinds of guard.
const (
	guardCreates = iota
	guardUnless
	guardOnlyIf
)

// guard is one of a step's guards as a shell test: the step is skipped
// when the script's success is skipIf.
type guard struct {
	kind   int
	script string
	skipIf bool
}

// guardsOf lists a step's guards, cheapest first.
func guardsOf(hc *hostCmd) []guard {
	var out []guard
	if hc.creates != "" {
		out = append(out, guard{guardCreates, "test -e " + remote.MustQuotePath(hc.creates), true})
	}
	if hc.unless != "" {
		out = append(out, guard{guardUnless, hc.unless, true})
	}
	if hc.onlyIf != "" {
		out = append(out, guard{guardOnlyIf, hc.onlyIf, false})
	}
	return out
}

// guardReason says why a guard of this kind skipped the step.
func guardReason(hc *hostCmd, kind int) string {
	switch kind {
	case guardCreates:
		return hc.creates + " exists"
	case guardUnless:
		return "unless: " + hc.scope.Mask(config.FirstLine(hc.unless, 60)) + " succeeded"
	default:
		return "only_if: " + hc.scope.Mask(config.FirstLine(hc.onlyIf, 60)) + " failed"
	}
}

// inlineGuards puts a command step's guards in front of its script, so
// guards and command cost one remote command, not two. A guard that says
// skip prints a line starting with mark and ends the script: the verdict
// comes back with the output.
func inlineGuards(hc *hostCmd, mark string) string {
	var b strings.Builder
	for _, g := range guardsOf(hc) {
		fmt.Fprintf(&b, "if %s; then printf '%%s %%d\\n' %s %d; exit 0; fi\n", guardTest(g), remote.MustQuote(mark), g.kind)
	}
	b.WriteString(hc.script)
	return b.String()
}

// newGuardMark is a marker no command prints by chance.
func newGuardMark() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "deploy-guard-" + hex.EncodeToString(b)
}

// guardWatch recognises the line by which inline guards skip a step.
type guardWatch struct {
	mark  string
	mu    sync.Mutex
	which int // the guard that skipped; -1 when none
}

// line reports whether line is the marker, and keeps which guard it names.
func (w *guardWatch) line(line string) bool {
	rest, ok := strings.CutPrefix(line, w.mark+" ")
	if !ok || len(rest) != 1 || rest[0] < '0' || rest[0] > '2' {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.which = int(rest[0] - '0')
	return true
}

func (w *guardWatch) skipped() (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.which, w.which >= 0
}
