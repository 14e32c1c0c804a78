package config

import (
	"fmt"
	"strconv"
	"strings"
)

// HookKind is one of a task's lists of hooks: tasks run around it.
type HookKind string

// The kinds of hook. Before and After run in the same run as the task, on
// the same target, under the same lock; OnSuccess and OnFailure run once
// the run's outcome is decided (after a rollback), and only for the task
// the run was started with.
const (
	HookBefore    HookKind = "before"
	HookAfter     HookKind = "after"
	HookOnSuccess HookKind = "on_success"
	HookOnFailure HookKind = "on_failure"
)

// HookKinds are the kinds of hook, in the order they are written and shown.
var HookKinds = [...]HookKind{HookBefore, HookAfter, HookOnSuccess, HookOnFailure}

// Conditional reports whether the hook runs only for one outcome of the run.
func (k HookKind) Conditional() bool { return k == HookOnSuccess || k == HookOnFailure }

// Hooks are a task's hooks: the tasks named under each kind, in order.
func (t *Task) Hooks(kind HookKind) []string { return t.hooks[kind] }

// hookRef is one task named in a hook list, where it is written.
type hookRef struct {
	from, to string
	kind     HookKind
	pos      Position
}

// taskHooks decodes the hook lists of the task table t at path p.
func (d *decoder) taskHooks(p []string, t map[string]any, task *Task) {
	for _, kind := range HookKinds {
		v, ok := t[string(kind)]
		if !ok {
			continue
		}
		kp := child(p, string(kind))
		names := d.strList(kp, v)
		if task.hooks == nil {
			task.hooks = map[HookKind][]string{}
			task.hookPos = map[HookKind][]Position{}
		}
		for i, n := range names {
			task.hooks[kind] = append(task.hooks[kind], n)
			task.hookPos[kind] = append(task.hookPos[kind], d.idx.valueAt(child(kp, strconv.Itoa(i))))
		}
	}
}

// hookRefs are every hook of every task, in file order.
func hookRefs(df *Deployfile) []hookRef {
	var out []hookRef
	for _, name := range df.TaskOrder {
		t := df.Tasks[name]
		for _, kind := range HookKinds {
			for i, to := range t.hooks[kind] {
				out = append(out, hookRef{from: name, to: to, kind: kind, pos: t.hookPos[kind][i]})
			}
		}
	}
	return out
}

// checkHooks refuses hooks naming a task the file does not define, and a
// task hooking itself.
func (d *decoder) checkHooks(df *Deployfile) {
	for _, h := range hookRefs(df) {
		switch _, ok := df.Tasks[h.to]; {
		case !ok:
			d.errorAt(h.pos, df.knownTasksFix(h.to, d.suggest), "unknown task %q in %s of task %s", h.to, h.kind, h.from)
		case h.to == h.from:
			d.errorAt(h.pos, "remove it: a task's own steps already run once", "task %s hooks itself (%s)", h.from, h.kind)
		}
	}
}

// taskEdge is a way one task brings another into its run: a task step or
// a before/after hook.
type taskEdge struct {
	to   string
	hook HookKind // "" for a task step
	pos  Position
}

// taskEdges are the tasks that running task runs with it, in order:
// before hooks, task steps, after hooks. A hook naming the task itself is
// left out: checkHooks reports it.
func taskEdges(df *Deployfile, task string) []taskEdge {
	t := df.Tasks[task]
	var out []taskEdge
	hooks := func(kind HookKind) {
		for i, to := range t.hooks[kind] {
			if to != task {
				out = append(out, taskEdge{to: to, hook: kind, pos: t.hookPos[kind][i]})
			}
		}
	}
	hooks(HookBefore)
	for _, s := range t.Steps {
		if s.Kind == StepTask {
			out = append(out, taskEdge{to: s.Arg, pos: s.Pos})
		}
	}
	hooks(HookAfter)
	return out
}

// checkTaskCycles refuses tasks that run themselves, directly or not:
// through task steps, before and after hooks.
func (d *decoder) checkTaskCycles(df *Deployfile) {
	findCycles(df.TaskOrder,
		func(t string) []taskEdge { return taskEdges(df, t) },
		func(e taskEdge) (string, bool) { _, ok := df.Tasks[e.to]; return e.to, ok },
		func(e taskEdge, cycle []string) {
			if e.hook == "" {
				d.errorAt(e.pos, "remove one of these task calls", "task call cycle: %s", strings.Join(cycle, " → "))
				return
			}
			d.errorAt(e.pos, "remove one of these hooks or task calls",
				"task hook cycle: %s (%s %s)", strings.Join(cycle, " → "), cycle[len(cycle)-2], e.hook)
		})
}

// HookSummary lists a task's hooks for `deploy tasks`: "before backup,
// after notify".
func (t *Task) HookSummary() []string {
	var out []string
	for _, kind := range HookKinds {
		if hs := t.hooks[kind]; len(hs) > 0 {
			out = append(out, fmt.Sprintf("%s %s", kind, strings.Join(hs, ", ")))
		}
	}
	return out
}
