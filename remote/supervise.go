package remote

import (
	"io"
	"strconv"
	"sync"
)

// supervisedScript is what sh -s reads on an SSH session's stdin: the
// script of script(), run in a subshell, beside a watcher that stops it
// when the session's stdin ends before the script does.
//
// The client sends the script and keeps its side of stdin open until the
// command has exited. stdin ends early only when the client gives up on
// the command (its context ended: it sends EOF, then closes the channel)
// or the connection is lost and sshd closes the channel: the watcher then
// sends SIGTERM, and after killGrace SIGKILL, to its process group. sshd
// starts each session's command as the leader of a new session and
// process group, and sh without job control keeps every child in it, so
// the group is the command and all its children, and nothing of the
// caller's. This works where SSH signal requests do not (OpenSSH refuses
// them for root logins) and under sudo, whose command is in the same
// group and runs the watcher as the sudo user. It costs no round trip:
// stopping is a message from the client, not a request it waits on.
//
// The whole text is one brace group, so sh reads all of it before running
// any, and the watcher's reads of stdin see only what comes after it. The
// script runs in a subshell with `set -e`, so its own traps, exit and
// failures end the subshell, after which the watcher is stopped and the
// exit status passed on; background processes the script leaves behind
// are kept, as with a plain sh. The watcher keeps stdin on fd 9 and
// writes nothing, so it holds no output open; the script gets neither.
func (c *Cmd) supervisedScript() (string, error) {
	inner, err := c.script()
	if err != nil {
		return "", err
	}
	grace := strconv.Itoa(int(killGrace.Seconds()))
	return "{\n" +
		"exec 9<&0\n" +
		"{ trap '' TERM; while read -r _deploy_l; do :; done; kill -s TERM 0; sleep " + grace + "; kill -s KILL 0; } <&9 9<&- >/dev/null 2>&1 &\n" +
		"_deploy_w=$!\n" +
		"(\n" + inner + ") 9<&-\n" +
		"_deploy_s=$?\n" +
		"kill -s KILL $_deploy_w 2>/dev/null\n" +
		"exit $_deploy_s\n" +
		"}\n", nil
}

// gatedWriter passes writes on until it is shut, then drops them: output
// of a session abandoned on cancel never reaches the caller's writer after
// Run has returned.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func newGatedWriter(w io.Writer) *gatedWriter { return &gatedWriter{w: orDiscard(w)} }

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

// shut waits for a write in progress and stops the ones after.
func (g *gatedWriter) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
