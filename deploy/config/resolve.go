package config

import (
	"fmt"
	"slices"
	"strings"
)

// Hosts returns every host of the file, in the order it first names them.
func (df *Deployfile) Hosts() []*Host {
	out := make([]*Host, len(df.hostOrder))
	for i, n := range df.hostOrder {
		out[i] = df.hosts[n]
	}
	return out
}

// Host returns the host of that name.
func (df *Deployfile) Host(name string) (*Host, bool) {
	h, ok := df.hosts[name]
	return h, ok
}

// GroupHosts returns the hosts of a group, includes expanded, each once, in
// the order the group lists them. The loader has refused include cycles
// and resolved every group once; the slice is shared: do not modify it.
func (df *Deployfile) GroupHosts(name string) []*Host {
	return slices.Clip(df.groupIndex().hosts[name])
}

// InGroup reports whether the host named host is in group, includes
// expanded, without walking the group: the engine asks it for every host
// of every step.
func (df *Deployfile) InGroup(host, group string) bool {
	return slices.Contains(df.groupIndex().of[host], group)
}

// groupsOf are the groups that hold the host, in file order.
func (df *Deployfile) groupsOf(host string) []string {
	return df.groupIndex().of[host]
}

// groupIndex is the groups resolved at load; a Deployfile put together by
// hand (in a test) gets them resolved on each call.
func (df *Deployfile) groupIndex() *groupIndex {
	if df.groups != nil {
		return df.groups
	}
	return df.resolveGroups(func(*Group, string, string) {})
}

// Resolve turns a target — a group, a host name, or a comma list of them —
// into its hosts, each once, in order. A part the Deployfile does not
// name and that is written as a host (LooksLikeHostSpec: user@web1,
// web1:2222, [::1]:22) is that host, reached with [ssh] and ssh_config.
func (df *Deployfile) Resolve(target string) ([]*Host, error) {
	return df.resolve(target, false)
}

// resolve is Resolve; anyHost takes every unknown part as a host.
func (df *Deployfile) resolve(target string, anyHost bool) ([]*Host, error) {
	var out []*Host
	seen := map[string]bool{}
	add := func(h *Host) {
		if !seen[h.Name] {
			seen[h.Name] = true
			out = append(out, h)
		}
	}
	gi := df.groupIndex()
	for _, part := range strings.Split(target, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			return nil, fmt.Errorf("target %q has an empty name; separate groups and hosts with single commas", target)
		case df.Groups[part] != nil:
			for _, h := range gi.hosts[part] {
				add(h)
			}
		case df.hosts[part] != nil:
			add(df.hosts[part])
		case part == LocalHost:
			add(&Host{Name: LocalHost, HostSpec: HostSpec{Host: LocalHost}})
		case anyHost || LooksLikeHostSpec(part):
			h, err := adHocHost(part)
			if err != nil {
				return nil, err
			}
			add(h)
		default:
			return nil, fmt.Errorf("%q is neither a group nor a host of %s — %s", part, df.File, df.TargetsFix(part))
		}
	}
	if len(out) > MaxTargetHosts {
		return nil, fmt.Errorf("target %q holds %s hosts; a target may hold at most %s — name fewer groups", target, count(len(out)), count(MaxTargetHosts))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("target %q has no hosts — add hosts to it under [hosts] in %s", target, df.File)
	}
	return out, nil
}

// TargetsFix is the fix for a name that is neither a group nor a host:
// the nearest name, or the groups there are.
func (df *Deployfile) TargetsFix(name string) string {
	names := append(slices.Clone(df.GroupOrder), df.hostOrder...)
	if len(names) == 0 {
		return "define groups under [hosts], or write a host as user@host[:port]"
	}
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf("did you mean %q? (groups: %s)", s, nameList(df.GroupOrder))
	}
	return "groups are " + nameList(df.GroupOrder)
}

// Confirm reports whether running on target needs a confirmation: when
// any group it names, or includes, is marked confirm = true.
func (df *Deployfile) Confirm(target string) bool {
	visited := map[string]bool{} // each group is looked at once
	var needs func(name string) bool
	needs = func(name string) bool {
		g, ok := df.Groups[name]
		if !ok || visited[name] {
			return false
		}
		visited[name] = true
		if g.Confirm {
			return true
		}
		for _, m := range g.Members {
			if m.Group != "" && needs(m.Group) {
				return true
			}
		}
		return false
	}
	for _, part := range strings.Split(target, ",") {
		if needs(strings.TrimSpace(part)) {
			return true
		}
	}
	return false
}

// VarsFor returns the variables a host sees, by precedence: [vars], then
// the vars of each group that holds the host (in file order, a later group
// winning), then the host's own, then --var. With no host (a step on this
// machine), [vars] and --var.
func (df *Deployfile) VarsFor(h *Host) map[string]*Var {
	out := map[string]*Var{}
	for n, v := range df.Vars {
		out[n] = v
	}
	if h != nil {
		for _, gname := range df.groupsOf(h.Name) {
			for n, v := range df.Groups[gname].Vars {
				out[n] = v
			}
		}
		for n, v := range h.Vars {
			out[n] = v
		}
	}
	for n, val := range df.Overrides {
		secret := out[n] != nil && out[n].Secret
		out[n] = &Var{Name: n, Value: val, Secret: secret}
	}
	return out
}
