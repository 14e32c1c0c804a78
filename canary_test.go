//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote/sshtest"
	"github.com/deploy-tool/deploy/tasks"
)

// The canary tests hold the promise "nothing a Deployfile value holds
// ever executes": every option of every step kind, every built-in's
// with keys, every [app], [ssh], host, group and variable field, and
// --var, given a value that would touch a canary file if it reached a
// shell unquoted. Each value is either refused when the file loads (exit
// 2, with a message) or treated as data: the canary never appears.

// canaryTricks are the ways a value could break out of a shell word; %[1]s
// is the canary file's absolute path.
var canaryTricks = []struct{ name, format string }{
	{"subst", "$(touch %[1]s)"},
	{"backticks", "`touch %[1]s`"},
	{"double quote", `"; touch %[1]s; "`},
	{"single quote", `'; touch %[1]s; '`},
	{"newline", "x\ntouch %[1]s\n"},
	{"IFS", "x;touch${IFS}%[1]s"},
	{"leading dash", "--upload-pack=touch %[1]s"},
}

// omnibus is every trick in one value, starting with '-': whatever
// context the value lands in, one of them fires if it is not quoted. The
// newline trick is left out: the loader refuses a newline in every field
// but commands (and the variable that carries the canary into them), so
// it would make the whole batch refused; it runs on its own with -tags
// faults.
func omnibus(canary string) string {
	var parts []string
	for _, c := range canaryTricks {
		if c.name != "newline" {
			parts = append([]string{fmt.Sprintf(c.format, canary)}, parts...)
		}
	}
	return strings.Join(parts, " ")
}

// tomlString writes s as a TOML basic string: control characters as
// \uXXXX, which TOML decodes back to exactly s.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// placement puts a value (already a TOML literal) somewhere in a
// Deployfile.
type placement struct {
	name string // scope.key, as the coverage check names options
	// shell marks options that are shell by design (a command): there the
	// canary goes through a variable, {{cv}}, which must stay one word.
	shell bool
	// apply edits the Deployfile for the value v (a TOML literal).
	apply func(df *canaryFile, v string)
}

// canaryFile is a Deployfile under construction.
type canaryFile struct {
	app   map[string]string // [app] key → TOML value
	ssh   map[string]string
	hosts string            // the [hosts] body
	vars  []string          // lines of [vars]
	steps []string          // steps of the task "canary", inline tables
	task  map[string]string // other keys of the task "canary" → TOML value
	sub   string            // steps of the task "sub"
}

func newCanaryFile(central, root string) *canaryFile {
	return &canaryFile{
		app: map[string]string{
			"name": `"canary"`, "repo": tomlString(central), "path": tomlString(root + "/{{host}}"),
			"keep_releases": "2",
		},
		ssh:   map[string]string{},
		task:  map[string]string{},
		hosts: `web = ["web1"]`,
		vars:  []string{`cv = "plain"`},
		sub:   `[{ run = "true", on = "web" }]`,
	}
}

func (f *canaryFile) String() string {
	var b strings.Builder
	section := func(name string, m map[string]string) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(&b, "[%s]\n", name)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, m[k])
		}
	}
	section("app", f.app)
	section("ssh", f.ssh)
	fmt.Fprintf(&b, "[hosts]\n%s\n[vars]\n%s\n", f.hosts, strings.Join(f.vars, "\n"))
	fmt.Fprintf(&b, "[tasks.test]\nsteps = [{ local = \"true\" }]\n[tasks.sub]\nsteps = %s\n", f.sub)
	steps := f.steps
	if len(steps) == 0 {
		steps = []string{`{ run = "true", on = "web" }`}
	}
	fmt.Fprintf(&b, "[tasks.canary]\n")
	for _, k := range slices.Sorted(maps.Keys(f.task)) {
		fmt.Fprintf(&b, "%s = %s\n", k, f.task[k])
	}
	fmt.Fprintf(&b, "steps = [\n  %s,\n]\n", strings.Join(steps, ",\n  "))
	return b.String()
}

// stepBase is a working step of each kind, as key → TOML value.
func stepBase(kind string) map[string]string {
	switch kind {
	case "local":
		return map[string]string{"local": `"true"`}
	case "run":
		return map[string]string{"run": `"true"`, "on": `"web"`}
	case "upload":
		return map[string]string{"upload": `"upfile"`, "to": `"{{path}}/up"`, "on": `"web"`}
	case "task":
		return map[string]string{"task": `"sub"`}
	}
	m := map[string]string{"builtin": tomlString(kind)}
	if !slices.Contains([]string{"test", "commit", "push", "collectstatic"}, kind) {
		m["on"] = `"web"`
	}
	return m
}

func inline(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " = " + m[k]
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// stepKinds are the kinds of step and the built-ins, from the code.
func stepKinds() []string {
	return append([]string{"local", "run", "upload", "task"}, tasks.Names()...)
}

// shellStepKeys are the step options that are shell by design.
var shellStepKeys = []string{"local", "run", "unless", "only_if"}

// withOptions are the with keys of each built-in, and the with table
// that puts a value (%[1]s) in the key with what it needs to be used.
// TestCanaryCoversEveryOption fails when the code reads a with key that
// is not here.
var withOptions = map[string]map[string]string{
	"test":          {"task": `{ task = %[1]s }`},
	"commit":        {"add_untracked": `{ add_untracked = %[1]s }`},
	"collectstatic": {"python": `{ python = %[1]s }`, "settings": `{ settings = %[1]s }`},
	"sync-static":   {"dest": `{ dest = %[1]s }`, "python": `{ python = %[1]s }`},
	"migrate":       {"python": `{ python = %[1]s }`, "settings": `{ settings = %[1]s }`},
	"reload": {
		"method":   `{ method = %[1]s, always = true }`,
		"path":     `{ method = "touch", path = %[1]s, always = true }`,
		"pid_file": `{ method = "hup", pid_file = %[1]s, always = true }`,
		"unit":     `{ method = "systemctl", unit = %[1]s, always = true }`,
		"command":  `{ method = "command", command = %[1]s, always = true }`,
		"always":   `{ method = "touch", path = "x", always = %[1]s }`,
		"wsgi":     `{ method = "gunicorn", wsgi = %[1]s, bind = "127.0.0.1:1", always = true }`,
		"bind":     `{ method = "gunicorn", wsgi = "x.wsgi", bind = %[1]s, always = true }`,
		"workers":  `{ method = "gunicorn", wsgi = "x.wsgi", bind = "127.0.0.1:1", workers = %[1]s, always = true }`,
		"python":   `{ method = "gunicorn", wsgi = "x.wsgi", bind = "127.0.0.1:1", python = %[1]s, always = true }`,
	},
	"healthcheck": {
		"command":    `{ command = %[1]s, expect = "", timeout = "1s", always = true }`,
		"expect":     `{ command = "echo {{cv}}", expect = %[1]s, timeout = "1s", always = true }`,
		"url":        `{ url = %[1]s, timeout = "1s", always = true }`,
		"timeout":    `{ command = "true", timeout = %[1]s, always = true }`,
		"always":     `{ command = "true", always = %[1]s }`,
		"host":       `{ url = "http://127.0.0.1:1/", host = %[1]s, timeout = "1s", always = true }`,
		"fail_after": `{ command = "true", fail_after = %[1]s, always = true }`,
	},
	"push": {}, "pull": {},
}

// shellWithKeys are the with keys that are shell by design.
var shellWithKeys = []string{"command"}

// otherOptions are the fields outside steps: [app], [app] build, [ssh],
// hosts, groups, variables. The key is scope.key as optionScopes names.
func otherOptions() map[string]placement {
	app := func(key string) placement {
		return placement{name: "app." + key, apply: func(f *canaryFile, v string) { f.app[key] = v }}
	}
	ssh := func(key string) placement {
		return placement{name: "ssh." + key, apply: func(f *canaryFile, v string) { f.ssh[key] = v }}
	}
	ps := []placement{
		app("name"), app("repo"), app("remote"), app("branch"), app("path"), app("keep_releases"),
		app("default_task"), app("strategy"), app("python"), app("forward_agent"),
		{name: "app.shared", apply: func(f *canaryFile, v string) { f.app["shared"] = "[" + v + "]" }},
		{name: "app.build", apply: func(f *canaryFile, v string) { f.app["build"] = "[" + v + "]" }},
		{name: "app.env", apply: func(f *canaryFile, v string) { f.app["env"] = "{ CANARY_ENV = " + v + " }" }},
		{name: "build.run", shell: true, apply: func(f *canaryFile, v string) {
			f.app["build"] = `[{ run = ` + v + `, inputs = ["upfile"], output = "out" }]`
		}},
		{name: "build.inputs", apply: func(f *canaryFile, v string) {
			f.app["build"] = `[{ run = "true", inputs = [` + v + `], output = "out" }]`
		}},
		{name: "build.output", apply: func(f *canaryFile, v string) {
			f.app["build"] = `[{ run = "true", inputs = ["upfile"], output = ` + v + ` }]`
		}},
		ssh("user"), ssh("port"), ssh("config"), ssh("connect_timeout"), ssh("command_timeout"),
		{name: "task.description", apply: func(f *canaryFile, v string) { f.task["description"] = v }},
		{name: "task.before", apply: func(f *canaryFile, v string) { f.task["before"] = "[" + v + "]" }},
		{name: "task.after", apply: func(f *canaryFile, v string) { f.task["after"] = "[" + v + "]" }},
		{name: "task.on_success", apply: func(f *canaryFile, v string) { f.task["on_success"] = "[" + v + "]" }},
		{name: "task.on_failure", apply: func(f *canaryFile, v string) { f.task["on_failure"] = "[" + v + "]" }},
		{name: "host.spec", apply: func(f *canaryFile, v string) { f.hosts = `web = ["web1", ` + v + `]` }},
		{name: "host.host", apply: func(f *canaryFile, v string) { f.hosts = `web = ["web1", { host = ` + v + ` }]` }},
		{name: "host.name", apply: func(f *canaryFile, v string) {
			f.hosts = `web = [{ host = "web1", name = ` + v + ` }]`
		}},
		{name: "host.vars", apply: func(f *canaryFile, v string) {
			f.hosts = `web = [{ host = "web1", vars = { cv = ` + v + ` } }]`
		}},
		{name: "host.vars.name", apply: func(f *canaryFile, v string) {
			f.hosts = `web = [{ host = "web1", vars = { ` + v + ` = "x" } }]`
		}},
		{name: "group.name", apply: func(f *canaryFile, v string) { f.hosts = `web = ["web1"]` + "\n" + v + ` = ["web1"]` }},
		{name: "group.hosts", apply: func(f *canaryFile, v string) { f.hosts = `web = { hosts = ["web1", ` + v + `] }` }},
		{name: "group.confirm", apply: func(f *canaryFile, v string) { f.hosts = `web = { hosts = ["web1"], confirm = ` + v + ` }` }},
		{name: "group.description", apply: func(f *canaryFile, v string) {
			f.hosts = `web = { hosts = ["web1"], description = ` + v + ` }`
		}},
		{name: "group.vars", apply: func(f *canaryFile, v string) { f.hosts = `web = { hosts = ["web1"], vars = { cv = ` + v + ` } }` }},
		{name: "group.include", apply: func(f *canaryFile, v string) {
			f.hosts = `web = ["web1"]` + "\nall = [\"@web\", " + strings.Replace(v, `"`, `"@`, 1) + "]"
		}},
		{name: "var.name", apply: func(f *canaryFile, v string) { f.vars = append(f.vars, v+` = "x"`) }},
		{name: "var.value", apply: func(f *canaryFile, v string) { f.vars = []string{"cv = " + v} }},
		{name: "var.secret", apply: func(f *canaryFile, v string) { f.vars = []string{"cv = { value = " + v + ", secret = true }"} }},
		{name: "var.env", apply: func(f *canaryFile, v string) { f.vars = []string{"cv = { env = " + v + " }"} }},
	}
	out := map[string]placement{}
	for _, p := range ps {
		out[p.name] = p
	}
	return out
}

// optionScopes probes the loader for the keys each table accepts: a key
// it does not know is refused with "allowed keys are …". So a new option
// shows up here without anyone listing it.
func optionScopes(t *testing.T) map[string][]string {
	t.Helper()
	probe := func(toml string) []string {
		_, err := config.Parse("probe", []byte(toml), config.LoadOptions{})
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				if _, rest, ok := strings.Cut(e.Fix, "allowed keys are "); ok {
					return strings.Split(strings.TrimSuffix(rest, ")"), ", ")
				}
			}
		}
		t.Fatalf("probing keys: no \"allowed keys are\" in %v\n%s", err, toml)
		return nil
	}
	scopes := map[string][]string{
		"app":   probe("[app]\nzz_probe = 1\n"),
		"build": probe("[app]\nbuild = [{ run = \"true\", zz_probe = 1 }]\n"),
		"ssh":   probe("[ssh]\nzz_probe = 1\n"),
		"host":  probe("[hosts]\nweb = [{ host = \"a\", zz_probe = 1 }]\n"),
		"group": probe("[hosts]\nweb = { hosts = [\"a\"], zz_probe = 1 }\n"),
		"var":   probe("[vars]\nx = { value = \"a\", zz_probe = 1 }\n"),
		"task":  probe("[tasks.t]\nzz_probe = 1\nsteps = [{ run = \"true\" }]\n"),
	}
	for _, kind := range stepKinds() {
		base := stepBase(kind)
		base["zz_probe"] = "1"
		scopes["step."+kind] = probe("[hosts]\nweb = [\"a\"]\n[tasks.sub]\nsteps = [{ run = \"true\" }]\n[tasks.t]\nsteps = [" + inline(base) + "]\n")
	}
	return scopes
}

// withKeysInCode are the with keys the built-ins read, from tasks/*.go.
func withKeysInCode(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("tasks/*.go")
	re := regexp.MustCompile(`With\["(\w+)"\]|\bstr\("(\w+)"\)`)
	var keys []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			k := m[1] + m[2]
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) < 5 {
		t.Fatalf("found only %v with keys in tasks/*.go: has the code changed shape?", keys)
	}
	return keys
}

// canaryCase is one option given one value.
type canaryCase struct {
	option string // e.g. step.run.dir, with.reload.path, app.repo
	shell  bool
	apply  func(f *canaryFile, v string)
}

// canaryCases is every option of every scope, failing the test when an
// option the loader accepts (or a with key the code reads) has no case.
func canaryCases(t *testing.T) []canaryCase {
	t.Helper()
	var cases []canaryCase
	scopes := optionScopes(t)
	others := otherOptions()
	for _, kind := range stepKinds() {
		for _, key := range scopes["step."+kind] {
			if key == "with" {
				continue // below, key by key
			}
			shell := slices.Contains(shellStepKeys, key)
			cases = append(cases, canaryCase{option: "step." + kind + "." + key, shell: shell,
				apply: func(f *canaryFile, v string) {
					s := stepBase(kind)
					s[key] = v
					f.steps = append(f.steps, inline(s))
				}})
		}
		if !slices.Contains(scopes["step."+kind], "with") {
			continue
		}
		opts, ok := withOptions[kind]
		if !ok {
			t.Errorf("built-in %s has no entry in withOptions", kind)
		}
		for key, table := range opts {
			cases = append(cases, canaryCase{option: "with." + kind + "." + key, shell: slices.Contains(shellWithKeys, key),
				apply: func(f *canaryFile, v string) {
					s := stepBase(kind)
					s["with"] = fmt.Sprintf(table, v)
					f.steps = append(f.steps, inline(s))
				}})
		}
	}
	for _, key := range withKeysInCode(t) {
		found := false
		for _, opts := range withOptions {
			_, in := opts[key]
			found = found || in
		}
		if !found {
			t.Errorf("the built-ins read with.%s, which no canary case covers: add it to withOptions", key)
		}
	}
	for scope, keys := range scopes {
		if strings.HasPrefix(scope, "step.") {
			continue
		}
		for _, key := range keys {
			name := scope + "." + key
			if scope == "build" && key == "run" {
				name = "build.run"
			}
			if _, ok := others[name]; !ok && !(scope == "host" && key == "name") && !(scope == "group" && key == "hosts") && name != "task.steps" {
				t.Errorf("option %s has no canary case: add it to otherOptions", name)
			}
		}
	}
	names := make([]string, 0, len(others))
	for n := range others {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := others[n]
		cases = append(cases, canaryCase{option: p.name, shell: p.shell, apply: p.apply})
	}
	return cases
}

// canaryRig is a laptop project (a git repository whose origin is a bare
// repository the host can read) and one real sshd host, web1.
type canaryRig struct {
	env     *sshtest.Env
	server  *sshtest.Server
	root    string // deploy roots: root/<host>
	central string
	work    string // the laptop project
	canary  string // the file no value may create
	dirs    []string
}

func newCanaryRig(t *testing.T) *canaryRig {
	t.Helper()
	r := &canaryRig{env: sshtest.New(t)}
	r.server = r.env.Start(t, "web1")
	r.root = r.env.UserDir(t)
	shared := r.env.UserDir(t)
	r.canary = filepath.Join(shared, "CANARY")
	_, r.work = gitProject(t)
	r.central = filepath.Join(shared, "central.git")
	mustSh(t, "/", "git", "init", "-q", "--bare", r.central)
	mustSh(t, r.work, "git", "remote", "set-url", "origin", r.central)
	if err := os.WriteFile(filepath.Join(r.work, "upfile"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The Deployfiles the rig writes are not the project's: git ignores
	// them, so the runs' git steps see a clean work tree.
	mustSh(t, r.work, "git", "rm", "-q", "--cached", "Deployfile")
	if err := os.WriteFile(filepath.Join(r.work, ".git", "info", "exclude"), []byte("/Deployfile*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, r.work, "git", "add", ".")
	mustSh(t, r.work, "git", "commit", "-q", "-m", "upfile")
	mustSh(t, r.work, "git", "push", "-q", "origin", "main")
	if os.Geteuid() == 0 {
		mustSh(t, "/", "chown", "-R", r.env.User, r.central)
	}
	r.dirs = []string{r.root, shared, filepath.Dir(r.work), r.env.Dir}
	return r
}

// write writes the Deployfile f into the project and returns the flags
// that use it.
func (r *canaryRig) write(t *testing.T, f *canaryFile, name string) []string {
	t.Helper()
	file := filepath.Join(r.work, name)
	if err := os.WriteFile(file, []byte(f.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--no-color", "-f", file, "--ssh-config", r.env.SSHConfig}
}

// assertNoCanary fails when the canary exists, or any file named like it
// under the test's directories (a command run elsewhere than planned).
// A file whose path holds shell text is data: an upload to a path that
// reads "$(touch …)" creates exactly that path.
func (r *canaryRig) assertNoCanary(t *testing.T, what string) {
	t.Helper()
	if _, err := os.Stat(r.canary); err == nil {
		t.Errorf("%s: the canary %s exists: a value ran as a command", what, r.canary)
		os.Remove(r.canary)
	}
	for _, dir := range r.dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || filepath.Base(p) != "CANARY" || p == r.canary {
				return nil
			}
			if rel, _ := filepath.Rel(dir, p); strings.ContainsAny(rel, "$`'\"\n;{ ") {
				return nil
			}
			t.Errorf("%s: a canary at %s: a value ran as a command", what, p)
			os.Remove(p)
			return nil
		})
	}
}

// assertSane fails on a panic or an exit status other than the allowed.
func assertSane(t *testing.T, what string, code int, out, errOut string, allowed ...int) {
	t.Helper()
	if strings.Contains(out+errOut, "panic:") || strings.Contains(out+errOut, "goroutine ") {
		t.Errorf("%s: panic:\n%s\n%s", what, out, errOut)
	}
	if !slices.Contains(allowed, code) {
		t.Errorf("%s: exit %d, want one of %v\nstdout: %s\nstderr: %s", what, code, allowed, out, errOut)
	}
	if code == 2 && !strings.Contains(errOut, "error") && !strings.Contains(errOut, "deploy:") {
		t.Errorf("%s: exit 2 without a message: %q", what, errOut)
	}
}

// value is the TOML literal of a canary case: the canary itself, or for
// an option that is shell, a command that uses it through {{cv}}.
func (c canaryCase) value(raw string) (toml string, vars []string) {
	if c.shell {
		return `"echo {{cv}} >/dev/null"`, []string{"cv = " + tomlString(raw)}
	}
	switch c.option {
	case "app.keep_releases", "ssh.port", "group.confirm", "app.forward_agent":
	}
	return tomlString(raw), nil
}

func TestCanaryCoversEveryOption(t *testing.T) {
	t.Parallel()
	cases := canaryCases(t)
	if len(cases) < 100 {
		t.Errorf("only %d canary cases", len(cases))
	}
}

// TestCanaryValues loads every option with every trick (deploy check),
// then runs what the loader accepted against a real sshd host: deploy
// plan and the task, and the canary never appears.
func TestCanaryValues(t *testing.T) {
	t.Parallel()
	r := newCanaryRig(t)
	cases := canaryCases(t)
	tricks := append([]struct{ name, format string }{{"omnibus", ""}}, canaryTricks...)
	if !canaryFull {
		tricks = tricks[:1]
	}

	type accepted struct {
		c   canaryCase
		raw string
	}
	var runs []accepted
	refused, total := 0, 0
	for _, c := range cases {
		for _, tr := range tricks {
			raw := omnibus(r.canary)
			if tr.format != "" {
				raw = fmt.Sprintf(tr.format, r.canary)
			}
			f := newCanaryFile(r.central, r.root)
			v, vars := c.value(raw)
			f.vars = append(f.vars, vars...)
			c.apply(f, v)
			flags := r.write(t, f, "Deployfile.check")
			what := c.option + " / " + tr.name
			code, out, errOut := runCLI(t, append(flags, "check")...)
			total++
			assertSane(t, what+": check", code, out, errOut, 0, 2)
			if code == 2 {
				refused++
				continue
			}
			runs = append(runs, accepted{c, raw})
		}
	}
	r.assertNoCanary(t, "deploy check")
	t.Logf("%d cases (%d options × %d values): %d refused at load, %d accepted", total, len(cases), len(tricks), refused, len(runs))

	// What was accepted runs. Step options go into one task, each step
	// ignore_errors; the rest changes the whole file, one run each.
	batch := newCanaryFile(r.central, r.root)
	batch.steps = []string{`{ builtin = "push" }`, `{ builtin = "pull", on = "web" }`}
	var late []string // health checks fail and roll back: last
	var single []accepted
	for _, a := range runs {
		if !strings.HasPrefix(a.c.option, "step.") && !strings.HasPrefix(a.c.option, "with.") {
			single = append(single, a)
			continue
		}
		f := newCanaryFile(r.central, r.root)
		v, _ := a.c.value(a.raw)
		a.c.apply(f, v)
		step := strings.TrimSuffix(f.steps[0], " }")
		if !strings.Contains(step, "ignore_errors") {
			step += ", ignore_errors = true"
		}
		step += " }"
		if strings.Contains(step, "healthcheck") {
			late = append(late, step)
		} else {
			batch.steps = append(batch.steps, step)
		}
	}
	batch.steps = append(batch.steps, late...)
	batch.vars = []string{"cv = " + tomlString(omnibus(r.canary))}
	flags := r.write(t, batch, "Deployfile")
	for _, args := range [][]string{{"check"}, {"plan", "web", "canary"}, {"--yes", "run", "web", "canary"},
		{"--var", "cv=" + omnibus(r.canary), "--yes", "run", "web", "canary"}} {
		code, out, errOut := runCLI(t, append(flags, args...)...)
		what := fmt.Sprintf("%d step options in one task: %v", len(batch.steps)-2, args)
		assertSane(t, what, code, out, errOut, 0, 1)
		if os.Getenv("CANARY_DEBUG") != "" {
			t.Logf("%s: exit %d\n%s\n%s", what, code, out, errOut)
		}
		if args[0] == "check" && code != 0 {
			t.Fatalf("the batch does not load:\n%s\n%s", errOut, batch)
		}
		r.assertNoCanary(t, what)
	}

	for _, a := range single {
		f := newCanaryFile(r.central, r.root)
		v, vars := a.c.value(a.raw)
		f.vars = append(f.vars, vars...)
		a.c.apply(f, v)
		f.steps = []string{`{ builtin = "push" }`, `{ builtin = "pull", on = "web" }`, `{ run = "echo {{cv}} >/dev/null", on = "web" }`}
		flags := r.write(t, f, "Deployfile")
		for _, args := range [][]string{{"plan", "web", "canary"}, {"--yes", "run", "web", "canary"}} {
			code, out, errOut := runCLI(t, append(flags, args...)...)
			assertSane(t, a.c.option+": "+strings.Join(args, " "), code, out, errOut, 0, 1, 2)
		}
		r.assertNoCanary(t, a.c.option)
	}

	// The harness sees a canary: a command the user wrote does run.
	ctl := newCanaryFile(r.central, r.root)
	ctl.steps = []string{`{ run = ` + tomlString("touch "+r.canary) + `, on = "web" }`}
	code, _, errOut := runCLI(t, append(r.write(t, ctl, "Deployfile"), "run", "web", "canary")...)
	if _, err := os.Stat(r.canary); code != 0 || err != nil {
		t.Errorf("control: a command written as a command did not touch the canary: exit %d\n%s", code, errOut)
	}
}
