package sshtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
)

// ShellHost is a "host" on this machine whose scripts run under one
// strict POSIX shell with only minimal utilities on PATH.
type ShellHost struct {
	Name string // "dash" or "busybox"
	Conn remote.Conn
}

// POSIXShells gives two hosts that behave like a minimal BSD, macOS or
// Alpine server rather than a Debian one: scripts run under dash on one
// and under busybox sh on the other, and on both PATH is a directory
// holding only busybox's applets, plus git and python3 from this
// machine's PATH (a deploy needs them, and no minimal host is tested
// without them). A script that leans on bash or on GNU-only flags
// (`ln -r`, `readlink -e`, `find -printf`, `grep -P`, `sort -h`,
// `stat --printf`) or on tools a minimal host lacks (install, flock,
// sudo, curl) fails there as it would on such a host.
//
// It skips the test when dash or busybox is not installed.
func POSIXShells(t testing.TB) []ShellHost {
	t.Helper()
	dash, err := exec.LookPath("dash")
	if err != nil {
		t.Skip("dash not installed: apt-get install dash")
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed: apt-get install busybox")
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	applets := strings.Fields(string(out))
	extra := map[string]string{}
	for _, name := range []string{"git", "python3"} {
		path, err := exec.LookPath(name)
		if name == "python3" {
			// The system python, not a version manager's shim that needs
			// bash and the user's PATH.
			if _, serr := os.Stat("/usr/bin/python3"); serr == nil {
				path, err = "/usr/bin/python3", nil
			}
		}
		if err == nil {
			extra[name] = path
		}
	}
	var hosts []ShellHost
	for _, sh := range []struct{ name, path string }{{"dash", dash}, {"busybox", busybox}} {
		bin := filepath.Join(t.TempDir(), "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		links := map[string]string{}
		for _, a := range applets {
			// busybox's [[ applet would give dash a bash test it lacks.
			if a != "[[" {
				links[a] = busybox
			}
		}
		for name, path := range extra {
			links[name] = path
		}
		// busybox runs the applet that its argv[0] names: a link called
		// sh is busybox sh.
		links["sh"] = sh.path
		for name, target := range links {
			if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
				t.Fatal(fmt.Errorf("posix host %s: %w", sh.name, err))
			}
		}
		hosts = append(hosts, ShellHost{Name: sh.name, Conn: remote.Local{Shell: filepath.Join(bin, "sh"), Path: bin}})
	}
	return hosts
}
