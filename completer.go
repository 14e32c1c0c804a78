package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// The completion engine: from the words typed after `deploy` (the last
// one being completed, maybe ""), what may come next. It reads the
// Deployfile and the release cache, and nothing else: it never connects
// anywhere nor runs anything, whatever the words.

// candidate is one completion, with what it is for people (shells that
// show descriptions: zsh, fish).
type candidate struct {
	Value, Desc string
}

// filesDirective is the one line of output that asks the shell to
// complete file names itself.
const filesDirective = ":files"

// argKind is what a command's positional argument is.
type argKind int

const (
	argNone argKind = iota
	argTarget
	argGroup
	argTask
	argFile
	argCommand
	argShell
)

// commandArgs are the positional arguments of a command, in order; a
// command not named here completes none. run and plan take TARGET TASK
// (run's old TASK TARGET order is recognised too: see completePositional).
func commandArgs(name string) []argKind {
	switch name {
	case "run", "plan":
		return []argKind{argTarget, argTask}
	case "exec", "check", "history", "status", "unlock", "releases", "rollback":
		return []argKind{argTarget}
	case "get": // the remote path is not completed: that would connect
		return []argKind{argTarget, argNone, argFile}
	case "hosts":
		return []argKind{argGroup}
	case "help":
		return []argKind{argCommand}
	case "completion":
		return []argKind{argShell}
	}
	return nil
}

// completionState is what the words before the current one say.
type completionState struct {
	file     string       // -f, --file, $DEPLOYFILE, or "Deployfile"
	cmd      *cli.Command // the command, nil before one
	args     []string     // positional arguments after the command
	flagWant cli.Flag     // the last word is this flag, which wants a value
	dashdash bool         // "--" was typed: what follows is not deploy's
	hosts    bool         // -H was given: no TARGET argument
}

// complete returns the candidates for the last of words, or files=true
// when the shell should complete file names.
func complete(app *cli.App, words []string) (cands []candidate, files bool) {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	st := parseCompletionWords(app, words[:len(words)-1])
	var df *config.Deployfile
	loadDF := func() *config.Deployfile {
		if df == nil {
			// Errors are silent: a completion shows nothing rather than
			// an error in the middle of the line.
			df, _ = config.Load(st.file, config.LoadOptions{})
		}
		return df
	}
	switch {
	case st.dashdash:
		return nil, false
	case st.flagWant != nil:
		return completeFlagValue(st, st.flagWant, cur, loadDF)
	case strings.HasPrefix(cur, "--") && strings.Contains(cur, "="):
		name, value, _ := strings.Cut(cur, "=")
		f := lookupFlag(append(slices.Clone(app.Flags), cmdFlagsOf(st.cmd)...), strings.TrimLeft(name, "-"))
		if f == nil {
			return nil, false
		}
		cands, files = completeFlagValue(st, f, value, loadDF)
		for i := range cands {
			cands[i].Value = name + "=" + cands[i].Value
		}
		return cands, files
	case strings.HasPrefix(cur, "-"):
		return filterPrefix(flagCandidates(app, st.cmd), cur), false
	}
	return completePositional(app, st, cur, loadDF)
}

// parseCompletionWords reads the words before the one being completed.
func parseCompletionWords(app *cli.App, words []string) completionState {
	st := completionState{file: cmp.Or(os.Getenv("DEPLOYFILE"), "Deployfile")}
	subcommands := app.Commands
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			st.dashdash = true
			return st
		}
		if strings.HasPrefix(w, "-") && w != "-" {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := lookupFlag(cmdFlagsOf(st.cmd), name)
			if f == nil {
				f = lookupFlag(app.Flags, name)
			}
			if f != nil && slices.Contains(f.Names(), "hosts") {
				st.hosts = true
			}
			if f == nil || !takesValue(f) || hasValue {
				if f != nil && slices.Contains(f.Names(), "file") && hasValue {
					st.file = value
				}
				continue
			}
			if i+1 == len(words) {
				st.flagWant = f
				return st
			}
			i++
			if slices.Contains(f.Names(), "file") {
				st.file = words[i]
			}
			continue
		}
		if len(st.args) == 0 {
			if sub := findCommand(subcommands, w); sub != nil {
				st.cmd, subcommands = sub, sub.Subcommands
				continue
			}
		}
		st.args = append(st.args, w)
	}
	return st
}

// completePositional completes an argument of the command (or, with no
// command yet, a command or a target: `deploy TARGET`).
func completePositional(app *cli.App, st completionState, cur string, loadDF func() *config.Deployfile) ([]candidate, bool) {
	if st.cmd == nil {
		switch len(st.args) {
		case 0:
		case 1: // deploy TARGET TASK
			if df := loadDF(); df != nil {
				return filterPrefix(taskCandidates(df), cur), false
			}
			return nil, false
		default:
			return nil, false
		}
		cands := commandCandidates(app.Commands)
		if df := loadDF(); df != nil {
			cands = append(cands, targetCandidates(df, cur)...)
		}
		return filterPrefix(cands, cur), false
	}
	kinds := commandArgs(st.cmd.Name)
	if len(st.cmd.Subcommands) > 0 && len(st.args) == 0 {
		return filterPrefix(commandCandidates(st.cmd.Subcommands), cur), false
	}
	if st.hosts && len(kinds) > 0 && kinds[0] == argTarget {
		kinds = kinds[1:] // -H HOSTS stands for the TARGET
	}
	n := len(st.args)
	if n >= len(kinds) {
		return nil, false
	}
	kind := kinds[n]
	// The deprecated order, run TASK TARGET: a first argument that is a
	// task and not a target is followed by a target.
	if st.cmd.Name == "run" && n == 1 {
		if df := loadDF(); df != nil && df.Tasks[st.args[0]] != nil {
			if _, err := df.Resolve(st.args[0]); err != nil {
				kind = argTarget
			}
		}
	}
	switch kind {
	case argFile:
		return nil, true
	case argShell:
		return filterPrefix([]candidate{{"bash", ""}, {"zsh", ""}, {"fish", ""}}, cur), false
	case argCommand:
		return filterPrefix(commandCandidates(app.Commands), cur), false
	}
	df := loadDF()
	if df == nil {
		return nil, false
	}
	switch kind {
	case argTarget:
		return filterPrefix(targetCandidates(df, cur), cur), false
	case argGroup:
		return filterPrefix(groupCandidates(df), cur), false
	case argTask:
		return filterPrefix(taskCandidates(df), cur), false
	}
	return nil, false
}

// completeFlagValue completes the value of flag f.
func completeFlagValue(st completionState, f cli.Flag, cur string, loadDF func() *config.Deployfile) ([]candidate, bool) {
	switch f.Names()[0] {
	case "file", "ssh-config":
		return nil, true
	case "hosts":
		df := loadDF()
		if df == nil {
			return nil, false
		}
		return filterPrefix(inList(hostCandidates(df), cur), cur), false
	case "var":
		df := loadDF()
		if df == nil {
			return nil, false
		}
		var cands []candidate
		for _, name := range slices.Sorted(mapKeys(df.Vars)) {
			cands = append(cands, candidate{name + "=", "variable"})
		}
		return filterPrefix(cands, cur), false
	case "to":
		if st.cmd == nil || st.cmd.Name != "rollback" || len(st.args) == 0 {
			return nil, false
		}
		var cands []candidate
		for _, r := range cachedReleases("", st.file, st.args[0]) {
			desc := fmt.Sprintf("%s on %s", shortCommit(r.SHA), tasks.Plural(r.Hosts, "host"))
			if r.Current > 0 {
				desc += ", current"
			}
			cands = append(cands, candidate{r.Name, desc})
		}
		return filterPrefix(cands, cur), false
	}
	return nil, false
}

func shortCommit(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return cmp.Or(sha, "?")
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// targetCandidates are the groups and the hosts. A comma list is
// completed at its last element: web,st → web,static.
func targetCandidates(df *config.Deployfile, cur string) []candidate {
	return inList(append(groupCandidates(df), hostCandidates(df)...), cur)
}

// inList puts the candidates after the comma list cur starts (up to its
// last comma), if any.
func inList(cands []candidate, cur string) []candidate {
	if i := strings.LastIndexByte(cur, ','); i >= 0 {
		for j := range cands {
			cands[j].Value = cur[:i+1] + cands[j].Value
		}
	}
	return cands
}

func groupCandidates(df *config.Deployfile) []candidate {
	var cands []candidate
	for _, g := range df.GroupOrder {
		desc := "group"
		if hosts, err := df.Resolve(g); err == nil {
			desc = "group of " + tasks.Plural(len(hosts), "host")
		}
		cands = append(cands, candidate{g, desc})
	}
	return cands
}

func hostCandidates(df *config.Deployfile) []candidate {
	var cands []candidate
	for _, h := range df.Hosts() {
		cands = append(cands, candidate{h.Name, "host"})
	}
	return cands
}

func taskCandidates(df *config.Deployfile) []candidate {
	var cands []candidate
	for _, name := range df.TaskOrder {
		cands = append(cands, candidate{name, cmp.Or(config.FirstLine(df.Tasks[name].Description, 60), "task")})
	}
	return cands
}

func commandCandidates(cmds []*cli.Command) []candidate {
	var cands []candidate
	for _, c := range cmds {
		if !c.Hidden {
			cands = append(cands, candidate{c.Name, c.Usage})
		}
	}
	return cands
}

// flagCandidates are the command's flags, then the global ones.
func flagCandidates(app *cli.App, cmd *cli.Command) []candidate {
	var cands []candidate
	for _, f := range append(slices.Clone(cmdFlagsOf(cmd)), app.Flags...) {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		usage := ""
		if d, ok := f.(cli.DocGenerationFlag); ok {
			usage = strings.ReplaceAll(d.GetUsage(), "`", "")
		}
		for _, n := range f.Names() {
			prefix := "--"
			if len(n) == 1 {
				prefix = "-"
			}
			cands = append(cands, candidate{prefix + n, usage})
		}
	}
	return cands
}

// filterPrefix keeps the candidates that start with cur.
func filterPrefix(cands []candidate, cur string) []candidate {
	out := cands[:0]
	for _, c := range cands {
		if strings.HasPrefix(c.Value, cur) {
			out = append(out, c)
		}
	}
	return out
}
