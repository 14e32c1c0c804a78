//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// status runs `deploy status` and returns its exit code and output.
func (sb *superbook) status(t *testing.T, target string, extra ...string) (int, string) {
	t.Helper()
	code, out, errOut := runCLI(t, append(append(sb.flags, "status", target), extra...)...)
	return code, out + errOut
}

// setPhase rewrites a host's recorded phase, as a run that died between
// two transitions would have left it.
func (sb *superbook) setPhase(t *testing.T, host, phase string) {
	t.Helper()
	file := filepath.Join(sb.root, host, ".deploy", "state")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	rec["phase"] = phase
	data, _ = json.Marshal(rec)
	if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deploy status reads what runs where; a host left switched but not
// reloaded is reloaded by the next run, and only it; rollback goes to the
// last healthy release on the README's prod layout (a static host
// included), runs the health check, and status agrees; an unreachable
// host is unknown.
func TestSuperbookStatusRecoveryAndRollback(t *testing.T) {
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	// A plan of a fresh project: nothing built, nothing deployed.
	code, out, errOut := runCLI(t, append(sb.flags, "plan", "prod", "release")...)
	if code != 0 || !strings.Contains(errOut, " 0 could not be checked") || rowOf(errOut, "healthcheck") == "" ||
		strings.Count(rowOf(errOut, "healthcheck"), "would run") != 2 {
		t.Fatalf("plan of a fresh project: exit %d\n%s\n%s", code, out, errOut)
	}
	sb.deploy(t, 0, "run", "prod", "release")
	sha1 := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	code, out = sb.status(t, "web")
	if code != 0 || !strings.Contains(out, "Consistent") || strings.Count(out, "healthy") != 2 {
		t.Fatalf("status after a deploy: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "web") && strings.Count(line, sha1[:7]) < 2 {
			t.Errorf("status does not show %s as current and served: %q", sha1[:7], line)
		}
	}

	sha2 := sb.commit(t, "v2", map[string]string{"VERSION": "2"})
	sb.deploy(t, 0, "run", "prod", "release")
	sb.waitServes(t, "web1", sha2)

	// web1 as a run that died after the switch leaves it.
	sb.setPhase(t, "web1", "switched")
	if code, out := sb.status(t, "web"); code != 1 || !strings.Contains(out, "never reloaded") {
		t.Errorf("status of a host switched but not reloaded: exit %d\n%s", code, out)
	}
	master := sb.masterPID("web1")
	_, errOut = sb.deploy(t, 0, "run", "prod", "release")
	if !strings.Contains(errOut, "Nothing to do") {
		// Reload and health check ran on web1 only.
		for _, want := range []string{"reload", "healthcheck"} {
			row := rowOf(errOut, want)
			if !strings.Contains(row, "✓") || strings.Count(row, "✓") != 1 {
				t.Errorf("%s row: %q, want it changed on web1 only\n%s", want, row, errOut)
			}
		}
	} else {
		t.Errorf("a host switched but never reloaded was called done:\n%s", errOut)
	}
	if sb.masterPID("web1") != master {
		t.Errorf("gunicorn's master was replaced (%d → %d): a reload is a HUP", master, sb.masterPID("web1"))
	}
	if code, out := sb.status(t, "web"); code != 0 {
		t.Errorf("status after the run finished the job: exit %d\n%s", code, out)
	}

	// Rollback over prod: static1 has no releases and is skipped.
	code, out, errOut = runCLI(t, append(sb.flags, "rollback", "prod")...)
	if code != 0 || !strings.Contains(out+errOut, "static1") || !strings.Contains(out+errOut, "nothing to roll back") {
		t.Fatalf("rollback prod: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "healthy after") {
		t.Errorf("the rollback ran no health check:\n%s", out)
	}
	// It says where each host goes, and the journal has the commit.
	if !regexp.MustCompile(`web1\s+\| rollback target \S+-` + sha1[:7] + ` \(commit ` + sha1[:7] + `\); in use now: \S+-` + sha2[:7]).MatchString(out) {
		t.Errorf("the rollback does not say where web1 goes:\n%s", out)
	}
	if !strings.Contains(sb.journal(t, "web1"), `"to_sha":"`+sha1+`"`) {
		t.Errorf("the rollback's journal line lacks its commit: %s", sb.journal(t, "web1"))
	}
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha1)
	}
	code, out = sb.status(t, "web")
	if code != 0 || !strings.Contains(out, "(rolled back)") || strings.Contains(out, sha2[:7]) {
		t.Errorf("status after rollback: exit %d\n%s", code, out)
	}
	if code, out := sb.status(t, "web", "--json"); code != 0 || !strings.Contains(out, `"phase":"healthy"`) {
		t.Errorf("status --json: exit %d\n%s", code, out)
	}

	// A host that cannot be reached is unknown, and the fleet is not
	// called consistent.
	sb.env.Servers()["web2"].Stop()
	if code, out := sb.status(t, "web"); code != 1 || !strings.Contains(out, "unknown") {
		t.Errorf("status with web2 down: exit %d\n%s", code, out)
	}
}

// rowOf is the line of a summary table whose step title contains title.
func rowOf(summary, title string) string {
	for _, line := range strings.Split(summary, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[0], ".") && f[1] == title {
			return line
		}
	}
	return ""
}

// Five runs at once over the same hosts: exactly one proceeds, the others
// exit 3 naming it; with --lock-wait all five finish, one after another.
func TestFiveConcurrentRuns(t *testing.T) {
	t.Parallel()
	root, flags := taskFleet(t, withPath+`
[tasks.slow]
steps = [{ run = "echo start >> {{root}}/runs-{{host}}; sleep 0.3; echo end >> {{root}}/runs-{{host}}" }]`)
	bin := deployBinary(t)
	// Five processes, as five people would start them.
	runAll := func(extra ...string) []int {
		codes := make([]int, 5)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(bin, append(append(append([]string(nil), flags...), extra...), "run", "web", "slow")...)
				out, err := cmd.CombinedOutput()
				codes[i] = cmd.ProcessState.ExitCode()
				if err != nil && codes[i] != 3 {
					t.Logf("run %d: %v\n%s", i, err, out)
				}
			}()
		}
		wg.Wait()
		return codes
	}
	codes := runAll()
	ok, held := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			ok++
		case 3:
			held++
		}
	}
	if ok != 1 || held != 4 {
		t.Errorf("5 concurrent runs: exit codes %v, want one 0 and four 3", codes)
	}
	codes = runAll("--lock-wait", "30s")
	for i, c := range codes {
		if c != 0 {
			t.Errorf("with --lock-wait, run %d exited %d", i, c)
		}
	}
	// Never two at once on a host: starts and ends alternate.
	for _, h := range []string{"web1", "web2", "web3"} {
		lines := readLines(t, filepath.Join(root, "runs-"+h))
		if len(lines) != 12 {
			t.Errorf("%s ran %d halves, want 12 (6 runs)", h, len(lines))
		}
		for i, l := range lines {
			if want := []string{"start", "end"}[i%2]; l != want {
				t.Errorf("%s: line %d is %s, want %s: two runs overlapped", h, i+1, l, want)
				break
			}
		}
		if exists(filepath.Join(root, h, ".deploy", "lock")) {
			t.Errorf("lock left on %s", h)
		}
	}
}

// Two ssh_config aliases of one machine with one deploy root are one lock:
// the run takes it once and does not see itself as another owner.
func TestAliasesShareOneLock(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	root := env.UserDir(t)
	f, err := os.OpenFile(env.SSHConfig, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "Host alias1\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		srv.Host, srv.Port, srv.User, env.ClientKey, env.KnownHosts)
	f.Close()
	df := fmt.Sprintf("[app]\npath = %q\n[hosts]\nboth = [\"web1\", \"alias1\"]\n[tasks.touch]\nsteps = [{ run = \"touch %s/ran-{{host}}\" }]\n", root+"/app", root)
	file := filepath.Join(t.TempDir(), "Deployfile")
	os.WriteFile(file, []byte(df), 0o644)
	code, out, errOut := runCLI(t, "--no-color", "-f", file, "--ssh-config", env.SSHConfig, "run", "both", "touch")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	for _, h := range []string{"web1", "alias1"} {
		if !exists(filepath.Join(root, "ran-"+h)) {
			t.Errorf("%s did not run", h)
		}
	}
	if exists(filepath.Join(root, "app", ".deploy", "lock")) {
		t.Error("the lock was left behind")
	}
}
