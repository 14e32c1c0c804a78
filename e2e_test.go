package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// superbook is a deploy of testdata/superbook to real sshd hosts, with a
// central repository on the "hosts" machine and the app's clone here.
type superbook struct {
	env     *sshtest.Env
	root    string // the hosts' deploy roots are root/<host>
	central string
	work    string // the laptop's clone
	ports   map[string]int
	flags   []string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newSuperbook(t *testing.T, hosts ...string) *superbook {
	t.Helper()
	if _, err := os.Stat("/usr/bin/gunicorn"); err != nil {
		t.Skip("gunicorn not installed: apt-get install gunicorn python3-django")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	sb := &superbook{env: sshtest.New(t), ports: map[string]int{}}
	for _, h := range hosts {
		sb.env.Start(t, h)
		sb.ports[h] = freePort(t)
	}
	sb.root = sb.env.UserDir(t)
	// The laptop's repository, from testdata/superbook.
	_, work := gitProject(t)
	sb.work = work
	src, _ := filepath.Abs("testdata/superbook")
	mustSh(t, work, "cp", "-r", src+"/.", work)
	// The central repository, where the hosts can read it.
	sb.central = filepath.Join(sb.root, "central.git")
	mustSh(t, "/", "git", "init", "-q", "--bare", sb.central)
	mustSh(t, work, "git", "remote", "set-url", "origin", sb.central)

	var members []string
	for _, h := range hosts {
		members = append(members, fmt.Sprintf(`{ name = %q, host = %q, vars = { port = %d } }`, h, h, sb.ports[h]))
	}
	df := fmt.Sprintf(`
[app]
name = "superbook"
repo = %[1]q
path = "%[2]s/{{host}}"
python = "/usr/bin/python3"
keep_releases = 3

[hosts]
web = [%[3]s]

[vars]
db = "%[2]s/db.sqlite3"

[tasks.test]
steps = [{ local = "/usr/bin/python3 manage.py test --noinput -v 0" }]

[tasks.deploy]
steps = [
  { builtin = "test" },
  { builtin = "commit" },
  { builtin = "push" },
  { builtin = "pull", on = "web" },
  { builtin = "migrate", on = "web", once = true, env = { SUPERBOOK_DB = "{{db}}" } },
  { builtin = "reload", on = "web", env = { SUPERBOOK_DB = "{{db}}" }, with = { method = "command", command = """
pid={{path}}/shared/gunicorn.pid
if [ -f $pid ] && kill -0 $(cat $pid) 2>/dev/null; then kill -HUP $(cat $pid); exit 0; fi
gunicorn --chdir {{path}}/current --bind 127.0.0.1:{{port}} --pid $pid --daemon --workers 1 superbook.wsgi
""" } },
]
`, sb.central, sb.root, strings.Join(members, ", "))
	if err := os.WriteFile(filepath.Join(work, "Deployfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, work, "git", "add", ".")
	mustSh(t, work, "git", "commit", "-q", "-m", "superbook")
	if os.Geteuid() == 0 {
		mustSh(t, "/", "chown", "-R", sb.env.User, sb.central)
	}
	t.Cleanup(func() {
		for _, h := range hosts {
			if pid := sb.masterPID(h); pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	sb.flags = []string{"--no-color", "-f", filepath.Join(work, "Deployfile"), "--ssh-config", sb.env.SSHConfig}
	return sb
}

func (sb *superbook) masterPID(host string) int {
	data, _ := os.ReadFile(filepath.Join(sb.root, host, "shared", "gunicorn.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// get fetches a page of a host's gunicorn, waiting a little for it to
// (re)start.
func (sb *superbook) get(t *testing.T, host, path string) string {
	t.Helper()
	var last string
	for i := 0; i < 100; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", sb.ports[host], path))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(body)
			}
			last = resp.Status + " " + string(body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s%s: %s", host, path, last)
	return ""
}

// waitServes waits until host serves revision sha (a HUP reload takes a
// moment).
func (sb *superbook) waitServes(t *testing.T, host, sha string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if strings.TrimSpace(sb.get(t, host, "/health")) == "ok "+sha {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s serves %q, want ok %s", host, sb.get(t, host, "/health"), sha)
}

func (sb *superbook) releases(t *testing.T, host string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(sb.root, host, "releases"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestSuperbookDeploy(t *testing.T) {
	sb := newSuperbook(t, "web1", "web2")
	code, out, errOut := runCLI(t, append(sb.flags, "web")...)
	if code != 0 {
		t.Fatalf("first deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	sha := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	if mustSh(t, "/", "git", "--git-dir", sb.central, "rev-parse", "main") != sha {
		t.Fatal("not pushed")
	}
	pids := map[string]int{}
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha)
		if !strings.Contains(sb.get(t, h, "/"), "0 books") {
			t.Errorf("%s: the home page does not read the migrated database", h)
		}
		pids[h] = sb.masterPID(h)
		if rel := sb.releases(t, h); len(rel) != 1 || !strings.HasSuffix(rel[0], "-"+sha[:7]) {
			t.Errorf("%s releases: %v", h, rel)
		}
		if _, err := os.Stat(filepath.Join(sb.root, h, "current", ".git")); err == nil {
			t.Errorf("%s: the release has a .git directory", h)
		}
	}
	if n := strings.Count(out, "Applying books.0001_initial"); n != 1 {
		t.Errorf("migrations applied %d times, want once:\n%s", n, out)
	}

	// Nothing new: nothing changes, nothing reloads, and it says so.
	code, out, errOut = runCLI(t, append(sb.flags, "web")...)
	if code != 0 || !strings.Contains(errOut, "Nothing to do") {
		t.Fatalf("second deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if sb.masterPID(h) != pids[h] {
			t.Errorf("%s: gunicorn's master changed (%d → %d)", h, pids[h], sb.masterPID(h))
		}
		if rel := sb.releases(t, h); len(rel) != 1 {
			t.Errorf("%s: a second deploy made a release: %v", h, rel)
		}
		if !strings.Contains(out, h+" | – skipped: current is "+sha[:7]+" already") {
			t.Errorf("%s: pull not skipped:\n%s", h, out)
		}
	}
}
