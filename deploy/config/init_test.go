package config

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// DetectProject reads the repository that holds the directory, from a
// subdirectory and from a linked work tree too, as git itself would.
func TestDetectProjectGit(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.MkdirAll(filepath.Join(dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := DetectProject(ctx, dir)
	if p.Repo != "git@git.example.com:shop.git" || p.Branch != "main" {
		t.Errorf("no repository: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "init", "-q", "-b", "trunk")
	p = DetectProject(ctx, filepath.Join(dir, "site"))
	if p.Repo != "git@git.example.com:site.git" || p.Branch != "trunk" {
		t.Errorf("no remote, no commit yet: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "remote", "add", "origin", "git@example.com:shop.git")
	gitCmd(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	p = DetectProject(ctx, filepath.Join(dir, "site"))
	if p.Repo != "git@example.com:shop.git" || p.Branch != "trunk" {
		t.Errorf("repo %q, branch %q", p.Repo, p.Branch)
	}

	wt := filepath.Join(t.TempDir(), "shop-feature")
	gitCmd(t, dir, "worktree", "add", "-q", "-b", "feature", wt)
	p = DetectProject(ctx, wt)
	if p.Repo != "git@example.com:shop.git" || p.Branch != "feature" {
		t.Errorf("linked work tree: repo %q, branch %q", p.Repo, p.Branch)
	}

	gitCmd(t, dir, "checkout", "-q", "--detach")
	p = DetectProject(ctx, dir)
	if p.Branch != "main" {
		t.Errorf("detached HEAD: branch %q, want the placeholder main", p.Branch)
	}
}

// The starter Deployfile loads as written, for a SQLite project (a
// database per host: shared, migrated on each) and for a PostgreSQL one
// (one server: DATABASE_URL a secret from the environment, given to
// migrate, once, and to the app).
func TestStarterSQLiteAndPostgres(t *testing.T) {
	for _, tt := range []struct {
		settings string
		postgres bool
	}{
		{"DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3'}}\n", false},
		{"DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'NAME': 'mysite'}}\n", true},
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "mysite"), 0o755)
		os.WriteFile(filepath.Join(dir, "manage.py"), []byte("os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "mysite", "settings.py"), []byte(tt.settings), 0o644)
		p := DetectProject(context.Background(), dir)
		if p.Postgres != tt.postgres {
			t.Fatalf("postgres detected: %v, want %v", p.Postgres, tt.postgres)
		}
		data, err := Starter(p)
		if err != nil {
			t.Fatal(err)
		}
		df, err := Parse("Deployfile", data, LoadOptions{})
		if err != nil {
			t.Fatalf("postgres=%v: the starter does not load: %v\n%s", tt.postgres, err, data)
		}
		var migrate, reload *Step
		for _, s := range df.Tasks["deploy"].Steps {
			switch s.Arg {
			case "migrate":
				migrate = s
			case "reload":
				reload = s
			}
		}
		hasDB := slices.Contains(df.App.Shared, "db.sqlite3")
		url := df.Vars["database_url"]
		switch {
		case migrate == nil || reload == nil:
			t.Errorf("postgres=%v: no migrate or reload step", tt.postgres)
		case tt.postgres && (hasDB || !migrate.Once || url == nil || !url.Secret || url.Env != "DATABASE_URL" ||
			migrate.Env["DATABASE_URL"] == "" || reload.Env["DATABASE_URL"] == ""):
			t.Errorf("postgres: shared %v, migrate once %v env %v, reload env %v, var %+v", df.App.Shared, migrate.Once, migrate.Env, reload.Env, url)
		case !tt.postgres && (!hasDB || migrate.Once || url != nil):
			t.Errorf("sqlite: shared %v, migrate once %v, var %+v", df.App.Shared, migrate.Once, url)
		}
	}
}

// Settings that cannot do without an environment variable get it from
// this machine's environment, as a secret when it looks like one, through
// [app] env; a project that routes "/" has its home page health-checked.
func TestStarterReadsWhatTheSettingsNeed(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"manage.py":        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'blog.settings')\n",
		"blog/settings.py": "import os\nSECRET_KEY = os.environ['DJANGO_SECRET_KEY']\nREGION = os.environ[\"REGION\"]\nDEBUG = os.environ.get('DJANGO_DEBUG') == '1'\nPORT = os.environ['PORT']\nROOT_URLCONF = 'blog.urls'\nAGAIN = os.environ['REGION']\n",
		"blog/urls.py":     "from django.urls import path\nurlpatterns = [path('', home)]\n",
	}
	for name, text := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := DetectProject(context.Background(), dir)
	want := []StarterEnv{{"DJANGO_SECRET_KEY", "django_secret_key", true}, {"REGION", "region", false}, {"PORT", "env_port", false}}
	if !slices.Equal(p.Env, want) || p.HealthPath != "/" {
		t.Fatalf("env %+v, health %q; want %+v and /", p.Env, p.HealthPath, want)
	}
	data, err := Starter(p)
	if err != nil {
		t.Fatal(err)
	}
	df, err := Parse("Deployfile", data, LoadOptions{})
	if err != nil {
		t.Fatalf("the starter does not load: %v\n%s", err, data)
	}
	if v := df.Vars["django_secret_key"]; v == nil || !v.Secret || v.Env != "DJANGO_SECRET_KEY" {
		t.Errorf("django_secret_key: %+v", v)
	}
	if v := df.Vars["region"]; v == nil || v.Secret || v.Env != "REGION" {
		t.Errorf("region: %+v", v)
	}
	if df.App.Env["DJANGO_SECRET_KEY"] != "{{django_secret_key}}" || df.App.Env["PORT"] != "{{env_port}}" {
		t.Errorf("[app] env: %v", df.App.Env)
	}
	if !strings.Contains(string(data), `127.0.0.1:{{port}}/" }`) {
		t.Errorf("the health check does not ask for the home page:\n%s", data)
	}
	// No route for "/": the admin's login page.
	os.WriteFile(filepath.Join(dir, "blog/urls.py"), []byte("urlpatterns = [path('admin/', admin.site.urls)]\n"), 0o644)
	if p := DetectProject(context.Background(), dir); p.HealthPath != "/admin/login/" {
		t.Errorf("health %q without a home page", p.HealthPath)
	}
}
