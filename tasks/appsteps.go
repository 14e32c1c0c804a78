package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/deploy-tool/deploy/remote"
)

// releaseOf is the host's release state and strategy, which the release
// steps cannot work without.
func releaseOf(env *Env) (*HostState, Strategy, error) {
	if env.Release == nil || env.Strategy == nil {
		return nil, nil, errors.New("this step needs [app] path, the deploy root on the hosts")
	}
	return env.Release, env.Strategy, nil
}

// pullStep makes the release of the deploy SHA ready on a host — built
// from the central repository, or found built whole already — beside the
// one in use. The engine switches every host to it once all are ready.
type pullStep struct{}

func (pullStep) PreparesRelease() {}

func (pullStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	if env.State.WouldCommit() {
		return Verdict{}, nil // a plan: the commit it releases is not made yet
	}
	sha, err := deploySHA(env)
	if err != nil {
		return Verdict{}, err
	}
	st, _, err := releaseOf(env)
	if err != nil {
		return Verdict{}, err
	}
	if st.Current != "" && st.CurrentCommit == sha {
		return done("current is " + sha7(sha) + " already"), nil
	}
	return Verdict{}, nil
}

func (pullStep) Run(ctx context.Context, env *Env, found Verdict) error {
	sha, err := deploySHA(env)
	if err != nil {
		return err
	}
	st, strategy, err := releaseOf(env)
	if err != nil {
		return err
	}
	rel, err := strategy.Prepare(ctx, env, sha)
	if err != nil {
		return err
	}
	st.Prepared = rel.Name
	if rel.Current { // in place: the work tree is the release
		st.Switched(Record{Release: rel.Name, Commit: sha, Phase: PhaseSwitched, Previous: st.Current, Run: env.State.RunID()}, sha)
	}
	if !slices.ContainsFunc(st.Releases, func(r Release) bool { return r.Name == rel.Name }) {
		st.Releases = append(st.Releases, rel)
	}
	fmt.Fprintf(env.Stdout, "release %s ready\n", rel.Name)
	return nil
}

// migrateStep applies Django migrations from the release being deployed,
// before the switch; skipped when `migrate --check` finds none to apply.
type migrateStep struct{}

func (migrateStep) releaseDir(env *Env) (string, error) {
	st, strategy, err := releaseOf(env)
	if err != nil {
		return "", err
	}
	if st.Prepared != "" {
		return strategy.ReleaseDir(st.Prepared), nil
	}
	return strategy.Dir(), nil
}

func managePy(env *Env) string {
	py := env.App.Python
	if s, ok := env.With["python"].(string); ok && s != "" {
		py = s
	}
	return q(py) + " manage.py"
}

func settingsFlag(env *Env) string {
	if s, ok := env.With["settings"].(string); ok && s != "" {
		return " --settings=" + q(s)
	}
	return ""
}

// Check finds the migrations done without asking Django when this run
// brings no new release and the one in use was made live by a run whose
// migrate step applied its migrations (or found none to apply); with
// with.always it asks regardless.
func (m migrateStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	dir, commit, err := m.target(env)
	if err != nil {
		return Verdict{}, err
	}
	if always, _ := env.With["always"].(bool); !always {
		if st := env.Release; st != nil && st.Prepared == "" && st.Current != "" && st.Consistent() && st.Record.Migrated {
			env.State.SetMigrated(commit)
			return done("the migrations of " + shortRelease(st.Current) + " were applied before it went live"), nil
		}
	}
	script := "cd " + q(dir) + " && " + managePy(env) + " migrate --check" + settingsFlag(env) + " >/dev/null 2>&1"
	err = env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, ReadOnly: true})
	var exit *remote.ExitError
	switch {
	case err == nil:
		env.State.SetMigrated(commit)
		return done("no unapplied migration"), nil
	case errors.As(err, &exit):
		return Verdict{}, nil
	}
	return Verdict{}, err
}

func (m migrateStep) Run(ctx context.Context, env *Env, found Verdict) error {
	dir, commit, err := m.target(env)
	if err != nil {
		return err
	}
	if err := run(ctx, env, "cd "+q(dir)+" && "+managePy(env)+" migrate --noinput"+settingsFlag(env)); err != nil {
		return err
	}
	env.State.SetMigrated(commit)
	return nil
}

// target is the release the migrations come from, and its commit: the
// release this run prepared, else the one in use.
func (m migrateStep) target(env *Env) (dir, commit string, err error) {
	if dir, err = m.releaseDir(env); err != nil {
		return "", "", err
	}
	if st := env.Release; st != nil && st.Prepared == "" {
		return dir, st.CurrentCommit, nil
	}
	return dir, env.State.SHA(), nil
}

// appliedAlready is the "already done?" of the steps that act on the
// release in use (reload, healthcheck): done when the host's state says
// its release reached phase, unless with.always. A host switched but never
// reloaded (a run that died) is not done: the next run finishes it.
func appliedAlready(env *Env, phase Phase) (Verdict, error) {
	if always, _ := env.With["always"].(bool); always {
		return Verdict{}, nil
	}
	st, _, err := releaseOf(env)
	if err != nil {
		return Verdict{}, err
	}
	switch {
	case st.Current == "":
		return done("no release in use"), nil
	case st.Consistent() && st.Record.Phase.AtLeast(phase):
		return done(fmt.Sprintf("%s is %s already", shortRelease(st.Current), st.Record.Phase)), nil
	}
	return Verdict{}, nil
}

func shortRelease(name string) string {
	if len(name) == 40 { // inplace: a commit
		return sha7(name)
	}
	return name
}

// applyStep runs script in the release in use and records phase, or
// failed, in the same command.
func applyStep(ctx context.Context, env *Env, script string, phase Phase) error {
	st, strategy, err := releaseOf(env)
	if err != nil {
		return err
	}
	rec := st.Now(phase, env.State.RunID())
	rec.Migrated = rec.Migrated || env.State.Migrated(rec.Commit)
	cmd := &remote.Cmd{Script: "cd " + q(strategy.Dir()) + "\n" + script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr}
	if err := strategy.Apply(ctx, cmd, env.Conn, rec); err != nil {
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			failed := rec
			failed.Phase, failed.Error = PhaseFailed, exit.Error()
			st.Recorded(failed)
		}
		return err
	}
	st.Recorded(rec)
	return nil
}

// reloadStep makes the WSGI server load the release in use: touch a file,
// HUP gunicorn's master (a graceful reload), reload a systemd unit, or run
// a command.
type reloadStep struct{}

func (reloadStep) AfterSwitch() {}

func (reloadStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	if m, _ := env.With["method"].(string); m == "gunicorn" && env.Release != nil && env.Release.ServerDown && env.Release.Current != "" {
		return Verdict{}, nil // not running: start it, whatever the state says
	}
	return appliedAlready(env, PhaseReloaded)
}

func (reloadStep) Run(ctx context.Context, env *Env, found Verdict) error {
	script, err := reloadScript(env)
	if err != nil {
		return err
	}
	return applyStep(ctx, env, script, PhaseReloaded)
}

// reloadScript is the command of a reload method; relative paths are in
// the release in use, where it runs.
func reloadScript(env *Env) (string, error) {
	str := func(k string) string { s, _ := env.With[k].(string); return s }
	switch method := str("method"); method {
	case "touch":
		if str("path") == "" {
			return "", errors.New(`reload with method "touch" needs with.path, the file the server watches (superbook/wsgi.py)`)
		}
		return "touch " + q(str("path")), nil
	case "hup", "":
		pidFile := str("pid_file")
		if pidFile == "" {
			return "", errors.New(`reload with method "hup" needs with.pid_file, gunicorn's --pid file`)
		}
		// gunicorn retires its old workers on HUP: once they are gone,
		// whatever answers (the health check) is a new worker, with the
		// release in use.
		return "pidfile=" + q(pidFile) + `
pid=$(cat "$pidfile") || { echo "no pid file $pidfile: is the server running?" >&2; exit 1; }
old=$(ps -e -o pid= -o ppid= 2>/dev/null | awk -v m="$pid" '$2 == m { print $1 }' | tr '
' ' ')
kill -HUP "$pid"
i=0
while :; do
  left=
  for w in $old; do if kill -0 "$w" 2>/dev/null; then left="$left $w"; fi; done
  [ -n "$left" ] || break
  kill -0 "$pid" 2>/dev/null || { echo "the server's master (pid $pid) exited on reload: the release failed to boot" >&2; exit 1; }
  i=$((i + 1))
  [ "$i" -le 600 ] || { echo "the server's old workers ($left) did not exit in 60s" >&2; exit 1; }
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null || { echo "the server's master (pid $pid) exited on reload: the release failed to boot" >&2; exit 1; }`, nil
	case "systemctl":
		if str("unit") == "" {
			return "", errors.New(`reload with method "systemctl" needs with.unit`)
		}
		return "systemctl reload " + q(str("unit")), nil
	case "gunicorn":
		_, strategy, err := releaseOf(env)
		if err != nil {
			return "", err
		}
		return gunicornScript(env, strategy)
	case "command":
		if str("command") == "" {
			return "", errors.New(`reload with method "command" needs with.command`)
		}
		return str("command"), nil
	default:
		return "", fmt.Errorf("unknown reload method %q: gunicorn, touch, hup, systemctl or command", method)
	}
}
