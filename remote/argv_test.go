//go:build unix

package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// The first command on a connection goes in the command line only when
// it is Public and has no Env: a script not marked Public, or the Env of
// one that is, never shows in `ps` on the host, first command or not; and
// a Public script runs exactly as from stdin (output, exit status,
// a stop on cancel).
func TestOnlyPublicScriptsInArgv(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	env.Start(t, "web1")
	dir := env.UserDir(t)
	for i, tt := range []struct {
		name   string
		public bool
		env    map[string]string
		shown  bool // the marker may show in ps
	}{
		{"private script", false, nil, false},
		{"public script with env", true, map[string]string{"TOKEN": "argv-s3cr3t"}, false},
		{"public script", true, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialWeb1(t, env) // a new pool: this is its first command
			marker := "argv-marker-" + string(rune('a'+i))
			pidFile := filepath.Join(dir, marker+".pid")
			script := ": " + marker + " argv-s3cr3t\necho $$ >" + pidFile + "\nsleep 1\nprintf '%s\\n' \"it's\" done; exit 7"
			done := make(chan error, 1)
			var out bytes.Buffer
			go func() {
				done <- conn.Run(context.Background(), &remote.Cmd{Script: script, Env: tt.env, Public: tt.public, Stdout: &out})
			}()
			sshtest.WaitForPID(t, pidFile)
			ps, err := exec.Command("ps", "-eo", "args").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.shown && (bytes.Contains(ps, []byte("argv-s3cr3t")) || bytes.Contains(ps, []byte(marker))) {
				t.Errorf("ps on the host shows the script or its env:\n%s", ps)
			}
			err = <-done
			var exit *remote.ExitError
			if !errors.As(err, &exit) || exit.Status != 7 || out.String() != "it's\ndone\n" {
				t.Errorf("run: %v, output %q; want exit 7 and it's, done", err, out.String())
			}
			os.Remove(pidFile)
		})
	}
}
