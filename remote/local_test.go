package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/remote"
)

func TestLocalRun(t *testing.T) {
	tests := []struct {
		script, stdout, stderr string
		status                 int
	}{
		{"echo out; echo err >&2", "out\n", "err\n", 0},
		{"exit 3", "", "", 3},
		{"false; echo not reached", "", "", 1},
		{"cat; echo after", "after\n", "", 0},
		{`printf '%s' "$V"`, "a 'b'\nc", "", 0},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := remote.Local{}.Run(context.Background(), &remote.Cmd{Script: tt.script, Env: map[string]string{"V": "a 'b'\nc"}, Stdout: &out, Stderr: &errOut})
		status := 0
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			status = exit.Status
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tt.status || out.String() != tt.stdout || errOut.String() != tt.stderr {
			t.Errorf("%q: %d %q %q", tt.script, status, out.String(), errOut.String())
		}
	}
}

func TestLocalUpload(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(src, "d", "x.sh"), "echo x", 0o750)
	if err := (remote.Local{}).Upload(context.Background(), src, filepath.Join(dst, "tree")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dst, "tree", "d", "x.sh"))
	if err != nil || info.Mode().Perm() != 0o750 {
		t.Errorf("uploaded file: %v %v", info, err)
	}
}
