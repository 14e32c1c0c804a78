package main

// Why this file, and why urfave/cli v2 still (evaluated against v3.14.0):
//
// v3 would remove it: v3 reads flags after arguments, and a parent's
// flags after a subcommand, and it copies its help flag into each command
// and builds its help command per command, so two apps in one process no
// longer share v2's package-level HelpFlag, whose fields each app's flag
// set-up writes (the race that makes TestFiveConcurrentRuns run
// processes).
//
// It is not a bounded change. Every command's Action, flag (EnvVars →
// Sources), completion (BashComplete → ShellComplete) and help call
// changes signature; the completion flag becomes
// --generate-shell-completion, which the completion scripts users have
// already sourced do not send; a command's usage line reads
// "[options]" where v2 and the tests have "[command options]"; and v3
// keeps package-level settings of its own (HelpPrinter, OsExiter,
// ErrWriter). The commands' run functions take options structs and know
// nothing of urfave/cli, so a later move to v3 touches only the NewCmdX
// constructors, main.go's app and this file.

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags go anywhere before "--", as people type them
// (`deploy hosts web --json`), although urfave/cli/v2 reads a global flag
// only before the command and a command's flag only before its arguments.
// It returns: program, global flags, command path, command flags,
// arguments, then "--" and everything after it untouched.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	const complete = "--generate-bash-completion"
	tail := []string(nil)
	rest := args[1:]
	if len(rest) > 0 && rest[len(rest)-1] == complete {
		// Shell completion reads this flag as the very last argument.
		rest, tail = rest[:len(rest)-1], []string{complete}
	}

	var globals, path, cmdFlags, words, after []string
	var cmd *cli.Command
	subcommands := app.Commands
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			after = rest[i:]
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			dst, f := &cmdFlags, lookupFlag(cmdFlagsOf(cmd), name)
			if g := lookupFlag(app.Flags, name); g != nil && f == nil {
				dst, f = &globals, g
			}
			if cmd == nil {
				dst = &globals
			}
			*dst = append(*dst, a)
			if f != nil && takesValue(f) && !hasValue && i+1 < len(rest) {
				i++
				*dst = append(*dst, rest[i])
			}
			continue
		}
		if len(words) == 0 {
			if sub := findCommand(subcommands, a); sub != nil {
				cmd, subcommands = sub, sub.Subcommands
				path = append(path, a)
				continue
			}
		}
		words = append(words, a)
	}
	out := []string{args[0]}
	out = append(out, globals...)
	out = append(out, path...)
	out = append(out, cmdFlags...)
	out = append(out, words...)
	out = append(out, after...)
	return append(out, tail...)
}

func cmdFlagsOf(c *cli.Command) []cli.Flag {
	if c == nil {
		return nil
	}
	return c.Flags
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
