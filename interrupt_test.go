//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// sleepyFleet starts two real sshd hosts and writes a Deployfile whose
// task "slow" runs a step that sleeps on both, writing the sleep's pid to
// pid-HOST first. It returns the global flags that reach the hosts and
// the pid files.
func sleepyFleet(t *testing.T) (flags []string, pidFiles []string) {
	t.Helper()
	env := sshtest.New(t)
	env.Start(t, "web1")
	env.Start(t, "web2")
	dir := env.UserDir(t)
	df := fmt.Sprintf(`[app]
name = "slow"
path = "%s/{{host}}"

[hosts]
web = ["web1", "web2"]

[tasks.slow]
steps = [
  { run = "echo first" },
  { run = "sh -c 'echo $$ > %s/pid-{{host}}; exec sleep 30'" },
  { run = "echo last" },
]
`, dir, dir)
	file := filepath.Join(t.TempDir(), "Deployfile")
	if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"-f", file, "--ssh-config", env.SSHConfig},
		[]string{filepath.Join(dir, "pid-web1"), filepath.Join(dir, "pid-web2")}
}

// interruptWhenSleeping cancels ctx as Ctrl-C does once both hosts sleep,
// and returns the sleeps' pids.
func interruptWhenSleeping(t *testing.T, pidFiles []string, cancel context.CancelCauseFunc) <-chan []int {
	pids := make(chan []int, 1)
	go func() {
		var p []int
		for _, f := range pidFiles {
			p = append(p, sshtest.WaitForPID(t, f))
		}
		pids <- p
		cancel(errInterrupted)
	}()
	return pids
}

// Ctrl-C during a step of `deploy run`: the hosts it was running on are
// interrupted, not failed — in the summary, the --json events and the
// exit status — and their commands are stopped.
func TestRunInterruptedMidStep(t *testing.T) {
	t.Parallel()
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			t.Parallel()
			flags, pidFiles := sleepyFleet(t)
			ctx, cancel := context.WithCancelCause(context.Background())
			pids := interruptWhenSleeping(t, pidFiles, cancel)
			args := append([]string{"deploy", "--no-color"}, flags...)
			if asJSON {
				args = append(args, "--json")
			}
			var out, errOut bytes.Buffer
			code := run(ctx, append(args, "run", "slow", "web"), &out, &errOut)
			if code != exitInterrupt {
				t.Errorf("exit %d, want %d\n%s%s", code, exitInterrupt, out.String(), errOut.String())
			}
			for _, pid := range <-pids {
				sshtest.WaitGone(t, pid)
			}
			if asJSON {
				checkInterruptedEvents(t, out.String())
				return
			}
			text := out.String() + errOut.String()
			for _, want := range []string{
				"web1 | ■ interrupted", "web2 | ■ interrupted",
				"0 failed, 2 interrupted, 2 not reached",
				"■ interrupted during step 2 (run: sh -c",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("output does not say %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "context canceled") || strings.Contains(text, "✗") {
				t.Errorf("an interrupted host is shown as failed:\n%s", text)
			}
		})
	}
}

// checkInterruptedEvents checks the --json events of the interrupted run:
// step 2 ends interrupted on both hosts, and run_end counts them.
func checkInterruptedEvents(t *testing.T, out string) {
	t.Helper()
	interrupted := 0
	var end *deploy.Event
	for _, e := range jsonLinesOf[deploy.Event](t, out) {
		switch {
		case e.Type == deploy.EventStepEnd && e.Line == string(deploy.Interrupted):
			interrupted++
			if e.Step != 2 {
				t.Errorf("interrupted step_end of step %d, want 2: %+v", e.Step, e)
			}
		case e.Type == deploy.EventStepEnd && e.Line == string(deploy.Failed):
			t.Errorf("a host failed: %+v", e)
		case e.Type == deploy.EventRunEnd:
			end = &e
		}
	}
	if interrupted != 2 {
		t.Errorf("%d interrupted step_end events, want 2:\n%s", interrupted, out)
	}
	if end == nil || end.Interrupted == nil || *end.Interrupted != 2 || end.Failed == nil || *end.Failed != 0 {
		t.Errorf("run_end %+v, want 2 interrupted and 0 failed", end)
	}
}
