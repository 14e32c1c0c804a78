#!/usr/bin/env bash
# demo.sh — deploy the sample Django app (testdata/superbook) to a throwaway
# SSH host on 127.0.0.1 with the real deploy binary, on a Debian machine.
#
#   ./demo.sh            # installs what is missing, deploys, prints the URL;
#                        # a demo already running is reused, not doubled
#   ./demo.sh again      # deploy once more: nothing to do
#   ./demo.sh stop       # stop the demo and remove what it made
#
# Everything the demo makes lives in one directory under /tmp (its sshd,
# keys, repositories, deploy root, gunicorn's pid file and logs), which
# bin/demo-dir in this checkout names. Stopping kills only the sshd and
# gunicorn whose pid files are in that directory (and whose command lines
# name it), then removes the directory and bin/demo-dir: nothing else.
set -euo pipefail
cd "$(dirname "$0")"
repo_dir=$(pwd)
# In this checkout, not in /tmp, where anyone could have written it.
pointer=$repo_dir/bin/demo-dir

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# demo_dir prints the directory of this checkout's demo, if it has one.
demo_dir() {
  local dir
  [ -f "$pointer" ] || return 1
  dir=$(cat "$pointer")
  case $dir in
    /tmp/deploy-demo.??????) ;;
    *) echo "demo.sh: $pointer does not name a demo directory; remove it" >&2; return 1 ;;
  esac
  [ -d "$dir" ] && [ -O "$dir" ] || return 1
  printf '%s\n' "$dir"
}

# demo_pid prints the pid in the demo's pid file $2 when that process runs
# and its command line or working directory is in the demo directory $1
# (sshd -f $1/sshd_config; gunicorn --chdir $1/srv/…, which may retitle
# itself): a pid file left behind never makes us signal another program.
demo_pid() {
  local pid
  pid=$(cat "$1/$2" 2>/dev/null) || return 1
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/"; then
    printf '%s\n' "$pid"
    return 0
  fi
  case $(readlink "/proc/$pid/cwd" 2>/dev/null) in
    "$1"/*) printf '%s\n' "$pid" ;;
    *) return 1 ;;
  esac
}

gunicorn_pid_file=srv/superbook/shared/gunicorn.pid

# stop_demo stops the demo's gunicorn and sshd and removes its directory.
stop_demo() {
  local work pid pids=() alive i
  if ! work=$(demo_dir); then
    rm -f "$pointer"
    echo "no demo running"
    return 0
  fi
  for f in "$gunicorn_pid_file" sshd.pid; do
    if pid=$(demo_pid "$work" "$f"); then
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in ${pids[@]+"${pids[@]}"}; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf -- "$work"
  rm -f "$pointer"
  echo "stopped the demo and removed $work"
  if id deploydemo >/dev/null 2>&1; then
    echo "(the account deploydemo is kept for the next demo: userdel -r deploydemo removes it)"
  fi
}

# usage_hints says where the demo is and what to do with it.
usage_hints() {
  local work=$1 web_port
  web_port=$(sed -n 's/^web_port=//p' "$work/demo.env")
  cat <<EOF
superbook is served at http://127.0.0.1:$web_port/ (the demo's files: $work)

Try:
  $repo_dir/demo.sh again                                   # a second deploy: nothing to do
  $repo_dir/bin/deploy -f $work/superbook/Deployfile --ssh-config $work/ssh_config releases web
  $repo_dir/bin/deploy -f $work/superbook/Deployfile --ssh-config $work/ssh_config history prod
Stop it and remove everything it made:
  $repo_dir/demo.sh stop
EOF
}

case ${1:-} in
  stop)
    stop_demo
    exit
    ;;
  again)
    if ! work=$(demo_dir); then
      echo "no demo running: ./demo.sh starts one" >&2
      exit 1
    fi
    say "deploying again: nothing new, so nothing should change"
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \
      "$repo_dir/bin/deploy" -f "$work/superbook/Deployfile" --ssh-config "$work/ssh_config" prod
    exit
    ;;
  "") ;;
  *)
    echo "usage: ./demo.sh [again|stop]" >&2
    exit 2
    ;;
esac

# A demo of this checkout already up: say where, rather than start another.
# One half up (its sshd or its app server gone, a run that failed) is
# stopped and started again.
if work=$(demo_dir); then
  if demo_pid "$work" sshd.pid >/dev/null && demo_pid "$work" "$gunicorn_pid_file" >/dev/null; then
    say "the demo is running already"
    usage_hints "$work"
    exit 0
  fi
  say "a demo that is not running whole is in $work: stopping it, starting again"
  stop_demo
fi

say "system packages"
need=()
for p in openssh-server openssh-client git python3-django gunicorn; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "all there"
fi

say "building deploy"
export PATH="$PATH:/usr/local/go/bin"
go build -o bin/deploy .
echo "bin/deploy: $(bin/deploy version)"

work=$(mktemp -d /tmp/deploy-demo.XXXXXX)
chmod 755 "$work"
mkdir -p "$(dirname "$pointer")"
printf '%s\n' "$work" >"$pointer"
# The host's account: a plain user, as on a real server (root's shell
# start-up files are not what a deploy account looks like).
if [ "$(id -u)" -eq 0 ]; then
  user=deploydemo
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh --password '*' "$user"
  mkdir -p /run/sshd
else
  user=$(id -un)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ssh_port=$(free_port)
web_port=$(free_port)
printf 'web_port=%s\n' "$web_port" >"$work/demo.env"

say "a throwaway sshd on 127.0.0.1:$ssh_port, logging in as $user"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/id_demo"
cp "$work/id_demo.pub" "$work/authorized_keys"
chmod 644 "$work/authorized_keys"
cat > "$work/sshd_config" <<EOF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $user
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
echo "[127.0.0.1]:$ssh_port $(cat "$work/host_key.pub")" > "$work/known_hosts"
cat > "$work/ssh_config" <<EOF
Host demo
  HostName 127.0.0.1
  Port $ssh_port
  User $user
  IdentityFile $work/id_demo
  UserKnownHostsFile $work/known_hosts
EOF

say "the project: testdata/superbook in a git repository, and a central repository"
mkdir -p "$work/srv"
git init -q --bare "$work/central.git"
cp -r testdata/superbook "$work/superbook"
cat > "$work/superbook/Deployfile" <<EOF
# The Deployfile of this demo: one host that is both app and static server.
[app]
name = "superbook"
repo = "$work/central.git"
path = "$work/srv/superbook"
python = "/usr/bin/python3"
keep_releases = 3

[hosts]
web = ["demo"]
static = ["demo"]
prod = ["@web", "@static"]

[vars]
port = $web_port
db = "$work/srv/superbook/shared/db.sqlite3"

[tasks.test]
description = "The app's own tests"
steps = [{ local = "/usr/bin/python3 manage.py test --noinput -v 1" }]

[tasks.deploy]
description = "Test, commit, push, release, migrate, reload, check"
steps = [
  { builtin = "test" },
  { builtin = "commit" },
  { builtin = "push" },
  { builtin = "collectstatic" },
  { builtin = "sync-static", on = "static" },
  { builtin = "pull", on = "web" },
  { builtin = "migrate", on = "web", once = true, env = { SUPERBOOK_DB = "{{db}}" } },
  { builtin = "reload", on = "web", env = { SUPERBOOK_DB = "{{db}}", SUPERBOOK_STATIC_ROOT = "{{path}}/static" }, with = { method = "command", command = """
pid={{path}}/shared/gunicorn.pid
if [ -f \$pid ] && kill -0 \$(cat \$pid) 2>/dev/null; then kill -HUP \$(cat \$pid); exit 0; fi
gunicorn --chdir {{path}}/current --bind 127.0.0.1:{{port}} --pid \$pid --daemon --workers 2 superbook.wsgi
""" } },
  { builtin = "healthcheck", on = "web", with = { url = "http://127.0.0.1:{{port}}/health", expect = "ok {{sha}}" } },
]
EOF
(
  cd "$work/superbook"
  git init -q -b main
  git -c user.name=Demo -c user.email=demo@example.com add .
  git -c user.name=Demo -c user.email=demo@example.com commit -q -m "superbook"
  git remote add origin "$work/central.git"
  git config user.name Demo
  git config user.email demo@example.com
)
chown -R "$user" "$work/srv" "$work/central.git" 2>/dev/null || true

say "deploy prod"
# The central repository belongs to the host's account; let git on this
# side use it.
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \
  bin/deploy -f "$work/superbook/Deployfile" --ssh-config "$work/ssh_config" prod

say "superbook is up"
python3 - "$web_port" <<'EOF'
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5).read().decode())
EOF
usage_hints "$work"
