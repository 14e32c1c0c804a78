package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// hostGroups reads [hosts]. A group is a list of members, or a table with
// the list under `hosts` and the group's options:
//
//	web  = ["web1.example.com", { host = "web2.example.com:2222", vars = { port = 8002 } }]
//	prod = { hosts = ["@web", "@static"], confirm = true }
func (d *decoder) hostGroups(df *Deployfile, v any) {
	path := []string{"hosts"}
	m, ok := d.table(path, v, `write groups as a table: [hosts] then web = ["host1", "host2"]`)
	if !ok {
		return
	}
	for _, name := range d.keysInOrder(path, m) {
		p := child(path, name)
		if !d.checkTargetName(p, "group", name) {
			continue
		}
		g := &Group{Name: name, Vars: map[string]*Var{}, Pos: d.idx.keyAt(p)}
		members := m[name]
		if t, ok := members.(map[string]any); ok {
			d.checkKeys(p, t, "in group "+name, "hosts", "confirm", "description", "vars")
			members, ok = t["hosts"]
			if !ok {
				d.keyError(p, fmt.Sprintf(`add hosts = ["…"] to group %s`, name), "group %s has no hosts key", name)
				members = []any{}
			}
			if x, ok := t["confirm"]; ok {
				g.Confirm = d.boolean(child(p, "confirm"), x)
			}
			if x, ok := t["description"]; ok {
				g.Description, _ = d.str(child(p, "description"), x)
			}
			if x, ok := t["vars"]; ok {
				g.Vars = d.vars(child(p, "vars"), x)
			}
			p = child(p, "hosts")
		}
		arr, ok := members.([]any)
		if !ok {
			d.valueError(p, fmt.Sprintf(`write %s = ["host1", "user@host2:2222", "@othergroup"]`, name),
				"group %s must be a list of hosts, not %s", name, typeName(members))
			continue
		}
		for i, e := range arr {
			if mem, ok := d.member(df, child(p, strconv.Itoa(i)), e); ok {
				g.Members = append(g.Members, mem)
			}
		}
		df.Groups[name] = g
		df.GroupOrder = append(df.GroupOrder, name)
	}
}

// checkTargetName refuses group and host names that `deploy NAME` could
// not tell from a command, a comma list or the local host.
func (d *decoder) checkTargetName(p []string, what, name string) bool {
	switch {
	case !validName.MatchString(name):
		d.keyError(p, "use letters, digits, '.', '_' and '-', starting with a letter or digit",
			"%s name %q is not valid", what, name)
	case slices.Contains(d.reserved, name):
		d.keyError(p, "rename it: `deploy "+name+"` is a command", "%s name %q is reserved", what, name)
	case name == LocalHost:
		d.keyError(p, "rename it: \"local\" is the built-in host for this machine", "%s name %q is reserved", what, name)
	default:
		return true
	}
	return false
}

func (d *decoder) member(df *Deployfile, p []string, v any) (Member, bool) {
	pos := d.idx.valueAt(p)
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, "@"); ok {
			if !validName.MatchString(ref) {
				d.valueError(p, `write "@" and a group's name, such as "@web"`, "%q does not name a group", x)
				return Member{}, false
			}
			return Member{Group: ref, Pos: pos}, true
		}
		spec, err := parseMemberSpec(x)
		if err != nil {
			d.valueError(p, "write [user@]host[:port], with IPv6 in brackets: [::1]:2222", "bad host %q: %v", x, err)
			return Member{}, false
		}
		return d.addHost(df, p, &Host{Name: x, HostSpec: spec, Pos: pos})
	case map[string]any:
		d.checkKeys(p, x, "in a host", "host", "name", "vars")
		h := &Host{Pos: pos, Vars: map[string]*Var{}}
		raw, ok := x["host"]
		if !ok {
			d.valueError(p, `write { host = "user@host:port", vars = { … } }`, "host table has no host key")
			return Member{}, false
		}
		s, ok := d.str(child(p, "host"), raw)
		if !ok {
			return Member{}, false
		}
		spec, err := parseMemberSpec(s)
		if err != nil {
			d.valueError(child(p, "host"), "write [user@]host[:port], with IPv6 in brackets: [::1]:2222", "bad host %q: %v", s, err)
			return Member{}, false
		}
		h.HostSpec, h.Name = spec, s
		if n, ok := x["name"]; ok {
			if h.Name, ok = d.str(child(p, "name"), n); !ok {
				return Member{}, false
			}
			if !d.checkTargetName(child(p, "name"), "host", h.Name) {
				return Member{}, false
			}
		}
		if vs, ok := x["vars"]; ok {
			h.Vars = d.vars(child(p, "vars"), vs)
		}
		return d.addHost(df, p, h)
	}
	d.valueError(p, `write a host as "user@host:port" or { host = "…", vars = { … } }, or a group as "@group"`,
		"a host must be a string or a table, not %s", typeName(v))
	return Member{}, false
}

func parseMemberSpec(s string) (HostSpec, error) {
	if s == LocalHost {
		return HostSpec{Host: LocalHost}, nil
	}
	return ParseHostSpec(s)
}

// addHost registers a host under its name. The same name may be listed in
// several groups; it must mean the same host each time, and its vars are
// set in one place only.
func (d *decoder) addHost(df *Deployfile, p []string, h *Host) (Member, bool) {
	if h.Vars == nil {
		h.Vars = map[string]*Var{}
	}
	if old, ok := df.hosts[h.Name]; ok {
		switch {
		case old.HostSpec != h.HostSpec:
			d.valueError(p, "give each host its own name", "host name %q already means %s (line %d)", h.Name, old.HostSpec, old.Pos.Line)
			return Member{}, false
		case len(old.Vars) > 0 && len(h.Vars) > 0:
			d.valueError(p, fmt.Sprintf("set the vars of %s in one place; elsewhere list it as %q", h.Name, h.Name),
				"vars of host %s are set twice (first at line %d)", h.Name, old.Pos.Line)
			return Member{}, false
		case len(h.Vars) > 0:
			old.Vars = h.Vars
		}
		return Member{Host: h.Name, Pos: h.Pos}, true
	}
	df.hosts[h.Name] = h
	df.hostOrder = append(df.hostOrder, h.Name)
	return Member{Host: h.Name, Pos: h.Pos}, true
}

// checkGroups resolves every "@group" reference and refuses unknown groups,
// include cycles, and names used both for a group and a host.
func (d *decoder) checkGroups(df *Deployfile) {
	for _, name := range df.GroupOrder {
		if h, ok := df.hosts[name]; ok {
			d.errorAt(df.Groups[name].Pos, "rename one of them so `deploy "+name+"` means one thing",
				"%q is both a group and a host (line %d)", name, h.Pos.Line)
		}
		for _, m := range df.Groups[name].Members {
			if m.Group != "" {
				if _, ok := df.Groups[m.Group]; !ok {
					d.errorAt(m.Pos, df.knownGroupsFix(m.Group, d.suggest), "unknown group %q in group %s", "@"+m.Group, name)
				}
			}
		}
	}
	findCycles(df.GroupOrder,
		func(g string) []Member { return df.Groups[g].Members },
		func(m Member) (string, bool) { _, ok := df.Groups[m.Group]; return m.Group, ok },
		func(m Member, cycle []string) {
			d.errorAt(m.Pos, "remove one of these includes", "group include cycle: %s", strings.Join(cycle, " → "))
		})
}

func (df *Deployfile) knownGroupsFix(name string, suggest func(string, []string) string) string {
	if len(df.GroupOrder) == 0 {
		return "define groups under [hosts]"
	}
	if s := suggest(name, df.GroupOrder); s != "" {
		return fmt.Sprintf("did you mean %q? (groups: %s)", s, nameList(df.GroupOrder))
	}
	return "groups are " + nameList(df.GroupOrder)
}
