// Package bench measures deploy against its peers on real local sshd
// hosts, each optionally behind a userspace latency proxy
// (internal/tcpproxy). Run it with bench/run.sh; see BENCHMARKS.md for the
// figures.
package bench
