package config

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// StepSummary is one step as `deploy tasks` shows it.
type StepSummary struct {
	Kind      StepKind `json:"kind"`
	Arg       string   `json:"arg"`
	Name      string   `json:"name,omitempty"`
	Modifiers []string `json:"modifiers,omitempty"`
}

// TaskSummary is one task as `deploy tasks` shows it.
type TaskSummary struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Default     bool          `json:"default,omitempty"`
	Steps       []StepSummary `json:"steps"`
	// Hooks are the tasks run around it, by kind (before, after,
	// on_success, on_failure).
	Hooks map[HookKind][]string `json:"hooks,omitempty"`
}

// Modifiers describes the options set on a step, for listings: on web,
// once, serial 2, sudo, timeout 2m0s, unless "…". Env values are not shown:
// they may hold secrets.
func (s *Step) Modifiers() []string {
	var out []string
	add := func(cond bool, text string) {
		if cond {
			out = append(out, text)
		}
	}
	add(s.On != "", "on "+s.On)
	add(s.Once, "once")
	add(s.Serial > 0, "serial "+strconv.Itoa(s.Serial))
	add(s.Parallel > 0, "parallel "+strconv.Itoa(s.Parallel))
	add(s.Sudo && s.SudoUser == "", "sudo")
	add(s.SudoUser != "", "sudo "+s.SudoUser)
	add(s.TTY, "tty")
	add(s.Dir != "", "dir "+s.Dir)
	if len(s.Env) > 0 {
		names := make([]string, 0, len(s.Env))
		for n := range s.Env {
			names = append(names, n)
		}
		sort.Strings(names)
		out = append(out, "env "+strings.Join(names, ","))
	}
	add(s.To != "", "to "+s.To)
	add(s.Mode != "", "mode "+s.Mode)
	add(s.Timeout > 0, "timeout "+s.Timeout.String())
	add(s.OnFailure == OnFailureWait, "on_failure wait")
	add(s.IgnoreErrors, "ignore_errors")
	add(s.Unless != "", "unless "+strconv.Quote(FirstLine(s.Unless, 40)))
	add(s.OnlyIf != "", "only_if "+strconv.Quote(FirstLine(s.OnlyIf, 40)))
	add(s.Creates != "", "creates "+s.Creates)
	return out
}

// TaskSummaries lists the tasks in file order.
func (df *Deployfile) TaskSummaries() []TaskSummary {
	out := make([]TaskSummary, 0, len(df.TaskOrder))
	for _, name := range df.TaskOrder {
		t := df.Tasks[name]
		ts := TaskSummary{Name: name, Description: t.Description, Default: name == df.App.DefaultTask, Steps: []StepSummary{}}
		if len(t.hooks) > 0 {
			ts.Hooks = map[HookKind][]string{}
			for k, v := range t.hooks {
				ts.Hooks[k] = slices.Clone(v)
			}
		}
		for _, s := range t.Steps {
			ts.Steps = append(ts.Steps, StepSummary{Kind: s.Kind, Arg: s.Arg, Name: s.Name, Modifiers: s.Modifiers()})
		}
		out = append(out, ts)
	}
	return out
}

// HostSummary is one host as `deploy hosts` shows it, with the Deployfile's
// defaults applied. An empty user or a zero port is left to ~/.ssh/config.
type HostSummary struct {
	Name   string   `json:"name"`
	User   string   `json:"user,omitempty"`
	Host   string   `json:"host"`
	Port   int      `json:"port,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// HostSummaries lists a group's hosts, or all hosts when group is empty.
func (df *Deployfile) HostSummaries(group string) []HostSummary {
	hosts := df.Hosts()
	if group != "" {
		hosts = df.GroupHosts(group)
	}
	out := make([]HostSummary, 0, len(hosts))
	for _, h := range hosts {
		s := HostSummary{Name: h.Name, User: h.User, Host: h.Host, Port: h.Port}
		if !h.Local() {
			s.User = cmpOr(s.User, df.SSH.User)
			if s.Port == 0 {
				s.Port = df.SSH.Port
			}
		}
		s.Groups = slices.Clone(df.groupsOf(h.Name))
		out = append(out, s)
	}
	return out
}

// Summary is a one-line count of what the file defines.
func (df *Deployfile) Summary() string {
	return plural(len(df.GroupOrder), "group") + ", " + plural(len(df.hostOrder), "host") + ", " + plural(len(df.TaskOrder), "task")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
