package sshtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/remote"
)

func TestRecorder(t *testing.T) {
	dir := t.TempDir()
	lost := errors.New("connection lost")
	r := &Recorder{Next: remote.Local{}}
	r.On("fail here", Reply{Stderr: "no\n", Status: 3})
	r.On("lose it", Reply{Err: lost})
	ctx := context.Background()

	var out bytes.Buffer
	if err := r.Run(ctx, &remote.Cmd{Script: "cd " + remote.MustQuote(dir) + " && touch made && echo hi", Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hi\n" {
		t.Errorf("stdout %q, want the real command's", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "made")); err != nil {
		t.Errorf("Next did not run the command: %v", err)
	}
	var exit *remote.ExitError
	if err := r.Run(ctx, &remote.Cmd{Script: "echo fail here"}); !errors.As(err, &exit) || exit.Status != 3 {
		t.Errorf("scripted failure: got %v, want exit status 3", err)
	}
	if err := r.Run(ctx, &remote.Cmd{Script: "lose it"}); !errors.Is(err, lost) {
		t.Errorf("scripted error: got %v", err)
	}
	if got := len(r.Commands()); got != 3 {
		t.Errorf("%d commands recorded, want 3", got)
	}
	if s := r.Scripts()[1]; s != "echo fail here" {
		t.Errorf("second script %q", s)
	}
	r.Reset()
	if len(r.Scripts()) != 0 {
		t.Error("Reset kept commands")
	}
}
