//go:build unix

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// completionProject is a directory with a Deployfile whose hosts are at
// addr, a release cache for rollback --to under its own cache directory,
// and the environment a shell completes in: the built binary first on
// PATH, that cache directory.
func completionProject(t *testing.T, addr string) (dir string, env []string) {
	t.Helper()
	bin := deployBinary(t)
	dir = t.TempDir()
	df := `[hosts]
web = ["` + addr + `", "web2.example.com:2222"]
prod = ["@web"]
static = ["static1"]
[vars]
port = "8000"
[tasks.deploy]
description = "Ship it"
steps = [{ run = "true" }]
[tasks.migrate]
steps = [{ run = "true" }]
`
	file := filepath.Join(dir, "Deployfile")
	mustDo(t, os.WriteFile(file, []byte(df), 0o644))
	cache := t.TempDir()
	parsed, err := config.Load(file, config.LoadOptions{})
	mustDo(t, err)
	hosts, _ := parsed.Resolve("web")
	rels := map[string][]tasks.Release{}
	for _, h := range hosts {
		rels[h.Name] = []tasks.Release{{Name: "20261130T101010Z-aaaaaaa", SHA: "aaaaaaaa11"},
			{Name: "20261201T101010Z-bbbbbbb", SHA: "bbbbbbbb22", Current: true}, {Name: "bad\nname"}}
	}
	mustDo(t, rememberReleases(cache, parsed, "web", hosts, rels))
	env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "XDG_CACHE_HOME="+cache, "HOME="+dir)
	return dir, env
}

// shell runs a shell program in dir with env.
func shell(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// The cases every shell is tested with: the line typed (the last word
// being completed), and the candidates.
var completionCases = []struct {
	line string
	want []string
}{
	{"deploy ro", []string{"rollback"}},
	{"deploy prod ", []string{"deploy", "migrate"}}, // deploy TARGET TASK
	{"deploy exec -H web", []string{"web2.example.com:2222"}},
	{"deploy get -H static1 /srv/x --f", []string{"--force", "--file"}},
	{"deploy run ", []string{"web", "prod", "static", "127.0.0.1:1", "web2.example.com:2222", "static1"}},
	{"deploy run pr", []string{"prod"}},
	{"deploy run prod ", []string{"deploy", "migrate"}},
	{"deploy run deploy st", []string{"static", "static1"}}, // the old order: a target after a task
	{"deploy plan web m", []string{"migrate"}},
	{"deploy exec web,st", []string{"web,static", "web,static1"}},
	{"deploy exec --par", []string{"--parallel"}},
	{"deploy hosts ", []string{"web", "prod", "static"}},
	{"deploy rollback web --to ", []string{"20261201T101010Z-bbbbbbb", "20261130T101010Z-aaaaaaa"}},
	{"deploy --var p", []string{"port="}},
	{"deploy completion f", []string{"fish"}},
}

// words splits a typed line into the words a shell passes, the last one
// "" after a space.
func words(line string) []string { return strings.Split(line, " ") }

// bash: the sourced script's function, called as bash calls it, fills
// COMPREPLY.
func TestCompletionBash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, env := completionProject(t, "127.0.0.1:1")
	script := filepath.Join(dir, "deploy.bash")
	mustDo(t, os.WriteFile(script, []byte(shell(t, dir, env, deployBinary(t), "completion", "bash")), 0o644))
	for _, tt := range completionCases {
		w := words(tt.line)
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_deploy_complete 2>/dev/null; printf '%s\n' "${COMPREPLY[@]}"`
		out := shell(t, dir, env, "bash", append([]string{"--norc", "-c", prog, "bash", script}, w...)...)
		if got := strings.Fields(out); !slices.Equal(got, tt.want) {
			t.Errorf("bash %q: %q, want %q", tt.line, got, tt.want)
		}
	}
	// complete -p shows the function registered for deploy.
	if out := shell(t, dir, env, "bash", "--norc", "-c", `source "$1"; complete -p deploy`, "bash", script); !strings.Contains(out, "-F _deploy_complete deploy") {
		t.Errorf("not registered: %q", out)
	}
}

// fish: `complete -C` asks fish's own machinery, with the script sourced
// and the binary first on PATH.
func TestCompletionFish(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	dir, env := completionProject(t, "127.0.0.1:1")
	script := filepath.Join(dir, "deploy.fish")
	mustDo(t, os.WriteFile(script, []byte(shell(t, dir, env, deployBinary(t), "completion", "fish")), 0o644))
	for _, tt := range completionCases {
		out := shell(t, dir, env, "fish", "--no-config", "-c", `source $argv[1]; complete -C"$argv[2]"`, script, tt.line)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if v, _, _ := strings.Cut(l, "\t"); v != "" {
				got = append(got, v)
			}
		}
		// fish sorts what it shows.
		want := slices.Sorted(slices.Values(tt.want))
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("fish %q: %q, want %q", tt.line, got, want)
		}
	}
	// Descriptions come along: a task's, a group's size.
	out := shell(t, dir, env, "fish", "--no-config", "-c", `source $argv[1]; complete -C"deploy run prod d"`, script)
	if !strings.Contains(out, "deploy\tShip it") {
		t.Errorf("no description: %q", out)
	}
	// A LOCAL_DIR of get is a file name: fish completes it.
	mustDo(t, os.Mkdir(filepath.Join(dir, "downloads"), 0o755))
	out = shell(t, dir, env, "fish", "--no-config", "-c", `source $argv[1]; complete -C"deploy get web /x dow"`, script)
	if !strings.Contains(out, "downloads/") {
		t.Errorf("get LOCAL_DIR: %q", out)
	}
}

// zsh: the script loads under compinit and registers _deploy; the
// function, given words and CURRENT as the completion system sets them,
// hands _describe the candidates.
func TestCompletionZsh(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed")
	}
	dir, env := completionProject(t, "127.0.0.1:1")
	script := filepath.Join(dir, "_deploy.zsh")
	mustDo(t, os.WriteFile(script, []byte(shell(t, dir, env, deployBinary(t), "completion", "zsh")), 0o644))
	if out := shell(t, dir, env, "zsh", "-f", "-c", `source $1; print -r -- $_comps[deploy]`, "zsh", script); strings.TrimSpace(out) != "_deploy" {
		t.Fatalf("compdef: %q", out)
	}
	for _, tt := range completionCases {
		prog := `source $1; shift
_describe() { print -rl -- "${(@P)${@[-1]}}" }
words=("$@"); CURRENT=$#
_deploy`
		out := shell(t, dir, env, "zsh", append([]string{"-f", "-c", prog, "zsh", script}, words(tt.line)...)...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			// value:description, a ':' in the value written "\:"
			v := strings.ReplaceAll(l, `\:`, "\x00")
			v, _, _ = strings.Cut(v, ":")
			if v != "" {
				got = append(got, strings.ReplaceAll(v, "\x00", ":"))
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("zsh %q: %q, want %q", tt.line, got, tt.want)
		}
	}
}

// Completion never connects: with every host of the Deployfile at a
// listening socket, no completion — of any command, through the scripts'
// call or urfave/cli's flag — opens a connection; `deploy check` on the
// same file does (the control).
func TestCompletionNeverConnects(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	dir, env := completionProject(t, ln.Addr().String())
	bin := deployBinary(t)
	lines := []string{"deploy ", "deploy web ", "deploy run web ", "deploy run web deploy ", "deploy plan web ",
		"deploy exec web ", "deploy exec web -- ", "deploy get web ", "deploy get web /etc ", "deploy get web /etc x",
		"deploy rollback web --to ", "deploy releases web ", "deploy status web ", "deploy check web ",
		"deploy history web ", "deploy unlock web ", "deploy hosts web "}
	for _, tt := range completionCases {
		lines = append(lines, tt.line)
	}
	for _, line := range lines {
		w := words(line)
		for _, args := range [][]string{
			append([]string{"completion", "--complete", "--"}, w[1:]...),
			append(w[1:len(w)-1], "--generate-bash-completion"),
		} {
			cmd := exec.Command(bin, args...)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("deploy %q: %v\n%s", args, err, out)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("completion opened %d connection(s)", n)
	}
	cmd := exec.Command(bin, "check", "web")
	cmd.Dir, cmd.Env = dir, env
	cmd.Run() // fails: the socket speaks no SSH
	if accepted.Load() == 0 {
		t.Error("control: deploy check web did not connect, so the test could not see a connection")
	}
}

// zshDriver types a line and a Tab into an interactive zsh on a
// pseudo-terminal (zsh/zpty), with compinit and the script loaded, and
// prints what the terminal showed.
const zshDriver = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; autoload -U compinit; compinit -u -D; source ${(q)1}; setopt nobeep; LISTMAX=1000; print READY"
local all="" chunk
zpty -r z chunk '*READY*'
zpty -w -n z "$2"$'\t'
for i in {1..15}; do
  sleep 0.1
  while zpty -r -t z chunk; do all+=$chunk; done
  [[ $all == *"$3"* ]] && break  # what the test waits for is on the screen
done
print -r -- "$all"
zpty -d z
`

// zsh for real: Tab in an interactive zsh completes the word on the line,
// or lists the candidates with their descriptions.
func TestCompletionZshInteractive(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed")
	}
	dir, env := completionProject(t, "127.0.0.1:1")
	script := filepath.Join(dir, "_deploy.zsh")
	mustDo(t, os.WriteFile(script, []byte(shell(t, dir, env, deployBinary(t), "completion", "zsh")), 0o644))
	driver := filepath.Join(dir, "driver.zsh")
	mustDo(t, os.WriteFile(driver, []byte(zshDriver), 0o644))
	ansi := regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")
	for line, want := range map[string]string{
		"deploy run pr":          "deploy run prod ",
		"deploy plan web m":      "deploy plan web migrate ",
		"deploy rollback web --": "--to",
		"deploy run ":            "group of 2 hosts",
	} {
		t.Run(line, func(t *testing.T) {
			t.Parallel() // each waits for the terminal
			out := ansi.ReplaceAllString(shell(t, dir, env, "zsh", "-f", driver, script, line, want), "")
			if !strings.Contains(out, want) {
				t.Errorf("zsh %q: the terminal lacks %q:\n%q", line, want, out)
			}
		})
	}
}
