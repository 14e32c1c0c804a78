package main

import (
	"os"
	"runtime/debug"
)

// manyHosts is the size of a target past which deploy collects garbage
// sooner (see collectSooner).
const manyHosts = 100

// collectSooner sets GOGC to 20 for a target of more than manyHosts
// hosts, unless GOGC is set in the environment. Most of deploy's memory
// is then per connection — x/crypto's buffers and goroutine stacks, about
// 80 kB a host while a command runs — and Go's default of 100 lets the
// heap grow by as much as is live before it collects: a task run over
// 1,000 hosts peaked at 116–118 MiB, and at 91–98 MiB with 20, for about
// 1 s more CPU (bench/, section scale). Such a run waits on the network,
// so the extra collections cost CPU time nobody waits for; a run over a
// few hosts is left alone.
func collectSooner(hosts int) {
	if hosts > manyHosts && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
}
