//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// fleet starts n real sshd hosts named web1…webN and writes a Deployfile
// with them in group "web". It returns the Deployfile and the global
// flags that reach the hosts.
func fleet(t *testing.T, n int) (*sshtest.Env, []*sshtest.Server, []string) {
	t.Helper()
	env := sshtest.New(t)
	var servers []*sshtest.Server
	var names []string
	for i := 1; i <= n; i++ {
		name := "web" + strconv.Itoa(i)
		servers = append(servers, env.Start(t, name))
		names = append(names, strconv.Quote(name))
	}
	file := filepath.Join(t.TempDir(), "Deployfile")
	df := fmt.Sprintf("[hosts]\nweb = [%s]\n", strings.Join(names, ", "))
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return env, servers, []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}
}

// byPort is a script that exits 0, 1 and 255 on the first three hosts:
// the hosts share one machine, and SSH_CONNECTION tells them apart.
func byPort(servers []*sshtest.Server) string {
	return fmt.Sprintf(`set -- $SSH_CONNECTION
echo "out $4"
echo "err $4" >&2
case $4 in %d) exit 0;; %d) exit 1;; *) exit 255;; esac`, servers[0].Port, servers[1].Port)
}

func TestExecExitStatuses(t *testing.T) {
	t.Parallel()
	_, servers, flags := fleet(t, 3)
	code, out, errOut := runCLI(t, append(flags, "exec", "web", "--", byPort(servers))...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for i, s := range servers {
		name := "web" + strconv.Itoa(i+1)
		if want := fmt.Sprintf("%s | out %d\n", name, s.Port); !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
		if want := fmt.Sprintf("%s | err %d\n", name, s.Port); !strings.Contains(errOut, want) || strings.Contains(out, want) {
			t.Errorf("%q must be on stderr only:\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
		}
	}
	for _, want := range []string{"✓ 1 ok  ✗ 2 failed", "web2  exit status 1\n", "web3  exit status 255\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
}

func TestExecJSON(t *testing.T) {
	t.Parallel()
	_, servers, flags := fleet(t, 3)
	code, out, _ := runCLI(t, append(flags, "exec", "--json", "web", "--", byPort(servers))...)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	statuses := map[string]int{}
	var outputs, ends int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Event  string `json:"event"`
			Host   string `json:"host"`
			Stream string `json:"stream"`
			Line   string `json:"line"`
			Status *int   `json:"exit_status"`
			Failed *int   `json:"failed"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch ev.Event {
		case "output":
			outputs++
		case "host_end":
			statuses[ev.Host] = *ev.Status
		case "run_end":
			ends++
			if *ev.Failed != 2 {
				t.Errorf("run_end failed = %d, want 2", *ev.Failed)
			}
		}
	}
	if outputs != 6 || ends != 1 || statuses["web1"] != 0 || statuses["web2"] != 1 || statuses["web3"] != 255 {
		t.Errorf("outputs %d, run_end %d, statuses %v", outputs, ends, statuses)
	}
}

// Several arguments after -- reach the program exactly; one argument is a
// script.
func TestExecArguments(t *testing.T) {
	t.Parallel()
	_, _, flags := fleet(t, 1)
	code, out, errOut := runCLI(t, append(flags, "exec", "web1", "--", "printf", "[%s]", "a  b", "$(x)", "it's")...)
	if code != 0 || out != "web1 | [a  b][$(x)][it's]\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, append(flags, "exec", "web1", "--", "echo one | tr a-z A-Z; echo two")...)
	if code != 0 || out != "web1 | ONE\nweb1 | two\n" {
		t.Errorf("script: exit %d, stdout %q", code, out)
	}
}

// Lines written in pieces, by hosts writing at once, come out whole.
func TestExecLinesNeverBroken(t *testing.T) {
	t.Parallel()
	_, _, flags := fleet(t, 3)
	script := `for i in $(seq 1 200); do printf 'aaaaaaaaaa'; printf 'bbbbbbbbbb'; printf 'cccccccccc\n'; done; printf 'tail'`
	code, out, _ := runCLI(t, append(flags, "exec", "web", "--", script)...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3*201 {
		t.Fatalf("%d lines, want %d", len(lines), 3*201)
	}
	for _, l := range lines {
		_, rest, ok := strings.Cut(l, " | ")
		if !ok || (rest != "aaaaaaaaaabbbbbbbbbbcccccccccc" && rest != "tail") {
			t.Fatalf("broken line %q", l)
		}
	}
}

func TestExecUsage(t *testing.T) {
	t.Parallel()
	_, _, flags := fleet(t, 1)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"exec"}, "name a target and a command"},
		{[]string{"exec", "web"}, "no command"},
		{[]string{"exec", "wbe", "--", "true"}, `did you mean "web"?`},
		{[]string{"exec", "--parallel", "0", "web", "--", "true"}, "--parallel must be at least 1"},
	} {
		code, _, errOut := runCLI(t, append(flags, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// Ctrl-C: exit 130, and nothing keeps running on the hosts.
func TestExecInterrupted(t *testing.T) {
	t.Parallel()
	env, servers, flags := fleet(t, 2)
	dir := env.UserDir(t)
	pidFile := func(s *sshtest.Server) string { return filepath.Join(dir, "pid-"+strconv.Itoa(s.Port)) }
	ctx, cancel := context.WithCancelCause(context.Background())
	pids := make(chan []int, 1)
	go func() {
		var p []int
		for _, s := range servers {
			p = append(p, sshtest.WaitForPID(t, pidFile(s)))
		}
		pids <- p
		cancel(errInterrupted)
	}()
	var out, errOut bytes.Buffer
	script := fmt.Sprintf(`set -- $SSH_CONNECTION; sh -c 'echo $$ > "$0"; exec sleep 300' %s/pid-$4`, dir)
	code := run(ctx, append(append([]string{"deploy"}, flags...), "exec", "web", "--", script), &out, &errOut)
	if code != 130 {
		t.Errorf("exit %d, want 130\n%s%s", code, out.String(), errOut.String())
	}
	// Counted as interrupted, not failed.
	if !strings.Contains(errOut.String(), "■ 2 interrupted") || strings.Contains(errOut.String(), "failed") {
		t.Errorf("want both hosts interrupted, none failed:\n%s", errOut.String())
	}
	for _, pid := range <-pids {
		sshtest.WaitGone(t, pid)
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	web1 := env.Start(t, "web1")
	env.Start(t, "web2", sshtest.Unknown())
	env.Start(t, "web3").Stop()
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte("[hosts]\nweb = [\"web1\", \"web2\", \"web3\"]\nok = [\"web1\", \"local\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}

	code, out, errOut := runCLI(t, append(flags, "check", "web")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for host, want := range map[string]string{
		"web1": fmt.Sprintf("%s@127.0.0.1:%d yes ok yes", env.User, web1.Port), // the address ssh_config gives
		"web2": "yes unknown -",
		"web3": "no - -",
	} {
		if !strings.Contains(rows[host], want) {
			t.Errorf("row of %s = %q, want it to hold %q\n%s", host, rows[host], want, out)
		}
	}
	if !strings.Contains(out, "web2: unknown host key") || !strings.Contains(out, "web3: connect to web3") {
		t.Errorf("errors not explained:\n%s", out)
	}

	code, out, _ = runCLI(t, append(flags, "check", "ok", "--json")...)
	if code != 0 || strings.Count(out, `"event":"host_check"`) != 2 || !strings.Contains(out, `"authenticated":true`) {
		t.Errorf("check ok --json: exit %d\n%s", code, out)
	}
}
