package remote

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/pkg/sftp"
)

// Upload copies a file or directory tree to dest over SFTP. Each file is
// written to a temporary name, given its mode, then renamed over dest with
// posix-rename@openssh.com, so readers see the old file or the new one.
// A dest under "~/" is under the login user's home.
func (c *sshConn) Upload(ctx context.Context, local, dest string) error {
	pc, err := c.live(ctx)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", c.name, err)
	}
	release, err := c.session(ctx, pc)
	if err != nil {
		return fmt.Errorf("upload to %s: waiting for a session: %w", c.name, err)
	}
	// Starting SFTP and every request wait on the host with no way to be
	// interrupted but the end of the connection, so the upload runs in a
	// goroutine that frees the session slot when it is done; a stalled
	// one ends with the connection (keepalives, Pool.Close).
	result := make(chan error, 1)
	go func() {
		defer release()
		result <- c.upload(ctx, pc, local, HomeRelative(dest))
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
	}
	// On a live connection, closing the client ends the upload at once.
	select {
	case <-result:
	case <-time.After(cancelWait):
	}
	return c.ended(ctx, "upload")
}

func (c *sshConn) upload(ctx context.Context, pc *pooledClient, local, dest string) error {
	client, err := sftp.NewClient(pc.sshClient(), sftp.UseConcurrentWrites(true))
	if err != nil {
		if ctx.Err() != nil {
			return c.ended(ctx, "upload")
		}
		return fmt.Errorf("sftp on %s: %w", c.name, err)
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	if err := walkUpload(ctx, local, dest, sftpFS{client}); err != nil {
		if ctx.Err() != nil {
			return c.ended(ctx, "upload")
		}
		return fmt.Errorf("on %s: %w", c.name, err)
	}
	return nil
}

type sftpFS struct{ c *sftp.Client }

func (s sftpFS) MkdirAll(dir string, mode fs.FileMode) error {
	if err := s.c.MkdirAll(dir); err != nil {
		return err
	}
	return s.c.Chmod(dir, mode)
}

func (s sftpFS) WriteFile(dest string, r io.Reader, mode fs.FileMode) error {
	if err := s.c.MkdirAll(path.Dir(dest)); err != nil {
		return err
	}
	tmp := tempName(dest)
	f, err := s.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	_, err = f.ReadFrom(r)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.c.PosixRename(tmp, dest)
	}
	if err != nil {
		s.c.Remove(tmp)
	}
	return err
}
