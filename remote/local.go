package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Local runs commands on this machine with the same contract as SSH, so a
// Deployfile can target the laptop itself (the host "local").
//
// The zero value runs scripts with the sh that PATH finds, in this
// process's environment. The fields exist for tests that want a stricter
// "host" (see sshtest.POSIXShells): they mirror a remote login, where a
// login shell runs `sh -s`, and `sh` and every utility come from PATH.
type Local struct {
	// Shell is the program that runs the command line (`sh -s`, or sudo);
	// "sh" from this process's PATH when empty.
	Shell string
	// Path, when set, replaces PATH for the commands: the script's `sh`
	// and the utilities it calls are looked up there.
	Path string
}

var _ Conn = Local{}

// killGrace is how long a cancelled command has between the polite stop
// and the forced one.
const killGrace = 3 * time.Second

// Run runs cmd with sh; cancelling ctx stops the whole process tree, so
// children die with the shell (how is per platform: local_unix.go,
// local_windows.go).
func (l Local) Run(ctx context.Context, cmd *Cmd) error {
	// No terminal is made here: a TTY command's script goes on stdin as
	// any other, never into a command line.
	plain := *cmd
	plain.TTY = false
	cmd = &plain
	script, err := cmd.script()
	if err != nil {
		return err
	}
	shell, err := cmd.shellCommand(false, "")
	if err != nil {
		return err
	}
	prog := cmp.Or(l.Shell, "sh")
	c := exec.CommandContext(ctx, prog, "-c", shell)
	if l.Path != "" {
		// The last PATH wins: exec.Cmd drops earlier duplicates.
		c.Env = append(os.Environ(), "PATH="+l.Path)
	}
	if !cmd.TTY {
		c.Stdin = strings.NewReader(script)
	}
	c.Stdout, c.Stderr = orDiscard(cmd.Stdout), orDiscard(cmd.Stderr)
	stopTreeOnCancel(c)
	c.WaitDelay = killGrace
	err = c.Run()
	if ctx.Err() != nil {
		// The tree may hold children that ignored the polite stop.
		killTree(c)
		return ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitError(exit)
	}
	if err != nil {
		return fmt.Errorf("run %s locally: %w", prog, err)
	}
	return nil
}

// Upload copies local to dest on this machine, atomically per file.
// A dest under "~/" is under this user's home.
func (Local) Upload(ctx context.Context, local, dest string) error {
	if dest == "~" || strings.HasPrefix(dest, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("upload to %s: %w", dest, err)
		}
		dest = filepath.Join(home, HomeRelative(dest))
	}
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
