package tasks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// Strategy is how a host's releases are laid out and moved between: the
// release state machine (see Phase). Every transition is one remote
// command that makes the change and records it, so what a host says about
// itself is never behind what it is; the engine calls these methods and
// never compares step names.
type Strategy interface {
	// Read reads the host's release state: one command.
	Read(ctx context.Context, conn remote.Conn) (*HostState, error)
	// StateScript is the shell Read runs, and ParseState reads its
	// output, for a caller that sends it along with another command (the
	// lock).
	StateScript() string
	ParseState(out string) (*HostState, error)
	// Prepare makes the release of commit ready beside the one in use —
	// or finds it already built whole — and runs the [app] build
	// commands in it. Nothing the host serves changes.
	Prepare(ctx context.Context, env *Env, commit string) (Release, error)
	// Switch makes rec.Release the one in use and records rec (phase
	// switched) in the same command. With rec.RollbackOf set it is a
	// rollback: the release left is recorded as failed too.
	Switch(ctx context.Context, conn remote.Conn, rec Record) error
	// Apply runs script in the release in use (a reload, a health
	// check) and records ok when it succeeds, or failed when it does not,
	// in the same command.
	Apply(ctx context.Context, cmd *remote.Cmd, conn remote.Conn, ok Record) error
	// Prune removes old releases beyond keep, never the one in use nor
	// the one a rollback would go to.
	Prune(ctx context.Context, conn remote.Conn, st *HostState, keep int) ([]string, error)
	// Dir is the directory of the release in use.
	Dir() string
	// ReleaseDir is the directory of a release.
	ReleaseDir(name string) string
}

// NewStrategy is the strategy [app] strategy names, for the deploy root of
// app.
func NewStrategy(app *App) Strategy {
	if app.Strategy == "inplace" {
		return inPlace{app: app}
	}
	return releases{app: app}
}

// releases keeps every release in {path}/releases/<stamp>-<sha7>, and
// {path}/current a symlink to the one in use, replaced by rename.
type releases struct{ app *App }

func (s releases) root() string                  { return strings.TrimSuffix(s.app.Path, "/") }
func (s releases) Dir() string                   { return s.root() + "/current" }
func (s releases) ReleaseDir(name string) string { return s.root() + "/releases/" + name }

func (s releases) StateScript() string {
	return readStateScript(s.root(), fmt.Sprintf(`cur=$(readlink %[1]s 2>/dev/null || true)
echo "current ${cur##*/}"
[ -z "$cur" ] || echo "commit $(cat %[1]s/REVISION 2>/dev/null || true)"`, q(s.Dir())))
}

func (s releases) ParseState(out string) (*HostState, error) { return parseState(s.root(), out) }

func (s releases) Read(ctx context.Context, conn remote.Conn) (*HostState, error) {
	return readState(ctx, conn, s)
}

// readState runs the strategy's state script and parses it.
func readState(ctx context.Context, conn remote.Conn, s Strategy) (*HostState, error) {
	var out, errOut bytes.Buffer
	// The state script names only the deploy root: it may go in a
	// command line.
	if err := conn.Run(ctx, &remote.Cmd{Script: s.StateScript(), Stdout: &out, Stderr: &errOut, ReadOnly: true, Public: true}); err != nil {
		return nil, fmt.Errorf("read the release state: %w%s", err, stderrTail(errOut.String()))
	}
	return s.ParseState(out.String())
}

func stderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return ": " + s
}

// releaseMarker starts the line by which a prepare script names its
// release; it never reaches the user.
const releaseMarker = "deploy-release: "

func (s releases) Prepare(ctx context.Context, env *Env, commit string) (Release, error) {
	if s.app.Repo == "" {
		return Release{}, errors.New("[app] repo is not set: the hosts need the central repository to fetch from")
	}
	if !isCommit(commit) {
		return Release{}, fmt.Errorf("%q is not a commit id", commit)
	}
	name := env.State.Stamp() + "-" + sha7(commit)
	var links strings.Builder
	for _, sh := range s.app.Shared {
		dir := strings.HasSuffix(sh, "/")
		sh = strings.TrimSuffix(sh, "/")
		// A directory in the release, or a name written with a trailing
		// slash, is a shared directory; anything else a shared file.
		fmt.Fprintf(&links, `if [ %[4]t = true ] || [ -d "$tmp"/%[1]s ]; then mkdir -p %[2]s/shared/%[1]s; else mkdir -p "$(dirname %[2]s/shared/%[1]s)"; fi
rm -rf "$tmp"/%[1]s
mkdir -p "$(dirname "$tmp"/%[1]s)"
ln -s %[3]s "$tmp"/%[1]s
`, q(sh), q(s.root()), q(s.root()+"/shared/"+sh), dir)
	}
	var builds strings.Builder
	for _, b := range s.app.Build {
		if err := checkBuildOutput(b.Output); err != nil {
			return Release{}, err
		}
		builds.WriteString(buildScript(s.root(), b))
	}
	rec := Record{Commit: commit, Phase: PhasePrepared, Run: env.State.RunID()}
	script := fmt.Sprintf(`p=%[1]s
mkdir -p "$p/releases" "$p/shared" "$p/.deploy"
if [ -d "$p/repo" ]; then
  git --git-dir="$p/repo" fetch --quiet --prune origin '+refs/heads/*:refs/heads/*'
else
  git clone --quiet --mirror %[2]s "$p/repo"
fi
git --git-dir="$p/repo" cat-file -e %[3]s^{commit}
# A release of this commit built by a run that stopped before the switch
# is whole when its REVISION says so: REVISION is written before the
# rename that puts the release in place. Use it again.
rel=
for r in "$p"/releases/*-%[4]s; do
  if [ -f "$r/REVISION" ] && [ "$(cat "$r/REVISION")" = %[3]s ]; then rel=${r##*/}; fi
done
if [ -z "$rel" ]; then
  rel=%[5]s
  tmp="$p/releases/.building-%[4]s-$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  git --git-dir="$p/repo" archive --format=tar %[3]s | tar -x -C "$tmp"
  echo %[3]s > "$tmp/REVISION"
%[6]s  mv "$tmp" "$p/releases/$rel"
fi
echo %[7]s"$rel"`, q(s.root()), q(s.app.Repo), q(commit), sha7(commit), q(name), links.String(), q(releaseMarker))
	// The builds run in the release, then the release is recorded
	// prepared. With forward_agent only the fetch may use this machine's
	// agent: the builds are a command of their own then, without it.
	manifest := djangoManifestScript(env)
	finish := func(rel string) string {
		return fmt.Sprintf("p=%s\nrel=%s\ncd \"$p/releases/$rel\"\n%s%s%s\n", q(s.root()), rel, manifest, builds.String(),
			writeRecord(s.root(), rec, map[string]string{"release": "rel"}))
	}
	if !s.app.ForwardAgent {
		script += "\n" + finish(`"$rel"`)
	}
	var out bytes.Buffer
	err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: &out, Stderr: env.Stderr,
		ForwardAgent: s.app.ForwardAgent})
	rel := passOutput(out.String(), env.Stdout)
	if err != nil {
		return Release{}, err
	}
	if rel == "" {
		return Release{}, errors.New("the prepare script did not name its release")
	}
	if s.app.ForwardAgent {
		if err := env.Conn.Run(ctx, &remote.Cmd{Script: finish(q(rel)), Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr}); err != nil {
			return Release{}, err
		}
	}
	return Release{Name: rel, SHA: commit}, nil
}

// passOutput copies a prepare script's output to w, but for the line
// naming the release, which it returns.
func passOutput(out string, w io.Writer) (release string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), releaseMarker); ok {
			release = r
			continue
		}
		if w != nil {
			fmt.Fprintln(w, sc.Text())
		}
	}
	return release
}

// buildScript runs an [app] build command in the release (the working
// directory), unless a build of the same inputs exists: each build lives
// in {path}/shared/build, named by its output and a hash of its inputs,
// and the release links to it.
func buildScript(root string, b Build) string {
	var inputs strings.Builder
	for _, in := range b.Inputs {
		inputs.WriteString(" " + q(in))
	}
	name := strings.ReplaceAll(strings.Trim(b.Output, "/"), "/", "_")
	return fmt.Sprintf(`output=%[4]s
h=$( (for f in%[1]s; do printf '%%s\n' "$f"; cat "$f" 2>/dev/null || echo '(missing)'; done) | %[6]s | cut -c1-16)
out=%[2]s/shared/build/%[3]s-$h
if [ ! -e "$out/.deploy-built" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  echo "building $output (inputs changed)"
  DEPLOY_OUTPUT="$out" sh -ec %[5]s || { echo "build $output failed" >&2; exit 1; }
  touch "$out/.deploy-built"
else
  echo "$output: inputs unchanged, reusing ${out##*/}"
fi
rm -rf "$output"
mkdir -p "$(dirname "$output")"
ln -s "$out" "$output"
`, inputs.String(), q(root), q(name), q(b.Output), q(b.Run), hashCommand)
}

// checkBuildOutput refuses a build output that is not a path inside the
// release: the build replaces it (rm -rf), so "../.." or "/" would reach
// outside.
func checkBuildOutput(out string) error {
	clean := path.Clean(out)
	if out == "" || path.IsAbs(out) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("[app] build output %q must be a path inside the release (like \"venv\" or \"static/build\")", out)
	}
	return nil
}

// hashCommand hashes stdin with what the host has: sha256sum (GNU,
// busybox), shasum (macOS, BSD with perl), else POSIX cksum — a cache key
// needs no cryptography. A missing command reads nothing, so the next one
// gets all of stdin.
const hashCommand = `{ sha256sum 2>/dev/null || shasum -a 256 2>/dev/null || cksum; } | tr -d ' -' | tr -d '\t'`

// renameOver is the shell that renames the symlink $next over $dest
// without following $dest: `mv -T` (GNU, busybox), `mv -h` (BSD, macOS),
// else a rename(2) through perl or python3. Plain mv would move $next into
// the directory $dest points at.
const renameOver = `if mv -T "$next" "$dest" 2>/dev/null; then :
elif mv -h "$next" "$dest" 2>/dev/null; then :
elif command -v perl >/dev/null 2>&1; then perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$next" "$dest"
elif command -v python3 >/dev/null 2>&1; then python3 -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' "$next" "$dest"
else echo "cannot rename $next over $dest atomically: this host has no mv -T, mv -h, perl or python3" >&2; exit 1
fi`

func (s releases) Switch(ctx context.Context, conn remote.Conn, rec Record) error {
	if rec.Release == "" {
		return errors.New("switch: no release named")
	}
	if rec.Phase == "" {
		rec.Phase = PhaseSwitched
	}
	var left string
	if rec.RollbackOf != "" {
		left = "\n" + appendLog(s.root(), Record{Release: rec.RollbackOf, Phase: PhaseFailed, Run: rec.Run,
			Error: "rolled back to " + rec.Release})
	}
	script := fmt.Sprintf(`p=%[1]s
rel=%[2]s
if [ ! -f "$p/releases/$rel/REVISION" ]; then echo "release $rel is not on this host (pruned?)" >&2; exit 1; fi
prev=$(readlink "$p/current" 2>/dev/null || true)
prev=${prev##*/}
next="$p/.current-next"
dest="$p/current"
rm -f "$next"
ln -s "$p/releases/$rel" "$next"
%[3]s
%[4]s%[5]s`, q(s.root()), q(rec.Release), renameOver, writeRecord(s.root(), rec, map[string]string{"previous": "prev"}), left)
	var errOut bytes.Buffer
	if err := conn.Run(ctx, &remote.Cmd{Script: script, Stderr: &errOut}); err != nil {
		return fmt.Errorf("switch to %s: %w%s", rec.Release, err, stderrTail(errOut.String()))
	}
	return nil
}

func (s releases) Apply(ctx context.Context, cmd *remote.Cmd, conn remote.Conn, ok Record) error {
	return apply(ctx, cmd, conn, s.root(), ok)
}

// apply runs cmd's script as a child shell (so `set -e` holds inside it),
// then records ok, or failed with the exit status.
func apply(ctx context.Context, cmd *remote.Cmd, conn remote.Conn, root string, ok Record) error {
	failed := ok
	failed.Phase = PhaseFailed
	c := *cmd
	c.Script = fmt.Sprintf(`if sh -ec %[1]s; then
%[2]s
else
st=$?
failure="exit status $st"
%[3]s
exit $st
fi`, q(cmd.Script), writeRecord(root, ok, nil), writeRecord(root, failed, map[string]string{"error": "failure"}))
	return conn.Run(ctx, &c)
}

func (s releases) Prune(ctx context.Context, conn remote.Conn, st *HostState, keep int) ([]string, error) {
	protect := map[string]bool{st.Current: true}
	if good, ok := st.LastGood(); ok {
		protect[good.Name] = true
	}
	// The release before current, by name, as before the state existed.
	for i, r := range st.Releases {
		if r.Name == st.Current && i > 0 {
			protect[st.Releases[i-1].Name] = true
		}
	}
	var remove []string
	for i := 0; i < len(st.Releases)-keep; i++ {
		if n := st.Releases[i].Name; !protect[n] {
			remove = append(remove, n)
		}
	}
	if len(remove) == 0 {
		return nil, nil
	}
	var script strings.Builder
	script.WriteString("cd " + q(s.root()+"/releases") + "\n")
	for _, r := range remove {
		script.WriteString("rm -rf " + q(r) + "\n")
	}
	return remove, conn.Run(ctx, &remote.Cmd{Script: script.String()})
}

// appendLog is the shell that appends rec to the state log only.
func appendLog(root string, rec Record) string {
	return fmt.Sprintf(`mkdir -p %[1]s
printf '%%s\n' %[2]s >> %[1]s/state.log`, q(root+"/.deploy"), recordShell(rec, nil))
}

// isCommit reports whether s is a hexadecimal commit id, as release
// names and scripts take it.
func isCommit(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
