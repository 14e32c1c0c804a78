package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/deploy-tool/deploy/deploy/config"
)

// runOrder reads the two words of `deploy run A B`: TARGET TASK, the one
// order. The old order, TASK TARGET, is read as such only when it cannot
// be mistaken: A is a task and not a group or host of the Deployfile, B
// is not a task, and B is a target. old says the words were swapped.
func runOrder(df *config.Deployfile, a, b string) (target, task string, old bool) {
	if b == "" || isTask(df, b) || namedTarget(df, a) || !isTask(df, a) {
		return a, b, false
	}
	if _, err := df.Resolve(b); err != nil {
		return a, b, false
	}
	return b, a, true
}

func isTask(df *config.Deployfile, name string) bool {
	_, ok := df.Tasks[name]
	return ok
}

// namedTarget reports whether target is a group or host the Deployfile
// names (not a host written as user@host:port).
func namedTarget(df *config.Deployfile, target string) bool {
	if df.Groups[target] != nil {
		return true
	}
	_, ok := df.Host(target)
	return ok
}

// hostNames are the names of the Deployfile's hosts, in file order.
func hostNames(df *config.Deployfile) []string {
	var out []string
	for _, h := range df.Hosts() {
		out = append(out, h.Name)
	}
	return out
}

// visibleCommands are the names of the commands `deploy help` lists.
func visibleCommands(app *cli.App) []string {
	var out []string
	for _, c := range app.Commands {
		if !c.Hidden {
			out = append(out, c.Name)
		}
	}
	return out
}

// needDeployfile is the Deployfile for a command that cannot do without
// one (run, plan, deploy TARGET): when there is none, a usage error that
// says how to get one.
func (s *Session) needDeployfile(verb string) (*config.Deployfile, error) {
	if _, err := os.Stat(s.File); errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("%s needs a Deployfile, and there is no %s: write one with `deploy init`, or name one with -f FILE "+
			"(`deploy exec` and `deploy check` reach hosts without one: deploy exec user@host -- COMMAND)", verb, s.File)
	}
	return s.Deployfile()
}

// deployfileOrNone is the Deployfile, or, for a command that works
// without one (exec, check TARGET), an empty one when there is no
// Deployfile and none was named (-f, $DEPLOYFILE): its hosts come from
// the command line. none says there was no file.
func (s *Session) deployfileOrNone() (df *config.Deployfile, none bool, err error) {
	if _, statErr := os.Stat(s.File); !s.FileSet && errors.Is(statErr, fs.ErrNotExist) {
		if err := s.checkVars(); err != nil {
			return nil, true, err
		}
		df, err = config.Empty(s.File+" (none)", s.loadOptions())
		if err == nil && s.trace != nil {
			s.trace.files(s, df, true)
		}
		return df, true, err
	}
	df, err = s.Deployfile()
	return df, false, err
}

// completeGroupsThenTasks offers groups for the first argument (TARGET),
// then tasks (TASK): run and plan.
func completeGroupsThenTasks(f *Factory) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		df, err := f.Session(c).Deployfile()
		if err != nil || c.NArg() > 1 {
			return
		}
		list := df.GroupOrder
		if c.NArg() == 1 {
			list = df.TaskOrder
		}
		for _, n := range list {
			fmt.Fprintln(f.IO.Out, n)
		}
	}
}

// connectAdHoc is ConnectForOne for the commands that reach hosts with or
// without a Deployfile (exec, check): hostList (-H) names hosts, each a
// host of the Deployfile or any [user@]host[:port]; else target is a
// target, where a part written as a host is one. none says there is no
// Deployfile: every name must then be a host.
func (s *Session) connectAdHoc(df *config.Deployfile, none bool, target, hostList string) (*Target, error) {
	name, resolve := target, df.Resolve
	if hostList != "" {
		name, resolve = hostList, df.ResolveHosts
	}
	hosts, err := resolve(name)
	if err != nil {
		if none && hostList == "" && !config.LooksLikeHostSpec(target) && !strings.Contains(target, ",") {
			return nil, usagef("there is no %s, so %q must be a host: write it as user@%s or %s:22, or name an ssh_config alias with -H %s "+
				"(or write a Deployfile with groups: deploy init)", strings.TrimSuffix(df.File, " (none)"), target, target, target, target)
		}
		return nil, usageError{msg: err.Error()}
	}
	set := s.sshSettings()
	set.OneCommand = true
	return s.connectTo(df, name, hosts, set)
}

// hostsFlag is -H, --hosts: hosts named on the command line, as fab -H.
func hostsFlag() cli.Flag {
	return &cli.StringFlag{Name: "hosts", Aliases: []string{"H"},
		Usage: "reach `HOSTS`, a comma list of [user@]host[:port] (IPv6 as [::1]:22), instead of a TARGET; no Deployfile needed"}
}

// mixedOrder is the error for `deploy run A B` read as TARGET TASK where
// A is no target but a task, and B a target that is also a task's name:
// the old order, which runOrder does not guess at then.
func mixedOrder(df *config.Deployfile, target, task string) error {
	if task == "" || !isTask(df, target) || namedTarget(df, target) || !isTask(df, task) {
		return nil
	}
	if _, err := df.Resolve(target); err == nil {
		return nil
	}
	if _, err := df.Resolve(task); err != nil {
		return nil
	}
	return usagef("run %s %s: %q is a task, not a target, and %q is both: write TARGET first: deploy run %s %s",
		target, task, target, task, task, target)
}
