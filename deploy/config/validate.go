package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// validate checks what needs the whole file: references between groups,
// tasks and variables, and the --var overrides.
func (d *decoder) validate(df *Deployfile, opts LoadOptions) {
	applyAppEnv(df)
	d.checkGroups(df)
	d.checkGroupSizes(df)
	d.checkTaskRefs(df)
	d.checkHooks(df)
	d.checkTaskCycles(df)
	d.checkTaskSizes(df)
	if d.idx.hasValue([]string{"app", "default_task"}) {
		if _, ok := df.Tasks[df.App.DefaultTask]; !ok {
			d.valueError([]string{"app", "default_task"}, df.knownTasksFix(df.App.DefaultTask, d.suggest),
				"default task %q is not defined", df.App.DefaultTask)
		}
	}
	d.checkVarRefs(df, opts.Vars)
	d.checkVarCycles(df)
	d.checkVarSizes(df, opts.Vars)
}

// checkVarCycles refuses variables whose values use each other in a loop
// ({{a}} in b, {{b}} in a), over every place a variable is defined.
func (d *decoder) checkVarCycles(df *Deployfile) {
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
	names := slices.Sorted(maps.Keys(defs))
	type ref struct {
		to  string
		pos Position
	}
	findCycles(names,
		func(n string) []ref {
			var out []ref
			for _, v := range defs[n] {
				for _, m := range templateRef.FindAllStringSubmatch(v.Value, -1) {
					out = append(out, ref{m[1], v.Pos})
				}
			}
			return out
		},
		func(r ref) (string, bool) { _, ok := defs[r.to]; return r.to, ok },
		func(r ref, cycle []string) {
			d.errorAt(r.pos, "break the loop: one of them must not use the other",
				"variables use each other in a loop: %s", "{{"+strings.Join(cycle, "}} → {{")+"}}")
		})
}

// KnownTasksFix is the fix for a task name the file does not define: the
// nearest task, or the tasks there are.
func (df *Deployfile) KnownTasksFix(name string) string { return df.knownTasksFix(name, suggest) }

func (df *Deployfile) knownTasksFix(name string, suggest func(string, []string) string) string {
	if len(df.TaskOrder) == 0 {
		return "define it as [tasks." + name + "]"
	}
	if s := suggest(name, df.TaskOrder); s != "" {
		return fmt.Sprintf("did you mean %q? (tasks: %s)", s, nameList(df.TaskOrder))
	}
	return "define [tasks." + name + "], or use one of " + nameList(df.TaskOrder)
}

// nameList lists names for a message: all of them, or the first ten and
// how many there are.
func nameList(names []string) string {
	const most = 10
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(", … (%s in all)", count(len(names)))
}

// suggest is the package's suggest while the file's errors have not asked
// too much of it: each call compares with every candidate, and a file of
// ten thousand typos among ten thousand names would take minutes.
func (d *decoder) suggest(s string, candidates []string) string {
	const budget = 1_000_000 // comparisons
	if d.suggested+len(candidates) > budget {
		return ""
	}
	d.suggested += len(candidates)
	return suggest(s, candidates)
}

func (d *decoder) checkTaskRefs(df *Deployfile) {
	for _, name := range df.TaskOrder {
		for _, s := range df.Tasks[name].Steps {
			p := []string{"tasks", name, "steps", strconv.Itoa(s.index)}
			if s.Kind == StepTask {
				if _, ok := df.Tasks[s.Arg]; !ok {
					d.valueError(append(p, "task"), df.knownTasksFix(s.Arg, d.suggest), "unknown task %q", s.Arg)
				}
			}
			d.checkTestTask(df, s, p)
			if s.On != "" {
				if _, ok := df.Groups[s.On]; !ok {
					d.valueError(append(p, "on"), df.knownGroupsFix(s.On, d.suggest), "unknown group %q", s.On)
				}
			}
		}
	}
}

// AppEnvSteps are the built-in steps that get [app] env: what loads the
// project's settings, on this machine or the hosts.
func AppEnvSteps() []string { return []string{"collectstatic", "migrate", "reload"} }

// applyAppEnv gives [app] env to each step of AppEnvSteps, under the
// step's own env.
func applyAppEnv(df *Deployfile) {
	if len(df.App.Env) == 0 {
		return
	}
	for _, t := range df.Tasks {
		for _, s := range t.Steps {
			if s.Kind != StepBuiltin || !slices.Contains(AppEnvSteps(), s.Arg) {
				continue
			}
			env := maps.Clone(df.App.Env)
			maps.Copy(env, s.Env)
			s.Env = env
		}
	}
}

// checkTestTask: the built-in test step runs a task of the file — "test",
// or with.task — which must be there.
func (d *decoder) checkTestTask(df *Deployfile, s *Step, p []string) {
	if s.Kind != StepBuiltin || s.Arg != "test" {
		return
	}
	name, named := s.With["task"].(string)
	if !named {
		name = "test"
	}
	if _, ok := df.Tasks[name]; ok || strings.Contains(name, "{{") {
		return
	}
	if named {
		d.valueError(append(p, "with", "task"), df.knownTasksFix(name, d.suggest), "the test step runs task %q, which is not defined", name)
		return
	}
	d.valueError(append(p, "builtin"), `add a [tasks.test] that runs your tests (steps = [{ local = "python3 manage.py test" }]), or name yours: with = { task = "NAME" }`,
		"the test step runs the task \"test\", which is not defined")
}

// checkVarRefs makes sure every {{name}} is defined somewhere — in [vars],
// a group, a host, by deploy itself, or by --var — and that every --var
// names a variable the file defines or uses, so a typo is caught.
func (d *decoder) checkVarRefs(df *Deployfile, overrides map[string]string) {
	defined := map[string]bool{}
	for n := range df.Vars {
		defined[n] = true
	}
	for _, g := range df.Groups {
		for n := range g.Vars {
			defined[n] = true
		}
	}
	for _, h := range df.hosts {
		for n := range h.Vars {
			defined[n] = true
		}
	}
	used := map[string]bool{}
	var names []string // defined, sorted: made once, for the first unknown
	for _, r := range d.refs {
		used[r.name] = true
		builtin := slices.Contains(BuiltinVars(), r.name)
		_, overridden := overrides[r.name]
		switch {
		case builtin && r.builtinsOnly != nil && !slices.Contains(r.builtinsOnly, r.name):
			d.errorAt(r.pos, "only {{"+strings.Join(r.builtinsOnly, "}}, {{")+"}} and your own variables can be used here",
				"{{%s}} is not known here", r.name)
		case builtin, defined[r.name], overridden:
		default:
			if names == nil {
				names = append(slices.Sorted(maps.Keys(defined)), BuiltinVars()...)
			}
			fix := fmt.Sprintf("define it under [vars] (%s = \"…\") or pass --var %s=VALUE", r.name, r.name)
			if s := d.suggest(r.name, names); s != "" {
				fix = fmt.Sprintf("did you mean {{%s}}? Or %s", s, fix)
			}
			d.errorAt(r.pos, fix, "unknown variable {{%s}}", r.name)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(overrides)) {
		if e := checkOverrideValue(n, overrides[n]); e != nil {
			d.errs = append(d.errs, e)
		}
		switch {
		case !identifier.MatchString(n):
			d.errs = append(d.errs, &Error{File: "--var " + n, Message: "not a valid variable name",
				Fix: "use letters, digits and '_', starting with a letter or '_'"})
		case slices.Contains(BuiltinVars(), n):
			d.errs = append(d.errs, &Error{File: "--var " + n, Message: "{{" + n + "}} is set by deploy for every host and cannot be overridden"})
		case !defined[n] && !used[n]:
			fix := d.file + " neither defines nor uses it"
			known := slices.Sorted(maps.Keys(defined))
			if s := d.suggest(n, known); s != "" {
				fix = fmt.Sprintf("did you mean --var %s=…? (%s)", s, fix)
			}
			d.errs = append(d.errs, &Error{File: "--var " + n, Message: "unknown variable", Fix: fix})
		}
	}
}
