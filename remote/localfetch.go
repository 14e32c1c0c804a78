package remote

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

var _ Fetcher = Local{}

// List lists src on this machine; "~/" is this user's home.
func (Local) List(ctx context.Context, src string) (*Listing, error) {
	root, err := localPath(src)
	if err != nil {
		return nil, err
	}
	return listTree(ctx, localSource{}, src, root)
}

// Fetch copies what List found into dir.
func (Local) Fetch(ctx context.Context, l *Listing, dir string, opts FetchOptions) (FetchResult, error) {
	return fetchTree(ctx, localSource{}, l, dir, opts)
}

func localPath(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return filepath.ToSlash(filepath.Join(home, HomeRelative(p))), nil
}

// localSource reads this machine's files for List and Fetch.
type localSource struct{}

func (localSource) Stat(p string) (fs.FileInfo, error)  { return os.Stat(filepath.FromSlash(p)) }
func (localSource) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(filepath.FromSlash(p)) }
func (localSource) Open(p string) (io.ReadCloser, error) {
	return os.Open(filepath.FromSlash(p))
}

func (localSource) RealPath(p string) (string, error) {
	abs, err := filepath.Abs(filepath.FromSlash(p))
	return filepath.ToSlash(abs), err
}

func (localSource) ReadDir(p string) ([]fs.FileInfo, error) {
	entries, err := os.ReadDir(filepath.FromSlash(p))
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, 0, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // gone since it was listed
		}
		out = append(out, info)
	}
	return out, nil
}
