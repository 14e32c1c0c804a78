package tasks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// Manifest describes a static build: path → content hash and size.
type Manifest map[string]ManifestEntry

// ManifestEntry is one file of a static build.
type ManifestEntry struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// manifestName is the manifest's name on the static host, beside the
// files; written last, so it never describes files not yet there.
const manifestName = ".deploy-manifest.json"

// staticDir is where collectstatic builds on the laptop: inside .git,
// where nothing is committed.
func staticDir(repo *Repo) string { return filepath.Join(repo.Dir(), ".git", "deploy", "static") }

// BuildManifest hashes every file under dir.
func BuildManifest(dir string) (Manifest, error) {
	m := Manifest{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == manifestName {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = ManifestEntry{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}
		return nil
	})
	return m, err
}

// Changed lists the files of m that other lacks or holds differently.
func (m Manifest) Changed(other Manifest) []string {
	var out []string
	for p, e := range m {
		if other[p] != e {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// collectstaticStep runs `manage.py collectstatic` into a build directory
// of the laptop; skipped when the tree is the one collected last time.
type collectstaticStep struct{}

func (collectstaticStep) Local() {}

func (collectstaticStep) Collects() {}

func (collectstaticStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	f := &onLaptop{}
	repo, err := repoFor(env, f)
	if err != nil {
		return Verdict{}, err
	}
	tree, err := treeOf(f)
	if err != nil {
		return Verdict{}, err
	}
	last, _ := os.ReadFile(filepath.Join(staticDir(repo), ".tree"))
	if string(last) == tree {
		return done("static files collected for tree " + tree[:7] + " already"), nil
	}
	return Verdict{Found: f}, nil
}

func (collectstaticStep) Run(ctx context.Context, env *Env, found Verdict) error {
	f := laptopOf(found)
	repo, err := repoFor(env, f)
	if err != nil {
		return err
	}
	tree, err := treeOf(f)
	if err != nil {
		return err
	}
	dir := staticDir(repo)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	// STATIC_ROOT is the project's setting; the build goes to our
	// directory without touching the project's files.
	// Where the project's STATIC_ROOT is, relative to it, is kept: the
	// release gets Django's manifest there (djangoManifest).
	code := fmt.Sprintf("import os\nfrom django.conf import settings\n"+
		"orig = settings.STATIC_ROOT\nrel = os.path.relpath(os.path.abspath(str(orig)), os.getcwd()) if orig else ''\n"+
		"settings.STATIC_ROOT = %[1]s\n"+
		"from django.core.management import call_command\ncall_command('collectstatic', interactive=False, verbosity=1)\n"+
		"open(os.path.join(%[1]s, %[2]s), 'w').write('' if rel.startswith('..') or os.path.isabs(rel) else rel)\n",
		pyString(dir), pyString(staticRootName))
	script := "cd " + q(repo.Dir()) + "\n" + managePyPython(env) + " manage.py shell" + settingsFlag(env) + " -c " + q(code)
	if err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr}); err != nil {
		return fmt.Errorf("collectstatic: %w", err)
	}
	m, err := BuildManifest(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d static files, manifest written\n", len(m))
	if err := writeJSON(filepath.Join(dir, manifestName), m); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".tree"), []byte(tree), 0o644)
}

// managePyPython is the interpreter of the Django steps.
func managePyPython(env *Env) string {
	if s, ok := env.With["python"].(string); ok && s != "" {
		return q(s)
	}
	return q(env.App.Python)
}

// pyString is s as a Python string literal.
func pyString(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid Python literal
	return string(b)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// staticRootName, in the static build, holds where the project's
// STATIC_ROOT is, relative to the project ("" when outside it or unset).
const staticRootName = ".static-root"

// djangoManifestName is ManifestStaticFilesStorage's manifest.
const djangoManifestName = "staticfiles.json"

// djangoManifest is the static build's staticfiles.json — the manifest
// ManifestStaticFilesStorage reads to name the hashed files — and where
// the project's STATIC_ROOT is, relative to the project, when collectstatic
// made both: each new release gets a copy there, since the app hosts
// need it even when a static host serves the files. ok is false when
// there is nothing to copy.
func djangoManifest(env *Env) (rel string, data []byte, ok bool) {
	if env.Laptop == nil {
		return "", nil, false
	}
	repo, err := OpenRepo(env.Laptop.Dir)
	if err != nil {
		return "", nil, false
	}
	dir := staticDir(repo)
	r, err1 := os.ReadFile(filepath.Join(dir, staticRootName))
	data, err2 := os.ReadFile(filepath.Join(dir, djangoManifestName))
	rel = strings.TrimSpace(string(r))
	if err1 != nil || err2 != nil || rel == "" || checkBuildOutput(rel) != nil || bytes.IndexByte(data, 0) >= 0 ||
		bytes.Contains(data, []byte(manifestEnd)) || strings.ContainsAny(rel, "\n\x00") {
		return "", nil, false
	}
	return rel, data, true
}

// manifestEnd ends the here-document that carries staticfiles.json.
const manifestEnd = "DEPLOY_STATIC_MANIFEST_END"

// djangoManifestScript writes staticfiles.json into the release (the
// current directory), when there is one to write.
func djangoManifestScript(env *Env) string {
	rel, data, ok := djangoManifest(env)
	if !ok {
		return ""
	}
	return fmt.Sprintf("mkdir -p %[1]s\ncat > %[1]s/%[2]s <<'%[3]s'\n%[4]s\n%[3]s\n", q(rel), djangoManifestName, manifestEnd,
		strings.TrimRight(string(data), "\n"))
}

// errNoStaticBuild is sync-static before any collectstatic.
var errNoStaticBuild = errors.New("no static build: run the collectstatic step before sync-static")

// syncStaticStep uploads the new and changed static files to the static
// hosts, then the manifest; nothing changed → skipped.
type syncStaticStep struct{}

func (syncStaticStep) dest(env *Env) string {
	if d, ok := env.With["dest"].(string); ok && d != "" {
		return d
	}
	return env.App.Path + "/static"
}

// staticDiff is what sync-static's Check found: the local build and the
// files the host lacks.
type staticDiff struct {
	changed []string
	dir     string
	total   int // files in the build
}

func (s syncStaticStep) compare(ctx context.Context, env *Env) (*staticDiff, error) {
	changed, dir, total, err := s.diff(ctx, env)
	if err != nil {
		return nil, err
	}
	return &staticDiff{changed: changed, dir: dir, total: total}, nil
}

func (s syncStaticStep) diff(ctx context.Context, env *Env) (changed []string, dir string, total int, err error) {
	if env.Laptop == nil {
		return nil, "", 0, errors.New("sync-static needs this machine's repository, where collectstatic builds")
	}
	repo, err := OpenRepo(env.Laptop.Dir)
	if err != nil {
		return nil, "", 0, err
	}
	dir = staticDir(repo)
	var local Manifest
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, "", 0, errNoStaticBuild
	}
	if err := json.Unmarshal(data, &local); err != nil {
		return nil, "", 0, fmt.Errorf("static manifest: %w", err)
	}
	var out bytes.Buffer
	if err := env.Conn.Run(ctx, &remote.Cmd{Script: "cat " + q(s.dest(env)+"/"+manifestName) + " 2>/dev/null || true", Stdout: &out, ReadOnly: true}); err != nil {
		return nil, "", 0, err
	}
	remoteM := Manifest{}
	if strings.TrimSpace(out.String()) != "" {
		json.Unmarshal(out.Bytes(), &remoteM)
	}
	return local.Changed(remoteM), dir, len(local), nil
}

func (s syncStaticStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	if env.State.WouldCollect() {
		return Verdict{}, nil // a plan: the files it syncs are not collected yet
	}
	diff, err := s.compare(ctx, env)
	if errors.Is(err, errNoStaticBuild) {
		// Not built yet: collectstatic, earlier in the task, builds it
		// (a plan of a fresh project shows it would run). Run says so
		// if it still is not there.
		return Verdict{}, nil
	}
	if err != nil {
		return Verdict{}, err
	}
	if len(diff.changed) == 0 {
		return done(fmt.Sprintf("the static files are up to date (%s)", Plural(diff.total, "file"))), nil
	}
	return Verdict{Found: diff}, nil
}

func (s syncStaticStep) Run(ctx context.Context, env *Env, found Verdict) error {
	diff, ok := found.Found.(*staticDiff)
	if !ok {
		var err error
		if diff, err = s.compare(ctx, env); err != nil {
			return err
		}
	}
	changed, dir := diff.changed, diff.dir
	// Only the changed files go, in one upload: staged as a tree of hard
	// links (or copies) of them.
	stage, err := os.MkdirTemp("", "deploy-static-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	// The upload keeps modes: the directory a web server reads is 0755.
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	for _, p := range changed {
		dst := filepath.Join(stage, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		src := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.Link(src, dst); err != nil {
			if err := copyFile(src, dst); err != nil {
				return err
			}
		}
	}
	dest := s.dest(env)
	if err := env.Conn.Upload(ctx, stage, dest); err != nil {
		return err
	}
	if err := env.Conn.Upload(ctx, filepath.Join(dir, manifestName), dest+"/"+manifestName); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, uploadSummary(changed, dir, diff.total))
	if env.Verbose {
		for _, p := range changed {
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
				fmt.Fprintf(env.Stdout, "  %s (%s)\n", p, HumanSize(st.Size()))
			}
		}
	}
	return nil
}

// uploadSummary is one line for a sync: "uploaded 3 files (12.4 KB):
// a.css, b.js, staticfiles.json; 120 unchanged" — the names while they
// are few.
func uploadSummary(changed []string, dir string, total int) string {
	var size int64
	for _, p := range changed {
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			size += st.Size()
		}
	}
	s := fmt.Sprintf("uploaded %s (%s)", Plural(len(changed), "file"), HumanSize(size))
	if len(changed) <= 5 {
		s += ": " + strings.Join(changed, ", ")
	}
	if n := total - len(changed); n > 0 {
		s += fmt.Sprintf("; %d unchanged", n)
	}
	return s
}

// Plural is "1 file", "2 files": a count for people.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// HumanSize is a byte count for people: 512 B, 1.5 kB, 2.0 MB, 3.1 GB.
func HumanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
