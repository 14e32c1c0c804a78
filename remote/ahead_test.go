//go:build unix

package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// waitFor polls cond for up to 5 s.
func waitFor(cond func() bool) bool {
	for i := 0; i < 500 && !cond(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// A command marked Last starts no shell ahead for a next one; others do.
func TestLastCommandStartsNoShellAhead(t *testing.T) {
	env := sshtest.New(t)
	srv := env.StartInProcess(t, "host")
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "host"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(last bool) {
		t.Helper()
		if err := conn.Run(context.Background(), &remote.Cmd{Script: "true", Last: last}); err != nil {
			t.Fatal(err)
		}
	}
	run(false)
	if !waitFor(func() bool { return srv.Sessions.Now() == 2 }) {
		t.Fatalf("%d sessions open after a command, want the 2 shells started ahead", srv.Sessions.Now())
	}
	run(true)
	time.Sleep(300 * time.Millisecond)
	if got := srv.Sessions.Now(); got != 1 {
		t.Errorf("%d sessions open after the last command, want 1: the shell ahead it did not use", got)
	}
	run(false)
	if !waitFor(func() bool { return srv.Sessions.Now() == 2 }) {
		t.Errorf("%d sessions open after another command, want 2 again", srv.Sessions.Now())
	}
}
