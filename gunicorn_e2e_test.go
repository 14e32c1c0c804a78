//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// gunicornReload is the reload step of method "gunicorn", with a secret
// in the app's environment.
const gunicornReload = `  { builtin = "reload", on = "web", env = { SUPERBOOK_DB = "{{db}}", SUPERBOOK_SECRET_KEY = "{{key}}" }, with = { method = "gunicorn", wsgi = "superbook.wsgi", bind = "127.0.0.1:{{port}}", workers = 2, python = "/usr/bin/python3" } },`

// useGunicornMethod rewrites the sample app's Deployfile to run gunicorn
// with the reload method "gunicorn" instead of a hand-written command.
func useGunicornMethod(t *testing.T, sb *superbook) {
	t.Helper()
	file := filepath.Join(sb.work, "Deployfile")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, `  { builtin = "reload"`)
	end := strings.Index(text[start:], `""" } },`)
	if start < 0 || end < 0 {
		t.Fatal("no reload step in the sample Deployfile")
	}
	text = text[:start] + gunicornReload + text[start+end+len(`""" } },`):]
	text = strings.Replace(text, "[vars]\n", "[vars]\nkey = { value = \"gunicorn-s3cret-key\", secret = true }\n", 1)
	// A health check that any release passes: what proves the new release
	// answers is the reload itself.
	text = strings.Replace(text, `expect = "ok {{sha}}"`, `expect = "ok "`, 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, sb.work, "git", "commit", "-q", "-am", "gunicorn method")
}

// workersOf are the pids of a process's children.
func workersOf(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces; it ends at the last ')'.
		rest := string(data[bytes.LastIndexByte(data, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// The reload method "gunicorn": the first deploy starts gunicorn (its
// env file 0600, the secret in its workers' environment and in no
// command line); a change deploy HUPs the same master and returns only
// once every old worker is gone — the new release answers at once —
// while a client hammering both hosts sees no failed request; a no-op
// deploy touches nothing; a release that fails to boot is stopped before
// any host switches (bootFailureRollsBack).
func TestGunicornMethod(t *testing.T) {
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	useGunicornMethod(t, sb)
	sb.deploy(t, 0)
	sha1 := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	masters := map[string]int{}
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha1)
		masters[h] = sb.masterPID(h)
		if masters[h] <= 0 || len(workersOf(masters[h])) != 2 {
			t.Fatalf("%s: master %d with workers %v, want 2", h, masters[h], workersOf(masters[h]))
		}
		envFile := filepath.Join(sb.root, h, "shared", "gunicorn.env")
		st, err := os.Stat(envFile)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: env file %v %v, want mode 0600", h, st, err)
		}
		w := workersOf(masters[h])[0]
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", w))
		if !bytes.Contains(environ, []byte("SUPERBOOK_SECRET_KEY=gunicorn-s3cret-key\x00")) {
			t.Errorf("%s: the secret is not in the worker's environment", h)
		}
	}
	if ps, _ := exec.Command("ps", "-eo", "args").Output(); bytes.Contains(ps, []byte("gunicorn-s3cret-key")) {
		t.Errorf("the secret is in a command line:\n%s", ps)
	}
	// deploy status reads the server back from each host.
	code, out, errOut := runCLI(t, append(sb.flags, "status", "web", "--json")...)
	for _, h := range []string{"web1", "web2"} {
		if want := fmt.Sprintf(`"host":"%s"`, h); code != 0 || !strings.Contains(out, want) ||
			!strings.Contains(out, fmt.Sprintf(`"server":"gunicorn %d, 2 workers"`, masters[h])) {
			t.Errorf("status: exit %d, want %s's server gunicorn %d with 2 workers:\n%s%s", code, h, masters[h], out, errOut)
		}
	}
	before := map[string][]int{}
	for h, m := range masters {
		before[h] = workersOf(m)
	}

	// A change, deployed while a client asks both hosts without pause.
	failures := hammer(t, []string{"web1", "web2"}, sb.ports, "/health")
	sha2 := sb.commit(t, "a change", map[string]string{"books/change.py": "# change\n"})
	sb.deploy(t, 0)
	for _, h := range []string{"web1", "web2"} {
		// No waiting: the deploy returned once the new release answered.
		if got := strings.TrimSpace(sb.get(t, h, "/health")); got != "ok "+sha2 {
			t.Errorf("%s answers %q right after the deploy, want ok %s", h, got, sha2)
		}
		if m := sb.masterPID(h); m != masters[h] {
			t.Errorf("%s: the master changed (%d → %d): not a graceful reload", h, masters[h], m)
		}
		for _, w := range workersOf(masters[h]) {
			if slices.Contains(before[h], w) {
				t.Errorf("%s: worker %d of before the reload still runs", h, w)
			}
		}
	}
	if failed, asked, last := failures(); failed > 0 || asked < 10 {
		t.Errorf("%d of %d requests failed during the deploy (last: %v)", failed, asked, last)
	}

	// Nothing new: the same master and workers.
	after := map[string][]int{}
	for h, m := range masters {
		after[h] = workersOf(m)
	}
	sb.deploy(t, 0)
	for h, m := range masters {
		if sb.masterPID(h) != m || !slices.Equal(workersOf(m), after[h]) {
			t.Errorf("%s: a no-op deploy touched gunicorn", h)
		}
	}
	bootFailureRollsBack(t, sb, sha2)
}

// bootFailureRollsBack: a release that fails only in production (its
// WSGI module raises when the app's secret is set, as on the hosts, not in
// the tests): the pre-switch check imports it in the new release with the
// app's environment on every host, before any host switches; the deploy
// fails there, no host's `current` moves, gunicorn is not touched, and no
// request fails meanwhile.
func bootFailureRollsBack(t *testing.T, sb *superbook, sha1 string) {
	t.Helper()
	currents := map[string]string{}
	masters := map[string]int{}
	for _, h := range []string{"web1", "web2"} {
		currents[h], _ = os.Readlink(filepath.Join(sb.root, h, "current"))
		masters[h] = sb.masterPID(h)
	}
	wsgi, _ := os.ReadFile(filepath.Join(sb.work, "superbook", "wsgi.py"))
	sb.commit(t, "broken in production", map[string]string{
		"superbook/wsgi.py": string(wsgi) + "\nif os.environ.get(\"SUPERBOOK_SECRET_KEY\"):\n    raise RuntimeError(\"broken in production\")\n",
	})
	failures := hammer(t, []string{"web1", "web2"}, sb.ports, "/health")
	_, errOut := sb.deploy(t, 1)
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha1)
	}
	failed, _, last := failures()
	// Caught before the switch, on every host — not by a reload or a
	// health check after it.
	if !strings.Contains(errOut, "(switch current) failed") || !strings.Contains(errOut, "failed its check before the switch") ||
		!strings.Contains(errOut, "RuntimeError: broken in production") {
		t.Errorf("the release was not stopped before the switch, with Python's error:\n%s", errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if cur, _ := os.Readlink(filepath.Join(sb.root, h, "current")); cur != currents[h] {
			t.Errorf("%s: current moved to %s (was %s)", h, cur, currents[h])
		}
		if m := sb.masterPID(h); m != masters[h] {
			t.Errorf("%s: gunicorn's master changed (%d → %d)", h, masters[h], m)
		}
	}
	// A release made ready and refused is no drift: status is clean.
	if code, out, errOut := runCLI(t, append(sb.flags, "status", "web")...); code != 0 {
		t.Errorf("status after a refused release: exit %d\n%s%s", code, out, errOut)
	}
	// The old workers served throughout.
	if failed > 0 {
		t.Errorf("%d requests failed (last: %s): the broken release reached the running server", failed, last)
	}
}

// The reload method "hup" with gunicorn started by the sample's own
// command: the reload returns once every worker of before the HUP has
// exited, with the same master, so the new release answers at once.
func TestSlowHUPMethodWaitsForNewWorkers(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1")
	sb.deploy(t, 0) // gunicorn started by the reload command
	master := sb.masterPID("web1")
	old := workersOf(master)
	file := filepath.Join(sb.work, "Deployfile")
	data, _ := os.ReadFile(file)
	text := string(data)
	start := strings.Index(text, `  { builtin = "reload"`)
	end := strings.Index(text[start:], `""" } },`) + len(`""" } },`)
	text = text[:start] + `  { builtin = "reload", on = "web", with = { method = "hup", pid_file = "{{path}}/shared/gunicorn.pid" } },` + text[start+end:]
	// Any release passes this check: what proves the new one answers is
	// the reload.
	text = strings.Replace(text, `expect = "ok {{sha}}"`, `expect = "ok "`, 1)
	os.WriteFile(file, []byte(text), 0o644)
	sha := sb.commit(t, "hup", nil)
	sb.deploy(t, 0)
	if got := strings.TrimSpace(sb.get(t, "web1", "/health")); got != "ok "+sha {
		t.Errorf("right after the deploy web1 answers %q, want ok %s", got, sha)
	}
	if sb.masterPID("web1") != master {
		t.Errorf("the master changed")
	}
	for _, w := range workersOf(master) {
		if slices.Contains(old, w) {
			t.Errorf("worker %d of before the reload still runs", w)
		}
	}
}
