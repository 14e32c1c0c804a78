package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
)

// exitStatus ends the program with a code; what went wrong was printed
// already.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a mistake on the command line: exit 2.
type usageError struct {
	msg string
	// refusal: the command line was right, and what it asked for is
	// refused (not confirmed, the work tree, the Deployfile): exit 2, with
	// no pointer to `deploy help`.
	refusal bool
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// refusef is a refusal: exit 2, its message the whole story.
func refusef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...), refusal: true}
}

// usageErr makes urfave/cli's complaints about a command's flags usage
// errors.
func usageErr(_ *cli.Context, err error, _ bool) error { return usageError{msg: flagFix(err.Error())} }

// flagValue is the flag package's error for a value it cannot parse.
var flagValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([a-z-]+): parse error$`)

// flagFix says how to write a value the flag package refused: a duration
// without a unit is the usual one ("--timeout 30").
func flagFix(msg string) string {
	m := flagValue.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	if _, err := strconv.ParseFloat(m[1], 64); err == nil {
		return fmt.Sprintf("--%s %s: a duration needs a unit — write %ss for seconds, or such as 2m, 1h30m", m[2], m[1], m[1])
	}
	return fmt.Sprintf("--%s %s: not a valid value — for a duration write such as 30s, 2m, 1h30m", m[2], m[1])
}

// maxArgs refuses more than n arguments to the command of c.
func maxArgs(c *cli.Context, n int) error {
	if c.NArg() > n {
		return usagef("%s: unexpected argument %q (usage: deploy %s %s)", c.Command.Name, c.Args().Get(n), c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

// commandNames are the names and aliases of the app's commands: a group or
// host may not take one, since `deploy NAME` would be ambiguous.
func commandNames(app *cli.App) []string {
	var names []string
	for _, cmd := range app.Commands {
		names = append(names, cmd.Names()...)
	}
	return names
}

// hostList names the first five hosts.
func hostList(hosts []*config.Host) string {
	names := make([]string, 0, len(hosts))
	for i, h := range hosts {
		if i == 5 {
			names = append(names, "…")
			break
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ", ")
}
