//go:build unix

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// pollsApp writes the tutorial's polls app into a project made by
// django-admin startproject: a model and its migration, a view with a
// template and a static file, and a test.
func pollsApp(t *testing.T, work string) {
	t.Helper()
	py := "/usr/bin/python3"
	mustSh(t, work, py, "-m", "django", "startproject", "mysite", ".")
	mustSh(t, work, py, "manage.py", "startapp", "polls")
	files := map[string]string{
		"polls/models.py": "from django.db import models\n\n\nclass Question(models.Model):\n    text = models.CharField(max_length=200)\n",
		"polls/views.py": "from django.shortcuts import render\n\nfrom .models import Question\n\n\n" +
			"def index(request):\n    return render(request, 'polls/index.html', {'count': Question.objects.count()})\n",
		"polls/urls.py":                    "from django.urls import path\n\nfrom . import views\n\nurlpatterns = [path('', views.index)]\n",
		"polls/templates/polls/index.html": "{% load static %}<link rel=\"stylesheet\" href=\"{% static 'polls/style.css' %}\"><p>{{ count }} questions</p>\n",
		"polls/static/polls/style.css":     "body { color: teal; }\n",
		"polls/tests.py":                   "from django.test import TestCase\n\n\nclass Smoke(TestCase):\n    def test_index(self):\n        self.assertContains(self.client.get('/polls/'), '0 questions')\n",
		".gitignore":                       "__pycache__/\ndb.sqlite3\nlocal_only.txt\n",
		"local_only.txt":                   "this machine only\n",
		"mysite/urls.py":                   "from django.contrib import admin\nfrom django.urls import include, path\n\nurlpatterns = [path('admin/', admin.site.urls), path('polls/', include('polls.urls'))]\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settings := filepath.Join(work, "mysite", "settings.py")
	src, _ := os.ReadFile(settings)
	text := strings.Replace(string(src), "'django.contrib.staticfiles',\n", "'django.contrib.staticfiles',\n    'polls',\n", 1)
	// The site's name, as production has one: requests for another Host
	// get 400 — the health check's too, unless it sends this one.
	text = strings.Replace(text, "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['mysite.example.com']", 1)
	if err := os.WriteFile(settings, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, work, py, "manage.py", "makemigrations", "polls", "-v", "0")
}

// A project made with django-admin startproject (and the tutorial's polls
// app) deploys with `deploy init`, its hosts edited, and `deploy prod`:
// the page answers over HTTP with its static file on the hosts; a rerun
// does nothing; a change deploys with no failed request; a change that
// breaks only in production (it reads a file that is not in git) is
// caught and the fleet keeps serving the previous release.
func TestStartprojectDeploys(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/gunicorn"); err != nil {
		t.Skip("gunicorn not installed: apt-get install gunicorn python3-django")
	}
	env := sshtest.New(t)
	hosts := []string{"web1", "web2"}
	ports := map[string]int{}
	for _, h := range hosts {
		env.Start(t, h)
		ports[h] = freePort(t)
	}
	central := filepath.Join(env.UserDir(t), "central.git")
	mustSh(t, "/", "git", "init", "-q", "--bare", "-b", "main", central)
	if os.Geteuid() == 0 {
		mustSh(t, "/", "chown", "-R", env.User, central)
	}
	work := filepath.Join(t.TempDir(), "mysite")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	pollsApp(t, work)
	mustSh(t, work, "git", "init", "-q", "-b", "main")
	mustSh(t, work, "git", "remote", "add", "origin", central)
	mustSh(t, work, "git", "add", ".")
	mustSh(t, work, "git", "commit", "-q", "-m", "startproject and polls")

	// deploy init, then the hosts edited — and, as the test's hosts share
	// one machine and one home, a deploy root of each host's own.
	file := filepath.Join(work, "Deployfile")
	if code, out, errOut := runCLI(t, "--no-color", "init", "-f", file); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	b := make([]byte, 6)
	rand.Read(b)
	root := "deploytest-" + hex.EncodeToString(b)
	u, _ := user.Lookup(env.User)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(u.HomeDir, root)) })
	df, _ := os.ReadFile(file)
	text := strings.Replace(string(df), `web = ["web1.example.com"]`,
		fmt.Sprintf(`web = [{ host = "web1", vars = { port = %d } }, { host = "web2", vars = { port = %d } }]`, ports["web1"], ports["web2"]), 1)
	text = strings.Replace(text, `path = "~/apps/mysite"`, `path = "~/`+root+`/{{host}}/mysite"`, 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, h := range hosts {
			data, _ := os.ReadFile(filepath.Join(u.HomeDir, root, h, "mysite", "shared", "gunicorn.pid"))
			var pid int
			if _, err := fmt.Sscan(string(data), &pid); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	mustSh(t, work, "git", "add", "Deployfile")
	flags := []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}
	deploy := func(want int, msg string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(flags, "prod", "--yes", "-m", msg)...)
		if code != want {
			t.Fatalf("deploy (%s): exit %d, want %d\n%s\n%s", msg, code, want, out, errOut)
		}
		return out + errOut
	}
	get := func(h, path string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", ports[h], path), nil)
		req.Host = siteName
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// A plan of the fresh project, before anything exists on the hosts.
	if code, out, errOut := runCLI(t, append(flags, "plan", "prod")...); code != 0 || !strings.Contains(out+errOut, "would run") {
		t.Errorf("plan of a fresh project: exit %d\n%s\n%s", code, out, errOut)
	}
	start := time.Now()
	deploy(0, "the Deployfile")
	t.Logf("first deploy: %s", time.Since(start).Round(10*time.Millisecond))
	for _, h := range hosts {
		if code, body := get(h, "/polls/"); code != 200 || !strings.Contains(body, "0 questions") || !strings.Contains(body, "/static/polls/style.css") {
			t.Errorf("%s /polls/: %d %q", h, code, body)
		}
		if _, err := os.Stat(filepath.Join(u.HomeDir, root, h, "mysite", "shared", "static", "polls", "style.css")); err != nil {
			t.Errorf("%s: the static file is not on the host: %v", h, err)
		}
	}

	start = time.Now()
	out := deploy(0, "nothing")
	t.Logf("no-op deploy: %s", time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(out, "Nothing to do") {
		t.Errorf("the rerun did something:\n%s", out)
	}
	// deploy status on what init wrote: the app answers (with the Host of
	// ALLOWED_HOSTS), its page names no commit, and that is no drift.
	if code, out, errOut := runCLI(t, append(flags, "status", "prod")...); code != 0 {
		t.Errorf("status of a healthy fleet: exit %d\n%s\n%s", code, out, errOut)
	}

	// A plan of an uncommitted change to a static file: collectstatic,
	// and the sync of what it would collect, would run.
	css := filepath.Join(work, "polls", "static", "polls", "style.css")
	os.WriteFile(css, []byte("body { color: navy; }\n"), 0o644)
	if code, out, errOut := runCLI(t, append(flags, "plan", "prod")...); code != 0 ||
		!regexp.MustCompile(`sync-static +→ would run`).MatchString(out+errOut) {
		t.Errorf("plan of a changed static file: exit %d\n%s\n%s", code, out, errOut)
	}
	mustSh(t, work, "git", "checkout", "--", "polls/static/polls/style.css")

	// A change, while a client asks both hosts without pause.
	failures := hammerHost(t, hosts, ports, siteName, "/polls/")
	tmpl := filepath.Join(work, "polls", "templates", "polls", "index.html")
	os.WriteFile(tmpl, []byte("{% load static %}<p>{{ count }} questions asked</p>\n"), 0o644)
	mustSh(t, work, "git", "commit", "-q", "-am", "reworded")
	start = time.Now()
	deploy(0, "reworded")
	t.Logf("change deploy: %s", time.Since(start).Round(10*time.Millisecond))
	if n, _, last := failures(); n > 0 {
		t.Errorf("%d requests failed during the change deploy (last: %s)", n, last)
	}
	for _, h := range hosts {
		if code, body := get(h, "/polls/"); code != 200 || !strings.Contains(body, "questions asked") {
			t.Errorf("%s after the change: %d %q", h, code, body)
		}
	}

	// Broken in production only: the URLs read a file git ignores.
	failures = hammerHost(t, hosts, ports, siteName, "/polls/")
	urls := filepath.Join(work, "polls", "urls.py")
	src, _ := os.ReadFile(urls)
	os.WriteFile(urls, append(src, []byte("\nopen(__file__.replace('polls/urls.py', 'local_only.txt')).read()\n")...), 0o644)
	mustSh(t, work, "git", "commit", "-q", "-am", "works on my machine")
	start = time.Now()
	out = deploy(1, "works on my machine")
	t.Logf("broken deploy, rolled back: %s", time.Since(start).Round(10*time.Millisecond))
	n, _, last := failures()
	t.Logf("requests failed during the broken deploy: %d (last: %s)", n, last)
	// Caught before any host switched (Django's checks in migrate import
	// the URLs) or rolled back after: either way the hosts keep serving.
	if !strings.Contains(out, "No later step ran") {
		t.Errorf("the broken release was not stopped:\n%s", out)
	}
	if n > 0 {
		t.Errorf("%d requests failed during the broken deploy (last: %s)", n, last)
	}
	for _, h := range hosts {
		if code, body := get(h, "/polls/"); code != 200 || !strings.Contains(body, "questions asked") {
			t.Errorf("%s after the rollback: %d %q", h, code, body)
		}
	}
	brokenAtRequestTime(t, work, hosts, ports, deploy, get)

	// The starter's stop task stops gunicorn on every host.
	if code, out, errOut := runCLI(t, append(flags, "run", "prod", "stop", "--yes")...); code != 0 {
		t.Fatalf("stop: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, h := range hosts {
		for i := 0; ; i++ {
			if code, _ := get(h, "/polls/"); code == 0 {
				break
			}
			if i == 100 {
				t.Errorf("%s still answers after the stop task", h)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The next deploy starts it again, though nothing else is new: the
	// state says reloaded, the host says no server runs.
	out = deploy(0, "after the stop")
	if strings.Contains(out, "Nothing to do") || !strings.Contains(out, "gunicorn started") {
		t.Errorf("the deploy after the stop did not start gunicorn:\n%s", out)
	}
	for _, h := range hosts {
		if code, body := get(h, "/polls/"); code != 200 || !strings.Contains(body, "questions asked") {
			t.Errorf("%s after the deploy that follows the stop: %d %q", h, code, body)
		}
	}
}

// siteName is the test project's ALLOWED_HOSTS.
const siteName = "mysite.example.com"

// brokenAtRequestTime: a release that imports, passes Django's checks and
// boots, and then answers 500 to every request in production only (a
// middleware reads a file git ignores). The health check catches it after
// the reload and the fleet is rolled back: the requests that failed meanwhile
// all fall within 5 s of the first.
func brokenAtRequestTime(t *testing.T, work string, hosts []string, ports map[string]int,
	deploy func(int, string) string, get func(string, string) (int, string)) {
	t.Helper()
	mustSh(t, work, "git", "revert", "--no-edit", "HEAD") // the release broken at import
	mw := "class LocalOnly:\n    def __init__(self, get_response):\n        self.get_response = get_response\n\n" +
		"    def __call__(self, request):\n        open(__file__.replace('polls/middleware.py', 'local_only.txt')).read()\n" +
		"        return self.get_response(request)\n"
	os.WriteFile(filepath.Join(work, "polls", "middleware.py"), []byte(mw), 0o644)
	settings := filepath.Join(work, "mysite", "settings.py")
	src, _ := os.ReadFile(settings)
	os.WriteFile(settings, []byte(strings.Replace(string(src), "MIDDLEWARE = [\n", "MIDDLEWARE = [\n    'polls.middleware.LocalOnly',\n", 1)), 0o644)
	mustSh(t, work, "git", "add", "polls/middleware.py")
	mustSh(t, work, "git", "commit", "-q", "-am", "a middleware")
	failures := hammerTimes(t, hosts, ports, siteName, "/polls/")
	start := time.Now()
	out := deploy(1, "a middleware")
	t.Logf("deploy broken at request time, rolled back: %s", time.Since(start).Round(10*time.Millisecond))
	r := failures()
	t.Logf("requests failed: %d of %d, from the first to the last %s (last: %s)", r.failed, r.asked,
		r.lastFail.Sub(r.firstFail).Round(10*time.Millisecond), r.last)
	if !strings.Contains(out, "(healthcheck) failed") || !strings.Contains(out, "HTTP 500") || !strings.Contains(out, "rolled back") {
		t.Errorf("the health check did not catch the 500s and roll back:\n%s", out)
	}
	if r.failed > 0 && r.lastFail.Sub(r.firstFail) > 5*time.Second {
		t.Errorf("requests failed for %s: the fleet was not rolled back within 5 s", r.lastFail.Sub(r.firstFail))
	}
	for _, h := range hosts {
		if code, body := get(h, "/polls/"); code != 200 || !strings.Contains(body, "questions asked") {
			t.Errorf("%s after the rollback: %d %q", h, code, body)
		}
	}
	mustSh(t, work, "git", "revert", "--no-edit", "HEAD")
}

// hammer asks every host's path without pause until the returned
// function is called, which says how many requests failed, how many were
// made, and the last failure.
func hammer(t *testing.T, hosts []string, ports map[string]int, path string) func() (failed, asked int, last string) {
	t.Helper()
	return hammerHost(t, hosts, ports, "", path)
}

// hammerHost is hammer with a Host header ("": the address's).
func hammerHost(t *testing.T, hosts []string, ports map[string]int, host, path string) func() (failed, asked int, last string) {
	t.Helper()
	f := hammerTimes(t, hosts, ports, host, path)
	return func() (int, int, string) {
		r := f()
		return r.failed, r.asked, r.last
	}
}

// hammered is what a hammer saw.
type hammered struct {
	failed, asked       int
	last                string
	firstFail, lastFail time.Time
}

// hammerTimes is hammerHost, with the times of the first and last
// failures.
func hammerTimes(t *testing.T, hosts []string, ports map[string]int, host, path string) func() hammered {
	t.Helper()
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var r hammered
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", ports[h], path), nil)
				if host != "" {
					req.Host = host
				}
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				mu.Lock()
				r.asked++
				if err != nil {
					r.failed, r.last, r.lastFail = r.failed+1, h+": "+err.Error(), time.Now()
					if r.firstFail.IsZero() {
						r.firstFail = r.lastFail
					}
				}
				mu.Unlock()
				time.Sleep(25 * time.Millisecond)
			}
		}()
	}
	return func() hammered {
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return r
	}
}
