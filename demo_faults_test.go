//go:build faults && linux

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demo.sh run twice shows the running demo instead of starting a second;
// after a crash (its sshd gone, the pid file naming another process) it
// starts again without signalling that process; `./demo.sh stop`, run
// twice, removes the demo and nothing it did not make: a process and a
// directory of someone else's survive. Slow (a real deploy, twice).
//
//	go test -tags faults -run FaultDemo -v .
func TestFaultDemoScript(t *testing.T) {
	pointer := filepath.Join("bin", "demo-dir")
	if _, err := os.Stat(pointer); err == nil {
		t.Skipf("a demo of this checkout runs (%s): ./demo.sh stop first", pointer)
	}
	for _, f := range []string{"/usr/sbin/sshd", "/usr/bin/gunicorn"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s not installed", f)
		}
	}
	t.Cleanup(func() { demo(t, "stop") })

	// Someone else's: a process, and a directory named like the demo's.
	other := exec.Command("sleep", "600")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	otherDir, err := os.MkdirTemp("/tmp", "deploy-demo.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(otherDir) })

	out := demo(t)
	first := demoDir(t)
	demoServes(t, out)

	out = demo(t)
	if !strings.Contains(out, "the demo is running already") || demoDir(t) != first || demoSSHDs(t) != 1 {
		t.Fatalf("a second ./demo.sh: dir %s (was %s), %d sshd, output:\n%s", demoDir(t), first, demoSSHDs(t), out)
	}

	// A crash: sshd gone, and its pid file names someone else's process.
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(first, "sshd.pid"))))
	syscall.Kill(pid, syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	writeFile(t, filepath.Join(first, "sshd.pid"), fmt.Sprintln(other.Process.Pid))
	out = demo(t)
	if !strings.Contains(out, "stopping it, starting again") || demoDir(t) == first || demoSSHDs(t) != 1 {
		t.Fatalf("./demo.sh after a crash: dir %s (was %s), %d sshd, output:\n%s", demoDir(t), first, demoSSHDs(t), out)
	}
	demoServes(t, out)
	if _, err := os.Stat(first); err == nil {
		t.Errorf("the crashed demo's %s is left", first)
	}

	second := demoDir(t)
	if out := demo(t, "stop"); !strings.Contains(out, "stopped the demo and removed "+second) {
		t.Errorf("./demo.sh stop: %s", out)
	}
	if out := demo(t, "stop"); !strings.Contains(out, "no demo running") {
		t.Errorf("./demo.sh stop again: %s", out)
	}
	if _, err := os.Stat(second); err == nil {
		t.Errorf("%s is left", second)
	}
	if _, err := os.Stat(pointer); err == nil {
		t.Errorf("%s is left", pointer)
	}
	if n := demoSSHDs(t); n != 0 {
		t.Errorf("%d demo sshd left", n)
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("someone else's process was stopped: %v", err)
	}
	if _, err := os.Stat(otherDir); err != nil {
		t.Errorf("someone else's directory was removed: %v", err)
	}
}

// demo runs ./demo.sh with args; it must succeed.
func demo(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("./demo.sh", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("./demo.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func demoDir(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, filepath.Join("bin", "demo-dir")))
}

// demoSSHDs counts the listening sshd of demos (any checkout's).
func demoSSHDs(t *testing.T) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		// sshd retitles itself: "sshd: /usr/sbin/sshd -f … [listener] …".
		b, _ := os.ReadFile(p)
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, "sshd -f /tmp/deploy-demo.") {
			n++
		}
	}
	return n
}

var servedAt = regexp.MustCompile(`served at (http://127\.0\.0\.1:\d+/)`)

// demoServes checks the URL the demo printed answers.
func demoServes(t *testing.T, out string) {
	t.Helper()
	m := servedAt.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no URL in:\n%s", out)
	}
	resp, err := http.Get(m[1] + "health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "ok ") {
		t.Errorf("%shealth: %s", m[1], body)
	}
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
