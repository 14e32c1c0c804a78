//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// remoteTree makes files on the test hosts' side (they share this
// machine's file system), readable by the login user: path → content,
// a path ending in "/" a directory.
func remoteTree(t *testing.T, env *sshtest.Env, files map[string]string) string {
	t.Helper()
	dir := env.UserDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			mustDo(t, os.MkdirAll(full, 0o755))
			continue
		}
		mustDo(t, os.MkdirAll(filepath.Dir(full), 0o755))
		mustDo(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return dir
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(b)
}

// One host, one file: into LOCAL_DIR, with its mode but not setuid.
func TestGetOneHostFile(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 1)
	src := remoteTree(t, env, map[string]string{"app.log": "line 1\nline 2\n"})
	mustDo(t, os.Chmod(filepath.Join(src, "app.log"), 0o754|fs.ModeSetuid))
	local := t.TempDir()
	code, out, errOut := runCLI(t, append(flags, "get", "web1", filepath.Join(src, "app.log"), local)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	got := filepath.Join(local, "app.log")
	if c := readFile(t, got); c != "line 1\nline 2\n" {
		t.Errorf("content %q", c)
	}
	info, _ := os.Stat(got)
	if info.Mode() != 0o754 {
		t.Errorf("mode %v, want -rwxr-xr-- (setuid dropped)", info.Mode())
	}
	if want := "web1 | ✓ 1 file, 14 B → " + got + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.Contains(errOut, "✓ 1 ok  (1 host, 1 file, 14 B,") {
		t.Errorf("summary: %q", errOut)
	}
	leftovers(t, local)
}

// leftovers fails on a temporary file left in dir.
func leftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".deploy-part-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// A directory comes whole, under its own name, with the modes of its
// files and directories; "~/" is the login user's home.
func TestGetDirectory(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 1)
	src := remoteTree(t, env, map[string]string{
		"site/index.html":        "<h1>hi</h1>",
		"site/static/app.css":    "body{}",
		"site/static/img/":       "",
		"site/private/secret":    "s3cret",
		"site/static/js/main.js": "main()",
	})
	mustDo(t, os.Chmod(filepath.Join(src, "site/private/secret"), 0o600))
	mustDo(t, os.Chmod(filepath.Join(src, "site/private"), 0o750))
	if os.Geteuid() == 0 {
		// 0600 and 0750 must still be readable by the login user.
		u, _ := user.Lookup(env.User)
		uid, _ := strconv.Atoi(u.Uid)
		filepath.Walk(filepath.Join(src, "site"), func(p string, _ fs.FileInfo, _ error) error { return os.Lchown(p, uid, -1) })
	}
	local := filepath.Join(t.TempDir(), "new", "dir")
	code, out, errOut := runCLI(t, append(flags, "get", "web1", filepath.Join(src, "site"), local)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for p, want := range map[string]string{
		"index.html": "<h1>hi</h1>", "static/app.css": "body{}", "private/secret": "s3cret", "static/js/main.js": "main()",
	} {
		if got := readFile(t, filepath.Join(local, "site", p)); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]fs.FileMode{"private/secret": 0o600, "private": fs.ModeDir | 0o750, "static/img": fs.ModeDir | 0o755} {
		if info, err := os.Stat(filepath.Join(local, "site", p)); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, info.Mode(), err, want)
		}
	}
	if !strings.Contains(out, "web1 | ✓ 4 files, 29 B → "+filepath.Join(local, "site")) {
		t.Errorf("stdout %q", out)
	}
	leftovers(t, local)
}

// Several hosts: each into LOCAL_DIR/<host>/, at once; --json gives a
// file event for each file and a host_end for each host.
func TestGetTwoHosts(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 2)
	src := remoteTree(t, env, map[string]string{"conf/a.ini": "a=1", "conf/b.ini": "b=22"})
	local := t.TempDir()
	code, out, errOut := runCLI(t, append(flags, "get", "web", filepath.Join(src, "conf"), local)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, h := range []string{"web1", "web2"} {
		if got := readFile(t, filepath.Join(local, h, "conf", "b.ini")); got != "b=22" {
			t.Errorf("%s: %q", h, got)
		}
		if !strings.Contains(out, h+" | ✓ 2 files, 7 B → "+filepath.Join(local, h, "conf")) {
			t.Errorf("no line for %s: %q", h, out)
		}
	}
	if !strings.Contains(errOut, "✓ 2 ok  (2 hosts, 4 files, 14 B,") {
		t.Errorf("summary %q", errOut)
	}

	local = t.TempDir()
	code, out, _ = runCLI(t, append(flags, "get", "--json", "web", filepath.Join(src, "conf"), local)...)
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Event string `json:"event"`
			Host  string `json:"host"`
			Local string `json:"local"`
			Files *int   `json:"files"`
			Bytes *int64 `json:"bytes"`
			OK    *int   `json:"ok"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		events[ev.Event]++
		switch ev.Event {
		case "host_end":
			if *ev.Files != 2 || *ev.Bytes != 7 || ev.Local != filepath.Join(local, ev.Host, "conf") {
				t.Errorf("host_end %s", line)
			}
		case "run_end":
			if *ev.OK != 2 || *ev.Files != 4 || *ev.Bytes != 14 {
				t.Errorf("run_end %s", line)
			}
		}
	}
	if events["run_start"] != 1 || events["file"] != 4 || events["host_end"] != 2 || events["run_end"] != 1 {
		t.Errorf("events %v:\n%s", events, out)
	}
}

// Two hosts with one address, on two ports: their directories are named
// as the Deployfile names them, ':' written '_'.
func TestGetSameHostTwoPorts(t *testing.T) {
	t.Parallel()
	env, servers, _ := fleet(t, 2)
	f, err := os.OpenFile(env.SSHConfig, os.O_APPEND|os.O_WRONLY, 0)
	mustDo(t, err)
	fmt.Fprintf(f, "Host 127.0.0.1\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n", env.User, env.ClientKey, env.KnownHosts)
	f.Close()
	file := filepath.Join(t.TempDir(), "Deployfile")
	a, b := "127.0.0.1:"+strconv.Itoa(servers[0].Port), "127.0.0.1:"+strconv.Itoa(servers[1].Port)
	mustDo(t, os.WriteFile(file, []byte(fmt.Sprintf("[hosts]\nweb = [%q, %q]\n", a, b)), 0o644))
	src := remoteTree(t, env, map[string]string{"x.txt": "x"})
	local := t.TempDir()
	code, out, errOut := runCLI(t, "--no-color", "-f", file, "--ssh-config", env.SSHConfig, "get", "web", filepath.Join(src, "x.txt"), local)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range servers {
		if got := readFile(t, filepath.Join(local, "127.0.0.1_"+strconv.Itoa(s.Port), "x.txt")); got != "x" {
			t.Errorf("%d: %q", s.Port, got)
		}
	}
}

// A missing path fails its host with exit 1 and says so; the others go on.
func TestGetMissingPath(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 2)
	src := remoteTree(t, env, map[string]string{"here": "1"})
	local := t.TempDir()
	missing := filepath.Join(src, "nope")
	code, out, errOut := runCLI(t, append(flags, "get", "web", missing, local)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"web1 | ✗ " + missing + ": no such file or directory", "✓ 0 ok  ✗ 2 failed",
		"  web2  " + missing + ": no such file or directory"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if entries, _ := os.ReadDir(local); len(entries) != 0 {
		t.Errorf("something was written: %v", entries)
	}
	for _, args := range [][]string{{"get", "web"}, {"get", "web", "a", "b", "c"}, {"get", "web", ""}, {"get", "wbe", "x"}} {
		if code, _, errOut := runCLI(t, append(flags, args...)...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// A file that exists here is not replaced without --force, and then
// nothing at all is written; with --force it is replaced.
func TestGetExistingFileRefused(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 2)
	src := remoteTree(t, env, map[string]string{"d/a": "new a", "d/b": "new b"})
	local := t.TempDir()
	mine := filepath.Join(local, "web2", "d", "b")
	mustDo(t, os.MkdirAll(filepath.Dir(mine), 0o755))
	mustDo(t, os.WriteFile(mine, []byte("mine"), 0o644))
	code, out, errOut := runCLI(t, append(flags, "get", "web", filepath.Join(src, "d"), local)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if want := "web2 | ✗ " + mine + " exists; nothing was written — pass --force to replace files that exist"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if !strings.Contains(errOut, "web1 | ✗ not fetched: files of another host are in the way") {
		t.Errorf("web1 not refused:\n%s", errOut)
	}
	if readFile(t, mine) != "mine" {
		t.Error("the file was replaced")
	}
	for _, p := range []string{"web1", filepath.Join("web2", "d", "a")} {
		if _, err := os.Stat(filepath.Join(local, p)); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	code, out, errOut = runCLI(t, append(flags, "get", "--force", "web", filepath.Join(src, "d"), local)...)
	if code != 0 || readFile(t, mine) != "new b" || readFile(t, filepath.Join(local, "web1", "d", "a")) != "new a" {
		t.Errorf("--force: exit %d\n%s%s", code, out, errOut)
	}
	// A directory where a file goes is in the way even with --force.
	mustDo(t, os.Remove(mine))
	mustDo(t, os.Mkdir(mine, 0o755))
	code, _, errOut = runCLI(t, append(flags, "get", "--force", "web", filepath.Join(src, "d"), local)...)
	if code != 1 || !strings.Contains(errOut, mine+" exists, and is in the way whatever --force says") {
		t.Errorf("dir in the way: exit %d\n%s", code, errOut)
	}
	leftovers(t, local)
}

// What a host holds cannot put anything outside LOCAL_DIR, nor a link in
// it: links under the path are not followed (to a file or a directory
// outside, or up), FIFOs are skipped, and names that are odd here (a
// newline, which would forge an output line, a backslash) are skipped
// and shown quoted. Names that are merely unusual come.
func TestGetHostileTree(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 1)
	outside := remoteTree(t, env, map[string]string{"secret": "outside"})
	src := remoteTree(t, env, map[string]string{
		"t/ok":          "ok",
		"t/..hidden":    "dots",
		"t/-rf":         "dash",
		"t/a\nweb1 | x": "forged",
		`t/back\slash`:  "bs",
		"t/sub/deep":    "deep",
	})
	tree := filepath.Join(src, "t")
	for name, target := range map[string]string{
		"escape": outside, "secret": filepath.Join(outside, "secret"), "up": "..", "sub/root": "/", "abs": "/etc/passwd",
	} {
		mustDo(t, os.Symlink(target, filepath.Join(tree, name)))
	}
	mustDo(t, syscall.Mkfifo(filepath.Join(tree, "fifo"), 0o644))
	local := t.TempDir()
	code, out, errOut := runCLI(t, append(flags, "get", "web1", tree, local)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var got []string
	filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		mustDo(t, err)
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("a link was made: %s", p)
		}
		rel, _ := filepath.Rel(local, p)
		got = append(got, rel)
		return nil
	})
	want := []string{".", "t", "t/-rf", "t/..hidden", "t/ok", "t/sub", "t/sub/deep"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("written: %q, want %q", got, want)
	}
	for _, w := range []string{
		"web1 | skipped " + tree + "/escape: a symbolic link, not followed\n",
		"web1 | skipped " + tree + "/up: a symbolic link, not followed\n",
		"web1 | skipped " + tree + "/sub/root: a symbolic link, not followed\n",
		"web1 | skipped " + tree + "/fifo: a FIFO, not a regular file\n",
		"web1 | skipped " + strconv.Quote(tree+"/a\nweb1 | x") + ": its name holds a control character\n",
		"web1 | skipped " + tree + `/back\slash: its name holds a backslash` + "\n",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Contains(out+errOut, "\nweb1 | x") {
		t.Errorf("a remote name forged an output line:\n%s%s", out, errOut)
	}
	if !strings.Contains(out, "web1 | ✓ 4 files, 14 B → "+filepath.Join(local, "t")+" (8 skipped)") {
		t.Errorf("stdout %q", out)
	}
}

// Ctrl-C in the middle of a file: exit 130, and neither the file nor its
// temporary name is left.
func TestGetInterrupted(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 1)
	src := remoteTree(t, env, map[string]string{})
	big := filepath.Join(src, "big")
	mustDo(t, os.WriteFile(big, nil, 0o644))
	mustDo(t, os.Truncate(big, 4<<30)) // sparse: no disk used there
	local := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		for ctx.Err() == nil {
			if parts, _ := filepath.Glob(filepath.Join(local, ".big.deploy-part-*")); len(parts) > 0 {
				if info, err := os.Stat(parts[0]); err == nil && info.Size() > 0 {
					cancel(errInterrupted)
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(ctx, append(append([]string{"deploy"}, flags...), "get", "web1", big, local), &out, &errOut)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"web1 | ■ interrupted after", "✓ 0 ok  ■ 1 interrupted"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "failed") {
		t.Errorf("an interrupted host counted as failed:\n%s", errOut.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// A directory the login user may not list, or a file it may not read,
// fails its host, after the rest is copied; neither is made here.
func TestGetUnreadableDirectory(t *testing.T) {
	t.Parallel()
	env, _, flags := fleet(t, 1)
	src := remoteTree(t, env, map[string]string{"d/ok": "ok", "d/locked/x": "x", "d/secret": "s"})
	locked := filepath.Join(src, "d", "locked")
	mustDo(t, os.Chmod(locked, 0))
	mustDo(t, os.Chmod(filepath.Join(src, "d", "secret"), 0))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	local := t.TempDir()
	code, out, errOut := runCLI(t, append(flags, "get", "web1", filepath.Join(src, "d"), local)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if readFile(t, filepath.Join(local, "d", "ok")) != "ok" {
		t.Error("the rest was not copied")
	}
	if _, err := os.Stat(filepath.Join(local, "d", "locked")); err == nil {
		t.Error("the unreadable directory was made here")
	}
	if _, err := os.Stat(filepath.Join(local, "d", "secret")); err == nil {
		t.Error("the unreadable file was made here")
	}
	for _, want := range []string{"web1 | not read: " + locked + ": cannot be listed: permission denied",
		"web1 | not read: " + filepath.Join(src, "d", "secret") + ": cannot be read: permission denied",
		"web1 | ✗ 2 entries could not be read; the rest was copied", "✓ 0 ok  ✗ 1 failed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// No Deployfile: -H names hosts (an ssh_config alias, user@host:port),
// each into the directory of its address, as for a target.
func TestGetAdHocHosts(t *testing.T) {
	t.Parallel()
	env, servers := adHocEnv(t)
	src := remoteTree(t, env, map[string]string{"f.txt": "hello"})
	local := t.TempDir()
	spec := env.User + "@127.0.0.1:" + strconv.Itoa(servers[1].Port)
	code, out, errOut := deployIn(t, t.TempDir(), "--no-color", "--ssh-config", env.SSHConfig, "get", "-H", "web1,"+spec,
		filepath.Join(src, "f.txt"), local)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, d := range []string{"web1", "127.0.0.1"} { // their addresses differ
		if got := readFile(t, filepath.Join(local, d, "f.txt")); got != "hello" {
			t.Errorf("%s: %q", d, got)
		}
	}
}
