package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// hostile is an SFTP server that says what a test wants: /t is a
// directory listing names, each a file of content (or a directory when
// its name ends in "/"), whatever the names are.
type hostile struct {
	names   []string
	content []byte
	// block, when set, makes a read past the first 64 KiB wait for it to
	// close: a transfer that stalls mid-file.
	block chan struct{}
	read  chan struct{} // closed at the first read
	once  sync.Once
}

type fileInfo struct {
	name string
	dir  bool
	size int64
}

func (f fileInfo) Name() string { return f.name }
func (f fileInfo) Size() int64  { return f.size }
func (f fileInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fileInfo) ModTime() time.Time { return time.Unix(1e9, 0) }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }

type lister []fs.FileInfo

func (l lister) ListAt(out []fs.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if int(off)+n == len(l) {
		return n, io.EOF
	}
	return n, nil
}

func (h *hostile) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch {
	case r.Method == "List" && r.Filepath == "/t":
		var l lister
		for _, n := range h.names {
			l = append(l, fileInfo{name: strings.TrimSuffix(n, "/"), dir: strings.HasSuffix(n, "/"), size: int64(len(h.content))})
		}
		return l, nil
	case r.Method == "List":
		return lister{}, nil
	case r.Filepath == "/t" || strings.HasSuffix(r.Filepath, "/"):
		return lister{fileInfo{name: path.Base(r.Filepath), dir: true}}, nil
	}
	return lister{fileInfo{name: path.Base(r.Filepath), size: int64(len(h.content))}}, nil
}

func (h *hostile) Fileread(*sftp.Request) (io.ReaderAt, error) { return h, nil }

func (h *hostile) ReadAt(p []byte, off int64) (int, error) {
	if h.read != nil {
		h.once.Do(func() { close(h.read) })
	}
	if h.block != nil && off >= 64<<10 {
		<-h.block
		return 0, io.ErrUnexpectedEOF
	}
	if off >= int64(len(h.content)) {
		return 0, io.EOF
	}
	n := copy(p, h.content[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *hostile) Filewrite(*sftp.Request) (io.WriterAt, error) { return nil, errors.New("read-only") }
func (h *hostile) Filecmd(*sftp.Request) error                  { return errors.New("read-only") }

// hostileClient is an SFTP client of h over an in-memory pipe.
func hostileClient(t *testing.T, h *hostile) *sftp.Client {
	t.Helper()
	c, _ := hostilePipe(t, h)
	return c
}

// hostilePipe is hostileClient and its end of the pipe.
func hostilePipe(t *testing.T, h *hostile) (*sftp.Client, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	srv := sftp.NewRequestServer(b, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
	go srv.Serve()
	c, err := sftp.NewClientPipe(a, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return c, a
}

// fakeSource is a host's file system that lists whatever names a test
// gives: pkg/sftp's own server cleans names, so it cannot play a hostile
// host for this.
type fakeSource struct{ h *hostile }

func (f fakeSource) Stat(p string) (fs.FileInfo, error) {
	return fileInfo{name: path.Base(p), dir: p == "/t"}, nil
}
func (f fakeSource) Lstat(p string) (fs.FileInfo, error) { return f.Stat(p) }
func (f fakeSource) RealPath(p string) (string, error)   { return p, nil }
func (f fakeSource) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(f.h.content)), nil
}
func (f fakeSource) ReadDir(p string) ([]fs.FileInfo, error) {
	if p != "/t" {
		return nil, nil
	}
	var out []fs.FileInfo
	for _, n := range f.h.names {
		out = append(out, fileInfo{name: n, size: int64(len(f.h.content))})
	}
	return out, nil
}

// A name no file system lists (a path, "..", an empty name, one listed
// twice) ends the listing: the host is hostile or broken, and nothing is
// fetched.
func TestListRefusesImpossibleNames(t *testing.T) {
	for _, name := range []string{"../../evil", "a/b", "/etc/passwd", "", ".", "..", "x\x00y", "ok"} {
		src := fakeSource{&hostile{names: []string{"ok", name}, content: []byte("data")}}
		l, err := listTree(context.Background(), src, "/t", "/t")
		if err == nil || !strings.Contains(err.Error(), "impossible name") {
			t.Errorf("%q: listing %+v, error %v", name, l, err)
		}
	}
}

// Over SFTP: "." and ".." are what every directory holds, never copied;
// files and directories come.
func TestFetchOverSFTP(t *testing.T) {
	h := &hostile{names: []string{".", "..", "ok", "sub/"}, content: []byte("data")}
	l, err := listTree(context.Background(), sftpSource{hostileClient(t, h)}, "/t", "/t")
	if err != nil || len(l.Entries) != 3 || l.Entries[1].Rel != "ok" || l.Entries[2].Rel != "sub" {
		t.Fatalf("listing %+v, %v", l, err)
	}
	dir := t.TempDir()
	res, err := fetchTree(context.Background(), sftpSource{hostileClient(t, h)}, l, dir, FetchOptions{})
	if err != nil || res.Files != 1 || res.Bytes != 4 {
		t.Errorf("fetch: %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "t", "ok")); string(b) != "data" {
		t.Errorf("content %q", b)
	}
	if info, err := os.Stat(filepath.Join(dir, "t", "sub")); err != nil || !info.IsDir() {
		t.Errorf("sub: %v", err)
	}
}

// Interrupted mid-file: the file is not there under its name, nor its
// temporary one.
func TestFetchInterruptedLeavesNoFile(t *testing.T) {
	h := &hostile{names: []string{"big"}, content: bytes.Repeat([]byte("x"), 1<<20),
		block: make(chan struct{}), read: make(chan struct{})}
	t.Cleanup(func() { close(h.block) })
	c, pipe := hostilePipe(t, h)
	l, err := listTree(context.Background(), sftpSource{c}, "/t", "/t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.read
		time.Sleep(50 * time.Millisecond)
		cancel()
		pipe.Close() // as the end of the SSH channel does
	}()
	dir := t.TempDir()
	if _, err := fetchTree(ctx, sftpSource{c}, l, dir, FetchOptions{}); err == nil {
		t.Fatal("an interrupted fetch succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "t"))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// HostDirs-like names are the caller's; here: a top path whose name is
// "." or "~" takes the real directory's name, and "/" is refused.
func TestListTopName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := listTree(context.Background(), localSource{}, dir+"/.", dir+"/.")
	if err != nil || l.Name != filepath.Base(dir) {
		t.Errorf("%s/.: %+v, %v", dir, l, err)
	}
	if _, err := listTree(context.Background(), localSource{}, "/", "/"); err == nil || !strings.Contains(err.Error(), "name a file or directory under it") {
		t.Errorf("/: %v", err)
	}
}
