package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Fetcher copies files from a host to this machine, in two steps so that
// a caller can look at every destination before anything is written:
// List walks what is under a path on the host, Fetch copies what List
// found into a local directory. SSH hosts and Local are Fetchers.
//
// Nothing the host says can make Fetch write outside its directory: names
// are checked one by one (a name holding "/" or NUL, "", "." or ".." ends
// the listing with an error), symbolic links below the path asked for are
// listed as skipped and never followed, never made here; sockets, devices
// and FIFOs are skipped; so are names that are legal on the host but odd
// here (control characters, a backslash).
type Fetcher interface {
	List(ctx context.Context, src string) (*Listing, error)
	Fetch(ctx context.Context, l *Listing, dir string, opts FetchOptions) (FetchResult, error)
}

// Listing is what is under a path on a host.
type Listing struct {
	Path string // as asked: "~/" is the login user's home
	Root string // as the host's file system reads it
	// Name is what the path is called here: its last element (for "~",
	// the home directory's own name).
	Name string
	// Entries are the directories and regular files, each directory
	// before what it holds, in name order; the first is the path itself
	// (Rel "").
	Entries []Entry
	Skipped []Skip
}

// Entry is a directory or a regular file of a Listing.
type Entry struct {
	Rel     string // slash-separated, under the path; "" for the path itself
	Dir     bool
	Mode    fs.FileMode // permission bits only
	Size    int64
	ModTime time.Time
}

// Skip is something under the path that is not copied, and why.
type Skip struct {
	Rel string
	Why string
	// Failed says it was meant to be copied and could not be read (a
	// directory the login user may not list), rather than left out on
	// purpose (a link, a FIFO, an odd name).
	Failed bool
}

// Files is how many regular files the listing holds; Bytes their size.
func (l *Listing) Files() (n int, bytes int64) {
	for _, e := range l.Entries {
		if !e.Dir {
			n++
			bytes += e.Size
		}
	}
	return n, bytes
}

// Limits on what a host may list, so that a hostile or broken one cannot
// exhaust this machine's memory with an endless tree.
const (
	maxEntries = 1 << 20
	maxDepth   = 128
)

// source is what List and Fetch read: an SFTP server or this machine.
type source interface {
	Stat(p string) (fs.FileInfo, error) // follows a link
	Lstat(p string) (fs.FileInfo, error)
	ReadDir(p string) ([]fs.FileInfo, error) // entries as Lstat sees them
	Open(p string) (io.ReadCloser, error)
	RealPath(p string) (string, error)
}

// listTree lists root on src. The root itself may be a link (the user
// named it); nothing below it is followed.
func listTree(ctx context.Context, src source, asked, root string) (*Listing, error) {
	info, err := src.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file or directory", asked)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", asked, err)
	}
	name, err := topName(src, root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", asked, err)
	}
	l := &Listing{Path: asked, Root: root, Name: name}
	switch {
	case info.Mode().IsRegular():
		l.Entries = []Entry{entry("", info)}
		return l, nil
	case !info.IsDir():
		return nil, fmt.Errorf("%s is not a regular file nor a directory (%s)", asked, kind(info.Mode()))
	}
	l.Entries = []Entry{entry("", info)}
	if err := l.walk(ctx, src, "", 0); err != nil {
		return nil, fmt.Errorf("%s: %w", asked, err)
	}
	return l, nil
}

// topName is what root is called here.
func topName(src source, root string) (string, error) {
	name := path.Base(path.Clean(root))
	if name == "." || name == ".." || name == "/" {
		real, err := src.RealPath(root)
		if err != nil {
			return "", err
		}
		name = path.Base(real)
	}
	if name == "/" || name == "." || name == ".." {
		return "", errors.New("name a file or directory under it: its contents need a name here")
	}
	if why := oddName(name); why != "" {
		return "", fmt.Errorf("its name %q %s", name, why)
	}
	return name, nil
}

// walk adds what the directory rel holds, depth first.
func (l *Listing) walk(ctx context.Context, src source, rel string, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth >= maxDepth {
		return fmt.Errorf("%s: more than %d directories deep; name a deeper path", rel, maxDepth)
	}
	list, err := src.ReadDir(path.Join(l.Root, rel))
	if err != nil && rel == "" {
		return fmt.Errorf("cannot be listed: %s", plainError(err))
	}
	if err != nil {
		// Not made here empty: the directory is the last entry.
		l.Entries = l.Entries[:len(l.Entries)-1]
		l.Skipped = append(l.Skipped, Skip{Rel: rel, Why: "cannot be listed: " + plainError(err), Failed: true})
		return nil
	}
	slices.SortFunc(list, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	for i, fi := range list {
		name := fi.Name()
		if impossibleName(name) || i > 0 && list[i-1].Name() == name {
			return fmt.Errorf("the host listed an impossible name %q in %q: refused", name, "/"+rel)
		}
		child := path.Join(rel, name)
		if why := oddName(name); why != "" {
			l.Skipped = append(l.Skipped, Skip{Rel: child, Why: "its name " + why})
			continue
		}
		switch mode := fi.Mode(); {
		case mode&fs.ModeSymlink != 0:
			l.Skipped = append(l.Skipped, Skip{Rel: child, Why: "a symbolic link, not followed"})
		case mode.IsDir():
			if err := l.add(entry(child, fi)); err != nil {
				return err
			}
			if err := l.walk(ctx, src, child, depth+1); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := l.add(entry(child, fi)); err != nil {
				return err
			}
		default:
			l.Skipped = append(l.Skipped, Skip{Rel: child, Why: "a " + kind(mode) + ", not a regular file"})
		}
	}
	return nil
}

func (l *Listing) add(e Entry) error {
	if len(l.Entries)+len(l.Skipped) >= maxEntries {
		return fmt.Errorf("more than %d entries; name a smaller tree", maxEntries)
	}
	l.Entries = append(l.Entries, e)
	return nil
}

func entry(rel string, fi fs.FileInfo) Entry {
	e := Entry{Rel: rel, Dir: fi.IsDir(), Mode: fi.Mode().Perm(), ModTime: fi.ModTime()}
	if !e.Dir {
		e.Size = max(0, fi.Size())
	}
	return e
}

// impossibleName reports a name no honest file system lists: the host is
// broken or hostile, and nothing more it says is trusted.
func impossibleName(name string) bool {
	return name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00")
}

// oddName says why a name, legal on the host, is not written here, or "":
// control characters (a newline would forge output lines), a backslash (a
// separator on Windows), and on Windows what it cannot hold.
func oddName(name string) string {
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "holds a control character"
		}
		if r == '\\' {
			return "holds a backslash"
		}
	}
	if runtime.GOOS == "windows" && (strings.ContainsAny(name, `<>:"|?*`) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ")) {
		return "cannot be a file name on Windows"
	}
	return ""
}

// kind names a file mode that is neither a directory nor a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// plainError is err without the Go package's decoration, for a reason.
func plainError(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	}
	return err.Error()
}
