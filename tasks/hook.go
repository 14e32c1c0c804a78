package tasks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// hookMarker is in every pre-push hook deploy writes, so it knows its own.
const hookMarker = "# deploy pre-push hook"

// chainedSuffix names the hook that was there before ours; ours runs it
// first.
const chainedSuffix = ".deploy-chained"

// HooksDir is where git looks for hooks: core.hooksPath (relative to the
// work tree), else .git/hooks.
func (r *Repo) HooksDir() (string, error) {
	cfg, err := r.repo.Config()
	if err != nil {
		return "", fmt.Errorf("git config: %w", err)
	}
	if p := cfg.Raw.Section("core").Option("hooksPath"); p != "" {
		if strings.HasPrefix(p, "~/") {
			home, _ := os.UserHomeDir()
			p = filepath.Join(home, p[2:])
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.dir, p)
		}
		return p, nil
	}
	return filepath.Join(r.dir, ".git", "hooks"), nil
}

// HookOptions say what the installed hook runs.
type HookOptions struct {
	Binary     string // the deploy binary; the hook falls back to `deploy` on PATH when it is gone
	Deployfile string // -f for the hook; empty: ./Deployfile at the work tree's root
	Task       string // the task to run before a push
	Force      bool   // replace a deploy hook already there
}

// InstallHook writes the pre-push hook. A hook that is not deploy's is
// kept: moved aside, and run by ours first, with the same arguments and
// input. It returns the hook's path and the chained hook's, if any.
func (r *Repo) InstallHook(o HookOptions) (hook, chained string, err error) {
	dir, err := r.HooksDir()
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	hook = filepath.Join(dir, "pre-push")
	old, err := os.ReadFile(hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", "", err
	case strings.Contains(string(old), hookMarker):
		if !o.Force {
			return "", "", fmt.Errorf("%s is deploy's hook already: pass --force to write it again", hook)
		}
	default:
		chained = hook + chainedSuffix
		if _, err := os.Stat(chained); err == nil {
			return "", "", fmt.Errorf("%s exists: a hook was chained before; remove or restore it first", chained)
		}
		if err := os.Rename(hook, chained); err != nil {
			return "", "", err
		}
	}
	if _, err := os.Stat(hook + chainedSuffix); err == nil {
		chained = hook + chainedSuffix
	}
	if err := writeExecutable(hook, hookScript(o)); err != nil {
		return "", "", err
	}
	return hook, chained, nil
}

// UninstallHook removes deploy's hook and puts back the one it chained.
func (r *Repo) UninstallHook() (restored string, err error) {
	dir, err := r.HooksDir()
	if err != nil {
		return "", err
	}
	hook := filepath.Join(dir, "pre-push")
	data, err := os.ReadFile(hook)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no pre-push hook in %s", dir)
	}
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(data), hookMarker) {
		return "", fmt.Errorf("%s is not deploy's hook: left as it is", hook)
	}
	if err := os.Remove(hook); err != nil {
		return "", err
	}
	chained := hook + chainedSuffix
	if _, err := os.Stat(chained); err == nil {
		if err := os.Rename(chained, hook); err != nil {
			return "", err
		}
		return hook, nil
	}
	return "", nil
}

func hookScript(o HookOptions) string {
	q := remote.MustQuote
	file := ""
	if o.Deployfile != "" {
		file = " -f " + q(o.Deployfile)
	}
	return fmt.Sprintf(`#!/bin/sh
%s: installed by `+"`deploy hook install`"+`; `+"`deploy hook uninstall`"+` removes it.
# Runs the task %s before every push; a failure blocks the push.
# A hook that was here before is kept as pre-push%s and runs first.
input=$(cat)
hooks=$(dirname "$0")
if [ -x "$hooks/pre-push%s" ]; then
  printf '%%s\n' "$input" | "$hooks/pre-push%s" "$@" || exit $?
fi
bin=%s
[ -x "$bin" ] || bin=deploy
printf '%%s\n' "$input" | exec "$bin"%s hook pre-push --task %s "$@"
`, hookMarker, q(o.Task), chainedSuffix, chainedSuffix, chainedSuffix, q(o.Binary), file, q(o.Task))
}

func writeExecutable(path, content string) error {
	tmp := path + ".deploy-tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// PushedRef is one line git gives a pre-push hook on stdin.
type PushedRef struct {
	LocalRef, LocalSHA, RemoteRef, RemoteSHA string
}

// Deletion reports whether the push deletes the remote ref.
func (p PushedRef) Deletion() bool { return strings.Trim(p.LocalSHA, "0") == "" }

// ReadPushedRefs reads the pre-push hook's stdin: "<local ref> <local sha>
// <remote ref> <remote sha>" a line.
func ReadPushedRefs(r io.Reader) ([]PushedRef, error) {
	var refs []PushedRef
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected pre-push input line %q", sc.Text())
		}
		refs = append(refs, PushedRef{f[0], f[1], f[2], f[3]})
	}
	return refs, sc.Err()
}
