// Package tasks holds the built-in steps a Deployfile names with
// `builtin = "…"`: test, commit, push, collectstatic, sync-static, pull,
// migrate, reload, healthcheck, rollback. Each knows how to tell whether
// it is already done, so a second run changes nothing. It knows nothing of
// the CLI; the engine in package deploy calls it through Registry.
package tasks

import (
	"context"
	"io"

	"github.com/deploy-tool/deploy/remote"
)

// Env is what a built-in step gets for one host.
type Env struct {
	Conn remote.Conn       // the host (remote.Local for local steps)
	Host string            // its name in the Deployfile
	Vars map[string]string // its variables, {{path}} among them
	// With is the step's `with` table, {{variables}} not yet filled in.
	With           map[string]any
	Stdout, Stderr io.Writer
}

// Step is a built-in step.
type Step interface {
	// Check reports whether the step is done on the host already, and
	// why; deploy plan shows it, and the run skips the step.
	Check(ctx context.Context, env *Env) (done bool, reason string, err error)
	// Run does the step.
	Run(ctx context.Context, env *Env) error
}

// Registry maps built-in names to steps.
type Registry map[string]Step

// Builtins are the built-in steps this build has. The git steps and the
// Django release pipeline fill it; a Deployfile naming one not here yet is
// refused before anything runs.
func Builtins() Registry {
	return Registry{}
}
