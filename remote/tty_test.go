//go:build unix

package remote_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// A command with a terminal gets its environment and script without
// either being in a command line: while it runs, `ps` on the host shows
// neither, and the file they travelled in is gone.
func TestTTYEnvNotInArgv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		sudo     bool
		sudoUser string
	}{
		{"login user", false, ""},
		{"sudo", true, "nobody"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := sshtest.New(t)
			env.Start(t, "web1")
			if tt.sudo {
				env.Sudoers(t, env.User+" ALL=(nobody) NOPASSWD: ALL")
			}
			conn := dialWeb1(t, env)
			dir := env.UserDir(t)
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			secret := "tty-s3cr3t 'q' $(x)"
			marker := "script-marker-7f3a"
			script := "test -t 1\n" +
				"printf 'got:%s\\n' \"$TOKEN\"\n" +
				"echo $$ >" + filepath.Join(dir, "cmd.pid") + "\n" +
				": " + marker + "\n" +
				"sleep 2"
			done := make(chan error, 1)
			var out bytes.Buffer
			go func() {
				done <- conn.Run(context.Background(), &remote.Cmd{
					Script: script, Env: map[string]string{"TOKEN": secret}, TTY: true,
					Sudo: tt.sudo, SudoUser: tt.sudoUser, Stdout: &out,
				})
			}()
			sshtest.WaitForPID(t, filepath.Join(dir, "cmd.pid"))
			ps, err := exec.Command("ps", "-eo", "args").Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, word := range []string{"tty-s3cr3t", marker} {
				if bytes.Contains(ps, []byte(word)) {
					t.Errorf("ps on the host shows %q:\n%s", word, ps)
				}
			}
			files, _ := filepath.Glob(filepath.Join(os.TempDir(), "deploy-tty.*"))
			for _, f := range files {
				if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte("tty-s3cr3t")) {
					t.Errorf("the script file %s is still there while the command runs", f)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("run: %v (output %q)", err, out.String())
			}
			if got := strings.ReplaceAll(out.String(), "\r", ""); got != "got:"+secret+"\n" {
				t.Errorf("the command printed %q, want got:%s", got, secret)
			}
		})
	}
}
