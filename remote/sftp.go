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

var _ Fetcher = (*sshConn)(nil)

// List lists src on the host over SFTP; "~/" is the login user's home.
func (c *sshConn) List(ctx context.Context, src string) (*Listing, error) {
	return withSFTP(ctx, c, "list", func(client *sftp.Client) (*Listing, error) {
		return listTree(ctx, sftpSource{client}, src, HomeRelative(src))
	})
}

// Fetch copies what List found into dir, over SFTP.
func (c *sshConn) Fetch(ctx context.Context, l *Listing, dir string, opts FetchOptions) (FetchResult, error) {
	return withSFTP(ctx, c, "fetch", func(client *sftp.Client) (FetchResult, error) {
		return fetchTree(ctx, sftpSource{client}, l, dir, opts)
	})
}

type sftpResult[T any] struct {
	v   T
	err error
}

// withSFTP runs fn with an SFTP client on the host's connection, in a
// session slot. As for Upload, fn runs in a goroutine: once ctx ends the
// client is closed, which fails fn's requests at once, and withSFTP
// returns within cancelWait whatever the host does.
func withSFTP[T any](ctx context.Context, c *sshConn, op string, fn func(*sftp.Client) (T, error)) (T, error) {
	var zero T
	pc, err := c.live(ctx)
	if err != nil {
		return zero, fmt.Errorf("%s on %s: %w", op, c.name, err)
	}
	release, err := c.session(ctx, pc)
	if err != nil {
		return zero, fmt.Errorf("%s on %s: waiting for a session: %w", op, c.name, err)
	}
	result := make(chan sftpResult[T], 1)
	go func() {
		defer release()
		client, err := sftp.NewClient(pc.sshClient())
		if err != nil {
			result <- sftpResult[T]{zero, fmt.Errorf("sftp on %s: %w", c.name, err)}
			return
		}
		defer client.Close()
		stop := context.AfterFunc(ctx, func() { client.Close() })
		defer stop()
		v, err := fn(client)
		result <- sftpResult[T]{v, err}
	}()
	select {
	case r := <-result:
		if r.err != nil && ctx.Err() != nil {
			return r.v, c.ended(ctx, op)
		}
		return r.v, r.err // the caller names the host
	case <-ctx.Done():
	}
	select {
	case r := <-result:
		return r.v, c.ended(ctx, op)
	case <-time.After(cancelWait):
	}
	return zero, c.ended(ctx, op)
}

// sftpSource reads the host's files for List and Fetch. Paths are as
// SFTP takes them: relative ones are under the login user's home.
type sftpSource struct{ c *sftp.Client }

func (s sftpSource) Stat(p string) (fs.FileInfo, error)      { return s.c.Stat(p) }
func (s sftpSource) Lstat(p string) (fs.FileInfo, error)     { return s.c.Lstat(p) }
func (s sftpSource) ReadDir(p string) ([]fs.FileInfo, error) { return s.c.ReadDir(p) }
func (s sftpSource) RealPath(p string) (string, error)       { return s.c.RealPath(p) }
func (s sftpSource) Open(p string) (io.ReadCloser, error)    { return s.c.Open(p) }
