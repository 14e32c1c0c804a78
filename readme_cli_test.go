package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// TestREADMECommandLines: every `deploy …` command in README's shell
// blocks is a command line the CLI accepts: its command exists, its flags
// exist where they are given and take the values given, and it has the
// arguments the command's usage names.
func TestREADMECommandLines(t *testing.T) {
	t.Parallel()
	n := 0
	for _, b := range readmeBlocks(t, "sh", "shell", "bash", "console") {
		cmds, err := deployCommands(b)
		if err != nil {
			t.Errorf("%s:%d: %v", readmeFile, b.Line, err)
			continue
		}
		for _, c := range cmds {
			n++
			t.Logf("%s:%d: deploy %s", readmeFile, c.line, strings.Join(c.args, " "))
			if err := parseCommandLine(c.args); err != nil {
				t.Errorf("%s:%d: deploy %s: %v", readmeFile, c.line, strings.Join(c.args, " "), err)
			}
		}
	}
	if n < 10 {
		t.Errorf("found %d deploy commands in %s, want 10 or more: is the extraction broken?", n, readmeFile)
	}
}

// The check refuses what the CLI refuses.
func TestREADMECommandLineCheck(t *testing.T) {
	t.Parallel()
	good := []string{
		"deploy prod", "deploy exec web -- uptime", "deploy exec web --parallel 10 --timeout 30s -- ./slow-check",
		"deploy hook install --task ci", "deploy plan prod", "deploy --help", "deploy run --help", "deploy completion fish",
		"deploy history prod -n 5", "deploy check",
	}
	bad := map[string]string{
		"deploy exec web --paralel 10 -- x": "flag provided but not defined",
		"deploy exec web --timeout 30 -- x": "a duration needs a unit",
		"deploy hook instal":                `'instal'`,
		"deploy histroy prod":               `the command "history" mistyped`,
		"deploy prod deploy extra":          "arguments",
		"deploy":                            "arguments",
		"deploy plan":                       "arguments",
		"deploy completion tcsh":            `"tcsh"`,
		"deploy status prod web":            "arguments",
		"deploy tasks --all":                "flag provided but not defined",
		"deploy hook":                       "no command ran",
	}
	for _, line := range good {
		if err := parseCommandLine(strings.Fields(line)[1:]); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
	for line, want := range bad {
		if err := parseCommandLine(strings.Fields(line)[1:]); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", line, err, want)
		}
	}
	cmds, err := deployCommands(mdBlock{Lang: "console", Line: 10, Lines: []string{
		"$ deploy check  # a comment", "Deployfile:12:28: error: deploy this", "$ source <(deploy completion bash); cd deploy",
		"$ deploy exec web -- 'cd /srv && \\", "ls'",
	}})
	if err != nil || len(cmds) != 3 || cmds[0].line != 10 || cmds[1].line != 12 || cmds[2].line != 13 ||
		!slices.Equal(cmds[2].args, []string{"exec", "web", "--", "cd /srv && \\\nls"}) {
		t.Errorf("console commands: %+v, %v", cmds, err)
	}
}

// deployCommand is a deploy command of a README block: its arguments,
// and the README line it starts on.
type deployCommand struct {
	args []string
	line int
}

// deployCommands are the calls of deploy in a shell block (in a console
// block, in the lines after a `$ ` prompt; a line that does not start
// with one is output), wherever they are: in a pipe, after `&&`, in
// `<(…)`.
func deployCommands(b mdBlock) ([]deployCommand, error) {
	lines := slices.Clone(b.Lines)
	if b.Lang == "console" {
		continued := false
		for i, l := range lines {
			trimmed := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(trimmed, "$ "):
				lines[i] = strings.TrimPrefix(trimmed, "$ ")
			case continued:
			default:
				lines[i] = ""
			}
			continued = strings.HasSuffix(lines[i], "\\") || strings.Count(lines[i], "'")%2 == 1
		}
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(strings.Join(lines, "\n")), "")
	if err != nil {
		return nil, err
	}
	var cmds []deployCommand
	syntax.Walk(file, func(node syntax.Node) bool {
		call, ok := node.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 || path.Base(call.Args[0].Lit()) != "deploy" {
			return true
		}
		c := deployCommand{line: b.Line + int(call.Pos().Line()) - 1}
		for _, w := range call.Args[1:] {
			arg, err := expand.Literal(&expand.Config{}, w) // nil would share a package-level Config
			if err != nil {
				var sb strings.Builder
				syntax.NewPrinter().Print(&sb, w)
				arg = sb.String()
			}
			c.args = append(c.args, arg)
		}
		cmds = append(cmds, c)
		return true
	})
	return cmds, nil
}

// parseCommandLine runs args through the real CLI with every command's
// action replaced by one that only notes which command was chosen and its
// arguments, then checks those against the command's usage.
func parseCommandLine(args []string) error {
	ios, out, errOut, _ := testIO("")
	app := newApp(&Factory{IO: ios})
	var chosen *cli.Command
	var got []string
	ran := false
	note := func(cmd *cli.Command) cli.ActionFunc {
		return func(c *cli.Context) error {
			chosen, got, ran = cmd, c.Args().Slice(), true
			return nil
		}
	}
	app.Action = note(nil)
	var replace func([]*cli.Command)
	replace = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.Action != nil {
				cmd.Action = note(cmd)
			}
			replace(cmd.Subcommands)
		}
	}
	replace(app.Commands)
	err := app.RunContext(context.Background(), reorderArgs(app, append([]string{"deploy"}, args...)))
	switch {
	case err != nil:
		return err
	case !ran && slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" || a == "--version" }):
		return nil
	case !ran:
		return fmt.Errorf("no command ran (it printed its help instead):\n%s%s", out, errOut)
	}
	if chosen == nil {
		// deploy TARGET [TASK]: a TARGET near a command's name is that
		// command mistyped, as the CLI would say.
		if len(got) > 0 {
			if cmd := config.Suggest(got[0], visibleCommands(app)); cmd != "" {
				return fmt.Errorf("%q reads as the command %q mistyped", got[0], cmd)
			}
		}
		return checkArgs(rootUsage(app), got)
	}
	// "TARGET -- COMMAND [ARG...]  |  deploy exec -H HOSTS -- COMMAND [ARG...]"
	var errs []string
	for _, alt := range strings.Split(chosen.ArgsUsage, " | ") {
		alt = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(alt), "deploy "+chosen.FullName()))
		err := checkArgs(alt, got)
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
	}
	return errors.New(strings.Join(errs, "; or "))
}

// rootUsage is the arguments of `deploy TARGET …`, from the first line of
// the app's usage: "deploy [global options] TARGET [TASK]     run …".
func rootUsage(app *cli.App) string {
	first, _, _ := strings.Cut(app.UsageText, "\n")
	_, usage, _ := strings.Cut(first, "[global options] ")
	usage, _, _ = strings.Cut(usage, "   ")
	return strings.TrimSpace(usage)
}

// checkArgs checks arguments against a usage such as "TARGET [TASK]",
// "TARGET -- COMMAND [ARG...]", "-H HOSTS -- COMMAND" (flags are not
// arguments) or "bash|zsh|fish".
func checkArgs(usage string, args []string) error {
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--" })
	var words []string
	fields := strings.Fields(usage)
	for i := 0; i < len(fields); i++ {
		switch w := fields[i]; {
		case w == "--":
		case strings.HasPrefix(w, "-"):
			i++ // a flag and its VALUE
		default:
			words = append(words, w)
		}
	}
	min, max := 0, 0
	for _, w := range words {
		switch {
		case strings.Contains(w, "..."):
			max = -1
		case strings.HasPrefix(w, "["):
			max++
		default:
			min++
			max++
		}
	}
	if len(args) < min || max >= 0 && len(args) > max {
		return fmt.Errorf("%d arguments %q, the usage is %q", len(args), args, usage)
	}
	for i, w := range words {
		if choices := strings.Split(strings.Trim(w, "[]"), "|"); len(choices) > 1 && i < len(args) && !slices.Contains(choices, args[i]) {
			return fmt.Errorf("%q is not one of %s", args[i], w)
		}
	}
	return nil
}
