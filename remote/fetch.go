package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// FetchOptions are how Fetch writes.
type FetchOptions struct {
	// Force replaces files that exist here. Without it an existing file
	// is never replaced: Fetch stops at it with an *ExistsError.
	Force bool
	// File is called after each file is in place, with its local path
	// and size; nil for none. It is called from Fetch's goroutine.
	File func(local string, bytes int64)
}

// FetchResult is what Fetch wrote.
type FetchResult struct {
	Files int
	Bytes int64
	// Unread are the files the host would not let be opened (permission
	// denied); the others were copied.
	Unread []Skip
}

// ExistsError is a local file or directory in the way of a fetch.
type ExistsError struct {
	Paths []string // the first few
	More  int      // how many more
	// Blocked says some are in the way whatever --force says: a
	// directory where a file goes, or anything but a directory where a
	// directory goes.
	Blocked bool
}

func (e *ExistsError) Error() string {
	msg := fmt.Sprintf("%s exists", e.Paths[0])
	if n := len(e.Paths) - 1 + e.More; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Destination is where the listing's path goes under dir.
func (l *Listing) Destination(dir string) string { return filepath.Join(dir, l.Name) }

func (l *Listing) local(dir string, e Entry) string {
	return filepath.Join(l.Destination(dir), filepath.FromSlash(e.Rel))
}

// Check looks at every destination under dir without writing anything:
// a file that exists (unless force), or anything of the wrong kind, is
// in the way. It returns nil or an *ExistsError.
func (l *Listing) Check(dir string, force bool) error {
	const show = 5
	e := &ExistsError{}
	for _, en := range l.Entries {
		p := l.local(dir, en)
		info, err := os.Lstat(p)
		if err != nil {
			continue // absent, or under a file that will be refused itself
		}
		blocked := en.Dir != info.IsDir() || en.Dir && info.Mode()&fs.ModeSymlink != 0
		if !blocked && (en.Dir || force) {
			continue
		}
		e.Blocked = e.Blocked || blocked
		if len(e.Paths) < show {
			e.Paths = append(e.Paths, p)
		} else {
			e.More++
		}
	}
	if len(e.Paths) == 0 {
		return nil
	}
	return e
}

// fetchTree copies the listing from src into dir, which it makes if
// missing. Each file is written to a temporary name beside its
// destination (".NAME.deploy-part-*", mode 0600), given its mode and
// time, and renamed into place; a file is never left half-written under
// its own name. Directories it makes get their mode once full.
func fetchTree(ctx context.Context, src source, l *Listing, dir string, opts FetchOptions) (FetchResult, error) {
	var res FetchResult
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("make %s: %w", dir, err)
	}
	var made []Entry // directories made here, to chmod at the end
	for _, e := range l.Entries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		local := l.local(dir, e)
		if e.Dir {
			created, err := makeDir(local)
			if err != nil {
				return res, err
			}
			if created {
				made = append(made, e)
			}
			continue
		}
		n, err := fetchFile(ctx, src, path.Join(l.Root, e.Rel), local, e, opts.Force)
		var denied *openError
		if errors.As(err, &denied) && errors.Is(err, fs.ErrPermission) {
			res.Unread = append(res.Unread, Skip{Rel: e.Rel, Why: "cannot be read: permission denied", Failed: true})
			continue
		}
		if err != nil {
			return res, err
		}
		res.Files++
		res.Bytes += n
		if opts.File != nil {
			opts.File(local, n)
		}
	}
	for _, e := range slices.Backward(made) {
		if err := os.Chmod(l.local(dir, e), e.Mode); err != nil {
			return res, err
		}
	}
	return res, nil
}

// makeDir makes a directory, or accepts one that is there (not a link).
func makeDir(p string) (created bool, err error) {
	err = os.Mkdir(p, 0o700)
	if err == nil {
		return true, nil
	}
	if info, lerr := os.Lstat(p); lerr == nil && info.IsDir() {
		return false, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return false, &ExistsError{Paths: []string{p}, Blocked: true}
	}
	return false, err
}

// fetchFile copies one file to a temporary name beside local and renames
// it into place.
func fetchFile(ctx context.Context, src source, remotePath, local string, e Entry, force bool) (int64, error) {
	r, err := src.Open(remotePath)
	if err != nil {
		return 0, &openError{remotePath, err}
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".deploy-part-*")
	if err != nil {
		return 0, err
	}
	placed := false
	defer func() {
		if !placed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(ctxWriter{ctx, tmp}, r)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, fmt.Errorf("read %s: %w", remotePath, err)
	}
	// Permission bits only: never setuid, setgid nor sticky from a host.
	if err := tmp.Chmod(e.Mode.Perm()); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if !e.ModTime.IsZero() {
		_ = os.Chtimes(tmp.Name(), e.ModTime, e.ModTime)
	}
	if err := ctx.Err(); err != nil {
		return n, err // interrupted: no file is placed after it
	}
	if err := place(tmp.Name(), local, force); err != nil {
		return n, err
	}
	placed = true
	return n, nil
}

// openError is a file of the host that could not be opened.
type openError struct {
	path string
	err  error
}

func (e *openError) Error() string { return fmt.Sprintf("open %s: %v", e.path, e.err) }
func (e *openError) Unwrap() error { return e.err }

// place renames tmp to local. Without force it never replaces a file:
// a hard link fails if local exists, atomically; where links are not
// supported it looks first.
func place(tmp, local string, force bool) error {
	if force {
		return os.Rename(tmp, local)
	}
	err := os.Link(tmp, local)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return &ExistsError{Paths: []string{local}}
	}
	if _, err := os.Lstat(local); err == nil {
		return &ExistsError{Paths: []string{local}}
	}
	return os.Rename(tmp, local)
}

// ctxWriter stops a copy once ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
