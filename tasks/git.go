package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"
)

// Repo is the laptop's git repository, as the test, commit and push steps
// see it.
type Repo struct {
	dir  string // the work tree's root
	repo *git.Repository
}

// OpenRepo opens the repository that holds dir.
func OpenRepo(dir string) (*Repo, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("git repository at %s: %w", dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, fmt.Errorf("git work tree at %s: %w", dir, err)
	}
	return &Repo{dir: wt.Filesystem.Root(), repo: r}, nil
}

// Dir is the work tree's root.
func (r *Repo) Dir() string { return r.dir }

// Branch is the checked-out branch; a detached HEAD is an error.
func (r *Repo) Branch() (string, error) {
	head, err := r.repo.Head()
	if err != nil {
		return "", fmt.Errorf("HEAD: %w (no commit yet?)", err)
	}
	if !head.Name().IsBranch() {
		return "", fmt.Errorf("HEAD is detached at %s: check out the branch to deploy", head.Hash().String()[:7])
	}
	return head.Name().Short(), nil
}

// Head is the commit HEAD points at.
func (r *Repo) Head() (plumbing.Hash, error) {
	head, err := r.repo.Head()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return head.Hash(), nil
}

// Subject is the first line of the message of commit sha.
func (r *Repo) Subject(sha string) (string, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", sha, err)
	}
	return firstLineOf(c.Message), nil
}

// Changes lists what differs from HEAD: tracked files changed or deleted,
// and untracked files git does not ignore.
func (r *Repo) Changes() (tracked, untracked []string, err error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return nil, nil, err
	}
	wt.Excludes = append(wt.Excludes, r.excludes()...)
	st, err := wt.Status()
	if err != nil {
		return nil, nil, fmt.Errorf("git status: %w", err)
	}
	for path, fs := range st {
		switch {
		case fs.Worktree == git.Untracked && fs.Staging == git.Untracked:
			untracked = append(untracked, path)
		case fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified:
			tracked = append(tracked, path)
		}
	}
	sort.Strings(tracked)
	sort.Strings(untracked)
	return tracked, untracked, nil
}

// ErrNothingToCommit is a work tree whose tracked files match HEAD.
var ErrNothingToCommit = errors.New("nothing to commit")

// Commit commits the changes of tracked files (and the untracked ones,
// when addUntracked), with the author of the git config — repository, then
// global. It never touches ignored files.
func (r *Repo) Commit(message string, addUntracked bool) (plumbing.Hash, error) {
	tracked, untracked, err := r.Changes()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	paths := tracked
	if addUntracked {
		paths = append(paths, untracked...)
	}
	if len(paths) == 0 {
		return plumbing.ZeroHash, ErrNothingToCommit
	}
	if strings.TrimSpace(message) == "" {
		return plumbing.ZeroHash, errors.New("empty commit message")
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(r.dir, p)); errors.Is(err, os.ErrNotExist) {
			_, err = wt.Remove(p)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("git rm %s: %w", p, err)
			}
			continue
		}
		if _, err := wt.Add(p); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("git add %s: %w", p, err)
		}
	}
	h, err := wt.Commit(message, &git.CommitOptions{})
	if errors.Is(err, git.ErrMissingAuthor) {
		return plumbing.ZeroHash, errors.New("git does not know who you are: git config --global user.name \"Your Name\" and user.email")
	}
	return h, err
}

// testCache remembers the trees whose tests passed, inside .git where no
// commit can pick it up.
type testCache map[string]time.Time

func (r *Repo) cacheFile() (string, error) {
	// .git may be a file (worktrees, submodules): ask the storage.
	gitDir := filepath.Join(r.dir, ".git")
	if info, err := os.Stat(gitDir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("no .git directory in %s to keep the test cache in", r.dir)
	}
	return filepath.Join(gitDir, "deploy", "tests-passed.json"), nil
}

// TestsPassed says when the tests last passed for tree, if they did.
func (r *Repo) TestsPassed(tree string) (time.Time, bool) {
	file, err := r.cacheFile()
	if err != nil {
		return time.Time{}, false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return time.Time{}, false
	}
	var c testCache
	if json.Unmarshal(data, &c) != nil {
		return time.Time{}, false
	}
	t, ok := c[tree]
	return t, ok
}

// RecordTestsPassed remembers that the tests passed for tree; the newest
// 50 trees are kept.
func (r *Repo) RecordTestsPassed(tree string, at time.Time) error {
	file, err := r.cacheFile()
	if err != nil {
		return err
	}
	c := testCache{}
	if data, err := os.ReadFile(file); err == nil {
		json.Unmarshal(data, &c)
	}
	c[tree] = at.UTC()
	for len(c) > 50 {
		oldest := ""
		for k, v := range c {
			if oldest == "" || v.Before(c[oldest]) {
				oldest = k
			}
		}
		delete(c, oldest)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// RemoteAheadError is a remote branch with commits the laptop lacks: a
// person must pull and resolve; deploy never forces nor merges.
type RemoteAheadError struct {
	Remote, Branch string
	New            int // commits on the remote that we lack
}

func (e *RemoteAheadError) Error() string {
	return fmt.Sprintf("the remote has %d new commit%s on %s/%s: pull, resolve, run again",
		e.New, map[bool]string{true: "", false: "s"}[e.New == 1], e.Remote, e.Branch)
}

// RemoteURL is the URL of a remote of the repository.
func (r *Repo) RemoteURL(name string) (string, error) {
	rem, err := r.repo.Remote(name)
	if err != nil {
		return "", fmt.Errorf("git remote %q: %w", name, err)
	}
	if urls := rem.Config().URLs; len(urls) > 0 {
		return urls[0], nil
	}
	return "", fmt.Errorf("git remote %q has no URL", name)
}

// SSHAuth makes git over SSH authenticate and check host keys with cfg,
// deploy's own configuration, instead of go-git's defaults.
func SSHAuth(cfg *ssh.ClientConfig) transport.AuthMethod { return sshAuth{cfg} }

type sshAuth struct{ cfg *ssh.ClientConfig }

func (a sshAuth) Name() string { return "deploy-ssh" }
func (a sshAuth) String() string {
	return "ssh as " + a.cfg.User + " with deploy's keys and known_hosts"
}
func (a sshAuth) ClientConfig() (*ssh.ClientConfig, error) { return a.cfg, nil }

// SSHEndpoint is where an SSH git URL points, for the SSH configuration;
// ok is false for other URLs (a path, file://, https://).
func SSHEndpoint(url string) (host, user string, port int, ok bool) {
	ep, err := transport.NewEndpoint(url)
	if err != nil || ep.Protocol != "ssh" {
		return "", "", 0, false
	}
	return ep.Host, ep.User, ep.Port, true
}

// RemoteHead is the commit remote's branch points at; zero when the
// branch is not there.
func (r *Repo) RemoteHead(ctx context.Context, remoteName, branch string, auth transport.AuthMethod) (plumbing.Hash, error) {
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("git remote %q: %w", remoteName, err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, fmt.Errorf("list %s: %w", remoteName, err)
	}
	for _, rf := range refs {
		if rf.Name() == plumbing.NewBranchReferenceName(branch) {
			return rf.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// PushResult says what Push did.
type PushResult struct {
	SHA     plumbing.Hash // the commit the remote branch now points at
	Already bool          // it pointed there before: nothing was pushed
}

// Push pushes the checked-out branch to remote's branch when that is a
// fast-forward; it is done already when the remote has the same commit. A
// remote with commits we lack stops with a *RemoteAheadError, before
// anything changes.
func (r *Repo) Push(ctx context.Context, remoteName, branch string, auth transport.AuthMethod) (PushResult, error) {
	remoteHash, err := r.RemoteHead(ctx, remoteName, branch, auth)
	if err != nil {
		return PushResult{}, err
	}
	return r.PushOver(ctx, remoteName, branch, remoteHash, auth)
}

// PushOver is Push when the remote branch's commit is known already (zero:
// no such branch), as the push step's check found it a moment before.
func (r *Repo) PushOver(ctx context.Context, remoteName, branch string, remoteHash plumbing.Hash, auth transport.AuthMethod) (PushResult, error) {
	local, err := r.Head()
	if err != nil {
		return PushResult{}, err
	}
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return PushResult{}, err
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if remoteHash == local {
		return PushResult{SHA: local, Already: true}, nil
	}
	if !remoteHash.IsZero() {
		ahead, err := r.newOnRemote(ctx, rem, remoteName, branch, remoteHash, local, auth)
		if err != nil {
			return PushResult{}, err
		}
		if ahead > 0 {
			return PushResult{}, &RemoteAheadError{Remote: remoteName, Branch: branch, New: ahead}
		}
	}
	spec := config.RefSpec("refs/heads/" + branch + ":" + ref.String()) // no '+': never forced
	err = r.repo.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Auth: auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return PushResult{}, fmt.Errorf("push %s to %s: %w", branch, remoteName, err)
	}
	return PushResult{SHA: local}, nil
}

// newOnRemote counts the commits of the remote branch that HEAD does not
// have, fetching them first when we lack them.
func (r *Repo) newOnRemote(ctx context.Context, rem *git.Remote, remoteName, branch string, remoteHash, local plumbing.Hash, auth transport.AuthMethod) (int, error) {
	if _, err := r.repo.CommitObject(remoteHash); err != nil {
		spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/%s/%s", branch, remoteName, branch))
		err := rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Auth: auth})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return 0, fmt.Errorf("fetch %s: %w", remoteName, err)
		}
	}
	ours := map[plumbing.Hash]bool{}
	iter, err := r.repo.Log(&git.LogOptions{From: local})
	if err != nil {
		return 0, err
	}
	iter.ForEach(func(c *object.Commit) error {
		ours[c.Hash] = true
		return nil
	})
	if ours[remoteHash] {
		return 0, nil // a fast-forward
	}
	theirs, err := r.repo.Log(&git.LogOptions{From: remoteHash})
	if err != nil {
		return 0, fmt.Errorf("remote branch %s/%s: %w", remoteName, branch, err)
	}
	n := 0
	theirs.ForEach(func(c *object.Commit) error {
		if !ours[c.Hash] {
			n++
		}
		return nil
	})
	return n, nil
}
