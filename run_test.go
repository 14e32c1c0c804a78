//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// taskFleet starts three sshd hosts web1..web3 and writes a Deployfile
// with the given tasks; {{root}} is a directory the hosts may write in,
// and {{mine}} a directory of each host's own.
func taskFleet(t *testing.T, tasks string) (root string, flags []string) {
	root, flags, _ = taskFleetEnv(t, tasks)
	return root, flags
}

func taskFleetEnv(t *testing.T, tasks string) (root string, flags []string, env *sshtest.Env) {
	t.Helper()
	env = sshtest.New(t)
	for i := 1; i <= 3; i++ {
		env.Start(t, "web"+strconv.Itoa(i))
	}
	root = env.UserDir(t)
	df := fmt.Sprintf(`
[hosts]
web = ["web1", "web2", "web3"]
front = ["web1", "web2"]
[vars]
root = %q
mine = "%s/{{host}}"
token = { value = "tok-5ecret-value", secret = true }
%s`, root, root, tasks)
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}, env
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

func TestRunTaskSucceeds(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.setup]
steps = [
  { run = "mkdir -p {{mine}}" },
  { run = "cd {{mine}}\necho one > a", name = "write a" },
  { run = "cat a > b", dir = "{{mine}}", on = "front" },
]`)
	code, out, errOut := runCLI(t, append(flags, "run", "web", "setup")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if got := readLines(t, filepath.Join(root, h, "a")); len(got) != 1 || got[0] != "one" {
			t.Errorf("%s: a = %v", h, got)
		}
		_, err := os.Stat(filepath.Join(root, h, "b"))
		if wantB := h != "web3"; (err == nil) != wantB {
			t.Errorf("%s: b exists = %v, want %v (step 3 is on front only)", h, err == nil, wantB)
		}
	}
	if !strings.Contains(errOut, "setup: 8 changed, 0 skipped, 0 failed, 0 not reached") {
		t.Errorf("summary:\n%s", errOut)
	}
}

// Step 2 fails on web2: step 3 runs nowhere; the summary says where, what
// and why.
func TestRunAbortsOnFailure(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.deploy]
steps = [
  { run = "mkdir -p {{mine}} && touch {{mine}}/step1" },
  { run = "if [ {{host}} = web2 ]; then echo broken >&2; exit 3; fi; touch {{mine}}/step2", name = "check", on_failure = "wait" },
  { run = "touch {{mine}}/step3" },
]`)
	code, _, errOut := runCLI(t, append(flags, "run", "web", "deploy")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if _, err := os.Stat(filepath.Join(root, h, "step3")); err == nil {
			t.Errorf("step 3 ran on %s after step 2 failed", h)
		}
	}
	for _, want := range []string{"step 2 (check) failed on web2: exit status 3", "| broken", "No later step ran.", "3 not reached",
		"command: if [ web2 = web2 ]; then echo broken >&2; exit 3; fi"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
}

// Guards skip on the second run, and the guarded side effect happens once.
func TestRunGuardsMakeItIdempotent(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.bootstrap]
steps = [
  { run = "mkdir -p {{mine}} && echo x >> {{root}}/mkdir-{{host}}", creates = "{{mine}}" },
  { run = "echo x >> {{root}}/init-{{host}}; touch {{mine}}/initialised", unless = "test -e {{mine}}/initialised" },
  { run = "echo x >> {{root}}/never-{{host}}", only_if = "false" },
]`)
	for run := 1; run <= 2; run++ {
		code, _, errOut := runCLI(t, append(flags, "run", "web", "bootstrap")...)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, code, errOut)
		}
		if run == 2 && !strings.Contains(errOut, "Nothing to do: every step was already done.") {
			t.Errorf("second run did not say there was nothing to do:\n%s", errOut)
		}
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		for _, f := range []string{"mkdir", "init"} {
			if got := readLines(t, filepath.Join(root, f+"-"+h)); len(got) != 1 {
				t.Errorf("%s on %s ran %d times, want once", f, h, len(got))
			}
		}
		if _, err := os.Stat(filepath.Join(root, "never-"+h)); err == nil {
			t.Errorf("only_if = false ran on %s", h)
		}
	}
}

// serial = 1: one host at a time, seen in the times the commands write.
func TestRunSerial(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.rolling]
steps = [{ run = "echo start $(date +%s%N) >> {{root}}/times; sleep 0.2; echo end $(date +%s%N) >> {{root}}/times", serial = 1 }]`)
	if code, _, errOut := runCLI(t, append(flags, "run", "web", "rolling")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	data, _ := os.ReadFile(filepath.Join(root, "times"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 6 {
		t.Fatalf("times: %q", data)
	}
	// With one host at a time, starts and ends alternate.
	for i, l := range lines {
		if want := []string{"start", "end"}[i%2]; !strings.HasPrefix(l, want) {
			t.Fatalf("line %d is %q, want %s…: hosts overlapped\n%s", i+1, l, want, data)
		}
	}
	stamps := make([]int64, len(lines))
	for i, l := range lines {
		stamps[i], _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
	}
	if !sort.SliceIsSorted(stamps, func(i, j int) bool { return stamps[i] < stamps[j] }) {
		t.Errorf("times out of order: %v", stamps)
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.migrate]
steps = [{ run = "echo {{host}} >> {{root}}/migrated", once = true }]`)
	if code, _, errOut := runCLI(t, append(flags, "run", "web", "migrate")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if got := readLines(t, filepath.Join(root, "migrated")); len(got) != 1 || got[0] != "web1" {
		t.Errorf("once ran on %v, want [web1]", got)
	}
}

// A secret variable never appears: not in output, errors, or JSON.
func TestRunSecretsMasked(t *testing.T) {
	t.Parallel()
	_, flags := taskFleet(t, `
[tasks.leak]
steps = [
  { run = "echo token is {{token}}; echo env is $API_KEY >&2", env = { API_KEY = "key-{{token}}" } },
  { run = "echo {{token}} >&2; exit 4" },
]`)
	for _, extra := range [][]string{nil, {"--json"}} {
		code, out, errOut := runCLI(t, append(append(flags, extra...), "run", "web", "leak")...)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, "5ecret") {
			t.Errorf("the secret leaked (%v):\n%s\n%s", extra, out, errOut)
		}
		if !strings.Contains(out, "token is ***") {
			t.Errorf("masked line missing (%v):\n%s", extra, out)
		}
		if extra != nil {
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !json.Valid([]byte(l)) {
					t.Errorf("not JSON: %q", l)
				}
			}
		}
	}
}

func TestRunRefusesBeforeRunning(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[hosts.db]
hosts = ["local"]
[tasks.bad]
steps = [
  { run = "touch {{root}}/ran" },
  { run = "true", on = "db" },
]`)
	code, _, errOut := runCLI(t, append(flags, "run", "web", "bad")...)
	if code != 2 || !strings.Contains(errOut, "runs on group db, and none of the target's hosts (web1, web2, web3) is in it") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); err == nil {
		t.Error("step 1 ran although the task was refused")
	}
}

// `deploy TARGET` runs the default task; a group with confirm = true is
// refused without --yes when there is no terminal, and asks on one.
func TestDefaultTaskAndConfirm(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[hosts.careful]
hosts = ["web1"]
confirm = true
[tasks.deploy]
steps = [{ run = "echo {{host}} >> {{root}}/deployed" }]`)
	if code, _, errOut := runCLI(t, append(flags, "front")...); code != 0 {
		t.Fatalf("deploy front: exit %d\n%s", code, errOut)
	}
	if got := readLines(t, filepath.Join(root, "deployed")); len(got) != 2 {
		t.Errorf("deployed on %v", got)
	}
	code, _, errOut := runCLI(t, append(flags, "careful")...)
	if code != 2 || !strings.Contains(errOut, "pass --yes") {
		t.Errorf("careful without --yes: exit %d\n%s", code, errOut)
	}
	if code, _, _ := runCLI(t, append(flags, "careful", "--yes")...); code != 0 {
		t.Errorf("careful --yes: exit %d", code)
	}

	// On a terminal the question is asked: no runs nothing, yes runs.
	before := len(readLines(t, filepath.Join(root, "deployed")))
	code, _, errOut, asked := runCLIAnswering(t, "n\n", append(flags, "careful")...)
	if code != 2 || !strings.Contains(errOut, "not confirmed; nothing was run") || asked != "Run deploy on careful (1 host: web1)? [y/N] " {
		t.Errorf("careful, answered no: exit %d, asked %q\n%s", code, asked, errOut)
	}
	if got := readLines(t, filepath.Join(root, "deployed")); len(got) != before {
		t.Errorf("answered no, and deployed on %v", got)
	}
	if code, _, errOut, _ := runCLIAnswering(t, "y\n", append(flags, "careful")...); code != 0 {
		t.Errorf("careful, answered yes: exit %d\n%s", code, errOut)
	}
	if got := readLines(t, filepath.Join(root, "deployed")); len(got) != before+1 || got[before] != "web1" {
		t.Errorf("answered yes, and deployed on %v", got)
	}
}

func TestRunUploadAndLocal(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "site")
	if err := os.MkdirAll(filepath.Join(src, "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "css", "app.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	localOut := filepath.Join(t.TempDir(), "local-ran")
	root, flags := taskFleet(t, fmt.Sprintf(`
[tasks.ship]
steps = [
  { local = "echo {{python}} > %s" },
  { upload = %q, to = "{{mine}}/site" },
  { upload = %q, to = "{{mine}}/app.css", mode = "0600", on = "front" },
]`, localOut, src, filepath.Join(src, "css", "app.css")))
	code, _, errOut := runCLI(t, append(flags, "run", "web", "ship")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if got := readLines(t, localOut); len(got) != 1 || got[0] != "python3" {
		t.Errorf("local step wrote %v", got)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if got := readLines(t, filepath.Join(root, h, "site", "css", "app.css")); len(got) != 1 || got[0] != "body{}" {
			t.Errorf("%s: uploaded tree: %v", h, got)
		}
	}
	info, err := os.Stat(filepath.Join(root, "web1", "app.css"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("upload with mode: %v, %v", info, err)
	}
	if exists(filepath.Join(root, "web3", "app.css")) {
		t.Error("upload on front reached web3")
	}
}

// on_failure = "cancel" (the default): when one host fails, the step's
// commands on the other hosts are stopped, not waited for.
func TestRunFailureCancelsOthers(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, `
[tasks.t]
steps = [{ run = "if [ {{host}} = web1 ]; then exit 1; fi; sleep 20; touch {{root}}/finished-{{host}}" }]`)
	code, _, errOut := runCLI(t, append(flags, "run", "web", "t")...)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, h := range []string{"web2", "web3"} {
		if exists(filepath.Join(root, "finished-"+h)) {
			t.Errorf("%s was not cancelled", h)
		}
	}
	if !strings.Contains(errOut, ") failed on web1: exit status 1") {
		t.Errorf("the failure named is not web1's:\n%s", errOut)
	}
}
