#!/usr/bin/env bash
# Measures `deploy exec` against parallel OpenSSH on 1, 10 and 50 local sshd
# hosts and prints medians. Needs openssh-server and openssh-client; as
# root it logs the hosts in as the plain user remote/sshtest creates.
#   bench/run.sh            # 10 runs of each
#   COUNT=20 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")"
count=${COUNT:-10}
mkdir -p out
go test -run '^$' -bench 'BenchmarkExec' -benchtime 5x -count "$count" -timeout 30m . | tee out/exec.txt
# Median of each benchmark's ns/op, in milliseconds (mawk has no asort).
for name in $(awk '/^BenchmarkExec/ {sub(/-[0-9]+$/, "", $1); print $1}' out/exec.txt | sort -u); do
  awk -v n="$name" '{k=$1; sub(/-[0-9]+$/, "", k)} k == n {print $3}' out/exec.txt | sort -n |
    awk -v n="$name" '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%-55s %8.1f ms  (median of %d)\n", n, m/1e6, NR}'
done
