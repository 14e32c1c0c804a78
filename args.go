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
	tail := []string(nil)
	rest := args[1:]
	if completing(rest) {
		// Shell completion: the flag goes last, where urfave/cli looks for
		// it, and what follows "--" goes: urfave/cli turns completion off
		// when it sees "--", and would run the command (`deploy exec web
		// -- CMD <TAB>` would run CMD on every host). Completing a remote
		// command's words is the shell's business.
		rest = completionWords(rest)
		tail = []string{completeFlag}
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

// completeFlag is what the completion scripts append to the words typed.
const completeFlag = "--generate-bash-completion"

// completing reports whether the command line asks for completions: the
// flag last, as the scripts send it, or anywhere before "--". Whatever
// else it holds, such a command line completes and does nothing else.
func completing(args []string) bool {
	if len(args) > 0 && args[len(args)-1] == completeFlag {
		return true
	}
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == completeFlag {
			return true
		}
	}
	return false
}

// completionWords are the words to complete: args without the completion
// flag, and without "--" and what follows it.
func completionWords(args []string) []string {
	var out []string
	for _, a := range args {
		if a == "--" {
			break
		}
		if a != completeFlag {
			out = append(out, a)
		}
	}
	return out
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
