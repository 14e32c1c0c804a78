package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// inPlace keeps one git work tree at {path}, reset to the commit deployed
// (the book's literal `git pull`). A release is a commit.
type inPlace struct{ app *App }

func (s inPlace) root() string                  { return strings.TrimSuffix(s.app.Path, "/") }
func (s inPlace) Dir() string                   { return s.root() }
func (s inPlace) ReleaseDir(name string) string { return s.root() }

func (s inPlace) StateScript() string {
	return readStateScript(s.root(), fmt.Sprintf(`c=$(git -C %[1]s rev-parse HEAD 2>/dev/null || true)
echo "current $c"
echo "commit $c"`, q(s.root())))
}

func (s inPlace) ParseState(out string) (*HostState, error) {
	st, err := parseState(s.root(), out)
	if err != nil {
		return nil, err
	}
	// Every commit the work tree had is still in its repository.
	seen := map[string]bool{}
	for _, r := range st.History {
		if !seen[r.Release] && r.Release != "" {
			seen[r.Release] = true
			st.Releases = append(st.Releases, Release{Name: r.Release, SHA: r.Commit, Current: r.Release == st.Current})
		}
	}
	return st, nil
}

func (s inPlace) Read(ctx context.Context, conn remote.Conn) (*HostState, error) {
	return readState(ctx, conn, s)
}

// Prepare of a work tree cannot leave what it serves alone: there is no
// other directory to build in. It fetches and resets the work tree to
// commit, recording the switch in the same command, and returns the
// release marked Current.
func (s inPlace) Prepare(ctx context.Context, env *Env, commit string) (Release, error) {
	if s.app.Repo == "" {
		return Release{}, errors.New("[app] repo is not set: the hosts need the central repository to fetch from")
	}
	if !isCommit(commit) {
		return Release{}, fmt.Errorf("%q is not a commit id", commit)
	}
	rec := Record{Release: commit, Commit: commit, Phase: PhaseSwitched, Run: env.State.RunID()}
	// {path} already holds .deploy (the lock): init, then fetch.
	script := fmt.Sprintf(`mkdir -p %[1]s/shared
cd %[1]s
if [ ! -d .git ]; then
  git init --quiet
  git remote add origin %[2]s
  printf '.deploy/\nshared/\nREVISION\n' >> .git/info/exclude
fi
git fetch --quiet origin
git cat-file -e %[3]s^{commit}
prev=$(git rev-parse HEAD 2>/dev/null || true)
git reset --quiet --hard %[3]s
echo %[3]s > REVISION
%[5]s%[4]s`, q(s.root()), q(s.app.Repo), q(commit), writeRecord(s.root(), rec, map[string]string{"previous": "prev"}),
		djangoManifestScript(env))
	if err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr,
		ForwardAgent: s.app.ForwardAgent}); err != nil {
		return Release{}, err
	}
	var builds strings.Builder
	for _, b := range s.app.Build {
		if err := checkBuildOutput(b.Output); err != nil {
			return Release{}, err
		}
		builds.WriteString(buildScript(s.root(), b))
	}
	if builds.Len() > 0 {
		if err := env.Conn.Run(ctx, &remote.Cmd{Script: "cd " + q(s.root()) + "\n" + builds.String(), Env: env.CmdEnv,
			Stdout: env.Stdout, Stderr: env.Stderr}); err != nil {
			return Release{}, err
		}
	}
	return Release{Name: commit, SHA: commit, Current: true}, nil
}

func (s inPlace) Switch(ctx context.Context, conn remote.Conn, rec Record) error {
	if rec.Phase == "" {
		rec.Phase = PhaseSwitched
	}
	var left string
	if rec.RollbackOf != "" {
		left = "\n" + appendLog(s.root(), Record{Release: rec.RollbackOf, Commit: rec.RollbackOf, Phase: PhaseFailed, Run: rec.Run,
			Error: "rolled back to " + rec.Release})
	}
	script := fmt.Sprintf(`cd %[1]s
prev=$(git rev-parse HEAD 2>/dev/null || true)
git reset --quiet --hard %[2]s
echo %[2]s > REVISION
%[3]s%[4]s`, q(s.root()), q(rec.Release), writeRecord(s.root(), rec, map[string]string{"previous": "prev"}), left)
	var errOut bytes.Buffer
	if err := conn.Run(ctx, &remote.Cmd{Script: script, Stderr: &errOut}); err != nil {
		return fmt.Errorf("reset the work tree to %s: %w%s", sha7(rec.Release), err, stderrTail(errOut.String()))
	}
	return nil
}

func (s inPlace) Apply(ctx context.Context, cmd *remote.Cmd, conn remote.Conn, ok Record) error {
	return apply(ctx, cmd, conn, s.root(), ok)
}

func (inPlace) Prune(context.Context, remote.Conn, *HostState, int) ([]string, error) {
	return nil, nil
}
