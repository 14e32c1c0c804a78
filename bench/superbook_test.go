//go:build unix

package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// superbook times the sample app's full deploy (testdata/superbook: test,
// commit, push, collectstatic, static upload, release, migrate, switch,
// reload, health check) to 2 app hosts and 1 static host, with deploy and
// with superbook_fab.py (the same steps as a typical Fabric 2 fabfile).
// Each tool has its own laptop clone, central repository, deploy roots and
// gunicorn ports; each is deployed once untimed (first install), then
// every repetition commits a change (untimed) and times a deploy of the
// new commit and a rerun with nothing new.
func (h *harness) superbook() {
	rtt := envInt("BENCH_SUPERBOOK_RTT", 50)
	if _, err := os.Stat("/usr/bin/gunicorn"); err != nil {
		h.printf("\n(full deploy skipped: gunicorn is not installed; apt-get install gunicorn python3-django)\n")
		return
	}
	nw := h.net(rtt, 3)
	web, static := []string{"h1", "h2"}, "h3"
	var pidfiles []string
	h.t.Cleanup(func() {
		for _, f := range pidfiles {
			data, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	src, err := filepath.Abs("../testdata/superbook")
	if err != nil {
		h.t.Fatal(err)
	}
	// The central repository belongs to the hosts' login user; the laptop
	// side (root, when the harness runs as root) pushes to it, with a git
	// config of its own that trusts it (git drops GIT_CONFIG_COUNT for the
	// receive-pack of a local push).
	gitConfig := filepath.Join(h.scratch("gitconfig"), "config")
	if err := os.WriteFile(gitConfig, []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	gitEnv := []string{"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.invalid", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.invalid",
		"GIT_CONFIG_GLOBAL=" + gitConfig}
	sh := func(dir string, args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), gitEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			h.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// project makes a laptop clone of the sample app and its central repository.
	project := func(name string) (work, central, root string) {
		base := h.scratch("sb-" + name)
		central, work, root = filepath.Join(base, "central.git"), filepath.Join(base, "work"), filepath.Join(base, "hosts")
		sh(base, "git", "init", "-q", "--bare", "-b", "main", central)
		sh(base, "git", "clone", "-q", central, work)
		sh(work, "git", "checkout", "-q", "-b", "main")
		sh(base, "cp", "-r", src+"/.", work)
		if err := mkdirOpen(root); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	commit := func(work, msg string) {
		f := filepath.Join(work, "books", "bench.py")
		if err := os.WriteFile(f, []byte("# "+msg+"\n"), 0o644); err != nil {
			h.t.Fatal(err)
		}
		sh(work, "git", "add", ".")
		sh(work, "git", "commit", "-q", "-m", msg)
	}
	chownUser := func(path string) {
		u, err := user.Lookup(h.env.User)
		if err != nil || os.Geteuid() != 0 {
			return
		}
		sh("/", "chown", "-R", u.Uid+":"+u.Gid, path)
	}

	// deploy: the Deployfile of e2e_test.go (without its build step,
	// which the fabfile does not do).
	dWork, dCentral, dRoot := project("deploy")
	var members []string
	for _, w := range web {
		members = append(members, fmt.Sprintf(`{ name = %q, host = %q, vars = { port = %d } }`, w, w, freePort(h)))
		pidfiles = append(pidfiles, filepath.Join(dRoot, w, "shared", "gunicorn.pid"))
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
static = [%[4]q]
prod = ["@web", "@static"]

[vars]
db = "%[2]s/db.sqlite3"

[tasks.test]
steps = [{ local = "/usr/bin/python3 manage.py test --noinput -v 0" }]

[tasks.deploy]
steps = [
  { builtin = "test" },
  { builtin = "commit" },
  { builtin = "push" },
  { builtin = "collectstatic" },
  { builtin = "sync-static", on = "static" },
  { builtin = "pull", on = "web" },
  { builtin = "migrate", on = "web", once = true, env = { SUPERBOOK_DB = "{{db}}" } },
  { builtin = "reload", on = "web", env = { SUPERBOOK_DB = "{{db}}" }, with = { method = "command", command = """
pid={{path}}/shared/gunicorn.pid
if [ -f $pid ] && kill -0 $(cat $pid) 2>/dev/null; then kill -HUP $(cat $pid); exit 0; fi
gunicorn --chdir {{current}} --bind 127.0.0.1:{{port}} --pid $pid --daemon --workers 2 superbook.wsgi
""" } },
  { builtin = "healthcheck", on = "web", with = { url = "http://127.0.0.1:{{port}}/health", expect = "ok {{sha}}", timeout = "30s" } },
]
`, dCentral, dRoot, strings.Join(members, ", "), static)
	if err := os.WriteFile(filepath.Join(dWork, "Deployfile"), []byte(df), 0o644); err != nil {
		h.t.Fatal(err)
	}
	sh(dWork, "git", "add", ".")
	sh(dWork, "git", "commit", "-q", "-m", "superbook")
	sh(dWork, "git", "push", "-q", "-u", "origin", "main")
	chownUser(dCentral)
	// BENCH_TRACE=DIR keeps each deploy run's --json events there.
	trace := os.Getenv("BENCH_TRACE")
	runs := 0
	deployRun := func() error {
		args := []string{"--no-color", "-f", filepath.Join(dWork, "Deployfile"), "--ssh-config", nw.sshConfig}
		if trace != "" {
			args = append(args, "--json")
		}
		cmd := exec.Command(h.bin, append(args, "prod")...)
		cmd.Dir = dWork
		cmd.Env = append(os.Environ(), append(gitEnv, "SSH_AUTH_SOCK=")...)
		out, err := cmd.CombinedOutput()
		if trace != "" {
			runs++
			_ = os.WriteFile(filepath.Join(trace, fmt.Sprintf("deploy-%02d.jsonl", runs)), out, 0o644)
		}
		if err != nil {
			return fmt.Errorf("deploy prod: %v\n%s", err, lastLines(string(out), 20))
		}
		return nil
	}

	// Fabric: superbook_fab.py, as its header says.
	fWork, fCentral, fRoot := project("fabric")
	var webArg []string
	for _, w := range web {
		webArg = append(webArg, fmt.Sprintf("%s:%d", w, freePort(h)))
		pidfiles = append(pidfiles, filepath.Join(fRoot, w, "shared", "gunicorn.pid"))
	}
	sh(fWork, "git", "add", ".")
	sh(fWork, "git", "commit", "-q", "-m", "superbook")
	sh(fWork, "git", "push", "-q", "-u", "origin", "main")
	chownUser(fCentral)
	fabRun := func() error {
		return command(gitEnv, "", "/usr/bin/python3", "superbook_fab.py", "--ssh-config", nw.sshConfig, "--known-hosts", nw.knownHosts,
			"--project", fWork, "--central", fCentral, "--root", fRoot, "--web", strings.Join(webArg, ","), "--static", static)
	}

	var cs []contender
	n := 0
	cs = append(cs,
		contender{name: "deploy new commit", setup: deployRun, prep: func() error { n++; commit(dWork, fmt.Sprintf("change %d", n)); return nil }, run: deployRun},
		contender{name: "deploy no-op", run: deployRun})
	if hasFabric() {
		cs = append(cs,
			contender{name: "fabric new commit", setup: fabRun, prep: func() error { commit(fWork, fmt.Sprintf("change %d", n)); return nil }, run: fabRun},
			contender{name: "fabric no-op", run: fabRun})
	} else {
		cs = append(cs, missing("fabric new commit", "Fabric (Debian python3-fabric)"), missing("fabric no-op", "Fabric"))
	}
	res := h.measure(cs)
	h.printf("\n## Full sample-app deploy: 2 app hosts + 1 static, %d ms RTT (median of %d)\n\n", rtt, h.count)
	h.printf("| tool | new commit | nothing new (rerun) |\n| --- | ---: | ---: |\n")
	h.printf("| deploy | %s | %s |\n", res["deploy new commit"], res["deploy no-op"])
	h.printf("| Fabric (superbook_fab.py) | %s | %s |\n", res["fabric new commit"], res["fabric no-op"])
	if d, f := res["deploy new commit"], res["fabric new commit"]; d.err == nil && f.err == nil && d.n > 0 && f.n > 0 {
		h.printf("\ndeploy ÷ Fabric, new commit: %.2f× (target ≤ 0.5×).", float64(d.median)/float64(f.median))
	}
	if d := res["deploy no-op"]; d.err == nil && d.n > 0 {
		h.printf(" deploy with nothing new: %s (target ≤ 1000 ms).", d)
	}
	h.printf("\n")
}

func freePort(h *harness) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
