package deploy

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"
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
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if url := git("config", "--get", "remote.origin.url"); url != "" {
		p.Repo = url
	}
	if b := git("symbolic-ref", "--short", "-q", "HEAD"); b != "" {
		p.Branch = b
	}
	return p
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
	err = t.Execute(&buf, map[string]string{
		"Name": p.Name, "NameTOML": tomlString(p.Name), "RepoTOML": tomlString(p.Repo),
		"BranchTOML": tomlString(p.Branch), "SettingsTOML": tomlString(p.Settings), "WSGIPath": p.WSGIPath,
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
