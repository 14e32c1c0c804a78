//go:build unix

package tasks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// toolDir is a PATH directory with the script's tools, less the hidden
// ones; "" when a fetcher's tool is not installed here.
func toolDir(t *testing.T, hide string) string {
	t.Helper()
	dir := t.TempDir()
	tools := []string{"sh", "cat", "mktemp", "head", "tr", "cut", "grep", "sed", "awk", "date", "sleep", "rm", "cp",
		"tail", "mv", "mkdir", "ln", "readlink", "printf", "curl", "wget", "python3"}
	for _, tool := range tools {
		if strings.Contains(" "+hide+" ", " "+tool+" ") {
			continue
		}
		path, err := exec.LookPath(tool)
		if _, debian := os.Stat("/usr/bin/python3"); tool == "python3" && debian == nil {
			path, err = "/usr/bin/python3", nil // not a version manager's shim
		}
		if err != nil {
			if tool == "curl" || tool == "wget" || tool == "python3" {
				return ""
			}
			continue
		}
		if err := os.Symlink(path, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// healthEnv is a host switched to release "new", whose health check uses
// only the tools in path.
func healthEnv(t *testing.T, path string, with map[string]any) (*Env, string) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "releases", "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("releases/new", filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
	env := reloadEnv(root, with)
	env.App.Python = "python3"
	env.CmdEnv = map[string]string{"PATH": path}
	return env, filepath.Join(root, "releases", "new")
}

// Each case is an app and a with table; the check must end as want says
// (the error containing it; "" is healthy), never by its timeout unless
// the case says so.
func TestHealthcheckAnswers(t *testing.T) {
	type app func(w http.ResponseWriter, r *http.Request, n int64)
	cases := []struct {
		name string
		app  app
		with map[string]any
		host string // the release's .allowed-host
		want string
	}{
		{"ok", func(w http.ResponseWriter, r *http.Request, n int64) { w.Write([]byte("ok abc\n")) },
			map[string]any{"expect": "abc"}, "", ""},
		{"redirect is healthy by default", func(w http.ResponseWriter, r *http.Request, n int64) {
			http.Redirect(w, r, "/login/", http.StatusFound)
		}, map[string]any{}, "", ""},
		{"a redirect when 200 is expected fails fast", func(w http.ResponseWriter, r *http.Request, n int64) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, map[string]any{"status": []any{int64(200)}}, "", "3 error answers in a row"},
		{"500s fail fast", func(w http.ResponseWriter, r *http.Request, n int64) {
			http.Error(w, "Server Error (500)", 500)
		}, map[string]any{"timeout": "60s"}, "", "HTTP 500"},
		{"fewer errors than fail_after, then up", func(w http.ResponseWriter, r *http.Request, n int64) {
			if n < 3 {
				http.Error(w, "booting", 503)
				return
			}
			w.Write([]byte("up"))
		}, map[string]any{"fail_after": int64(5)}, "", ""},
		{"status class", func(w http.ResponseWriter, r *http.Request, n int64) { w.WriteHeader(204) },
			map[string]any{"status": "2xx"}, "", ""},
		{"Host from ALLOWED_HOSTS", func(w http.ResponseWriter, r *http.Request, n int64) {
			if r.Host != "www.example.com" {
				http.Error(w, "Bad Request (400): "+r.Host, 400)
				return
			}
			w.Write([]byte("hello"))
		}, map[string]any{}, "www.example.com", ""},
		{"with.host wins", func(w http.ResponseWriter, r *http.Request, n int64) {
			if r.Host != "api.example.com" {
				http.Error(w, "Bad Request (400)", 400)
				return
			}
			w.Write([]byte("hello"))
		}, map[string]any{"host": "api.example.com"}, "www.example.com", ""},
		{"header matches", func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("X-Revision", "c0ffee")
			w.Write([]byte("x"))
		}, map[string]any{"header": "x-revision: c0ffee"}, "", ""},
		{"header differs", func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("X-Revision", "old")
			w.Write([]byte("x"))
		}, map[string]any{"header": "X-Revision: c0ffee", "timeout": "1s"}, "", `no header "X-Revision: c0ffee"`},
	}
	// The ways the health check fetches a URL, each forced by a PATH that
	// has only the tools it may use.
	fetchers := []struct{ name, hide string }{{"curl", ""}, {"python", "curl"}, {"wget", "curl python3"}}
	for _, f := range fetchers {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			path := toolDir(t, f.hide)
			if path == "" {
				t.Skip(f.name + " not installed")
			}
			for _, c := range cases {
				if f.name == "wget" && strings.Contains(c.name, "redirect") {
					continue // wget follows redirects
				}
				t.Run(c.name, func(t *testing.T) {
					var n atomic.Int64
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						c.app(w, r, n.Add(1)-1)
					}))
					defer srv.Close()
					with := map[string]any{"url": srv.URL + "/health/", "timeout": "20s"}
					for k, v := range c.with {
						with[k] = v
					}
					env, release := healthEnv(t, path, with)
					if c.host != "" {
						os.WriteFile(filepath.Join(release, allowedHostFile), []byte(c.host+"\n"), 0o644)
					}
					err := healthcheckStep{}.Run(context.Background(), env, Verdict{})
					out := env.Stdout.(interface{ String() string }).String()
					switch {
					case c.want == "" && err != nil:
						t.Fatalf("unhealthy: %v\n%s", err, out)
					case c.want != "" && (err == nil || !strings.Contains(err.Error()+out, c.want)):
						t.Fatalf("want %q, got %v\n%s", c.want, err, out)
					}
				})
			}
		})
	}
}

// No answer is waited for: the server restarting. The check ends healthy
// once it answers.
func TestHealthcheckWaitsForTheServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env, _ := healthEnv(t, os.Getenv("PATH"), map[string]any{"url": "http://" + addr + "/", "timeout": "20s"})
	done := make(chan error, 1)
	go func() { done <- healthcheckStep{}.Run(context.Background(), env, Verdict{}) }()
	// The check is polling a closed port; now the server comes up.
	var srv *http.Server
	for i := 0; ; i++ {
		l, err = net.Listen("tcp", addr)
		if err == nil {
			break
		}
		if i == 100 {
			t.Skip("the port was taken meanwhile")
		}
	}
	srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up")) })}
	go srv.Serve(l)
	defer srv.Close()
	if err := <-done; err != nil {
		t.Fatalf("the check did not wait for the server: %v", err)
	}
	if got := env.Release.Record.Phase; got != PhaseHealthy {
		t.Errorf("phase %s, want healthy", got)
	}
}

func TestCheckWith(t *testing.T) {
	cases := []struct {
		builtin string
		with    map[string]any
		want    []string // keys with a problem
	}{
		{"healthcheck", map[string]any{"status": []any{int64(200), "3xx", "5x0"}}, []string{"status"}},
		{"healthcheck", map[string]any{"status": int64(200), "header": "X-A:", "timeout": "2s", "fail_after": int64(2)}, nil},
		{"healthcheck", map[string]any{"status": []any{}, "header": "X A: b", "timeout": "{{t}}"}, []string{"header", "status"}},
		{"healthcheck", map[string]any{"status": "600", "fail_after": int64(0), "timeout": "-1s"}, []string{"fail_after", "status", "timeout"}},
		{"reload", map[string]any{"method": "gunicron", "workers": int64(2)}, []string{"method"}},
		{"migrate", map[string]any{"settings": "$(x)"}, nil},
	}
	for _, c := range cases {
		var got []string
		for _, p := range CheckWith(c.builtin, c.with) {
			got = append(got, p.Key)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s %v: problems with %v, want %v", c.builtin, c.with, got, c.want)
		}
	}
}
