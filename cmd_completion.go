package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// CompletionOptions are `deploy completion bash|zsh|fish`.
type CompletionOptions struct {
	IO    *IOStreams
	Shell string
	// FishScript is urfave/cli's fish completion of the app.
	FishScript func() (string, error)
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
			"fish: deploy completion fish | source",
		Action: func(c *cli.Context) error {
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			return runF(c.Context, &CompletionOptions{IO: f.IO, Shell: c.Args().First(), FishScript: c.App.ToFishCompletion})
		},
		OnUsageError: usageErr,
	}
}

const bashCompletion = `# bash completion for deploy: source <(deploy completion bash)
_deploy_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  return 0
}
complete -o bashdefault -o default -F _deploy_complete deploy
`

func completionRun(_ context.Context, opts *CompletionOptions) error {
	var script string
	switch opts.Shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = "# zsh completion for deploy: source <(deploy completion zsh)\n" +
			"autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + bashCompletion
	case "fish":
		s, err := opts.FishScript()
		if err != nil {
			return fmt.Errorf("completion fish: %w", err)
		}
		script = s
	default:
		return usagef("completion: name a shell: bash, zsh or fish")
	}
	_, err := io.WriteString(opts.IO.Out, script)
	return err
}

// completeGroups offers the Deployfile's groups; it stays silent when the
// file does not load, as a completion must.
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

// completeTasksThenGroups offers tasks for the first argument of run, then
// groups.
func completeTasksThenGroups(f *Factory) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		df, err := f.Session(c).Deployfile()
		if err != nil {
			return
		}
		list := df.TaskOrder
		if c.NArg() == 1 {
			list = df.GroupOrder
		} else if c.NArg() > 1 {
			return
		}
		for _, n := range list {
			fmt.Fprintln(f.IO.Out, n)
		}
	}
}
