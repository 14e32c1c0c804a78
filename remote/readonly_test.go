package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	made := filepath.Join(dir, "made")
	c := ReadOnly(Local{})
	ctx := context.Background()
	if err := c.Run(ctx, &Cmd{Script: "test -d " + MustQuote(dir), ReadOnly: true}); err != nil {
		t.Errorf("a read-only command was refused: %v", err)
	}
	if err := c.Run(ctx, &Cmd{Script: "touch " + MustQuote(made)}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("a change: got %v, want ErrReadOnly", err)
	}
	if err := c.Upload(ctx, dir, made); !errors.Is(err, ErrReadOnly) {
		t.Errorf("an upload: got %v, want ErrReadOnly", err)
	}
	if _, err := os.Stat(made); err == nil {
		t.Error("the change was made")
	}
}
