//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// A Deployfile with a deploy root per host under {{root}}.
const withPath = `
[app]
path = "{{root}}/{{host}}"
`

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitFor polls cond for a bounded time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.setup]
steps = [
  { run = "touch {{root}}/touched-{{host}}" },
  { run = "touch {{root}}/guarded-{{host}}", creates = "{{root}}/marker-{{host}}" },
]`)
	if err := os.WriteFile(filepath.Join(root, "marker-web2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(root)
	code, out, errOut := runCLI(t, append(flags, "plan", "web", "setup")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	after, _ := os.ReadDir(root)
	if len(before) != len(after) {
		t.Errorf("plan changed the hosts' files: %d entries before, %d after", len(before), len(after))
	}
	for _, want := range []string{"web2 | – skipped: " + root + "/marker-web2 exists", "web1 | → would run"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "plan of setup: 5 would run, 1 would skip") {
		t.Errorf("plan summary:\n%s", errOut)
	}
	// --dry-run is the same thing.
	if code, _, _ := runCLI(t, append(flags, "run", "web", "setup", "--dry-run")...); code != 0 || exists(filepath.Join(root, "touched-web1")) {
		t.Errorf("--dry-run: exit %d, or it ran", code)
	}
}

// Two deploys at once: one waits for nothing and exits 3, naming the other.
func TestConcurrentRunsLock(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.slow]
steps = [{ run = "touch {{root}}/started-{{host}}; sleep 1.5" }]`)
	var wg sync.WaitGroup
	wg.Add(1)
	var firstCode int
	var firstErr string
	go func() {
		defer wg.Done()
		var out, errOut bytes.Buffer
		firstCode = run(context.Background(), append(append([]string{"deploy"}, flags...), "run", "web", "slow"), &out, &errOut)
		firstErr = errOut.String()
	}()
	waitFor(t, "the first run to start", func() bool { return exists(filepath.Join(root, "started-web3")) })
	code, _, errOut := runCLI(t, append(flags, "run", "web", "slow")...)
	wg.Wait()
	if code != 3 || !strings.Contains(errOut, "is locked by") || !strings.Contains(errOut, "task slow on web") {
		t.Errorf("second run: exit %d, want 3\n%s", code, errOut)
	}
	if firstCode != 0 {
		t.Errorf("first run: exit %d\n%s", firstCode, firstErr)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
	}
}

func TestFailureReleasesLockAndIsJournaled(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.ok]
steps = [{ run = "echo {{token}}" }]
[tasks.broken]
steps = [{ run = "exit 1" }]`)
	if code, _, errOut := runCLI(t, append(flags, "run", "web", "ok")...); code != 0 {
		t.Fatalf("ok: exit %d\n%s", code, errOut)
	}
	if code, _, _ := runCLI(t, append(flags, "run", "front", "broken")...); code != 1 {
		t.Fatalf("broken: exit %d", code)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "web1", ".deploy", "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "5ecret") {
		t.Errorf("a secret in the journal:\n%s", data)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("journal of web1 has %d lines:\n%s", len(lines), data)
	}
	var last struct {
		Task, Result, Owner, Host, User, Machine string
		Steps                                    []struct{ Outcome string }
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Task != "broken" || last.Result != "failed" || last.Host != "web1" || last.Owner != last.User+"@"+last.Machine || len(last.Steps) != 1 || last.Steps[0].Outcome != "failed" {
		t.Errorf("journal line: %+v", last)
	}

	code, out, _ := runCLI(t, append(flags, "history", "web")...)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 3 || !strings.Contains(rows[1], "broken") || !strings.Contains(rows[1], "failed") ||
		!strings.Contains(rows[1], "web1,web2") || !strings.Contains(rows[2], "ok") || !strings.Contains(rows[2], "web1,web2,web3") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, append(flags, "history", "web", "--json", "-n", "1")...)
	var e struct{ Task string }
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Task != "broken" {
		t.Errorf("history --json -n 1: %s", out)
	}
}

// Ctrl-C mid-step: exit 130, lock released, journal says interrupted,
// nothing left running.
func TestInterruptReleasesLock(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.long]
steps = [{ run = "sh -c 'echo $$ > {{root}}/pid-{{host}}; exec sleep 300'" }]`)
	ctx, cancel := context.WithCancelCause(context.Background())
	pids := make(chan []int, 1)
	go func() {
		var p []int
		for _, h := range []string{"web1", "web2", "web3"} {
			p = append(p, sshtest.WaitForPID(t, filepath.Join(root, "pid-"+h)))
		}
		pids <- p
		cancel(errInterrupted)
	}()
	var out, errOut bytes.Buffer
	code := run(ctx, append(append([]string{"deploy"}, flags...), "run", "web", "long"), &out, &errOut)
	if code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errOut.String())
	}
	for _, pid := range <-pids {
		sshtest.WaitGone(t, pid)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
		data, _ := os.ReadFile(filepath.Join(root, h, ".deploy", "journal"))
		if !strings.Contains(string(data), `"result":"interrupted"`) {
			t.Errorf("journal of %s: %s", h, data)
		}
	}
}

func TestUnlock(t *testing.T) {
	t.Parallel()
	root, flags, _ := taskFleetEnv(t, withPath+`
[tasks.x]
steps = [{ run = "true" }]`)
	stale := filepath.Join(root, "web2", ".deploy", "lock")
	info := `{"id":"dead","owner":"ann@laptop","pid":1,"started":"2026-01-02T03:04:05Z","task":"deploy","target":"web"}`
	// Left behind by a deploy that died, as the hosts' user.
	if code, _, errOut := runCLI(t, append(flags, "exec", "web2", "--", "mkdir", "-p", stale)...); code != 0 {
		t.Fatalf("%s", errOut)
	}
	if code, _, errOut := runCLI(t, append(flags, "exec", "web2", "--", "printf '%s\\n' '"+info+"' > "+stale+"/info")...); code != 0 {
		t.Fatalf("%s", errOut)
	}
	code, _, errOut := runCLI(t, append(flags, "run", "web", "x")...)
	if code != 3 || !strings.Contains(errOut, "web2 is locked by ann@laptop (pid 1, task deploy on web) since 2026-01-02T03:04:05Z") {
		t.Errorf("run on a locked host: exit %d\n%s", code, errOut)
	}
	if exists(filepath.Join(root, "web1", ".deploy", "lock")) || exists(filepath.Join(root, "web3", ".deploy", "lock")) {
		t.Error("the locks taken on the other hosts were not given back")
	}
	if code, _, errOut := runCLI(t, append(flags, "unlock", "web")...); code != 2 || !exists(stale) || !strings.Contains(errOut, "--yes") {
		t.Errorf("unlock without --yes off a terminal: exit %d, lock kept %v\n%s", code, exists(stale), errOut)
	}
	// On a terminal it asks: no keeps the lock.
	if code, _, errOut, asked := runCLIAnswering(t, "n\n", append(flags, "unlock", "web")...); code != 2 || !exists(stale) ||
		!strings.Contains(errOut, "not confirmed; the locks are kept") || !strings.Contains(asked, "Remove the lock from 1 host?") {
		t.Errorf("unlock answered no: exit %d, lock kept %v, asked %q\n%s", code, exists(stale), asked, errOut)
	}
	code, out, errOut := runCLI(t, append(flags, "unlock", "web", "--yes")...)
	if code != 0 || exists(stale) || !strings.Contains(out, "web2 is locked: "+info) {
		t.Errorf("unlock --yes: exit %d, lock kept %v\n%s\n%s", code, exists(stale), out, errOut)
	}
	if code, _, _ := runCLI(t, append(flags, "run", "web", "x")...); code != 0 {
		t.Errorf("run after unlock: exit %d", code)
	}
}
