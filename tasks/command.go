package tasks

import (
	"context"
	"fmt"

	"github.com/deploy-tool/deploy/remote"
)

// Command is a `run` step (a script on each host) or a `local` step (a
// script here): never done before it runs — its guards (creates, unless,
// only_if) are what make it idempotent, and the engine evaluates them.
type Command struct {
	Script string
	Dir    string // cd here first; "" for the login directory
	// Sudo, SudoUser and TTY are as in remote.Cmd.
	Sudo     bool
	SudoUser string
	TTY      bool
}

// Check never finds a command done.
func (Command) Check(context.Context, *Env) (Verdict, error) { return Verdict{}, nil }

// Run runs the script, its output to the step's streams.
func (c Command) Run(ctx context.Context, env *Env, _ Verdict) error {
	return env.Conn.Run(ctx, &remote.Cmd{Script: InDir(c.Dir, c.Script), Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr,
		Sudo: c.Sudo, SudoUser: c.SudoUser, TTY: c.TTY})
}

// String is the command as a failure reports it.
func (c Command) String() string { return c.Script }

// Upload is an `upload` step: a local file or directory copied to each
// host, then given Mode when set.
type Upload struct {
	Src, To string
	Mode    string // chmod mode, "" to keep the local one
	Sudo    bool
	// SudoUser is who runs the chmod with Sudo.
	SudoUser string
}

// Check never finds an upload done; the copy itself is atomic per file.
func (Upload) Check(context.Context, *Env) (Verdict, error) { return Verdict{}, nil }

// Run copies, then sets the mode.
func (u Upload) Run(ctx context.Context, env *Env, _ Verdict) error {
	if err := env.Conn.Upload(ctx, u.Src, u.To); err != nil {
		return err
	}
	if u.Mode == "" {
		return nil
	}
	return env.Conn.Run(ctx, &remote.Cmd{Script: "chmod " + q(u.Mode) + " " + q(u.To), Stderr: env.Stderr, Sudo: u.Sudo, SudoUser: u.SudoUser})
}

// String is the upload as a failure reports it.
func (u Upload) String() string { return fmt.Sprintf("upload %s to %s", u.Src, u.To) }

// InDir prefixes a script with a cd into dir.
func InDir(dir, script string) string {
	if dir == "" {
		return script
	}
	return "cd " + q(dir) + "\n" + script
}
