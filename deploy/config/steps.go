package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/deploy-tool/deploy/tasks"
)

// Keys a step may carry, by kind. A key valid for another kind gets a
// message saying so, rather than "unknown key".
var (
	commonStepKeys = []string{"name", "ignore_errors", "unless", "only_if", "creates", "timeout", "dir", "env"}
	hostStepKeys   = []string{"on", "once", "serial", "parallel", "sudo", "tty", "on_failure"}
)

func stepKeys(k StepKind) []string {
	keys := []string{string(k)}
	switch k {
	case StepLocal:
		keys = append(keys, commonStepKeys...)
	case StepRun:
		keys = append(append(keys, commonStepKeys...), hostStepKeys...)
	case StepUpload:
		keys = append(append(append(keys, commonStepKeys...), hostStepKeys...), "to", "mode")
	case StepBuiltin:
		keys = append(append(append(keys, commonStepKeys...), hostStepKeys...), "with")
	case StepTask:
		keys = append(keys, "name", "on", "ignore_errors")
	}
	return keys
}

func allStepKeys() []string {
	var all []string
	for _, k := range stepKinds {
		for _, key := range stepKeys(k) {
			if !slices.Contains(all, key) {
				all = append(all, key)
			}
		}
	}
	return all
}

func kindNames() string {
	names := make([]string, len(stepKinds))
	for i, k := range stepKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (d *decoder) tasks(df *Deployfile, v any) {
	path := []string{"tasks"}
	m, ok := d.table(path, v, "write each task as a [tasks.NAME] table")
	if !ok {
		return
	}
	for _, name := range d.keysInOrder(path, m) {
		p := child(path, name)
		if !validName.MatchString(name) {
			d.keyError(p, "use letters, digits, '.', '_' and '-', starting with a letter or digit", "task name %q is not valid", name)
			continue
		}
		t, ok := d.table(p, m[name], fmt.Sprintf("write [tasks.%s] with description and steps", name))
		if !ok {
			continue
		}
		task := &Task{Name: name, Pos: d.idx.keyAt(p)}
		d.checkKeys(p, t, "in task "+name, "description", "steps", "before", "after", "on_success", "on_failure")
		d.taskHooks(p, t, task)
		if x, ok := t["description"]; ok {
			task.Description, _ = d.str(child(p, "description"), x)
		}
		steps, ok := t["steps"]
		if !ok {
			d.keyError(p, fmt.Sprintf(`add steps = [{ run = "…" }] to [tasks.%s]`, name), "task %s has no steps", name)
		}
		if ok {
			arr, isArr := steps.([]any)
			if !isArr {
				d.valueError(child(p, "steps"), `write steps = [{ run = "…" }, { builtin = "…" }]`,
					"steps of task %s must be an array of tables, not %s", name, typeName(steps))
			}
			for i, e := range arr {
				if s := d.step(child(p, "steps", strconv.Itoa(i)), e); s != nil {
					s.index = i
					task.Steps = append(task.Steps, s)
				}
			}
		}
		df.Tasks[name] = task
		df.TaskOrder = append(df.TaskOrder, name)
	}
}

var octalMode = regexp.MustCompile(`^0?[0-7]{3}$`)

func (d *decoder) step(p []string, v any) *Step {
	m, ok := v.(map[string]any)
	if !ok {
		d.valueError(p, `write a step as a table: { run = "…" }`, "a step must be a table, not %s", typeName(v))
		return nil
	}
	s := &Step{Pos: d.idx.valueAt(p), OnFailure: OnFailureCancel}
	keys := d.keysInOrder(p, m)
	var kinds []StepKind // in file order
	for _, k := range keys {
		if slices.Contains(stepKinds[:], StepKind(k)) {
			kinds = append(kinds, StepKind(k))
		}
	}
	switch len(kinds) {
	case 0:
		d.valueError(p, "give it exactly one of "+kindNames(), "step has no kind")
		d.checkKeys(p, m, "in a step", allStepKeys()...)
		return nil
	case 1:
		s.Kind = kinds[0]
	default:
		second := kinds[1]
		d.keyError(child(p, string(second)), "a step is exactly one of "+kindNames()+"; split it into two steps",
			"step has both %s and %s", kinds[0], second)
		return nil
	}

	allowed := stepKeys(s.Kind)
	for _, k := range keys {
		if slices.Contains(allowed, k) {
			continue
		}
		if slices.Contains(allStepKeys(), k) {
			d.keyError(child(p, k), stepKeyFix(s.Kind, k), "%s does not apply to a %s step", k, s.Kind)
			continue
		}
		d.unknownKey(p, k, "in a step", allowed)
	}

	for _, k := range keys {
		if slices.Contains(allowed, k) {
			d.stepField(s, k, child(p, k), m[k])
		}
	}
	if s.Kind == StepBuiltin && s.With != nil && slices.Contains(Builtins(), s.Arg) {
		allowed := tasks.WithKeys(s.Arg)
		for _, k := range d.keysInOrder(child(p, "with"), s.With) {
			if !slices.Contains(allowed, k) {
				where := "in the with table of builtin " + s.Arg
				if len(allowed) == 0 {
					d.keyError(child(p, "with", k), "remove the with table: "+s.Arg+" takes no options", "unknown key %q %s", k, where)
					continue
				}
				d.unknownKey(child(p, "with"), k, where, allowed)
			}
		}
		for _, wp := range tasks.CheckWith(s.Arg, s.With) {
			problem, fix, _ := strings.Cut(wp.Problem, ": write ")
			if fix != "" {
				fix = "write " + fix
			}
			d.valueError(child(p, "with", wp.Key), fix, "%s", problem)
		}
	}
	if s.Kind == StepUpload && s.To == "" {
		d.valueError(p, `add to = "{{path}}/shared/…", the destination on the hosts`, "upload step has no destination")
	}
	if s.Once && s.Serial > 0 {
		d.keyError(child(p, "serial"), "remove serial: a once step runs on a single host", "once and serial together")
	}
	return s
}

// stepField decodes one key of a step into s. It is one flat switch, a
// case per key, longer than most functions here: read it as a table.
func (d *decoder) stepField(s *Step, k string, kp []string, x any) {
	switch k {
	case "local", "run":
		s.Arg, _ = d.str(kp, x)
		d.templated(kp, s.Arg)
		if strings.TrimSpace(s.Arg) == "" {
			d.valueError(kp, "write the command to run", "%s command is empty", k)
		}
	case "builtin":
		s.Arg, _ = d.str(kp, x)
		if !slices.Contains(Builtins(), s.Arg) {
			fix := "built-in steps are " + strings.Join(Builtins(), ", ")
			if sg := suggest(s.Arg, Builtins()); sg != "" {
				fix = fmt.Sprintf("did you mean %q? (%s)", sg, fix)
			}
			d.valueError(kp, fix, "unknown built-in step %q", s.Arg)
		}
	case "task":
		s.Arg, _ = d.str(kp, x) // checked against the tasks once all are read
	case "upload":
		s.Arg, _ = d.str(kp, x)
		d.templated(kp, s.Arg)
		if s.Arg == "" {
			d.valueError(kp, "write the local file or directory to upload", "upload source is empty")
		}
	case "to":
		s.To, _ = d.str(kp, x)
		d.templated(kp, s.To)
	case "mode":
		s.Mode, _ = d.str(kp, x)
		if !octalMode.MatchString(s.Mode) {
			d.valueError(kp, `write an octal mode in quotes, such as "0644" or "0755"`, "mode %q is not an octal file mode", s.Mode)
		}
	case "name":
		s.Name, _ = d.str(kp, x)
	case "on":
		s.On, _ = d.str(kp, x) // checked against the groups once all are read
	case "once":
		s.Once = d.boolean(kp, x)
	case "serial":
		s.Serial = d.intIn(kp, x, 1, math32)
	case "parallel":
		s.Parallel = d.intIn(kp, x, 1, math32)
	case "sudo":
		switch u := x.(type) {
		case bool:
			s.Sudo = u
		case string:
			if err := checkUser(u); err != nil {
				d.valueError(kp, `write sudo = true (root) or sudo = "USER"`, "%v", err)
			}
			s.Sudo, s.SudoUser = true, u
		default:
			d.valueError(kp, `write sudo = true (root) or sudo = "USER"`, "sudo must be true, false or a user name, not %s", typeName(x))
		}
	case "tty":
		s.TTY = d.boolean(kp, x)
	case "dir":
		s.Dir, _ = d.str(kp, x)
		d.templated(kp, s.Dir)
	case "env":
		s.Env = d.env(kp, x)
	case "timeout":
		s.Timeout = d.duration(kp, x)
	case "ignore_errors":
		s.IgnoreErrors = d.boolean(kp, x)
	case "on_failure":
		s.OnFailure, _ = d.str(kp, x)
		if s.OnFailure != OnFailureCancel && s.OnFailure != OnFailureWait {
			d.valueError(kp, `write on_failure = "cancel" (stop the other hosts' commands) or "wait" (let them finish)`,
				"unknown on_failure %q", s.OnFailure)
		}
	case "unless", "only_if", "creates":
		g, _ := d.str(kp, x)
		d.templated(kp, g)
		if strings.TrimSpace(g) == "" {
			d.valueError(kp, "write a command (unless, only_if) or a path (creates), or remove the key", "%s is empty", k)
		}
		switch k {
		case "unless":
			s.Unless = g
		case "only_if":
			s.OnlyIf = g
		default:
			s.Creates = g
		}
	case "with":
		if t, ok := d.table(kp, x, `write with = { key = "value" }`); ok {
			s.With = t
			d.templatedTree(kp, t)
		}
	}
}

func stepKeyFix(kind StepKind, key string) string {
	switch {
	case kind == StepLocal && slices.Contains(hostStepKeys, key):
		return "local steps run on this machine; use run to run on hosts"
	case kind == StepTask:
		return "set it on the steps of the called task"
	}
	return "keys of a " + string(kind) + " step are " + strings.Join(stepKeys(kind), ", ")
}

func (d *decoder) env(p []string, v any) map[string]string {
	m, ok := d.table(p, v, `write env = { NAME = "value" }`)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, k := range d.keysInOrder(p, m) {
		kp := child(p, k)
		if !identifier.MatchString(k) {
			d.keyError(kp, "use letters, digits and '_', starting with a letter or '_'", "%q is not an environment variable name", k)
			continue
		}
		if s, ok := d.scalarString(kp, m[k]); ok {
			out[k] = s
			d.templated(kp, s)
		}
	}
	return out
}

// templatedTree records the {{name}} uses in every string of a with table.
func (d *decoder) templatedTree(p []string, v any) {
	switch x := v.(type) {
	case string:
		d.templated(p, x)
	case map[string]any:
		for k, e := range x {
			d.templatedTree(child(p, k), e)
		}
	case []any:
		for i, e := range x {
			d.templatedTree(child(p, strconv.Itoa(i)), e)
		}
	}
}
