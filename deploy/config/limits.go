package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Limits on what a Deployfile may expand to. Group includes, variables
// that use variables, and task calls each multiply: thirty levels of "use
// it twice" is a billion. The loader computes every expansion once
// (memoized, in time linear in the file) and refuses a file that goes over
// a limit, with the limit and the place, before anything runs.
const (
	// MaxTargetHosts is the most hosts a group, or a target, may hold.
	MaxTargetHosts = 10_000
	// MaxGroupEntries is the most hosts all groups may list together, once
	// their includes are expanded (a host counted each time it is listed):
	// it bounds the work of resolving them.
	MaxGroupEntries = 1_000_000
	// MaxValueBytes is the longest value a variable may take once the
	// variables it uses are put in (and the longest --var value).
	MaxValueBytes = 1 << 20
	// MaxTextBytes is the longest a command, path or with value may be once
	// its variables are put in.
	MaxTextBytes = 4 << 20
	// MaxTaskDepth is how deeply task steps may call tasks.
	MaxTaskDepth = 16
	// MaxTaskSteps is the most steps a task may run once its task steps are
	// replaced by the steps of the tasks they call.
	MaxTaskSteps = 100_000
	// maxLabelBytes bounds the labels of a task's unrolled steps
	// ("release[1] > deploy[3]"), which grow with names and depth.
	maxLabelBytes = 64 << 20
)

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// count writes a number with thousands separators: 10,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// satAdd adds without passing limit+1, so sizes that explode saturate.
func satAdd(limit int, xs ...int) int {
	sum := 0
	for _, x := range xs {
		sum += x
		if sum > limit {
			return limit + 1
		}
	}
	return sum
}

// satMul multiplies without passing limit+1.
func satMul(limit, a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > limit/b {
		return limit + 1
	}
	return min(a*b, limit+1)
}

// groupIndex is every group resolved once: its hosts, includes expanded,
// each once, in order; and for each host the groups that hold it.
type groupIndex struct {
	hosts map[string][]*Host
	of    map[string][]string
}

// resolveGroups expands every group, each once. report is called for a
// group that holds more than MaxTargetHosts hosts (and none of whose
// included groups does), or where the total passes MaxGroupEntries; the
// groups left are then not resolved. Include cycles are skipped: they are
// refused elsewhere.
func (df *Deployfile) resolveGroups(report func(g *Group, message, fix string)) *groupIndex {
	gi := &groupIndex{hosts: map[string][]*Host{}, of: map[string][]string{}}
	const (
		onStack = 1 + iota
		done
	)
	state := map[string]int{}
	over := map[string]bool{}
	total, stopped := 0, false
	var resolve func(name string)
	resolve = func(name string) {
		g := df.Groups[name]
		state[name] = onStack
		defer func() { state[name] = done }()
		var out []*Host
		seen := map[string]bool{}
		included := map[string]bool{}
		// add counts every host it is given, new or not: the work of
		// resolving, which MaxGroupEntries bounds.
		add := func(h *Host) bool {
			total++
			if h != nil && !seen[h.Name] {
				seen[h.Name] = true
				out = append(out, h)
			}
			return len(out) <= MaxTargetHosts && total <= MaxGroupEntries
		}
		for _, m := range g.Members {
			if stopped {
				return
			}
			if m.Group == "" {
				if !add(df.hosts[m.Host]) {
					break
				}
				continue
			}
			if df.Groups[m.Group] == nil || state[m.Group] == onStack || included[m.Group] {
				continue
			}
			included[m.Group] = true
			if state[m.Group] == 0 {
				resolve(m.Group)
			}
			if over[m.Group] {
				over[name] = true // reported at the included group
				return
			}
			if stopped {
				return
			}
			full := false
			for _, h := range gi.hosts[m.Group] {
				if !add(h) {
					full = true
					break
				}
			}
			if full {
				break
			}
		}
		switch {
		case total > MaxGroupEntries:
			stopped = true
			report(g, fmt.Sprintf("the groups list more than %s hosts in all once their includes are expanded (at group %s)",
				count(MaxGroupEntries), name), "include fewer groups in groups")
		case len(out) > MaxTargetHosts:
			over[name] = true
			report(g, fmt.Sprintf("group %s holds more than %s hosts once its includes are expanded", name, count(MaxTargetHosts)),
				fmt.Sprintf("a group or target may hold at most %s hosts: split it into smaller groups", count(MaxTargetHosts)))
		default:
			gi.hosts[name] = out
		}
	}
	for _, name := range df.GroupOrder {
		if stopped {
			break
		}
		if state[name] == 0 && df.Groups[name] != nil {
			resolve(name)
		}
	}
	for _, name := range df.GroupOrder {
		for _, h := range gi.hosts[name] {
			gi.of[h.Name] = append(gi.of[h.Name], name)
		}
	}
	return gi
}

// checkGroupSizes resolves every group once, refusing a file whose groups
// expand past the limits, and keeps the result for GroupHosts.
func (d *decoder) checkGroupSizes(df *Deployfile) {
	df.groups = df.resolveGroups(func(g *Group, message, fix string) {
		d.errorAt(g.Pos, fix, "%s", message)
	})
}

// checkTaskSizes refuses tasks whose task calls nest deeper than
// MaxTaskDepth or unroll to more than MaxTaskSteps steps. Each task is
// measured once; a task call cycle (refused elsewhere) counts as nothing.
func (d *decoder) checkTaskSizes(df *Deployfile) {
	type size struct {
		steps, depth, labels int
		over                 bool // reported here or in a task it calls
	}
	sizes := map[string]*size{}
	var measure func(name string) *size
	measure = func(name string) *size {
		if s, ok := sizes[name]; ok {
			return s
		}
		s := &size{}
		sizes[name] = s // a cycle sees zeros
		t := df.Tasks[name]
		var deepest *Step
		for i, st := range t.Steps {
			label := len(name) + len(strconv.Itoa(i+1)) + 2 // name[i]
			if st.Kind != StepTask || df.Tasks[st.Arg] == nil {
				s.steps = satAdd(MaxTaskSteps, s.steps, 1)
				s.labels = satAdd(maxLabelBytes, s.labels, label)
				continue
			}
			c := measure(st.Arg)
			if c.over {
				s.over = true
			}
			if c.depth+1 > s.depth {
				s.depth, deepest = c.depth+1, st
			}
			s.steps = satAdd(MaxTaskSteps, s.steps, c.steps)
			// Each step of the callee is labelled "name[i] > " + its own label.
			s.labels = satAdd(maxLabelBytes, s.labels, c.labels, satMul(maxLabelBytes, c.steps, label+3))
		}
		// Before and after hooks count as task calls, labelled
		// "name.before[i] > ".
		for _, kind := range []HookKind{HookBefore, HookAfter} {
			for i, h := range t.hooks[kind] {
				if df.Tasks[h] == nil || h == name {
					continue
				}
				c := measure(h)
				if c.over {
					s.over = true
				}
				if c.depth+1 > s.depth {
					s.depth, deepest = c.depth+1, &Step{Arg: h, Pos: t.hookPos[kind][i]}
				}
				label := len(name) + len(kind) + len(strconv.Itoa(i+1)) + 6
				s.steps = satAdd(MaxTaskSteps, s.steps, c.steps)
				s.labels = satAdd(maxLabelBytes, s.labels, c.labels, satMul(maxLabelBytes, c.steps, label))
			}
		}
		if s.over {
			return s
		}
		switch {
		case s.depth > MaxTaskDepth:
			s.over = true
			d.errorAt(deepest.Pos, "call the steps' tasks from fewer levels: merge some tasks",
				"task %s calls tasks more than %d levels deep (through %s)", name, MaxTaskDepth, deepest.Arg)
		case s.steps > MaxTaskSteps:
			s.over = true
			d.errorAt(t.Pos, "call fewer tasks, or call them fewer times",
				"task %s runs more than %s steps once its task calls are expanded", name, count(MaxTaskSteps))
		case s.labels > maxLabelBytes:
			s.over = true
			d.errorAt(t.Pos, "use shorter task names, or call tasks less deeply",
				"the steps of task %s, once its task calls are expanded, have labels of more than %s", name, sizeName(maxLabelBytes))
		}
		return s
	}
	for _, name := range df.TaskOrder {
		measure(name)
	}
	// A run also expands the task's on_success and on_failure hooks.
	for _, name := range df.TaskOrder {
		s, t := sizes[name], df.Tasks[name]
		total := s.steps
		for _, kind := range []HookKind{HookOnSuccess, HookOnFailure} {
			for _, h := range t.hooks[kind] {
				if c := sizes[h]; c != nil && h != name {
					total = satAdd(MaxTaskSteps, total, c.steps)
				}
			}
		}
		if !s.over && total > MaxTaskSteps {
			d.errorAt(t.Pos, "hook fewer tasks, or smaller ones",
				"task %s runs more than %s steps once its hooks are expanded", name, count(MaxTaskSteps))
		}
	}
}

// checkVarSizes refuses variables whose values, once the variables they
// use are put in, may be longer than MaxValueBytes, and strings of the file
// that may then be longer than MaxTextBytes. A variable defined in several
// places counts as its longest definition; one read from the environment
// is measured when it is read (Scope).
func (d *decoder) checkVarSizes(df *Deployfile, overrides map[string]string) {
	defs := map[string][]*Var{}
	add := func(vars map[string]*Var) {
		for n, v := range vars {
			defs[n] = append(defs[n], v)
		}
	}
	add(df.Vars)
	for _, g := range df.Groups {
		add(g.Vars)
	}
	for _, h := range df.hosts {
		add(h.Vars)
	}
	builtin := map[string]int{"python": len(df.App.Python), "user": len(df.SSH.User), "sha": 64, "release": 64,
		"release_path": len(df.App.Path) + 100, "shared_path": len(df.App.Path) + 10, "current_path": len(df.App.Path) + 10}
	for _, h := range df.hosts {
		builtin["host"] = max(builtin["host"], len(h.Name))
		builtin["user"] = max(builtin["user"], len(h.User))
	}

	const limit = MaxTextBytes // values are measured up to here, then saturate
	sizes := map[string]int{}
	var measure func(name string) int
	// expanded is the size of s with every {{name}} replaced.
	expanded := func(s string) int {
		n := len(s)
		for _, m := range templateRef.FindAllStringSubmatchIndex(s, -1) {
			if n > limit {
				break // saturated: stays over
			}
			n = satAdd(limit, n-(m[1]-m[0]), measure(s[m[2]:m[3]]))
		}
		return n
	}
	measure = func(name string) int {
		if n, ok := sizes[name]; ok {
			return n
		}
		if v, ok := overrides[name]; ok {
			sizes[name] = len(v)
			return len(v)
		}
		if n, ok := builtin[name]; ok && len(defs[name]) == 0 {
			return n
		}
		sizes[name] = 0 // a loop (refused elsewhere) counts as nothing
		n := 0
		for _, v := range defs[name] {
			if v.Env == "" {
				n = max(n, expanded(v.Value))
			}
		}
		sizes[name] = n
		return n
	}
	builtin["path"] = expanded(df.App.Path)
	builtin["current"] = satAdd(limit, builtin["path"], len("/current"))
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		if _, ok := overrides[name]; ok || measure(name) <= MaxValueBytes {
			continue
		}
		for _, v := range defs[name] {
			if v.Env != "" || expanded(v.Value) <= MaxValueBytes || usesLong(v.Value, measure) {
				continue
			}
			d.errorAt(v.Pos, "use the variables it holds fewer times",
				"variable %s is longer than %s once the variables it uses are put in", name, sizeName(MaxValueBytes))
		}
	}
	for _, t := range d.texts {
		if expanded(t.text) > MaxTextBytes && !usesLong(t.text, measure) {
			d.errorAt(t.pos, "use its variables fewer times",
				"%s is longer than %s once its variables are put in", dotted(t.path), sizeName(MaxTextBytes))
		}
	}
}

// usesLong reports whether s uses a variable that is itself over the
// limit: the error is then reported there.
func usesLong(s string, measure func(string) int) bool {
	for _, m := range templateRef.FindAllStringSubmatch(s, -1) {
		if measure(m[1]) > MaxValueBytes {
			return true
		}
	}
	return false
}
