package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/remote"
)

// App is the [app] table as the release steps need it, with {{path}}
// filled in for the host.
type App struct {
	Repo     string   // the central repository the hosts fetch from
	Path     string   // the deploy root on this host
	Strategy string   // "releases" or "inplace"
	Shared   []string // paths under {path}/shared linked into each release
	Python   string
	Build    []Build
	// ForwardAgent lets the hosts fetch Repo with this machine's agent.
	ForwardAgent bool
}

// Build is an [app] build command, its {{variables}} filled in.
type Build struct {
	Run    string
	Inputs []string
	Output string
}

// PreparesRelease marks the built-in steps that build a release on the
// hosts (pull): the engine plans a switch after them.
type PreparesRelease interface {
	Step
	PreparesRelease()
}

// AfterSwitch marks the built-in steps that act on the release in use —
// reload, healthcheck — so the engine switches `current` on every host
// before the first of them.
type AfterSwitch interface {
	Step
	AfterSwitch()
}

var q = remote.MustQuote

// run runs a script on the host of env, its output to env's streams.
func run(ctx context.Context, env *Env, script string) error {
	return env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr})
}

// output runs a script and returns its stdout, trimmed.
func output(ctx context.Context, env *Env, script string) (string, error) {
	var out bytes.Buffer
	err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: &out, Stderr: env.Stderr})
	return strings.TrimSpace(out.String()), err
}

func sha7(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// deploySHA is the commit to deploy; a release step before it is known
// (no push, no repository here) is an error.
func deploySHA(env *Env) (string, error) {
	if env.State == nil || env.State.SHA() == "" {
		return "", errors.New("the commit to deploy is not known: run the push step first, or deploy from the repository")
	}
	return env.State.SHA(), nil
}

// currentRevision is the commit the host serves now, "" when none.
func currentRevision(ctx context.Context, env *Env) (string, error) {
	if env.App.Strategy == "inplace" {
		return output(ctx, env, "git -C "+q(env.App.Path)+" rev-parse HEAD 2>/dev/null || true")
	}
	return output(ctx, env, "cat "+q(env.App.Path+"/current/REVISION")+" 2>/dev/null || true")
}

// pullStep builds the release of the deploy SHA on a host, or (inplace)
// resets the work tree at {path} to it.
type pullStep struct{}

func (pullStep) PreparesRelease() {}

func (pullStep) Check(ctx context.Context, env *Env) (bool, string, error) {
	sha, err := deploySHA(env)
	if err != nil {
		return false, "", err
	}
	cur, err := currentRevision(ctx, env)
	if err != nil {
		return false, "", err
	}
	if cur == sha {
		return true, "current is " + sha7(sha) + " already", nil
	}
	return false, "", nil
}

func (pullStep) Run(ctx context.Context, env *Env) error {
	sha, err := deploySHA(env)
	if err != nil {
		return err
	}
	p := env.App.Path
	if env.App.Repo == "" {
		return errors.New("[app] repo is not set: the hosts need the central repository to fetch from")
	}
	if env.App.Strategy == "inplace" {
		// {path} already holds .deploy (the lock): init, then fetch.
		script := fmt.Sprintf(`mkdir -p %[1]s/shared
cd %[1]s
if [ ! -d .git ]; then
  git init --quiet
  git remote add origin %[2]s
  printf '.deploy/\nshared/\nREVISION\n' >> .git/info/exclude
fi
git fetch --quiet origin
git reset --quiet --hard %[3]s
echo %[3]s > REVISION`, q(p), q(env.App.Repo), q(sha))
		if err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr,
			ForwardAgent: env.App.ForwardAgent}); err != nil {
			return err
		}
		env.State.Switched(env.Host, "", sha)
		return nil
	}
	release := p + "/releases/" + env.State.Stamp() + "-" + sha7(sha)
	var links strings.Builder
	for _, s := range env.App.Shared {
		dir := strings.HasSuffix(s, "/")
		s = strings.TrimSuffix(s, "/")
		// A directory in the release, or a name written with a trailing
		// slash, is a shared directory; anything else a shared file.
		fmt.Fprintf(&links, `if [ %[4]t = true ] || [ -d "$tmp"/%[1]s ]; then mkdir -p %[2]s/shared/%[1]s; else mkdir -p "$(dirname %[2]s/shared/%[1]s)"; fi
rm -rf "$tmp"/%[1]s
mkdir -p "$(dirname "$tmp"/%[1]s)"
ln -s %[3]s "$tmp"/%[1]s
`, q(s), q(p), q(p+"/shared/"+s), dir)
	}
	script := fmt.Sprintf(`p=%[1]s
mkdir -p "$p/releases" "$p/shared" "$p/.deploy"
if [ -d "$p/repo" ]; then
  git --git-dir="$p/repo" fetch --quiet --prune origin '+refs/heads/*:refs/heads/*'
else
  git clone --quiet --mirror %[2]s "$p/repo"
fi
git --git-dir="$p/repo" cat-file -e %[3]s^{commit}
# A release of this commit built by a run that stopped before the switch
# is whole (it was renamed into place last): use it again.
for r in "$p"/releases/*-%[4]s; do
  if [ -f "$r/REVISION" ] && [ "$(cat "$r/REVISION")" = %[3]s ]; then echo "$r"; exit 0; fi
done
tmp="$p/releases/.building-%[4]s-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
git --git-dir="$p/repo" archive --format=tar %[3]s | tar -x -C "$tmp"
echo %[3]s > "$tmp/REVISION"
%[6]smv "$tmp" %[5]s
echo %[5]s`, q(p), q(env.App.Repo), q(sha), sha7(sha), q(release), links.String())
	// Only the fetch may use this machine's agent, when asked.
	var buf bytes.Buffer
	err = env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: &buf, Stderr: env.Stderr,
		ForwardAgent: env.App.ForwardAgent})
	if err != nil {
		return err
	}
	out := strings.TrimSpace(buf.String())
	for _, b := range env.App.Build {
		if err := runBuild(ctx, env, out, b); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "release %s ready\n", path.Base(out))
	env.State.Prepared(env.Host, out)
	return nil
}

// migrateStep applies Django migrations from the release being deployed,
// before the switch; skipped when `migrate --check` finds none to apply.
type migrateStep struct{}

func (migrateStep) releaseDir(env *Env) string {
	if r := env.State.Pending(env.Host); r != "" {
		return r
	}
	if env.App.Strategy == "inplace" {
		return env.App.Path
	}
	return env.App.Path + "/current"
}

func managePy(env *Env) string {
	py := env.App.Python
	if s, ok := env.With["python"].(string); ok && s != "" {
		py = s
	}
	cmd := q(py) + " manage.py"
	return cmd
}

func settingsFlag(env *Env) string {
	if s, ok := env.With["settings"].(string); ok && s != "" {
		return " --settings=" + q(s)
	}
	return ""
}

func (m migrateStep) Check(ctx context.Context, env *Env) (bool, string, error) {
	script := "cd " + q(m.releaseDir(env)) + " && " + managePy(env) + " migrate --check" + settingsFlag(env) + " >/dev/null 2>&1"
	err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv})
	var exit *remote.ExitError
	switch {
	case err == nil:
		return true, "no unapplied migration", nil
	case errors.As(err, &exit):
		return false, "", nil
	}
	return false, "", err
}

func (m migrateStep) Run(ctx context.Context, env *Env) error {
	return run(ctx, env, "cd "+q(m.releaseDir(env))+" && "+managePy(env)+" migrate --noinput"+settingsFlag(env))
}

// reloadStep makes the WSGI server load the new release: touch a file,
// HUP gunicorn's master (a graceful reload), reload a systemd unit, or run
// a command. Only when this run switched the host's release, unless
// with.always.
type reloadStep struct{}

func (reloadStep) AfterSwitch() {}

func (reloadStep) Check(ctx context.Context, env *Env) (bool, string, error) {
	return releaseUnchanged(env)
}

// releaseUnchanged is the "already done?" of the steps that act on a new
// release: done when this run did not change the host's release, unless
// with.always.
func releaseUnchanged(env *Env) (bool, string, error) {
	if always, _ := env.With["always"].(bool); always {
		return false, "", nil
	}
	if !env.State.HasSwitched(env.Host) {
		return true, "the release did not change", nil
	}
	return false, "", nil
}

func (reloadStep) Run(ctx context.Context, env *Env) error {
	str := func(k string) string { s, _ := env.With[k].(string); return s }
	base := env.App.Path + "/current"
	if env.App.Strategy == "inplace" {
		base = env.App.Path
	}
	abs := func(p string) string {
		if strings.HasPrefix(p, "/") {
			return p
		}
		return base + "/" + p
	}
	switch method := str("method"); method {
	case "touch":
		if str("path") == "" {
			return errors.New(`reload with method "touch" needs with.path, the file the server watches (superbook/wsgi.py)`)
		}
		return run(ctx, env, "touch "+q(abs(str("path"))))
	case "hup", "":
		pidFile := str("pid_file")
		if pidFile == "" {
			return errors.New(`reload with method "hup" needs with.pid_file, gunicorn's --pid file`)
		}
		return run(ctx, env, fmt.Sprintf(`pid=$(cat %[1]s) || { echo "no pid file %[1]s: is the server running?" >&2; exit 1; }
kill -HUP "$pid"`, q(abs(pidFile))))
	case "systemctl":
		if str("unit") == "" {
			return errors.New(`reload with method "systemctl" needs with.unit`)
		}
		return run(ctx, env, "systemctl reload "+q(str("unit")))
	case "command":
		if str("command") == "" {
			return errors.New(`reload with method "command" needs with.command`)
		}
		return run(ctx, env, str("command"))
	default:
		return fmt.Errorf("unknown reload method %q: touch, hup, systemctl or command", method)
	}
}

// Switch makes release the one in use on a host: a new symlink under a
// temporary name, renamed over `current` (rename is atomic, so `current`
// is never missing nor half-made). It returns the release it replaced.
func Switch(ctx context.Context, conn remote.Conn, root, release string) (previous string, err error) {
	var out bytes.Buffer
	script := fmt.Sprintf(`prev=$(readlink %[1]s/current 2>/dev/null || true)
ln -sfn %[2]s %[1]s/.current-next
mv -T %[1]s/.current-next %[1]s/current
printf '%%s' "$prev"`, q(root), q(release))
	if err := conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &out}); err != nil {
		return "", err
	}
	return out.String(), nil
}

// healthcheckStep fetches a URL on each host (or runs a command) until it
// succeeds or time runs out. A failure after the switch makes the engine
// switch every host back.
type healthcheckStep struct{}

func (healthcheckStep) AfterSwitch() {}

func (healthcheckStep) Check(ctx context.Context, env *Env) (bool, string, error) {
	return releaseUnchanged(env)
}

func (healthcheckStep) Run(ctx context.Context, env *Env) error {
	str := func(k string) string { s, _ := env.With[k].(string); return s }
	timeout := 30 * time.Second
	if s := str("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("healthcheck: with.timeout %q is not a duration", s)
		}
		timeout = d
	}
	var script string
	switch {
	case str("url") != "":
		// Hosts have sh, not always curl: take what is there.
		script = fmt.Sprintf(`url=%[1]s
if command -v curl >/dev/null 2>&1; then curl -fsS --max-time 5 "$url"
elif command -v wget >/dev/null 2>&1; then wget -q -T 5 -O - "$url"
else %[2]s -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$url"
fi`, q(str("url")), q(env.App.Python))
	case str("command") != "":
		script = str("command")
	default:
		return errors.New("healthcheck needs with.url (fetched on the host) or with.command")
	}
	expect := str("expect")
	deadline := time.Now().Add(timeout)
	var last string
	for attempt := 1; ; attempt++ {
		var out, errOut bytes.Buffer
		err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: &out, Stderr: &errOut})
		body := strings.TrimSpace(out.String())
		switch {
		case err == nil && (expect == "" || strings.Contains(body, expect)):
			fmt.Fprintf(env.Stdout, "healthy after %d attempt(s): %s\n", attempt, firstLineOf(body))
			return nil
		case err == nil:
			last = fmt.Sprintf("the answer %q does not contain %q", firstLineOf(body), expect)
		default:
			last = strings.TrimSpace(errOut.String())
			if last == "" {
				last = err.Error()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unhealthy after %s: %s", timeout, last)
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release is one release directory on a host.
type Release struct {
	Name    string `json:"name"` // <UTC stamp>-<sha7>
	SHA     string `json:"sha"`
	Current bool   `json:"current"`
}

// Time is when the release was built, from its name.
func (r Release) Time() (time.Time, error) {
	stamp, _, _ := strings.Cut(r.Name, "-")
	return time.Parse("20060102T150405Z", stamp)
}

// ListReleases lists the releases under root, oldest first.
func ListReleases(ctx context.Context, conn remote.Conn, root string) ([]Release, error) {
	var out bytes.Buffer
	script := fmt.Sprintf(`cd %s/releases 2>/dev/null || exit 0
cur=$(basename "$(readlink ../current 2>/dev/null)" 2>/dev/null)
for r in *; do
  [ -d "$r" ] || continue
  printf '%%s %%s %%s\n' "$r" "$(cat "$r/REVISION" 2>/dev/null || echo -)" "$([ "$r" = "$cur" ] && echo current || echo -)"
done`, q(root))
	if err := conn.Run(ctx, &remote.Cmd{Script: script, Stdout: &out}); err != nil {
		return nil, err
	}
	var rels []Release
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			rels = append(rels, Release{Name: f[0], SHA: f[1], Current: f[2] == "current"})
		}
	}
	return rels, nil
}

// PruneReleases removes the oldest releases beyond keep, never the one in
// use nor the one before it (the rollback target).
func PruneReleases(ctx context.Context, conn remote.Conn, root string, keep int) ([]string, error) {
	rels, err := ListReleases(ctx, conn, root)
	if err != nil {
		return nil, err
	}
	protect := map[string]bool{}
	for i, r := range rels {
		if r.Current {
			protect[r.Name] = true
			if i > 0 {
				protect[rels[i-1].Name] = true
			}
		}
	}
	var remove []string
	for i := 0; i < len(rels)-keep; i++ {
		if !protect[rels[i].Name] {
			remove = append(remove, rels[i].Name)
		}
	}
	if len(remove) == 0 {
		return nil, nil
	}
	var script strings.Builder
	script.WriteString("cd " + q(root+"/releases") + "\n")
	for _, r := range remove {
		script.WriteString("rm -rf " + q(r) + "\n")
	}
	return remove, conn.Run(ctx, &remote.Cmd{Script: script.String()})
}

// RollbackTarget picks the release to go back to: the one named (a full
// name, or a sha or its prefix), else the one before current.
func RollbackTarget(rels []Release, to string) (Release, error) {
	cur := -1
	for i, r := range rels {
		if r.Current {
			cur = i
		}
	}
	if to != "" {
		for _, r := range rels {
			if r.Name == to || (len(to) >= 4 && strings.HasPrefix(r.SHA, to)) {
				return r, nil
			}
		}
		return Release{}, fmt.Errorf("no release %q here", to)
	}
	if cur <= 0 {
		return Release{}, errors.New("no release before the current one to go back to")
	}
	return rels[cur-1], nil
}

// runBuild runs a build command in a new release, unless a build of the
// same inputs exists: each build lives in {path}/shared/build, named by
// its output and the hash of its inputs, and the release links to it.
func runBuild(ctx context.Context, env *Env, release string, b Build) error {
	var inputs strings.Builder
	for _, in := range b.Inputs {
		inputs.WriteString(" " + q(in))
	}
	name := strings.ReplaceAll(strings.Trim(b.Output, "/"), "/", "_")
	script := fmt.Sprintf(`cd %[1]s
h=$( (for f in%[2]s; do printf '%%s\n' "$f"; cat "$f" 2>/dev/null || echo '(missing)'; done) | sha256sum | cut -c1-16)
out=%[3]s/shared/build/%[4]s-$h
if [ ! -e "$out/.deploy-built" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  echo "building %[5]s (inputs changed)"
  DEPLOY_OUTPUT="$out" sh -ec %[6]s
  touch "$out/.deploy-built"
else
  echo "%[5]s: inputs unchanged, reusing $(basename "$out")"
fi
rm -rf %[5]s
mkdir -p "$(dirname %[5]s)"
ln -s "$out" %[5]s`, q(release), inputs.String(), q(env.App.Path), q(name), q(b.Output), q(b.Run))
	if err := run(ctx, env, script); err != nil {
		return fmt.Errorf("build %s: %w", b.Output, err)
	}
	return nil
}
