//go:build unix

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	port, err := sshtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func newSuperbook(t *testing.T, hosts ...string) *superbook {
	t.Helper()
	if _, err := os.Stat("/usr/bin/gunicorn"); err != nil {
		t.Skip("gunicorn not installed: apt-get install gunicorn python3-django")
	}
	sb := &superbook{env: sshtest.New(t), ports: map[string]int{}}
	for _, h := range hosts {
		sb.env.Start(t, h)
		sb.ports[h] = freePort(t)
	}
	sb.env.Start(t, "static1")
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
build = [{ run = "echo built >> {{builds}}; cat requirements.txt > $DEPLOY_OUTPUT/requirements.lock 2>/dev/null || true", inputs = ["requirements.txt"], output = "deps" }]

[hosts]
web = [%[3]s]
static = ["static1"]
prod = ["@web", "@static"]

[vars]
db = "%[2]s/db.sqlite3"
builds = "%[2]s/builds.log"

[tasks.test]
steps = [{ local = "/usr/bin/python3 manage.py test --noinput -v 0" }]

[tasks.deploy]
steps = [{ builtin = "test" }, { task = "release" }]

[tasks.release]
steps = [
  { builtin = "commit" },
  { builtin = "push" },
  { builtin = "collectstatic" },
  { builtin = "sync-static", on = "static" },
  { builtin = "pull", on = "web" },
  { builtin = "migrate", on = "web", once = true, env = { SUPERBOOK_DB = "{{db}}" } },
  { builtin = "reload", on = "web", env = { SUPERBOOK_DB = "{{db}}" }, with = { method = "command", command = """
pid={{path}}/shared/gunicorn.pid
if [ -f $pid ] && kill -0 $(cat $pid) 2>/dev/null; then kill -HUP $(cat $pid); exit 0; fi
gunicorn --chdir {{current}} --bind 127.0.0.1:{{port}} --pid $pid --daemon --workers 1 superbook.wsgi
""" } },
  { builtin = "healthcheck", on = "web", with = { url = "http://127.0.0.1:{{port}}/health", expect = "ok {{sha}}", timeout = "4s" } },
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
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	code, out, errOut := runCLI(t, append(sb.flags, "-v", "prod")...)
	if code != 0 {
		t.Fatalf("first deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	// -v: sync-static names each file it uploads, after its summary line.
	if !regexp.MustCompile(`static1 \|\s+books/site\.[0-9a-f]{12}\.css \([0-9.]+ (B|kB)\)`).MatchString(out) {
		t.Errorf("with -v, sync-static does not list its files:\n%s", out)
	}
	sha := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	if mustSh(t, "/", "git", "--git-dir", sb.central, "rev-parse", "main") != sha {
		t.Fatal("not pushed")
	}
	pids := map[string]int{}
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha)
		home := sb.get(t, h, "/")
		if !strings.Contains(home, "0 books") {
			t.Errorf("%s: the home page does not read the migrated database", h)
		}
		// ManifestStaticFilesStorage names the hashed file: the release
		// has Django's staticfiles.json, though the files are on static1.
		if !regexp.MustCompile(`href="/static/books/site\.[0-9a-f]{12}\.css"`).MatchString(home) {
			t.Errorf("%s: the home page does not name the hashed CSS (no staticfiles.json in the release?):\n%s", h, home)
		}
		pids[h] = sb.masterPID(h)
		if rel := sb.releases(t, h); len(rel) != 1 || !strings.HasSuffix(rel[0], "-"+sha[:7]) {
			t.Errorf("%s releases: %v", h, rel)
		}
		if _, err := os.Stat(filepath.Join(sb.root, h, "current", ".git")); err == nil {
			t.Errorf("%s: the release has a .git directory", h)
		}
	}
	if css, _ := filepath.Glob(filepath.Join(sb.root, "static1", "static", "books", "site.*.css")); len(css) != 1 {
		t.Errorf("hashed CSS on the static host: %v", css)
	}
	if n := strings.Count(out, "Applying books.0001_initial"); n != 1 {
		t.Errorf("migrations applied %d times, want once:\n%s", n, out)
	}

	// Nothing new: nothing changes, nothing reloads, and it says so.
	code, out, errOut = runCLI(t, append(sb.flags, "prod")...)
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
		skipped := false
		for _, l := range strings.Split(out, "\n") {
			skipped = skipped || (strings.HasPrefix(l, h+" ") && strings.HasSuffix(l, "| – skipped: current is "+sha[:7]+" already"))
		}
		if !skipped {
			t.Errorf("%s: pull not skipped:\n%s", h, out)
		}
	}
	// The release in use was migrated by the run that made it live, as
	// its record says: migrate asks Django nothing.
	if !strings.Contains(out, "skipped: the migrations of ") || !strings.Contains(sb.stateFile(t, "web1"), `"migrated":true`) {
		t.Errorf("migrate did not trust the record of the release in use:\n%s\nstate: %s", out, sb.stateFile(t, "web1"))
	}
}

// stateFile is a host's {path}/.deploy/state.
func (sb *superbook) stateFile(t *testing.T, host string) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(sb.root, host, ".deploy", "state"))
	return string(data)
}

// current is the release a host's `current` points at.
func (sb *superbook) current(t *testing.T, host string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(sb.root, host, "current"))
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return target
}

// commit changes the app in the laptop's clone and commits it.
func (sb *superbook) commit(t *testing.T, msg string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(sb.work, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustSh(t, sb.work, "git", "add", ".")
	mustSh(t, sb.work, "git", "commit", "-q", "-m", msg)
	return mustSh(t, sb.work, "git", "rev-parse", "HEAD")
}

func (sb *superbook) deploy(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"prod"}
	}
	code, out, errOut := runCLI(t, append(sb.flags, args...)...)
	if code != wantCode {
		t.Fatalf("deploy: exit %d, want %d\n%s\n%s", code, wantCode, out, errOut)
	}
	return out, errOut
}

func (sb *superbook) journal(t *testing.T, host string) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(sb.root, host, ".deploy", "journal"))
	return string(data)
}

// A migration that fails: the run stops before the switch; every host
// keeps its release and serves the old commit; the lock is given back and
// the journal says so.
func TestSlowSuperbookBrokenMigration(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	sb.deploy(t, 0)
	old := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	before := map[string]string{"web1": sb.current(t, "web1"), "web2": sb.current(t, "web2")}
	sb.commit(t, "broken migration", map[string]string{"books/migrations/0002_broken.py": `from django.db import migrations


def explode(apps, schema_editor):
    raise RuntimeError("this migration is broken")


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]
    operations = [migrations.RunPython(explode)]
`})
	// (The app's own tests would stop this commit: deploy without them.)
	out, errOut := sb.deploy(t, 1, "run", "prod", "release")
	if !strings.Contains(out+errOut, "this migration is broken") || !strings.Contains(errOut, "(migrate) failed on web1") {
		t.Errorf("the failure is not explained:\n%s\n%s", out, errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if sb.current(t, h) != before[h] {
			t.Errorf("%s: current moved to %s", h, sb.current(t, h))
		}
		sb.waitServes(t, h, old)
		if _, err := os.Stat(filepath.Join(sb.root, h, ".deploy", "lock")); err == nil {
			t.Errorf("%s: lock left behind", h)
		}
		if !strings.Contains(sb.journal(t, h), `"result":"failed"`) {
			t.Errorf("%s: journal: %s", h, sb.journal(t, h))
		}
	}
}

// A health check that fails after the switch: every host goes back to its
// previous release and serves the old commit. (The default suite proves
// it with TestStartprojectDeploys and TestTaskHooksOnFailureAfterRollback.)
func TestSlowSuperbookFailingHealthCheck(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	sb.deploy(t, 0)
	old := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	before := map[string]string{"web1": sb.current(t, "web1"), "web2": sb.current(t, "web2")}
	views, err := os.ReadFile(filepath.Join(sb.work, "books", "views.py"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(views), `    with connection.cursor() as cursor:`, `    raise RuntimeError("unhealthy on purpose")
    with connection.cursor() as cursor:`, 1)
	sb.commit(t, "break health", map[string]string{"books/views.py": broken})
	_, errOut := sb.deploy(t, 1, "run", "prod", "release")
	if !strings.Contains(errOut, "switched back to its previous release") {
		t.Errorf("no rollback said:\n%s", errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if sb.current(t, h) != before[h] {
			t.Errorf("%s: current is %s, want %s back", h, sb.current(t, h), before[h])
		}
		sb.waitServes(t, h, old)
		if !strings.Contains(sb.journal(t, h), `"result":"rolled back"`) {
			t.Errorf("%s: journal: %s", h, sb.journal(t, h))
		}
	}
}

// Four deploys with keep_releases = 3, then a rollback: the previous
// commit is served again, and pruning kept the right releases.
func TestSlowSuperbookRollbackAndPrune(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1")
	var shas []string
	for i := 1; i <= 4; i++ {
		if i > 1 {
			// No pause: a release of the same second is named the second
			// after the latest on the host, so names sort as made.
			sb.commit(t, fmt.Sprintf("v%d", i), map[string]string{"VERSION": strconv.Itoa(i)})
		}
		sb.deploy(t, 0, "run", "prod", "release")
		shas = append(shas, mustSh(t, sb.work, "git", "rev-parse", "HEAD"))
		sb.waitServes(t, "web1", shas[i-1])
	}
	rels := sb.releases(t, "web1")
	if len(rels) != 3 || strings.HasSuffix(rels[0], shas[0][:7]) {
		t.Fatalf("after 4 deploys with keep_releases = 3: %v", rels)
	}

	code, out, errOut := runCLI(t, append(sb.flags, "releases", "web")...)
	if code != 0 || !strings.Contains(out, shas[3][:12]) || !strings.Contains(out, "← current") {
		t.Errorf("releases: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, append(sb.flags, "rollback", "web")...)
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	sb.waitServes(t, "web1", shas[2])
	if !strings.HasSuffix(sb.current(t, "web1"), shas[2][:7]) {
		t.Errorf("current after rollback: %s", sb.current(t, "web1"))
	}
	if !strings.Contains(sb.journal(t, "web1"), `"task":"rollback"`) {
		t.Error("the rollback is not in the journal")
	}
	// After the rollback, a plan tells the truth: HEAD is not what web1
	// serves, so the release (already built) would go live again.
	code, out, errOut = runCLI(t, append(sb.flags, "plan", "prod", "release")...)
	if code != 0 || !regexp.MustCompile(`pull +→ would run`).MatchString(out+errOut) || !regexp.MustCompile(`switch current +→ would run`).MatchString(out+errOut) {
		t.Errorf("plan after a rollback: exit %d\n%s\n%s", code, out, errOut)
	}

	// --to a named commit.
	if code, out, errOut := runCLI(t, append(sb.flags, "rollback", "web", "--to", shas[3][:8])...); code != 0 {
		t.Fatalf("rollback --to: exit %d\n%s%s", code, out, errOut)
	}
	sb.waitServes(t, "web1", shas[3])
	// A release that is not there: refused, nothing switched.
	if code, _, errOut := runCLI(t, append(sb.flags, "rollback", "web", "--to", "deadbeef")...); code != 2 || !strings.Contains(errOut, `no release "deadbeef"`) {
		t.Errorf("rollback to a missing release: exit %d\n%s", code, errOut)
	}
	sb.waitServes(t, "web1", shas[3])
}

// A new migration and one changed CSS file: only the changed static files
// travel, the migration is applied once, and the new commit is served.
func TestSlowSuperbookMigrationAndStatic(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	sb.deploy(t, 0)
	models, _ := os.ReadFile(filepath.Join(sb.work, "books", "models.py"))
	sha := sb.commit(t, "isbn and colours", map[string]string{
		"books/static/books/site.css": "body { font-family: serif; }\n",
		"books/models.py": strings.Replace(string(models), `    author = models.CharField(max_length=200)`,
			`    author = models.CharField(max_length=200)
    isbn = models.CharField(max_length=20, default="")`, 1),
		"books/migrations/0002_isbn.py": `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]
    operations = [migrations.AddField("book", "isbn", models.CharField(default="", max_length=20))]
`,
	})
	out, _ := sb.deploy(t, 0)
	// One line for the sync: site.css, its new hashed copy, and Django's
	// manifest of names — nothing else.
	sync := regexp.MustCompile(`static1 \| uploaded 3 files \([0-9.]+ [KM]?B\): (.*); ([0-9]+) unchanged`).FindStringSubmatch(out)
	if sync == nil || !strings.Contains(sync[1], "books/site.css") || !strings.Contains(sync[1], "staticfiles.json") || sync[2] == "0" {
		t.Errorf("want one line naming the changed CSS and Django's manifest, and the files left alone:\n%s", out)
	}
	if n := strings.Count(out, "Applying books.0002_isbn"); n != 1 {
		t.Errorf("the migration was applied %d times", n)
	}
	for _, h := range []string{"web1", "web2"} {
		sb.waitServes(t, h, sha)
	}
	if css, _ := filepath.Glob(filepath.Join(sb.root, "static1", "static", "books", "site.*.css")); len(css) != 2 {
		t.Errorf("hashed CSS on the static host: %v (the old name stays for cached pages)", css)
	}
}

// The static host's sshd dies mid-run: the run stops before any switch,
// the web hosts keep their release and serve the old commit, and their
// locks are given back.
func TestSlowSuperbookStaticHostDies(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1", "web2")
	sb.deploy(t, 0)
	old := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	before := map[string]string{"web1": sb.current(t, "web1"), "web2": sb.current(t, "web2")}
	sb.commit(t, "new css", map[string]string{"books/static/books/site.css": "h1 { color: red; }\n"})
	static := sb.env.Servers()["static1"]
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		// Once the run holds its locks, pull the plug on the static host.
		lock := filepath.Join(sb.root, "static1", ".deploy", "lock")
		for i := 0; i < 2000; i++ {
			if _, err := os.Stat(lock); err == nil {
				static.Stop()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	_, errOut := sb.deploy(t, 1, "run", "prod", "release")
	<-killed
	if !strings.Contains(errOut, "on static1") {
		t.Errorf("the failure does not name the static host:\n%s", errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if got := sb.current(t, h); got != before[h] {
			t.Errorf("%s switched to %s", h, got)
		}
		sb.waitServes(t, h, old)
		if _, err := os.Stat(filepath.Join(sb.root, h, ".deploy", "lock")); err == nil {
			t.Errorf("%s: lock left behind", h)
		}
	}
}

// [app] build runs when its inputs change, not otherwise; each release
// links the build of its inputs.
func TestSlowSuperbookBuild(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1")
	count := func() int {
		data, _ := os.ReadFile(filepath.Join(sb.root, "builds.log"))
		return strings.Count(string(data), "built")
	}
	sb.deploy(t, 0, "run", "prod", "release")
	if count() != 1 {
		t.Fatalf("first deploy built %d times", count())
	}
	time.Sleep(1100 * time.Millisecond)
	sb.commit(t, "unrelated", map[string]string{"NOTES": "x"})
	out, _ := sb.deploy(t, 0, "run", "prod", "release")
	if count() != 1 || !strings.Contains(out, "deps: inputs unchanged") {
		t.Errorf("a deploy with the same inputs built again (%d)\n%s", count(), out)
	}
	time.Sleep(1100 * time.Millisecond)
	sb.commit(t, "new dependency", map[string]string{"requirements.txt": "django==3.2\n"})
	sb.deploy(t, 0, "run", "prod", "release")
	if count() != 2 {
		t.Errorf("a change of the inputs did not build (%d)", count())
	}
	lock, err := os.ReadFile(filepath.Join(sb.root, "web1", "current", "deps", "requirements.lock"))
	if err != nil || string(lock) != "django==3.2\n" {
		t.Errorf("the release does not link its build: %q %v", lock, err)
	}
}

// strategy = "inplace": the book's literal step, a git work tree at
// {path} reset to the deploy SHA.
func TestSlowSuperbookInPlace(t *testing.T) {
	slow(t)
	t.Parallel()
	sb := newSuperbook(t, "web1")
	df := filepath.Join(sb.work, "Deployfile")
	data, _ := os.ReadFile(df)
	sb.commit(t, "in place", map[string]string{"Deployfile": strings.Replace(string(data), "keep_releases = 3", `strategy = "inplace"`, 1)})
	sb.deploy(t, 0, "run", "prod", "release")
	first := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	sb.waitServes(t, "web1", first)
	if got := mustSh(t, "/", "git", "-C", filepath.Join(sb.root, "web1"), "rev-parse", "HEAD"); got != first {
		t.Errorf("work tree at %s", got)
	}
	second := sb.commit(t, "v2", map[string]string{"NOTES": "2"})
	sb.deploy(t, 0, "run", "prod", "release")
	sb.waitServes(t, "web1", second)
	if _, err := os.Stat(filepath.Join(sb.root, "web1", "releases")); err == nil {
		t.Error("inplace made release directories")
	}
}
