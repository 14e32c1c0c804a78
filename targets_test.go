package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// orderFile writes a Deployfile whose tasks run on this machine and log
// their name, and returns the flags that read it and the log.
func orderFile(t *testing.T) (flags []string, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	df := `[hosts]
here = ["local"]
prod = ["local"]
[vars]
log = "` + log + `"
[tasks.deploy]
steps = [{ run = "echo deploy >> {{log}}" }]
[tasks.migrate]
steps = [{ run = "echo migrate >> {{log}}" }]
[tasks.prod]
steps = [{ run = "echo prod >> {{log}}" }]
`
	file := filepath.Join(dir, "Deployfile")
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--no-color", "-f", file}, log
}

const deprecated = `deploy: "run TASK TARGET" is deprecated: write deploy run TARGET TASK`

// TARGET then TASK everywhere; the old `run TASK TARGET` only when it
// cannot be mistaken, with a note; which task ran is read from the log.
func TestArgumentOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		code    int
		ran     string // the log afterwards
		wantErr string
		noErr   string
	}{
		{"run TARGET TASK", []string{"run", "here", "migrate"}, 0, "migrate", "", deprecated},
		{"run TARGET", []string{"run", "here"}, 0, "deploy", "", deprecated},
		{"TARGET TASK", []string{"here", "migrate"}, 0, "migrate", "", deprecated},
		{"TARGET", []string{"here"}, 0, "deploy", "", deprecated},
		{"run TASK TARGET, deprecated", []string{"run", "migrate", "here"}, 0, "migrate",
			deprecated + " (deploy run here migrate)", ""},
		{"a group and a task of one name", []string{"run", "prod", "migrate"}, 0, "migrate", "", deprecated},
		{"the group first, its task second", []string{"run", "prod", "prod"}, 0, "prod", "", deprecated},
		{"old order, ambiguous: refused", []string{"run", "migrate", "prod"}, 2, "",
			`"migrate" is a task, not a target, and "prod" is both: write TARGET first: deploy run prod migrate`, deprecated},
		{"plan TARGET TASK", []string{"plan", "here", "migrate"}, 0, "", "", deprecated},
		{"plan in the old order is not guessed", []string{"plan", "migrate", "here"}, 2, "", `no task "here"`, deprecated},
		{"unknown task", []string{"run", "here", "nosuch"}, 2, "", `no task "nosuch"`, ""},
		{"unknown target", []string{"run", "nosuch", "migrate"}, 2, "", `"nosuch" is neither a group nor a host`, ""},
		{"three words", []string{"run", "here", "migrate", "x"}, 2, "", "deploy run TARGET [TASK]", ""},
		{"deploy TARGET TASK extra", []string{"here", "migrate", "x"}, 2, "", `unexpected argument "x"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags, log := orderFile(t)
			code, out, errOut := runCLI(t, append(flags, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			data, _ := os.ReadFile(log)
			if got := strings.TrimSpace(string(data)); got != tt.ran {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if tt.noErr != "" && strings.Contains(errOut, tt.noErr) {
				t.Errorf("stderr has %q:\n%s", tt.noErr, errOut)
			}
		})
	}
}

// A word that is neither a command nor a target gets the nearest of each.
func TestNotACommandSuggests(t *testing.T) {
	t.Parallel()
	flags, log := orderFile(t)
	tests := []struct {
		word string
		want []string
		not  []string
	}{
		{"migrate here", []string{`"migrate" is a task, and the target goes first: deploy here migrate`}, nil},
		{"run here migrat", []string{`no task "migrat"`, `did you mean "migrate"?`}, nil},
		{"prdo", []string{`"prdo" is neither a deploy command nor a group or host of`, `the target "prod" (deploy prod)`}, []string{"the command"}},
		{"plann", []string{`the command "plan"`}, []string{"the target"}},
		{"hre", []string{`the target "here"`}, []string{"the command"}},
		{"chek", []string{`the command "check"`}, nil},
		{"zzzzzzzz", []string{"(commands: tasks, hosts, run, plan"}, []string{"Did you mean"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append(flags, strings.Fields(tt.word)...)...)
		if code != 2 || out != "" {
			t.Errorf("deploy %s: exit %d, stdout %q; want 2 and nothing", tt.word, code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("deploy %s: stderr lacks %q:\n%s", tt.word, w, errOut)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(errOut, w) {
				t.Errorf("deploy %s: stderr has %q:\n%s", tt.word, w, errOut)
			}
		}
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("a mistyped word ran a task")
	}
	// Without a Deployfile: the command is still suggested.
	code, _, errOut := runCLI(t, "-f", filepath.Join(t.TempDir(), "Deployfile"), "plann")
	if code != 2 || !strings.Contains(errOut, `the command "plan"`) {
		t.Errorf("without a Deployfile: exit %d\n%s", code, errOut)
	}
}

// run and plan need a Deployfile and say how to get one.
func TestRunNeedsDeployfile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "Deployfile")
	for _, args := range [][]string{{"run", "web", "deploy"}, {"plan", "web"}} {
		code, out, errOut := runCLI(t, append([]string{"--no-color", "-f", missing}, args...)...)
		want := args[0] + " needs a Deployfile, and there is no " + missing + ": write one with `deploy init`, or name one with -f FILE"
		if code != 2 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("deploy %s: exit %d\nstderr: %s\nwant %q", strings.Join(args, " "), code, errOut, want)
		}
	}
}
