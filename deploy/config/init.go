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
	url, branch := gitInfo(dir)
	p.Repo, p.Branch = cmp.Or(url, p.Repo), cmp.Or(branch, p.Branch)
	return p
}

// usesPostgres reports whether the settings module (a file, or a package
// of files) names Django's PostgreSQL backend.
func usesPostgres(dir, module string) bool {
	base := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(module, ".", "/")))
	files, _ := filepath.Glob(filepath.Join(base, "*.py"))
	files = append(files, base+".py")
	for _, f := range files {
		if src, err := os.ReadFile(f); err == nil && bytes.Contains(src, []byte("django.db.backends.postgresql")) {
			return true
		}
	}
	return false
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
	err = t.Execute(&buf, map[string]any{"Postgres": p.Postgres,
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
