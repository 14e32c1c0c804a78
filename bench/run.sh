#!/usr/bin/env bash
# The benchmark harness: deploy side by side with its peers on real sshd
# hosts on 127.0.0.1, each directly (0 ms) or behind a userspace latency
# proxy (internal/tcpproxy), and writes Markdown tables to bench/out/results.md.
#
#   bench/run.sh            # the full run of BENCHMARKS.md (about 27 minutes on 2 cores)
#   bench/run.sh --smoke    # CI: 3 hosts, one repetition, deploy and OpenSSH only
#   COUNT=7 bench/run.sh    # more repetitions (median of COUNT; default 5)
#
# The full run installs the peers it lacks from Debian (apt-get; as root or
# with sudo -n): pssh, python3-fabric, ansible-core, hyperfine. A peer that
# cannot be installed is reported as "failed"/"not installed", not fatal.
# Settings beyond these (host counts, RTTs, peers, sections): the BENCH_*
# variables documented in bench/harness_test.go.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

smoke=0
for a in "$@"; do
  case "$a" in
    --smoke) smoke=1 ;;
    *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
  esac
done

if ((smoke)); then
  # Under a minute: deploy and OpenSSH (already there for the tests), 3 hosts.
  export BENCH_COUNT=${COUNT:-1}
  export BENCH_HOSTS=${BENCH_HOSTS:-3}
  export BENCH_RTTS=${BENCH_RTTS:-0,20}
  export BENCH_PEERS=${BENCH_PEERS:-deploy,openssh-xargs-curve25519,openssh-controlmaster}
  export BENCH_TASK_HOSTS=${BENCH_TASK_HOSTS:-3}
  export BENCH_TASK_RTTS=${BENCH_TASK_RTTS:-0,20}
  export BENCH_TASK_PEERS=${BENCH_TASK_PEERS:-deploy}
  export BENCH_RT_RTT=${BENCH_RT_RTT:-20}
  export BENCH_SECTIONS=${BENCH_SECTIONS:-startup,roundtrips,exec,task8}
  export BENCH_OUT=${BENCH_OUT:-out/smoke.md}
else
  export BENCH_COUNT=${COUNT:-5}
  packages=(openssh-server openssh-client time pssh python3-fabric ansible-core hyperfine)
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    echo "bench: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } ||
      echo "bench: could not install ${missing[*]}; those peers will be reported missing" >&2
  fi
fi
mkdir -p out
out=${BENCH_OUT:-out/results.md}
log=${out%.md}.log

{
  echo "# bench/run.sh $* — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "Load before: $(uptime | sed 's/.*load average/load average/')"
  echo
  echo "Versions:"
  echo "- $(go version)"
  echo "- OpenSSH: $(ssh -V 2>&1)"
  command -v parallel-ssh >/dev/null && echo "- parallel-ssh $(parallel-ssh --version 2>&1)"
  /usr/bin/python3 -c 'import fabric, paramiko, invoke, sys; print("- Fabric", fabric.__version__, "paramiko", paramiko.__version__, "invoke", invoke.__version__, "Python", sys.version.split()[0])' 2>/dev/null || true
  command -v ansible >/dev/null && echo "- $(ansible --version 2>/dev/null | awk 'NR==1')"
  command -v hyperfine >/dev/null && echo "- $(hyperfine --version)"
} > "$out.head"

status=0
BENCH_HARNESS=1 BENCH_OUT="$out.body" go test -run '^TestHarness$' -count 1 -v -timeout 120m . > "$log" 2>&1 || status=$?
{
  cat "$out.head"
  echo "Load after: $(uptime | sed 's/.*load average/load average/')"
  cat "$out.body" 2>/dev/null || true
} > "$out"
rm -f "$out.head" "$out.body"
cat "$out"
if ((status)); then
  echo "bench: the harness failed (exit $status); its log, bench/$log:" >&2
  tail -40 "$log" >&2
  exit "$status"
fi
