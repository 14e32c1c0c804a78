package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// CompletionOptions are `deploy completion bash|zsh|fish`, and the
// scripts' own call, `deploy completion --complete -- WORD...`.
type CompletionOptions struct {
	IO    *IOStreams
	Shell string
	// Words, with Complete, are the words typed after "deploy", the last
	// one being completed ("" for a new word).
	Words    []string
	Complete bool
	App      *cli.App
}

// NewCmdCompletion is `deploy completion SHELL`.
func NewCmdCompletion(f *Factory, runF func(context.Context, *CompletionOptions) error) *cli.Command {
	if runF == nil {
		runF = completionRun
	}
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash: source <(deploy completion bash)\n" +
			"zsh:  source <(deploy completion zsh)\n" +
			"fish: deploy completion fish | source\n" +
			"Completes commands, flags, targets (groups and hosts), tasks, variables, and for rollback --to\n" +
			"the releases `deploy releases TARGET` last listed here. It never connects anywhere.",
		Flags: []cli.Flag{
			// The scripts' call: the words after "--", one candidate a line.
			&cli.BoolFlag{Name: "complete", Hidden: true},
		},
		Action: func(c *cli.Context) error {
			opts := &CompletionOptions{IO: f.IO, App: c.App, Complete: c.Bool("complete")}
			if opts.Complete {
				opts.Words = c.Args().Slice()
				return runF(c.Context, opts)
			}
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			opts.Shell = c.Args().First()
			return runF(c.Context, opts)
		},
		OnUsageError: usageErr,
	}
}

// The scripts send the words typed to `deploy completion --complete --`
// and read one candidate a line, "VALUE<TAB>DESCRIPTION"; the one line
// ":files" asks for file names. They call the deploy the line names, so
// an alias or ./deploy completes with itself.

const bashCompletion = `# bash completion for deploy: source <(deploy completion bash)
_deploy_complete() {
  local cur words cword line out
  COMPREPLY=()
  if declare -F _get_comp_words_by_ref >/dev/null; then
    _get_comp_words_by_ref -n =: cur words cword
  else
    cur="${COMP_WORDS[COMP_CWORD]}" words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
  fi
  out=$("${words[0]}" completion --complete -- "${words[@]:1:cword}" 2>/dev/null) || return 0
  if [[ "$out" == ":files" ]]; then
    compopt -o default 2>/dev/null
    return 0
  fi
  compopt +o default 2>/dev/null
  local IFS=$'\n'
  for line in $out; do
    COMPREPLY+=("${line%%$'\t'*}")
  done
  if declare -F __ltrim_colon_completions >/dev/null; then
    __ltrim_colon_completions "$cur"
  fi
  return 0
}
complete -o bashdefault -o default -F _deploy_complete deploy
`

const zshCompletion = `#compdef deploy
# zsh completion for deploy: source <(deploy completion zsh)
_deploy() {
  local -a lines cands
  local line value desc
  lines=("${(@f)$("${words[1]}" completion --complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "${lines[1]}" == ":files" ]]; then
    _files
    return
  fi
  for line in "${lines[@]}"; do
    [[ -z "$line" ]] && continue
    value="${line%%$'\t'*}"
    desc=""
    [[ "$line" == *$'\t'* ]] && desc="${line#*$'\t'}"
    cands+=("${value//:/\\:}${desc:+:$desc}")
  done
  (( ${#cands} )) && _describe -t values deploy cands
}
if (( ! $+functions[compdef] )); then
  autoload -U +X compinit && compinit
fi
compdef _deploy deploy
`

const fishCompletion = `# fish completion for deploy: deploy completion fish | source
function __deploy_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l bin $words[1]
    set -e words[1]
    set -l out ($bin completion --complete -- $words "$cur" 2>/dev/null)
    if test "$out[1]" = ":files"
        __fish_complete_path "$cur"
        return
    end
    printf '%s\n' $out
end
complete -c deploy -f -a '(__deploy_complete)'
`

func completionRun(_ context.Context, opts *CompletionOptions) error {
	if opts.Complete {
		return writeCandidates(opts.IO.Out, opts.App, opts.Words)
	}
	var script string
	switch opts.Shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		script = fishCompletion
	default:
		return usagef("completion: name a shell: bash, zsh or fish")
	}
	_, err := io.WriteString(opts.IO.Out, script)
	return err
}

// writeCandidates prints the completions of words, one a line.
func writeCandidates(w io.Writer, app *cli.App, words []string) error {
	cands, files := complete(app, words)
	if files {
		_, err := fmt.Fprintln(w, filesDirective)
		return err
	}
	var b strings.Builder
	for _, c := range cands {
		b.WriteString(oneLine(c.Value))
		if c.Desc != "" {
			b.WriteString("\t" + oneLine(c.Desc))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a candidate on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// completeGroups answers urfave/cli's own completion flag
// (--generate-bash-completion), which scripts printed by older versions
// send: the groups, for the first argument. (run and plan use
// completeGroupsThenTasks.) The scripts printed now call `deploy
// completion --complete`, which knows every argument and flag.
func completeGroups(f *Factory) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		if c.NArg() > 0 {
			return
		}
		df, err := f.Session(c).Deployfile()
		if err != nil {
			return
		}
		for _, g := range df.GroupOrder {
			fmt.Fprintln(f.IO.Out, g)
		}
	}
}
