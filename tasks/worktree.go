package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// PlannedStep is a built-in step on this machine as a run will call it:
// the step and its `with` table. The engine hands a task's to
// Laptop.Refusals before anything runs.
type PlannedStep struct {
	Step Step
	With map[string]any
}

// maxListed is how many files a refusal names before "and N more".
const maxListed = 20

// Refusals says why a task must not start on this machine's work tree as
// it is, so that what is tested, collected, pushed and deployed is one
// commit:
//
//   - untracked files git does not ignore, in a task that tests, collects
//     or commits the work tree, and no commit step before the push takes
//     them (with.add_untracked, --add-untracked): the tests would see
//     files the commit deployed lacks;
//   - changes to tracked files, in a task that tests or collects the work
//     tree and pushes it without a commit step before the push;
//   - -m or --add-untracked, and no commit step to take them.
//
// Each refusal names the files and the fixes. A repository that cannot be
// read is not refused here: the steps report it.
func (l *Laptop) Refusals(steps []PlannedStep) []string {
	var (
		seenBy  []string // the steps that read the work tree: "the tests", "collectstatic"
		commit  bool     // a commit step anywhere
		commits bool     // a commit step before the first push
		takes   bool     // … that takes untracked files
		pushes  bool
	)
	for _, s := range steps {
		switch s.Step.(type) {
		case testStep:
			seenBy = addName(seenBy, "the tests")
		case collectstaticStep:
			seenBy = addName(seenBy, "collectstatic")
		case commitStep:
			commit = true
			if !pushes {
				commits = true
				takes = takes || l.addsUntracked(s.With)
			}
		case pushStep:
			pushes = true
		}
	}
	var out []string
	if !commit {
		if l.Message != "" {
			out = append(out, "-m gives a commit message, and the task has no commit step to use it: add { builtin = \"commit\" } to the task, or leave -m out")
		}
		if l.AddUntracked {
			out = append(out, "--add-untracked asks the commit step to commit untracked files, and the task has no commit step: add { builtin = \"commit\" } to the task, or leave --add-untracked out")
		}
	}
	if len(seenBy) == 0 && !commit {
		return out
	}
	repo, err := OpenRepo(l.Dir)
	if err != nil {
		return out
	}
	tracked, untracked, err := repo.Changes()
	if err != nil {
		return out
	}
	seen := "the commit step would leave out"
	if len(seenBy) > 0 {
		seen = strings.Join(seenBy, " and ") + " would see and the commit deployed would not hold"
	}
	if len(untracked) > 0 && !takes {
		fix := "git add them (the commit step commits them), add them to .gitignore, or run with --add-untracked"
		if !commits {
			fix = "commit them (git add, git commit), or add them to .gitignore; --add-untracked needs a commit step before the push"
		}
		out = append(out, fmt.Sprintf("the work tree has untracked files (not ignored) that %s:\n%s\n    %s", seen, fileList(untracked), fix))
	}
	if len(tracked) > 0 && !commits && pushes && len(seenBy) > 0 {
		out = append(out, fmt.Sprintf("the work tree has changes that %s (the task has no commit step before the push):\n%s\n    commit them, stash them (git stash), or add { builtin = \"commit\" } to the task before the push",
			seen, fileList(tracked)))
	}
	return out
}

// Subject is the first line of the message of commit sha in this
// machine's repository; "" when it has no such commit.
func (l *Laptop) Subject(sha string) string {
	repo, err := OpenRepo(l.Dir)
	if err != nil {
		return ""
	}
	subject, _ := repo.Subject(sha)
	return subject
}

// addsUntracked says whether a commit step with this `with` table commits
// untracked files: with.add_untracked, or --add-untracked.
func (l *Laptop) addsUntracked(with map[string]any) bool {
	b, _ := with["add_untracked"].(bool)
	return b || l.AddUntracked
}

// fileList indents files, one a line, at most maxListed of them, under
// the line of a refusal (which the engine indents by two).
func fileList(files []string) string {
	shown := files[:min(len(files), maxListed)]
	s := "      " + strings.Join(shown, "\n      ")
	if more := len(files) - len(shown); more > 0 {
		s += fmt.Sprintf("\n      … and %d more (git status lists them)", more)
	}
	return s
}

// addName appends s to list unless it holds it already.
func addName(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// TreeID is a hash of the work tree's content as the tests see it: every
// tracked file as it is on disk, and every untracked file git does not
// ignore. Two trees with the same content have the same id, whatever the
// commits.
func (r *Repo) TreeID() (string, error) { return r.treeID(true) }

// treeID is TreeID, with the untracked files or without them: the tree a
// commit of the tracked changes holds.
func (r *Repo) treeID(withUntracked bool) (string, error) {
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return "", fmt.Errorf("git index: %w", err)
	}
	paths := map[string]bool{}
	for _, e := range idx.Entries {
		paths[e.Name] = true
	}
	if withUntracked {
		_, untracked, err := r.Changes()
		if err != nil {
			return "", err
		}
		for _, p := range untracked {
			paths[p] = true
		}
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	sum := sha256.New()
	for _, p := range sorted {
		full := filepath.Join(r.dir, p)
		info, err := os.Lstat(full)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted: absent from the tree
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(sum, "%s\x00%o\x00", p, info.Mode()&(os.ModeSymlink|0o111))
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(full)
			if err != nil {
				return "", err
			}
			io.WriteString(sum, target)
		} else if info.Mode().IsRegular() {
			f, err := os.Open(full)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(sum, f)
			f.Close()
			if err != nil {
				return "", err
			}
		}
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// excludes are the ignore patterns git reads besides the .gitignore
// files, which go-git reads itself: .git/info/exclude (go-git's work tree
// refuses paths under .git) and core.excludesFile — by default
// $XDG_CONFIG_HOME/git/ignore (~/.config/git/ignore), where many people
// ignore their editor's and system's files.
func (r *Repo) excludes() []gitignore.Pattern {
	var ps []gitignore.Pattern
	if st, ok := r.repo.Storer.(interface{ Filesystem() billy.Filesystem }); ok {
		if f, err := st.Filesystem().Open("info/exclude"); err == nil {
			data, err := io.ReadAll(f)
			f.Close()
			if err == nil {
				ps = append(ps, parsePatterns(data)...)
			}
		}
	}
	file := r.excludesFile()
	home, _ := os.UserHomeDir()
	switch {
	case file == "":
		base := os.Getenv("XDG_CONFIG_HOME")
		if base == "" && home != "" {
			base = filepath.Join(home, ".config")
		}
		if base != "" {
			file = filepath.Join(base, "git", "ignore")
		}
	case strings.HasPrefix(file, "~/") && home != "":
		file = filepath.Join(home, file[2:])
	}
	if data, err := os.ReadFile(file); file != "" && err == nil {
		ps = append(ps, parsePatterns(data)...)
	}
	return ps
}

// excludesFile is core.excludesFile of the repository's config, else the
// global one, else the system's (go-git's merged config keeps only the
// repository's raw options).
func (r *Repo) excludesFile() string {
	if cfg, err := r.repo.Storer.Config(); err == nil && cfg.Raw != nil {
		if f := cfg.Raw.Section("core").Options.Get("excludesfile"); f != "" {
			return f
		}
	}
	for _, scope := range []config.Scope{config.GlobalScope, config.SystemScope} {
		if cfg, err := config.LoadConfig(scope); err == nil && cfg.Raw != nil {
			if f := cfg.Raw.Section("core").Options.Get("excludesfile"); f != "" {
				return f
			}
		}
	}
	return ""
}

// parsePatterns reads the patterns of an ignore file that applies to the
// whole work tree.
func parsePatterns(data []byte) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	return ps
}
