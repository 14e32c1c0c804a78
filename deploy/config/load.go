package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// LoadOptions change how a Deployfile is read.
type LoadOptions struct {
	// Vars are --var name=value overrides; they win over every definition
	// in the file.
	Vars map[string]string
	// Reserved are the names a group or host may not take: the CLI's
	// commands, since `deploy NAME` would be ambiguous.
	Reserved []string
}

// Load reads and validates the Deployfile at path. A problem with the file
// comes back as an ErrorList holding every problem found.
func Load(path string, opts LoadOptions) (*Deployfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrorList{{File: path, Message: "no such file",
				Fix: "run `deploy init` to write a starter Deployfile, or point at one with -f FILE"}}
		}
		return nil, ErrorList{{File: path, Message: err.Error()}}
	}
	return Parse(path, data, opts)
}

// Parse validates a Deployfile held in memory; name is used in errors.
func Parse(name string, data []byte, opts LoadOptions) (*Deployfile, error) {
	root, ok := decodeTree(data)
	if !ok {
		// Invalid, or a form decodeTree leaves to go-toml: it decides, and
		// says what is wrong.
		if err := toml.Unmarshal(data, &root); err != nil {
			return nil, syntaxError(name, data, err)
		}
	}
	idx, err := buildIndex(data)
	if err != nil {
		return nil, syntaxError(name, data, err)
	}
	d := &decoder{file: name, idx: idx, reserved: opts.Reserved}
	d.checkControls(nil, root)
	df := d.deployfile(root)
	df.Overrides = maps.Clone(opts.Vars)
	d.validate(df, opts)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return df, nil
}

func syntaxError(name string, data []byte, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return ErrorList{{File: name, Pos: Position{Line: line, Column: col},
			Message: "TOML syntax error: " + msg, Fix: "correct the TOML at this spot (see https://toml.io)"}}
	}
	return ErrorList{{File: name, Message: "TOML syntax error: " + err.Error(),
		Fix: "correct the TOML (see https://toml.io)"}}
}

func (d *decoder) deployfile(root map[string]any) *Deployfile {
	df := &Deployfile{
		File:   d.file,
		Vars:   map[string]*Var{},
		Groups: map[string]*Group{},
		Tasks:  map[string]*Task{},
		hosts:  map[string]*Host{},
		App: App{Branch: "main", Remote: "origin", KeepReleases: 5, DefaultTask: "deploy",
			Strategy: StrategyReleases, Python: "python3"},
	}
	d.checkKeys(nil, root, "at the top level", "app", "ssh", "hosts", "vars", "tasks")
	if v, ok := root["app"]; ok {
		d.app(&df.App, v)
	}
	if v, ok := root["ssh"]; ok {
		d.ssh(&df.SSH, v)
	}
	if v, ok := root["vars"]; ok {
		df.Vars = d.vars([]string{"vars"}, v)
	}
	if v, ok := root["hosts"]; ok {
		d.hostGroups(df, v)
	}
	if v, ok := root["tasks"]; ok {
		d.tasks(df, v)
	}
	return df
}

func (d *decoder) app(app *App, v any) {
	path := []string{"app"}
	m, ok := d.table(path, v, "write it as an [app] table")
	if !ok {
		return
	}
	d.checkKeys(path, m, "in [app]", "name", "repo", "remote", "branch", "path",
		"keep_releases", "default_task", "strategy", "shared", "python", "build", "forward_agent", "env")
	for _, k := range d.keysInOrder(path, m) {
		p, v := child(path, k), m[k]
		switch k {
		case "name":
			if s, ok := d.str(p, v); ok {
				if !validName.MatchString(s) {
					d.valueError(p, "use letters, digits, '.', '_' and '-', starting with a letter or digit",
						"app name %q is not a valid name", s)
				}
				app.Name = s
			}
		case "repo":
			app.Repo, _ = d.str(p, v)
			d.templated(p, app.Repo, "host", "user")
			if strings.HasPrefix(app.Repo, "-") {
				d.valueError(p, "write the repository's URL or path", "repo %q starts with '-'", app.Repo)
			}
		case "remote", "branch":
			s, _ := d.str(p, v)
			if s == "" || strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\n~^:?*[\\") || strings.Contains(s, "..") {
				d.valueError(p, "write a git "+k+" name such as \"origin\" or \"main\"", "%q is not a valid git %s name", s, k)
			}
			if k == "remote" {
				app.Remote = s
			} else {
				app.Branch = s
			}
		case "path":
			s, _ := d.str(p, v)
			app.Path = s
			d.templated(p, s, "host", "user")
			if s != "" && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") && !strings.HasPrefix(s, "{{") {
				d.valueError(p, `write an absolute path such as "/srv/`+cmpOr(app.Name, "myapp")+`" (or one under "~/")`,
					"app path %q is relative", s)
			}
			if s == "" {
				d.valueError(p, `write an absolute path such as "/srv/myapp"`, "app path is empty")
			}
		case "keep_releases":
			app.KeepReleases = d.intIn(p, v, 2, math32)
		case "default_task":
			app.DefaultTask, _ = d.str(p, v)
		case "strategy":
			s, _ := d.str(p, v)
			if s != StrategyReleases && s != StrategyInPlace {
				d.valueError(p, `write strategy = "releases" (a directory per release, switched by a symlink) or "inplace" (git reset in {{path}})`,
					"unknown strategy %q", s)
			}
			app.Strategy = s
		case "shared":
			app.Shared = d.strList(p, v)
			for i, s := range app.Shared {
				if s == "" || strings.HasPrefix(s, "/") || slices.Contains(strings.Split(s, "/"), "..") {
					d.valueError(child(p, strconv.Itoa(i)), "write a path relative to the release, such as \"media\" or \".env\"",
						"shared path %q must be relative and stay inside the release", s)
				}
			}
		case "build":
			app.Build = d.builds(p, v)
		case "forward_agent":
			app.ForwardAgent = d.boolean(p, v)
		case "env":
			app.Env = d.env(p, v)
		case "python":
			app.Python, _ = d.str(p, v)
			if app.Python == "" {
				d.valueError(p, `write the interpreter, such as "/usr/bin/python3"`, "python is empty")
			}
		}
	}
}

// builds reads [app] build: [{ run = "…", inputs = ["…"], output = "…" }].
func (d *decoder) builds(p []string, v any) []Build {
	arr, ok := v.([]any)
	if !ok {
		d.valueError(p, `write build = [{ run = "…", inputs = ["requirements.txt"], output = ".venv" }]`,
			"build must be an array of tables, not %s", typeName(v))
		return nil
	}
	var out []Build
	for i, e := range arr {
		ep := child(p, strconv.Itoa(i))
		m, ok := d.table(ep, e, `write { run = "…", inputs = ["…"], output = "…" }`)
		if !ok {
			continue
		}
		d.checkKeys(ep, m, "in a build", "run", "inputs", "output")
		var b Build
		for _, k := range []string{"run", "inputs", "output"} {
			if _, ok := m[k]; !ok {
				d.valueError(ep, `a build has run, inputs and output: { run = "…", inputs = ["requirements.txt"], output = ".venv" }`,
					"build has no %s", k)
			}
		}
		if x, ok := m["run"]; ok {
			b.Run, _ = d.str(child(ep, "run"), x)
			d.templated(child(ep, "run"), b.Run)
		}
		if x, ok := m["inputs"]; ok {
			b.Inputs = d.strList(child(ep, "inputs"), x)
		}
		if x, ok := m["output"]; ok {
			b.Output, _ = d.str(child(ep, "output"), x)
			if clean := path.Clean(b.Output); b.Output == "" || path.IsAbs(clean) || clean == "." || slices.Contains(strings.Split(b.Output, "/"), "..") {
				d.valueError(child(ep, "output"), `write a path inside the release, such as ".venv"`, "build output %q must be relative and stay inside the release", b.Output)
			}
		}
		out = append(out, b)
	}
	return out
}

// math32 is the largest count the file may hold; it keeps ints portable.
const math32 = 1<<31 - 1

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (d *decoder) ssh(s *SSH, v any) {
	path := []string{"ssh"}
	m, ok := d.table(path, v, "write it as an [ssh] table")
	if !ok {
		return
	}
	d.checkKeys(path, m, "in [ssh]", "user", "port", "config", "connect_timeout", "command_timeout")
	for _, k := range d.keysInOrder(path, m) {
		p, v := child(path, k), m[k]
		switch k {
		case "user":
			if u, ok := d.str(p, v); ok {
				if err := checkUser(u); err != nil {
					d.valueError(p, "write a plain user name such as \"deploy\"", "%v", err)
				}
				s.User = u
			}
		case "port":
			s.Port = d.intIn(p, v, 1, 65535)
		case "config":
			s.Config, _ = d.str(p, v)
		case "connect_timeout":
			s.ConnectTimeout = d.duration(p, v)
		case "command_timeout":
			s.CommandTimeout = d.duration(p, v)
		}
	}
}

// vars reads a table of variables: name = "value", or name = { value = …,
// secret = true }, or name = { env = "NAME", secret = true }.
func (d *decoder) vars(path []string, v any) map[string]*Var {
	out := map[string]*Var{}
	m, ok := d.table(path, v, `write variables as a table: vars = { name = "value" }`)
	if !ok {
		return out
	}
	for _, name := range d.keysInOrder(path, m) {
		p := child(path, name)
		if !identifier.MatchString(name) {
			d.keyError(p, "use letters, digits and '_', starting with a letter or '_'",
				"variable name %q is not valid", name)
			continue
		}
		if slices.Contains(BuiltinVars(), name) {
			d.keyError(p, "choose another name; {{"+name+"}} is set by deploy for every host",
				"variable %q is reserved", name)
			continue
		}
		vr := &Var{Name: name, Pos: d.idx.keyAt(p)}
		if t, ok := m[name].(map[string]any); ok {
			d.checkKeys(p, t, "in variable "+name, "value", "env", "secret")
			_, hasValue := t["value"]
			_, hasEnv := t["env"]
			switch {
			case hasValue && hasEnv:
				d.keyError(child(p, "env"), "keep one: value for a literal, env to read it from the environment",
					"variable %s has both value and env", name)
			case !hasValue && !hasEnv:
				d.keyError(p, fmt.Sprintf(`write %s = { value = "…" } or %s = { env = "ENV_NAME" }`, name, name),
					"variable %s has neither value nor env", name)
			}
			if x, ok := t["value"]; ok {
				vr.Value, _ = d.scalarString(child(p, "value"), x)
			}
			if x, ok := t["env"]; ok {
				if vr.Env, ok = d.str(child(p, "env"), x); ok && !identifier.MatchString(vr.Env) {
					d.valueError(child(p, "env"), "write an environment variable name such as \"DB_PASSWORD\"",
						"%q is not an environment variable name", vr.Env)
				}
			}
			if x, ok := t["secret"]; ok {
				vr.Secret = d.boolean(child(p, "secret"), x)
			}
		} else {
			vr.Value, _ = d.scalarString(p, m[name])
		}
		// A value may use other variables and {{host}}, {{user}},
		// {{python}}; not {{path}} and what follows from it.
		vp := p
		if _, ok := m[name].(map[string]any); ok {
			vp = child(p, "value")
		}
		d.refsIn(vp, vr.Value, []string{"host", "user", "python"})
		out[name] = vr
	}
	return out
}
