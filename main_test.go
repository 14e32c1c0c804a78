package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
)

// runCLI runs the whole CLI in-process and returns its exit status and
// output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"deploy"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

const example = "deployfile.example.toml"

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"example", []string{"-f", example, "check"}, 0, "ok deployfile.example.toml: 4 groups, 4 hosts, 7 tasks", ""},
		{"flag after command", []string{"check", "-f", example}, 0, "ok deployfile.example.toml", ""},
		{"json", []string{"check", "-f", example, "--json"}, 0, `"ok":true`, ""},
		{"missing file", []string{"-f", "testdata/nope.toml", "check"}, 2, "", "testdata/nope.toml: error: no such file — run `deploy init`"},
		{"bad file", []string{"-f", "testdata/deployfiles/bad/unknown-group-on.toml", "check"}, 2, "",
			"testdata/deployfiles/bad/unknown-group-on.toml:6:35: error: unknown group \"wbe\""},
		{"bad file json", []string{"-f", "testdata/deployfiles/bad/unknown-group-on.toml", "check", "--json"}, 2,
			`{"event":"error","file":"testdata/deployfiles/bad/unknown-group-on.toml","position":{"line":6,"column":35}`, ""},
		{"bad var", []string{"-f", example, "--var", "nosuch", "check"}, 2, "", `--var "nosuch": write --var NAME=VALUE`},
		{"unknown var", []string{"-f", example, "--var", "setings=x", "check"}, 2, "", "--var setings: error: unknown variable"},
		{"known var with comma", []string{"-f", example, "--var", "settings=a,b", "check"}, 0, "ok", ""},
		{"extra argument", []string{"-f", example, "check", "prod", "extra"}, 2, "", `unexpected argument "extra"`},
		{"unknown target", []string{"-f", example, "check", "prd"}, 2, "", `"prd" is neither a group nor a host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"--no-color"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
			if strings.Contains(out+errOut, "goroutine ") || strings.Contains(out+errOut, "panic") {
				t.Errorf("stack trace in output:\n%s%s", out, errOut)
			}
		})
	}
}

// Every file under testdata/deployfiles/bad exits 2 with FILE:LINE:COL.
func TestCheckBadFilesExit2(t *testing.T) {
	files, _ := filepath.Glob("testdata/deployfiles/bad/*.toml")
	for _, f := range files {
		code, _, errOut := runCLI(t, "--no-color", "check", "-f", f)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2", f, code)
		}
		if !strings.HasPrefix(errOut, f+":") || !strings.Contains(errOut, ": error: ") {
			t.Errorf("%s: stderr %q does not start with FILE:LINE:COL", f, errOut)
		}
	}
}

func TestTasks(t *testing.T) {
	code, out, errOut := runCLI(t, "--no-color", "-f", example, "tasks")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"deploy (default)  Test, push and release HEAD",
		"builtin migrate        on web, once, env DB_PASSWORD",
		"clear expired sessions (run)",
		"2.  task maintenance  ignore_errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tasks output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "test  Run the test suite") > strings.Index(out, "deploy (default)") {
		t.Error("tasks are not in file order")
	}

	code, out, _ = runCLI(t, "tasks", "--json", "-f", example)
	tasks := jsonLinesOf[config.TaskSummary](t, out)
	if code != 0 || len(tasks) != 7 || tasks[1].Steps[6].Arg != "migrate" || tasks[5].Hooks[config.HookOnFailure][0] != "notify" {
		t.Errorf("tasks --json: exit %d, %s", code, out)
	}
}

// jsonLinesOf reads output of one JSON object a line.
func jsonLinesOf[T any](t *testing.T, out string) []T {
	t.Helper()
	var vs []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("not one JSON object a line: %q: %v", line, err)
			return nil
		}
		vs = append(vs, v)
	}
	return vs
}

func TestHosts(t *testing.T) {
	code, out, errOut := runCLI(t, "--no-color", "-f", example, "hosts", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"GROUP  NAME  USER    HOST              PORT",
		"web    web1  deploy  web1.example.com  22",
		"web    web2  deploy  web2.example.com  2222",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("hosts web:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}

	code, out, _ = runCLI(t, "hosts", "prod", "--json", "-f", example)
	hosts := jsonLinesOf[config.HostSummary](t, out)
	if code != 0 || len(hosts) != 3 || hosts[2].User != "deploy" || hosts[2].Host != "static1.example.com" {
		t.Errorf("hosts prod --json: exit %d, %s", code, out)
	}
	// Every host once, one a line, with its groups.
	code, out, _ = runCLI(t, "hosts", "--json", "-f", example)
	if all := jsonLinesOf[config.HostSummary](t, out); code != 0 || len(all) != 4 || !slices.Contains(all[0].Groups, "prod") {
		t.Errorf("hosts --json: exit %d, %s", code, out)
	}

	code, out, _ = runCLI(t, "--no-color", "-f", example, "hosts")
	if code != 0 || !strings.Contains(out, "staging  stage1.example.com") || !strings.Contains(out, "prod     web1") {
		t.Errorf("hosts (all): exit %d\n%s", code, out)
	}

	code, _, errOut = runCLI(t, "--no-color", "-f", example, "hosts", "wbe")
	if code != 2 || !strings.Contains(errOut, `did you mean "web"?`) {
		t.Errorf("hosts wbe: exit %d, %s", code, errOut)
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "work")
	if err := os.MkdirAll(filepath.Join(proj, "mysite"), 0o755); err != nil {
		t.Fatal(err)
	}
	manage := "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
	if err := os.WriteFile(filepath.Join(proj, "manage.py"), []byte(manage), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(proj, "Deployfile")

	code, out, errOut := runCLI(t, "--no-color", "init", "-f", file)
	if code != 0 || !strings.Contains(out, "wrote "+file) {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	df, err := config.Load(file, config.LoadOptions{})
	if err != nil {
		t.Fatalf("the starter does not validate: %v", err)
	}
	if df.App.Name != "mysite" || df.Vars["settings"].Value != "mysite.settings" || df.App.Path != "~/apps/mysite" || df.SSH.User != "" {
		t.Errorf("starter did not pick up the project: %+v, settings %+v, ssh user %q", df.App, df.Vars["settings"], df.SSH.User)
	}
	steps := df.Tasks["deploy"].Steps
	reload := steps[len(steps)-2]
	if reload.Arg != "reload" || reload.With["method"] != "gunicorn" || reload.With["wsgi"] != "mysite.wsgi" {
		t.Errorf("reload: %s %v", reload.Arg, reload.With)
	}

	before, _ := os.ReadFile(file)
	code, _, errOut = runCLI(t, "--no-color", "init", "-f", file)
	after, _ := os.ReadFile(file)
	if code != 2 || !strings.Contains(errOut, "already exists") || !bytes.Equal(before, after) {
		t.Errorf("second init: exit %d, %s; file changed: %v", code, errOut, !bytes.Equal(before, after))
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--no-color", "chekc"}, `"chekc" is not a deploy command (and there is no Deployfile, so no targets). Did you mean the command "check"?`},
		{[]string{"--no-color", "--frobnicate", "check"}, "flag provided but not defined: -frobnicate"},
		{[]string{"--no-color", "help", "nosuch"}, `help: no command "nosuch"`},
		{[]string{"--no-color", "completion", "tcsh"}, "name a shell: bash, zsh or fish"},
		{[]string{"--no-color", "-f", example, "exec", "--timeout", "30", "web", "--", "true"}, "--timeout 30: a duration needs a unit — write 30s for seconds"},
		{[]string{"--no-color", "-f", example, "--lock-wait", "5x", "prod"}, "--lock-wait 5x: not a valid value — for a duration write such as 30s"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", tt.args, code, errOut, out, tt.wantErr)
		}
	}
}

func TestVersionHelpCompletion(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "deploy ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runCLI(t); code != 0 || !strings.Contains(out, "COMMANDS") {
		t.Errorf("no arguments: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "help", "hosts"); code != 0 || !strings.Contains(out, "deploy hosts [command options] [GROUP]") {
		t.Errorf("help hosts: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "completion", "bash"); code != 0 || !strings.Contains(out, "complete -o bashdefault") {
		t.Errorf("completion bash: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "completion", "fish"); code != 0 || !strings.Contains(out, "complete -c deploy") {
		t.Errorf("completion fish: %d %q", code, out)
	}
	// What the completion script asks for after `deploy hosts `.
	if code, out, _ := runCLI(t, "-f", example, "hosts", "--generate-bash-completion"); code != 0 || out != "web\nstatic\nstaging\nprod\n" {
		t.Errorf("complete groups: %d %q", code, out)
	}
}

// TestBinary builds the real binary, as a user would, and runs it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := deployBinary(t)
	out, err := exec.Command(bin, "--generate-bash-completion").Output()
	for _, cmd := range []string{"tasks", "hosts", "run", "plan", "exec", "check", "history", "unlock", "init"} {
		if err != nil || !slices.Contains(strings.Fields(string(out)), cmd) {
			t.Errorf("completion of commands lacks %s: %v %q", cmd, err, out)
		}
	}
	cmd := exec.Command(bin, "check", "-f", "testdata/deployfiles/bad/many-errors.toml")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || strings.Count(stderr.String(), "\n") != 6 {
		t.Errorf("check of a file with 6 problems: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "\x1b[") {
		t.Error("colour written to a pipe")
	}
}

// A group may not take the name of any of the CLI's commands, nor of
// their aliases: the loader is given them by the app itself.
func TestCommandNamesAreReserved(t *testing.T) {
	app := newApp(&Factory{IO: newIOStreams(strings.NewReader(""), io.Discard, io.Discard)})
	names := commandNames(app)
	if len(names) < 10 || !slices.Contains(names, "exec") || !slices.Contains(names, "h") {
		t.Fatalf("command names: %q", names)
	}
	for _, n := range names {
		file := filepath.Join(t.TempDir(), "Deployfile")
		if err := os.WriteFile(file, []byte("[hosts]\n"+n+" = [\"web1\"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, "--no-color", "-f", file, "check")
		want := file + ":2:1: error: group name \"" + n + "\" is reserved — rename it: `deploy " + n + "` is a command"
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("group %q: exit %d, %s\nwant %s", n, code, errOut, want)
		}
	}
}

func TestReorderArgs(t *testing.T) {
	app := newApp(&Factory{IO: newIOStreams(strings.NewReader(""), io.Discard, io.Discard)})
	tests := []struct{ in, want string }{
		{"deploy hosts web --json", "deploy --json hosts web"},
		{"deploy hosts -f x.toml web", "deploy -f x.toml hosts web"},
		{"deploy hosts --file=x.toml web -v", "deploy --file=x.toml -v hosts web"},
		{"deploy --var a=b check", "deploy --var a=b check"},
		{"deploy check --var a=b -y", "deploy --var a=b -y check"},
		{"deploy exec web -- ls --json", "deploy exec web -- ls --json"},
		{"deploy prod --json", "deploy --json prod"},
		{"deploy hosts --generate-bash-completion", "deploy hosts --generate-bash-completion"},
		{"deploy hosts web --nosuch", "deploy hosts --nosuch web"},
		{"deploy", "deploy"},
	}
	for _, tt := range tests {
		if got := strings.Join(reorderArgs(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Apps in one process share nothing: runs at once do not race (go test
// -race), which lets the end-to-end tests run in parallel.
func TestAppsShareNothing(t *testing.T) {
	var wg sync.WaitGroup
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"-f", example, "tasks"}, {"-f", example, "check"}, {"help", "exec"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errOut bytes.Buffer
			if code := run(context.Background(), append([]string{"deploy"}, args...), &out, &errOut); code != 0 {
				t.Errorf("deploy %v: exit %d\n%s", args, code, errOut.String())
			}
		}()
	}
	wg.Wait()
}
