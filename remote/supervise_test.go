//go:build unix

package remote

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shells are the POSIX shells on this machine that the wrapper must work
// under, as `sh -s` on a host: dash (Debian's sh) and busybox sh (Alpine,
// embedded), and whatever sh is.
func shells(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{"sh": {"sh"}}
	if p, err := exec.LookPath("dash"); err == nil {
		out["dash"] = []string{p}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		out["busybox"] = []string{p, "sh"}
	}
	return out
}

// startSupervised starts cmd's supervised script under shell as sshd would:
// the shell leads a process group of its own and reads the script on a
// stdin that stays open.
func startSupervised(t *testing.T, shell []string, cmd *Cmd) (c *exec.Cmd, stdin io.WriteCloser, stdout func() string) {
	t.Helper()
	script, err := cmd.supervisedScript()
	if err != nil {
		t.Fatal(err)
	}
	c = exec.Command(shell[0], append(shell[1:], "-s")...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: Wait must not wait for children that hold
	// stdout open, and the output is read once the shell has exited.
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	c.Stdout = out
	if stdin, err = c.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-c.Process.Pid, syscall.SIGKILL) })
	if _, err := io.WriteString(stdin, script); err != nil {
		t.Fatal(err)
	}
	return c, stdin, func() string {
		data, err := os.ReadFile(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
}

func TestSupervisedScriptPassesStatusAndOutput(t *testing.T) {
	for name, shell := range shells(t) {
		for _, tt := range []struct {
			script string
			env    map[string]string
			status int
			stdout string
		}{
			{"echo hi", nil, 0, "hi\n"},
			{"echo a; exit 3", nil, 3, "a\n"},
			{"false; echo not reached", nil, 1, ""},
			{"trap 'echo bye' EXIT; echo \"$X\"; exit 4", map[string]string{"X": "it's"}, 4, "it's\nbye\n"},
			{"cat; echo after", nil, 0, "after\n"},
			{"ls /proc/self/fd/9 2>/dev/null || echo no fd 9", nil, 0, "no fd 9\n"},
			{"kill -s TERM $(exec sh -c 'echo $PPID')", nil, 128 + 15, ""},
		} {
			c, _, stdout := startSupervised(t, shell, &Cmd{Script: tt.script, Env: tt.env})
			// stdin stays open: the command ends by itself.
			err := c.Wait()
			status := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = exit.ExitCode()
			} else if err != nil {
				t.Fatalf("%s: %q: %v", name, tt.script, err)
			}
			if got := stdout(); status != tt.status || got != tt.stdout {
				t.Errorf("%s: %q: status %d stdout %q, want %d %q", name, tt.script, status, got, tt.status, tt.stdout)
			}
		}
	}
}

// stdin ending before the command does stops the command and its
// children, including one that ignores SIGTERM (after the grace).
func TestSupervisedScriptStopsOnEOF(t *testing.T) {
	t.Parallel()
	for name, shell := range shells(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile := func(n string) string { return filepath.Join(dir, n) }
			script := "sleep 30 & echo $! > " + MustQuote(pidFile("a")) + "\n" +
				"sh -c 'trap \"\" TERM; sleep 30 & echo $! > " + pidFile("b") + "; wait' &\n" +
				"wait\n"
			c, stdin, _ := startSupervised(t, shell, &Cmd{Script: script})
			var pids []int
			for _, f := range []string{"a", "b"} {
				pids = append(pids, waitPID(t, pidFile(f)))
			}
			time.Sleep(100 * time.Millisecond)
			stdin.Close()
			exited := make(chan struct{})
			go func() { c.Wait(); close(exited) }()
			select {
			case <-exited:
			case <-time.After(2 * time.Second):
				t.Fatal("the shell outlived its stdin by 2s")
			}
			deadline := time.Now().Add(killGrace + 2*time.Second)
			for _, pid := range pids {
				for syscall.Kill(pid, 0) == nil && !zombie(pid) {
					if time.Now().After(deadline) {
						t.Fatalf("process %d still runs", pid)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}

func waitPID(t *testing.T, file string) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		data, _ := os.ReadFile(file)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && bytes.Contains(stat, []byte(") Z "))
}
