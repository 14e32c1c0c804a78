package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Local runs commands on this machine with the same contract as SSH, so a
// Deployfile can target the laptop itself (the host "local").
type Local struct{}

var _ Conn = Local{}

// killGrace is how long a cancelled command has between SIGTERM and
// SIGKILL.
const killGrace = 3 * time.Second

// Run runs cmd with sh in its own process group; cancelling ctx signals
// the whole group, so children die with the shell.
func (Local) Run(ctx context.Context, cmd *Cmd) error {
	script, err := cmd.script()
	if err != nil {
		return err
	}
	shell, err := cmd.shellCommand(false)
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, "sh", "-c", shell)
	if !cmd.TTY {
		c.Stdin = strings.NewReader(script)
	}
	c.Stdout, c.Stderr = orDiscard(cmd.Stdout), orDiscard(cmd.Stderr)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }
	c.WaitDelay = killGrace
	err = c.Run()
	if ctx.Err() != nil {
		// The group may hold children that ignored SIGTERM.
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
		return ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Status: 128 + int(ws.Signal()), Signal: ws.Signal().String()}
		}
		return &ExitError{Status: exit.ExitCode()}
	}
	return err
}

// Upload copies local to dest on this machine, atomically per file.
func (Local) Upload(ctx context.Context, local, dest string) error {
	return walkUpload(ctx, local, dest, localFS{})
}

// Close does nothing: Local holds nothing.
func (Local) Close() error { return nil }

// uploadTarget is where walkUpload writes: this machine or an SFTP server.
type uploadTarget interface {
	MkdirAll(dir string, mode fs.FileMode) error
	// WriteFile writes r to a temporary name beside dest, sets the mode,
	// and renames it over dest.
	WriteFile(dest string, r io.Reader, mode fs.FileMode) error
}

// walkUpload copies a file, or a directory tree, to dest.
func walkUpload(ctx context.Context, local, dest string, to uploadTarget) error {
	info, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if !info.IsDir() {
		return uploadFile(local, dest, info.Mode().Perm(), to)
	}
	return filepath.WalkDir(local, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(local, path)
		if err != nil {
			return err
		}
		target := dest
		if rel != "." {
			target = dest + "/" + filepath.ToSlash(rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return to.MkdirAll(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			return uploadFile(path, target, info.Mode().Perm(), to)
		}
		return nil // sockets, devices and links are not copied
	})
}

func uploadFile(local, dest string, mode fs.FileMode, to uploadTarget) error {
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	if err := to.WriteFile(dest, f, mode); err != nil {
		return fmt.Errorf("upload %s to %s: %w", local, dest, err)
	}
	return nil
}

// tempName is a name beside dest for writing before the rename.
func tempName(dest string) string {
	return fmt.Sprintf("%s.deploy-tmp-%d-%d", dest, os.Getpid(), time.Now().UnixNano())
}

type localFS struct{}

func (localFS) MkdirAll(dir string, mode fs.FileMode) error { return os.MkdirAll(dir, mode) }

func (localFS) WriteFile(dest string, r io.Reader, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	tmp := tempName(dest)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode) // O_CREATE's mode passed through the umask
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
