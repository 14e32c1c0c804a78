package tasks

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The reload step's method "gunicorn" runs the app with gunicorn, in its
// shared directory ({path}/shared):
//
//   - gunicorn.conf.py, rewritten by every reload: bind, workers, chdir to
//     `current` (a path through the symlink, so workers started later
//     import the release in use), reuse_port, logs to gunicorn.log, and
//     the app's environment read from gunicorn.env. gunicorn reads it
//     again on HUP, so a changed setting or environment takes effect with
//     the reload.
//   - gunicorn.env, mode 0600, the step's env (secrets included): written
//     from the command's environment, never a command line, and replaced
//     atomically only when its content changes.
//   - gunicorn.pid, the master's pid; gunicorn.python, the interpreter it
//     runs on.
//
// Not running: it is started, and the step waits until its master is up
// with its workers, each of which has loaded the app (a post_worker_init
// hook in the config notes it in gunicorn.booted). Running on the same
// interpreter: HUP, a graceful reload; the step waits until every worker
// of before the HUP has exited and each worker now has loaded the app, so
// what answers afterwards (the health check) is the new release. On a
// changed interpreter (a new virtualenv): a new master is started beside
// the old one on the same socket (reuse_port) and, once it has its
// workers, the old one is retired with TERM (it finishes its requests).
// Before a running server is asked to load the release, the release must
// import its WSGI module with the app's environment (a preflight): one
// that cannot fails the step while the old workers still serve. A master
// that exits anyway — the release fails to boot in a worker — fails the
// step at once, with the end of gunicorn.log.

// gunicornSettings are the with keys of method "gunicorn".
type gunicornSettings struct {
	wsgi    string // module[:callable]
	bind    string
	workers int
	python  string
	timeout int // seconds to wait for workers to come and go
}

func gunicornSettingsOf(env *Env) (gunicornSettings, error) {
	s := gunicornSettings{bind: "127.0.0.1:8000", workers: 2, python: env.App.Python, timeout: 60}
	str := func(k string) string { v, _ := env.With[k].(string); return v }
	if s.wsgi = str("wsgi"); s.wsgi == "" {
		return s, errors.New(`reload with method "gunicorn" needs with.wsgi, the WSGI module of the project (mysite.wsgi)`)
	}
	if v := str("bind"); v != "" {
		s.bind = v
	}
	if v := str("python"); v != "" {
		s.python = v
	}
	if s.python == "" {
		s.python = "python3"
	}
	if v, ok := env.With["workers"]; ok {
		n, ok := v.(int64)
		if !ok || n < 1 || n > 1024 {
			return s, fmt.Errorf("reload: with.workers must be a whole number from 1 to 1024, not %v", v)
		}
		s.workers = int(n)
	}
	return s, nil
}

// gunicornConf is gunicorn.conf.py. Values go in as Python string
// literals (strconv.Quote is valid Python for the text it makes), paths
// through os.path.expanduser, for a deploy root under "~/".
func gunicornConf(s gunicornSettings, current, shared string) string {
	py := func(v string) string { return strconv.Quote(v) }
	path := func(v string) string { return "os.path.expanduser(" + py(v) + ")" }
	return fmt.Sprintf(`# Written by deploy at every reload: edit the reload step's with table instead.
import os
bind = [%[1]s]
workers = %[2]d
chdir = %[3]s
wsgi_app = %[4]s
reuse_port = True
errorlog = %[5]s
capture_output = True
def post_worker_init(worker):
    # A worker that loaded the app says so: the reload waits for it.
    with open(%[7]s, "a") as f:
        f.write("%%d\n" %% worker.pid)
raw_env = []
try:
    with open(%[6]s, "rb") as f:
        raw_env = [kv for kv in f.read().decode("utf-8", "surrogateescape").split("\0") if "=" in kv]
except FileNotFoundError:
    pass
`, py(s.bind), s.workers, path(current), py(s.wsgi), path(shared+"/gunicorn.log"), path(shared+"/gunicorn.env"),
		path(shared+"/gunicorn.booted"))
}

// gunicornScript is the reload command of method "gunicorn"; it runs in
// the release in use, with the step's env exported.
func gunicornScript(env *Env, strategy Strategy) (string, error) {
	s, err := gunicornSettingsOf(env)
	if err != nil {
		return "", err
	}
	shared := strings.TrimSuffix(env.App.Path, "/") + "/shared"
	tried := "no"
	if st := env.Release; st != nil && st.Tried != "" && st.Tried == st.Current {
		tried = "yes"
	}
	names := make([]string, 0, len(env.CmdEnv))
	for k := range env.CmdEnv {
		names = append(names, k)
	}
	slices.Sort(names)
	var envLines strings.Builder
	for _, k := range names {
		// The names are valid shell names (remote.Cmd checks them).
		fmt.Fprintf(&envLines, "  printf '%%s=%%s\\000' %s \"$%s\"\n", k, k)
	}
	return fmt.Sprintf(`shared=%[1]s
py=%[2]s
workers=%[3]d
wait=%[4]d
mkdir -p "$shared"
cd "$shared"
"$py" -c 'import gunicorn' 2>/dev/null || { echo "gunicorn is not installed for $py: add gunicorn to the project's requirements (or apt-get install gunicorn), or name another interpreter in with.python" >&2; exit 1; }
# The app's environment: 0600, replaced only when it changes.
(
  umask 077
  {
%[5]s  } > gunicorn.env.new
)
if cmp -s gunicorn.env.new gunicorn.env 2>/dev/null; then rm -f gunicorn.env.new; else mv -f gunicorn.env.new gunicorn.env; echo "environment written"; fi
cat > gunicorn.conf.py.new <<'DEPLOY_GUNICORN_CONF'
%[6]sDEPLOY_GUNICORN_CONF
mv -f gunicorn.conf.py.new gunicorn.conf.py
want=$(command -v "$py" 2>/dev/null || echo "$py")
want=$(readlink -f "$want" 2>/dev/null || echo "$want")
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
children() { ps -e -o pid= -o ppid= | awk -v m="$1" '$2 == m { print $1 }'; }
# booted MASTER: it has its workers, and each has loaded the app.
booted() {
  n=0
  for w in $(children "$1"); do
    grep -qx "$w" "$shared/gunicorn.booted" 2>/dev/null || return 1
    n=$((n + 1))
  done
  [ "$n" -ge "$workers" ]
}
logtail() { tail -n 5 "$shared/gunicorn.log" 2>/dev/null | sed 's/^/  gunicorn.log: /' >&2; }
# start PIDFILE: a master on this release, up with its workers. The pid
# file's path is absolute: the master works in the release.
start() {
  rm -f "$shared/$1"
  : > "$shared/gunicorn.booted"
  "$py" -m gunicorn -c "$shared/gunicorn.conf.py" --pid "$shared/$1" --daemon || { logtail; exit 1; }
  i=0
  while :; do
    p=$(cat "$shared/$1" 2>/dev/null || true)
    if alive "$p" && booted "$p"; then break; fi
    i=$((i + 1))
    if [ "$i" -gt $((wait * 10)) ]; then echo "gunicorn did not come up in ${wait}s" >&2; logtail; exit 1; fi
    if [ "$i" -gt 20 ] && ! alive "$p"; then echo "gunicorn exited as it started: the release failed to boot" >&2; logtail; exit 1; fi
    sleep 0.1
  done
  echo "$want" > gunicorn.python
}
# preflight: the release loads its WSGI app with the app's environment,
# before a running server is asked to load it: a release that does not
# stops here, while the old workers still serve.
preflight() {
  if ! (cd %[7]s && "$py" -c 'import importlib, sys; sys.path.insert(0, "."); importlib.import_module(sys.argv[1].split(":")[0])' %[8]s) >gunicorn.preflight 2>&1; then
    echo "the release failed to boot: importing "%[8]s" fails; the running server was left as it was" >&2
    tail -n 5 gunicorn.preflight | sed 's/^/  /' >&2
    exit 1
  fi
}
pid=$(cat gunicorn.pid 2>/dev/null || true)
have=$(cat gunicorn.python 2>/dev/null || true)
if alive "$pid" && [ %[9]s != yes ]; then preflight; fi
if ! alive "$pid"; then
  start gunicorn.pid
  echo "gunicorn started (pid $(cat gunicorn.pid), $workers workers, $py)"
elif [ "$have" != "$want" ]; then
  # A new interpreter: a new master beside the old one, then the old one
  # retired once the new one has its workers.
  start gunicorn.pid.new
  kill -TERM "$pid" 2>/dev/null || true
  i=0
  while alive "$pid" && [ "$i" -lt $((wait * 10)) ]; do i=$((i + 1)); sleep 0.1; done
  mv -f gunicorn.pid.new gunicorn.pid
  echo "gunicorn restarted on $want (pid $(cat gunicorn.pid)); the old master $pid retired"
else
  old=$(children "$pid" | tr '\n' ' ')
  : > gunicorn.booted
  kill -HUP "$pid"
  i=0
  while :; do
    left=
    for w in $old; do if alive "$w"; then left="$left $w"; fi; done
    if [ -z "$left" ] && booted "$pid"; then break; fi
    if ! alive "$pid"; then echo "gunicorn's master exited on reload: the release failed to boot" >&2; logtail; exit 1; fi
    i=$((i + 1))
    if [ "$i" -gt $((wait * 10)) ]; then echo "gunicorn's workers did not all restart in ${wait}s (old ones left:${left:- none})" >&2; logtail; exit 1; fi
    sleep 0.1
  done
  if ! alive "$pid"; then echo "gunicorn's master exited on reload: the release failed to boot" >&2; logtail; exit 1; fi
  echo "gunicorn reloaded (pid $pid): every worker replaced"
fi`, q(shared), q(s.python), s.workers, s.timeout, envLines.String(),
		gunicornConf(s, strategy.Dir(), shared), q(strategy.Dir()), q(s.wsgi), tried), nil
}
