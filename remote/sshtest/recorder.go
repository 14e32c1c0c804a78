package sshtest

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/deploy-tool/deploy/remote"
)

// Recorder is a remote.Conn that records what it is asked to do, in the
// spirit of httptest.ResponseRecorder: every command and upload is kept,
// in order, and answered with a scripted Reply. With Next set, commands
// are run there as well (a remote.Local on a temporary directory, say),
// so a test can both count round trips and look at the files they made.
type Recorder struct {
	// Next, when set, runs every command and upload for real after it is
	// recorded; its result is what the caller gets, unless a Reply
	// registered with On matches.
	Next remote.Conn

	mu      sync.Mutex
	cmds    []remote.Cmd
	uploads [][2]string
	replies []match
}

// Reply is a scripted answer to a command.
type Reply struct {
	Stdout, Stderr string
	// Status is the exit status; non-zero gives a *remote.ExitError.
	Status int
	// Err, when set, is returned as is: a lost host, say.
	Err error
}

type match struct {
	substr string
	reply  Reply
}

var _ remote.Conn = (*Recorder)(nil)

// On answers every later command whose script contains substr with
// reply, instead of running it. The first matching registration wins.
func (r *Recorder) On(substr string, reply Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, match{substr, reply})
}

// Run records cmd and answers it: a matching Reply, else Next, else
// success with no output.
func (r *Recorder) Run(ctx context.Context, cmd *remote.Cmd) error {
	r.mu.Lock()
	c := *cmd
	c.Stdout, c.Stderr = nil, nil
	r.cmds = append(r.cmds, c)
	var reply *Reply
	for _, m := range r.replies {
		if strings.Contains(cmd.Script, m.substr) {
			reply = &m.reply
			break
		}
	}
	r.mu.Unlock()
	if reply == nil {
		if r.Next != nil {
			return r.Next.Run(ctx, cmd)
		}
		reply = &Reply{}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	write(cmd.Stdout, reply.Stdout)
	write(cmd.Stderr, reply.Stderr)
	if reply.Err != nil {
		return reply.Err
	}
	if reply.Status != 0 {
		return &remote.ExitError{Status: reply.Status}
	}
	return nil
}

func write(w io.Writer, s string) {
	if w != nil && s != "" {
		io.WriteString(w, s)
	}
}

// Upload records the copy, and makes it with Next when set.
func (r *Recorder) Upload(ctx context.Context, local, dest string) error {
	r.mu.Lock()
	r.uploads = append(r.uploads, [2]string{local, dest})
	r.mu.Unlock()
	if r.Next != nil {
		return r.Next.Upload(ctx, local, dest)
	}
	return ctx.Err()
}

// Close does nothing.
func (r *Recorder) Close() error { return nil }

// Commands are the commands run so far, in order, without their output
// writers. Their number is the number of round trips a real host would
// have cost.
func (r *Recorder) Commands() []remote.Cmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]remote.Cmd(nil), r.cmds...)
}

// Scripts are the scripts of Commands.
func (r *Recorder) Scripts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.cmds))
	for i, c := range r.cmds {
		out[i] = c.Script
	}
	return out
}

// Uploads are the uploads made so far, as (local, dest) pairs.
func (r *Recorder) Uploads() [][2]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]string(nil), r.uploads...)
}

// Reset forgets what was recorded; the replies stay.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds, r.uploads = nil, nil
}
