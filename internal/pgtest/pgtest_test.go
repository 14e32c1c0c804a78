//go:build unix

package pgtest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The server takes the user's password over TCP, refuses another, and is
// gone, process and files, at cleanup.
func TestStart(t *testing.T) {
	var dir string
	var pid int
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		dir, pid = s.Dir, s.cmd.Process.Pid
		if got := s.Query(t, "SELECT current_database() || ' ' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"); got != "superbook superbook" {
			t.Errorf("database and owner: %q", got)
		}
		psql := func(url string) (string, error) {
			out, err := exec.Command(s.bin+"/psql", "-X", "-A", "-t", "-c", "SELECT current_user", url).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		if out, err := psql(s.URL()); err != nil || out != "superbook" {
			t.Errorf("psql %s: %v %s", s.URL(), err, out)
		}
		if out, err := psql(strings.Replace(s.URL(), s.Password, "wrong", 1)); err == nil {
			t.Errorf("a wrong password was let in: %s", out)
		}
		s.Stop()
		s.Stop() // twice is fine
		if exec.Command(s.bin+"/pg_isready", "-q", "-h", s.Host, "-p", strconv.Itoa(s.Port)).Run() == nil {
			t.Error("the server still answers after Stop")
		}
	})
	if dir == "" {
		return // skipped
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s is left", dir)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("postgres (pid %d) still runs", pid)
	}
}
