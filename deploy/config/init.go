package config

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

//go:embed starter.toml.tmpl
var starterTemplate string

var (
	settingsModule = regexp.MustCompile(`DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z0-9_.]+)['"]`)
	notNameChars   = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	// requiredEnv is os.environ["NAME"]: settings that fail without it.
	requiredEnv = regexp.MustCompile(`os\.environ\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]`)
	rootURLConf = regexp.MustCompile(`ROOT_URLCONF\s*=\s*['"]([A-Za-z0-9_.]+)['"]`)
	// rootRoute is a URL pattern for "/": path(""…) or re_path(r"^$"…).
	rootRoute = regexp.MustCompile(`(?:re_)?path\(\s*r?(?:''|""|'\^\$'|"\^\$")`)
	secretish = regexp.MustCompile(`(?i)secret|password|passwd|token|key|url|dsn`)
)

// ErrExists is returned by Init when the Deployfile is already there.
var ErrExists = errors.New("already exists")

// StarterProject is what Init found out about the project in a directory.
type StarterProject struct {
	Name     string // the Django project package, or the directory's name
	Repo     string // git remote origin's URL
	Branch   string // the current git branch
	Settings string // DJANGO_SETTINGS_MODULE from manage.py
	WSGIPath string // the project's wsgi.py, relative to the repository
	// Postgres says the settings use PostgreSQL: one database server for
	// every host, its address from the environment.
	Postgres bool
	// Env are the environment variables the settings cannot do without
	// (os.environ["NAME"]), besides DATABASE_URL: each becomes a variable
	// read from this machine's environment and a key of [app] env.
	Env []StarterEnv
	// HealthPath is what the health check asks for: "/" when the project
	// routes it, else the admin's login page, which every project has.
	HealthPath string
}

// StarterEnv is an environment variable the settings need.
type StarterEnv struct {
	Name   string // in the environment (and the app's)
	Var    string // the Deployfile variable that reads it
	Secret bool
}

// DetectProject looks at dir for a Django project (manage.py) and a git
// repository, and fills in what it finds; the rest gets placeholders.
func DetectProject(ctx context.Context, dir string) StarterProject {
	p := StarterProject{Name: sanitizeName(filepath.Base(dir)), Branch: "main",
		Repo: "git@git.example.com:" + sanitizeName(filepath.Base(dir)) + ".git"}
	if src, err := os.ReadFile(filepath.Join(dir, "manage.py")); err == nil {
		m := settingsModule.FindSubmatch(src)
		if m != nil {
			p.Settings = string(m[1])
			pkg, _, _ := strings.Cut(p.Settings, ".")
			p.Name = sanitizeName(pkg)
		}
	}
	if p.Settings == "" {
		p.Settings = p.Name + ".settings"
	}
	pkg, _, _ := strings.Cut(p.Settings, ".")
	p.WSGIPath = pkg + "/wsgi.py"
	p.Postgres = usesPostgres(dir, p.Settings)
	p.Env = settingsEnv(dir, p.Settings)
	p.HealthPath = "/admin/login/"
	if routesRoot(dir, p.Settings) {
		p.HealthPath = "/"
	}
	url, branch := gitInfo(dir)
	p.Repo, p.Branch = cmp.Or(url, p.Repo), cmp.Or(branch, p.Branch)
	return p
}

// settingsSources are the settings module's files: a module, or a package
// of them.
func settingsSources(dir, module string) [][]byte {
	base := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(module, ".", "/")))
	files, _ := filepath.Glob(filepath.Join(base, "*.py"))
	var out [][]byte
	for _, f := range append(files, base+".py") {
		if src, err := os.ReadFile(f); err == nil {
			out = append(out, src)
		}
	}
	return out
}

// settingsEnv are the variables the settings read as os.environ["NAME"],
// in the order they appear, each once.
func settingsEnv(dir, module string) []StarterEnv {
	taken := append([]string{"settings", "port", "database_url"}, BuiltinVars()...)
	var out []StarterEnv
	seen := map[string]bool{"DJANGO_SETTINGS_MODULE": true, "DATABASE_URL": true}
	for _, src := range settingsSources(dir, module) {
		for _, m := range requiredEnv.FindAllSubmatch(src, -1) {
			name := string(m[1])
			if seen[name] {
				continue
			}
			seen[name] = true
			v := strings.ToLower(name)
			if slices.Contains(taken, v) {
				v = "env_" + v
			}
			out = append(out, StarterEnv{Name: name, Var: v, Secret: secretish.MatchString(name)})
		}
	}
	return out
}

// routesRoot reports whether the project's root URLconf routes "/".
func routesRoot(dir, module string) bool {
	for _, src := range settingsSources(dir, module) {
		if m := rootURLConf.FindSubmatch(src); m != nil {
			file := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(string(m[1]), ".", "/"))+".py")
			urls, err := os.ReadFile(file)
			return err == nil && rootRoute.Match(urls)
		}
	}
	return false
}

// usesPostgres reports whether the settings module (a file, or a package
// of files) names Django's PostgreSQL backend.
func usesPostgres(dir, module string) bool {
	return slices.ContainsFunc(settingsSources(dir, module), func(src []byte) bool {
		return bytes.Contains(src, []byte("django.db.backends.postgresql"))
	})
}

// gitInfo reads the git repository holding dir, if any: remote origin's
// URL (the last one set, as `git config --get remote.origin.url` reads
// it) and the branch HEAD is on, even before the first commit. Either is
// "" when there is none.
func gitInfo(dir string) (url, branch string) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", ""
	}
	if cfg, err := repo.Config(); err == nil {
		if o := cfg.Remotes["origin"]; o != nil && len(o.URLs) > 0 {
			url = o.URLs[len(o.URLs)-1]
		}
	}
	if head, err := repo.Storer.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.SymbolicReference {
		branch = head.Target().Short()
	}
	return url, branch
}

func sanitizeName(s string) string {
	s = notNameChars.ReplaceAllString(s, "-")
	s = strings.TrimLeft(s, "-_.")
	if s == "" {
		return "myapp"
	}
	return s
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Starter renders the starter Deployfile for a project.
func Starter(p StarterProject) ([]byte, error) {
	t, err := template.New("starter").Parse(starterTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{"Postgres": p.Postgres, "Env": p.Env, "HealthPath": p.HealthPath,
		"Name": p.Name, "NameTOML": tomlString(p.Name), "RepoTOML": tomlString(p.Repo),
		"BranchTOML": tomlString(p.Branch), "SettingsTOML": tomlString(p.Settings), "WSGIPath": p.WSGIPath,
		"WSGIModuleTOML": tomlString(strings.TrimSuffix(strings.ReplaceAll(p.WSGIPath, "/", "."), ".py")),
	})
	return buf.Bytes(), err
}

// Init writes a starter Deployfile at path for the project in its
// directory. It never overwrites: an existing file gives ErrExists.
func Init(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	data, err := Starter(DetectProject(ctx, filepath.Dir(abs)))
	if err != nil {
		return err
	}
	// O_EXCL: the check and the creation are one step, so a file that
	// appears meanwhile is not overwritten either.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s %w: edit it, or remove it to start over", path, ErrExists)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
