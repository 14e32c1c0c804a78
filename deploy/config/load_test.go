package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// parseFile reads a file of testdata and parses it under the name
// "Deployfile", so messages read as a user sees them.
func parseFile(t *testing.T, path string, opts LoadOptions) (*Deployfile, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse("Deployfile", data, opts)
}

func TestBadDeployfiles(t *testing.T) {
	const hostFix = " — write [user@]host[:port], with IPv6 in brackets: [::1]:2222"
	const noControls = "remove it: a Deployfile may hold no control characters"
	const oneLine = "write it on one line without tabs: only commands (run, local, unless, only_if, with.command, [app] build run) and descriptions may hold tabs and newlines"
	stepKeysRun := "run, name, ignore_errors, unless, only_if, creates, timeout, dir, env, on, once, serial, parallel, sudo, tty, on_failure"
	tests := []struct {
		file string
		want []string
	}{
		{"syntax.toml", []string{
			`Deployfile:3:23: TOML syntax error: basic strings cannot have new lines — correct the TOML at this spot (see https://toml.io)`}},
		{"duplicate-key.toml", []string{
			`Deployfile:3:1: TOML syntax error: key name is already defined — correct the TOML at this spot (see https://toml.io)`}},
		{"unknown-top-key.toml", []string{
			`Deployfile:1:2: unknown key "aap" at the top level — did you mean "app"? (allowed keys are app, ssh, hosts, vars, tasks)`}},
		{"unknown-task-key.toml", []string{
			`Deployfile:2:1: unknown key "decription" in task test — did you mean "description"? (allowed keys are description, steps, before, after, on_success, on_failure)`}},
		{"unknown-step-key.toml", []string{
			`Deployfile:6:21: unknown key "onn" in a step — did you mean "on"? (allowed keys are ` + stepKeysRun + `)`}},
		{"unknown-step-key-array-table.toml", []string{
			`Deployfile:9:1: unknown key "timout" in a step — did you mean "timeout"? (allowed keys are ` + stepKeysRun + `)`}},
		{"step-two-kinds.toml", []string{
			`Deployfile:2:28: step has both run and local — a step is exactly one of local, run, builtin, task, upload; split it into two steps`}},
		{"step-no-kind.toml", []string{
			`Deployfile:3:3: step has no kind — give it exactly one of local, run, builtin, task, upload`}},
		{"unknown-group-on.toml", []string{
			`Deployfile:6:35: unknown group "wbe" — did you mean "web"? (groups: web, static)`}},
		{"unknown-task-call.toml", []string{
			`Deployfile:5:19: unknown task "tset" — did you mean "test"? (tasks: test, deploy)`}},
		{"task-cycle.toml", []string{
			`Deployfile:5:28: task call cycle: deploy → release → deploy — remove one of these task calls`}},
		{"group-cycle.toml", []string{
			`Deployfile:3:9: group include cycle: web → prod → web — remove one of these includes`}},
		{"unknown-include.toml", []string{
			`Deployfile:3:17: unknown group "@statik" in group prod — groups are web, prod`}},
		{"bad-host-specs.toml", []string{
			`Deployfile:3:3: bad host "-oProxyCommand=touch/tmp/pwned": host name "-oProxyCommand=touch/tmp/pwned" starts with '-'` + hostFix,
			`Deployfile:4:3: bad host "web1.example.com:99999": port "99999" is not a number from 1 to 65535` + hostFix,
			`Deployfile:5:3: bad host "deploy@web 2": host name "web 2" has ' ': a host name has letters, digits, '-', '_' and '.'` + hostFix,
			`Deployfile:6:3: bad host "deploy@": empty host name` + hostFix}},
		{"reserved-group.toml", []string{
			"Deployfile:2:1: group name \"exec\" is reserved — rename it: `deploy exec` is a command",
			`Deployfile:3:1: group name "local" is reserved — rename it: "local" is the built-in host for this machine`}},
		{"group-and-host-same-name.toml", []string{
			"Deployfile:3:1: \"app\" is both a group and a host (line 2) — rename one of them so `deploy app` means one thing"}},
		{"unknown-var.toml", []string{
			`Deployfile:5:56: unknown variable {{setings}} — did you mean {{settings}}? Or define it under [vars] (setings = "…") or pass --var setings=VALUE`}},
		{"reserved-var.toml", []string{
			`Deployfile:2:1: variable "host" is reserved — choose another name; {{host}} is set by deploy for every host`}},
		{"bad-duration.toml", []string{
			`Deployfile:2:39: tasks.deploy.steps[1].timeout: "10 seconds" is not a duration — write a positive duration with a unit, such as "30s", "5m" or "1h30m"`}},
		{"wrong-type.toml", []string{
			`Deployfile:3:17: app.keep_releases must be a whole number of at least 2, not a string — write a whole number of at least 2, without quotes`}},
		{"local-with-on.toml", []string{
			`Deployfile:5:33: on does not apply to a local step — local steps run on this machine; use run to run on hosts`}},
		{"unknown-builtin.toml", []string{
			`Deployfile:2:22: unknown built-in step "migrat" — did you mean "migrate"? (built-in steps are test, commit, push, collectstatic, sync-static, pull, migrate, reload, healthcheck)`}},
		{"upload-without-to.toml", []string{
			`Deployfile:2:10: upload step has no destination — add to = "{{path}}/shared/…", the destination on the hosts`}},
		{"unknown-default-task.toml", []string{
			`Deployfile:2:16: default task "ship" is not defined — define [tasks.ship], or use one of deploy`}},
		{"relative-path.toml", []string{
			`Deployfile:3:8: app path "srv/superbook" is relative — write an absolute path such as "/srv/superbook" (or one under "~/")`}},
		{"control-host.toml", []string{
			`Deployfile:2:28: bad host "web2\x00.example.com": host name "web2\x00.example.com" has '\x00': a host name has letters, digits, '-', '_' and '.'` + hostFix,
			`Deployfile:2:33: hosts.web[2] holds the control character NUL (U+0000) — ` + noControls}},
		{"control-group-name.toml", []string{
			`Deployfile:2:1: key "web\x1b[2J" holds the control character ESC (U+001B) — rename the key: a Deployfile may hold no control characters`,
			`Deployfile:2:1: group name "web\x1b[2J" is not valid — use letters, digits, '.', '_' and '-', starting with a letter or digit`}},
		{"control-var-value.toml", []string{
			`Deployfile:2:31: vars.settings holds the control character NUL (U+0000) — ` + noControls}},
		{"control-step-command.toml", []string{
			`Deployfile:7:21: tasks.deploy.steps[2].run holds the control character NUL (U+0000) — ` + noControls}},
		{"control-path.toml", []string{
			`Deployfile:3:23: app.path holds the control character U+0085 — ` + noControls}},
		{"control-env-value.toml", []string{
			`Deployfile:2:43: tasks.t.steps[1].env.COLOUR holds the control character ESC (U+001B) — ` + noControls}},
		{"control-with-nested.toml", []string{
			`Deployfile:5:111: tasks.t.steps[1].with.always.list[2] holds the control character DEL (U+007F) — ` + noControls}},
		{"control-key.toml", []string{
			`Deployfile:2:26: key "name\a" holds the control character U+0007 — rename the key: a Deployfile may hold no control characters`,
			`Deployfile:2:26: unknown key "name\a" in a step — did you mean "name"? (allowed keys are ` + stepKeysRun + `)`}},
		{"control-newline-outside-command.toml", []string{
			`Deployfile:3:30: tasks.t.steps[1].dir holds the control character newline (U+000A) — ` + oneLine,
			`Deployfile:4:16: tasks.t.steps[2].run holds the control character carriage return (U+000D) — save the file with LF line ends, or remove the \r`,
			`Deployfile:5:28: tasks.t.steps[3].name holds the control character tab (U+0009) — ` + oneLine}},
		{"unknown-with-key.toml", []string{
			`Deployfile:4:69: unknown key "pid_fiel" in the with table of builtin reload — did you mean "pid_file"? (allowed keys are method, path, pid_file, unit, command, always, wsgi, bind, workers, python)`}},
		{"test-task-missing.toml", []string{
			`Deployfile:4:22: the test step runs the task "test", which is not defined — add a [tasks.test] that runs your tests (steps = [{ local = "python3 manage.py test" }]), or name yours: with = { task = "NAME" }`,
			`Deployfile:4:68: the test step runs task "unit", which is not defined — did you mean "units"? (tasks: deploy, units)`}},
		{"bad-with-values.toml", []string{
			`Deployfile:4:85: healthcheck: with.status 600 is not an HTTP status — write codes or classes, e.g. [200, 302] or "2xx"`,
			`Deployfile:4:117: healthcheck: with.header "X Rev" is not a header to match — write "Name: value" (e.g. "Content-Type: text/html"; "X-Revision:" for any value)`,
			`Deployfile:4:136: healthcheck: with.timeout "5" is not a duration — write it as "30s" or "2m"`}},
		{"nan-in-with.toml", []string{
			`Deployfile:4:98: tasks.t.steps[1].with.fail_after is NaN, not a number deploy can use — write a finite number`,
			`Deployfile:4:113: tasks.t.steps[1].with.timeout is -Inf, not a number deploy can use — write a finite number`}},
		{"build-output-outside.toml", []string{
			`Deployfile:4:44: build output "." must be relative and stay inside the release — write a path inside the release, such as ".venv"`,
			`Deployfile:5:44: build output "/venv" must be relative and stay inside the release — write a path inside the release, such as ".venv"`,
			`Deployfile:6:44: build output "static/../../x" must be relative and stay inside the release — write a path inside the release, such as ".venv"`}},
		{"many-errors.toml", []string{
			`Deployfile:3:17: app.keep_releases must be a whole number of at least 2, not 1 — write a whole number of at least 2, without quotes`,
			`Deployfile:4:12: unknown strategy "rolling" — write strategy = "releases" (a directory per release, switched by a symlink) or "inplace" (git reset in {{path}})`,
			`Deployfile:12:28: unknown group "wbe" — did you mean "web"? (groups: web)`,
			`Deployfile:13:17: unknown variable {{nope}} — define it under [vars] (nope = "…") or pass --var nope=VALUE`,
			`Deployfile:13:37: tasks.deploy.steps[2].serial must be a whole number of at least 1, not 0 — write a whole number of at least 1, without quotes`,
			`Deployfile:14:21: sudo does not apply to a local step — local steps run on this machine; use run to run on hosts`}},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			// main reserves all its commands' names; "exec" stands for them.
			df, err := parseFile(t, filepath.Join("..", "..", "testdata", "deployfiles", "bad", tt.file), LoadOptions{Reserved: []string{"exec"}})
			if err == nil {
				t.Fatalf("loaded without error: %+v", df)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "deployfiles", "bad", "*.toml"))
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no expected message in this table", f)
		}
	}
}

func TestGoodDeployfiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "deployfiles", "good", "*.toml"))
	files = append(files, filepath.Join("..", "..", "deployfile.example.toml"))
	if len(files) < 4 {
		t.Fatalf("found only %d good files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f, LoadOptions{}); err != nil {
				t.Fatalf("%v", err)
			}
		})
	}
}

func TestExampleContents(t *testing.T) {
	df, err := Load(filepath.Join("..", "..", "deployfile.example.toml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := df.TaskOrder; !slices.Equal(got, []string{"test", "deploy", "maintenance", "bootstrap", "logs", "release", "notify"}) {
		t.Errorf("tasks in file order = %v", got)
	}
	if got := df.GroupOrder; !slices.Equal(got, []string{"web", "static", "staging", "prod"}) {
		t.Errorf("groups in file order = %v", got)
	}
	if !df.Groups["prod"].Confirm || df.Groups["web"].Confirm {
		t.Error("prod must ask for confirmation, web must not")
	}
	steps := df.Tasks["maintenance"].Steps
	if len(steps) != 2 || steps[0].Name != "clear expired sessions" || !steps[0].Once || steps[1].Serial != 1 {
		t.Errorf("maintenance steps from [[array tables]]: %+v", steps)
	}
	if v := df.Vars["db_password"]; v == nil || !v.Secret || v.Env != "SUPERBOOK_DB_PASSWORD" {
		t.Errorf("db_password = %+v", v)
	}
	if df.App.KeepReleases != 5 || df.App.Strategy != StrategyReleases || df.SSH.User != "deploy" {
		t.Errorf("app/ssh = %+v %+v", df.App, df.SSH)
	}
}

func TestDefaults(t *testing.T) {
	df, err := Parse("Deployfile", []byte("[hosts]\nweb = [\"w1\"]\n"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := App{Branch: "main", Remote: "origin", KeepReleases: 5, DefaultTask: "deploy", Strategy: StrategyReleases, Python: "python3"}
	if !appEqual(df.App, want) {
		t.Errorf("defaults = %+v, want %+v", df.App, want)
	}
}

func appEqual(a, b App) bool {
	return slices.Equal(a.Shared, b.Shared) && a.Name == b.Name && a.Repo == b.Repo && a.Remote == b.Remote &&
		a.Branch == b.Branch && a.Path == b.Path && a.KeepReleases == b.KeepReleases &&
		a.DefaultTask == b.DefaultTask && a.Strategy == b.Strategy && a.Python == b.Python
}

func TestUnknownKeysEverywhere(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // position and key of the single error
	}{
		{"top level", "colour = true\n", `1:1: unknown key "colour"`},
		{"app", "[app]\nnmae = \"x\"\n", `2:1: unknown key "nmae" in [app]`},
		{"ssh", "[ssh]\nusr = \"x\"\n", `2:1: unknown key "usr" in [ssh]`},
		{"group table", "[hosts.web]\nhosts = [\"a\"]\nconfirmed = true\n", `3:1: unknown key "confirmed" in group web`},
		{"host table", "[hosts]\nweb = [{ host = \"a\", port = 22 }]\n", `2:22: unknown key "port" in a host`},
		{"var table", "[vars]\nx = { value = \"1\", secrte = true }\n", `2:20: unknown key "secrte" in variable x`},
		{"task", "[tasks.t]\nsteps = [{ run = \"x\" }]\nhelp = \"x\"\n", `3:1: unknown key "help" in task t`},
		{"step inline", "[tasks.t]\nsteps = [{ run = \"x\", retry = 3 }]\n", `2:23: unknown key "retry" in a step`},
		{"step array table", "[[tasks.t.steps]]\nrun = \"x\"\nretry = 3\n", `3:1: unknown key "retry" in a step`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Deployfile", []byte(tt.src), LoadOptions{})
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			if got := list[0].Error(); !strings.HasPrefix(got, "Deployfile:"+tt.want) {
				t.Errorf("got %q, want prefix %q", got, "Deployfile:"+tt.want)
			}
		})
	}
}

func TestVarOverrides(t *testing.T) {
	src := "[vars]\nsettings = \"prod\"\n[tasks.t]\nsteps = [{ run = \"echo {{settings}} {{extra}}\" }]\n"
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string
	}{
		{"missing extra", nil, `Deployfile:4:37: unknown variable {{extra}}`},
		{"extra given", map[string]string{"extra": "1"}, ""},
		{"override defined", map[string]string{"extra": "1", "settings": "staging"}, ""},
		{"typo", map[string]string{"extra": "1", "setings": "x"}, `--var setings: unknown variable — did you mean --var settings=…?`},
		{"builtin", map[string]string{"extra": "1", "host": "x"}, `--var host: {{host}} is set by deploy`},
		{"bad name", map[string]string{"extra": "1", "a-b": "x"}, `--var a-b: not a valid variable name`},
		{"NUL in value", map[string]string{"extra": "a\x00b"}, `--var extra: the value holds the control character NUL (U+0000) — remove it`},
		{"ESC in value", map[string]string{"extra": "\x1b[2J"}, `--var extra: the value holds the control character ESC (U+001B)`},
		{"newline in value", map[string]string{"extra": "a\nb"}, `--var extra: the value holds the control character newline (U+000A)`},
		{"C1 in value", map[string]string{"extra": "a\u009bb"}, `--var extra: the value holds the control character U+009B`},
		{"too long", map[string]string{"extra": strings.Repeat("x", MaxValueBytes+1)}, `--var extra: the value is longer than 1 MiB`},
		{"unicode is fine", map[string]string{"extra": "héllo ✓ $(x) ; `x` '\""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := Parse("Deployfile", []byte(src), LoadOptions{Vars: tt.vars})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := cmpOr(tt.vars["settings"], "prod"); df.VarsFor(&Host{Name: "x"})["settings"].Value != want {
					t.Errorf("settings = %q, want %q", df.VarsFor(&Host{Name: "x"})["settings"].Value, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestVarsForPrecedence(t *testing.T) {
	src := `
[hosts]
web = [{ name = "w1", host = "10.0.0.1", vars = { port = "host" } }, "w2.example.com"]
prod = { hosts = ["@web"], vars = { port = "group", settings = "group" } }
[vars]
port = "global"
settings = "global"
token = { value = "t", secret = true }
`
	df, err := Parse("Deployfile", []byte(src), LoadOptions{Vars: map[string]string{"token": "override"}})
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := df.Host("w1")
	w2, _ := df.Host("w2.example.com")
	for _, tt := range []struct {
		host      *Host
		name, val string
	}{
		{w1, "port", "host"}, {w2, "port", "group"}, {w1, "settings", "group"}, {w2, "token", "override"},
	} {
		if got := df.VarsFor(tt.host)[tt.name].Value; got != tt.val {
			t.Errorf("%s: {{%s}} = %q, want %q", tt.host.Name, tt.name, got, tt.val)
		}
	}
	if !df.VarsFor(w2)["token"].Secret {
		t.Error("an override of a secret variable must stay secret")
	}
	// No host (a step on this machine): [vars] and --var only.
	here := df.VarsFor(nil)
	if here["port"].Value != "global" || here["token"].Value != "override" || !here["token"].Secret {
		t.Errorf("without a host: port %q, token %+v", here["port"].Value, here["token"])
	}
}

func TestResolve(t *testing.T) {
	df, err := Load(filepath.Join("..", "..", "testdata", "deployfiles", "good", "exec-only.toml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(hs []*Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return out
	}
	tests := []struct {
		target  string
		want    []string
		wantErr string
	}{
		{"db", []string{"db1.example.com"}, ""},
		{"all", []string{"web1.example.com", "deploy@web2.example.com:2222", "[2001:db8::10]:22", "2001:db8::11", "db1.example.com", "local"}, ""},
		{"db,web1.example.com,db", []string{"db1.example.com", "web1.example.com"}, ""},
		{"local", []string{"local"}, ""},
		{"dbb", nil, `"dbb" is neither a group nor a host`},
		{"db,,web", nil, "empty name"},
		// Not in the file, written as a host: an ad-hoc host.
		{"deploy@web9:2222", []string{"deploy@web9:2222"}, ""},
		{"db,[::1]:22,10.0.0.7", []string{"db1.example.com", "[::1]:22", "10.0.0.7"}, ""},
		{"web9.example.com,db", []string{"web9.example.com", "db1.example.com"}, ""},
		{"x@-web9.example.com", nil, `bad host "x@-web9.example.com"`},
		{"web9:99999", nil, "not a number from 1 to 65535"},
		{"web9", nil, `"web9" is neither a group nor a host`},
	}
	for _, tt := range tests {
		hosts, err := df.Resolve(tt.target)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q) error = %v, want %q", tt.target, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(names(hosts), tt.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tt.target, names(hosts), err, tt.want)
		}
	}
	if hs, err := df.ResolveHosts("web9,db"); err != nil || names(hs)[0] != "web9" || hs[0].Host != "web9" || names(hs)[1] != "db1.example.com" {
		t.Errorf("ResolveHosts(web9,db) = %v, %v; want web9 (ad hoc), db1.example.com", names(hs), err)
	}
	if hs, err := df.Resolve("u@[::1]:2200"); err != nil || hs[0].HostSpec != (HostSpec{User: "u", Host: "::1", Port: 2200}) {
		t.Errorf("Resolve(u@[::1]:2200) = %+v, %v", hs, err)
	}
	if h, _ := df.Host("[2001:db8::10]:22"); h.Host != "2001:db8::10" || h.Port != 22 {
		t.Errorf("IPv6 host = %+v", h.HostSpec)
	}
	if h, _ := df.Host("local"); !h.Local() {
		t.Error("local must be the local host")
	}
}

func TestVarsUseVars(t *testing.T) {
	src := "[vars]\nroot = \"/srv\"\nmine = \"{{root}}/{{host}}\"\n[hosts]\nweb = [\"w1\"]\n"
	df, err := Parse("Deployfile", []byte(src), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := df.Host("w1")
	sc, err := df.Scope(h)
	if err != nil || sc.Get("mine") != "/srv/w1" {
		t.Errorf("mine = %q, %v", sc.Get("mine"), err)
	}
	_, err = Parse("Deployfile", []byte("[vars]\na = \"x{{b}}\"\nb = \"{{a}}y\"\n"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "Deployfile:3:1: variables use each other in a loop: {{a}} → {{b}} → {{a}}") {
		t.Errorf("loop: %v", err)
	}
	_, err = Parse("Deployfile", []byte("[vars]\na = \"{{path}}/x\"\n"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "{{path}} is not known here") {
		t.Errorf("{{path}} in a variable: %v", err)
	}
}

func TestTemplatePositionInMultilineString(t *testing.T) {
	src := "[tasks.t]\nsteps = [{ run = \"\"\"\ncd /srv\necho {{nope}}\n\"\"\" }]\n"
	_, err := Parse("Deployfile", []byte(src), LoadOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "Deployfile:4:6: unknown variable {{nope}}") {
		t.Errorf("got %v", err)
	}
}

func TestOtherTemplatesPassThrough(t *testing.T) {
	src := "[tasks.t]\nsteps = [{ local = \"docker ps --format '{{.Names}} {{json .}}'\" }]\n"
	if _, err := Parse("Deployfile", []byte(src), LoadOptions{}); err != nil {
		t.Error(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "Deployfile"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "deploy init") {
		t.Errorf("got %v, want a pointer to deploy init", err)
	}
}

func TestRelativePaths(t *testing.T) {
	df := &Deployfile{File: filepath.Join("proj", "deploy", "Deployfile")}
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"ssh_config", filepath.Join("proj", "deploy", "ssh_config")},
		{"../dist", filepath.Join("proj", "dist")},
		{"/etc/ssh/ssh_config", "/etc/ssh/ssh_config"},
		{"~/.ssh/config", "~/.ssh/config"},
	} {
		if got := df.Relative(tt.in); got != tt.want {
			t.Errorf("Relative(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
