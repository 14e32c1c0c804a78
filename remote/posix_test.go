package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// runOn runs script on a host and returns its stdout, stderr and exit
// status.
func runOn(t *testing.T, conn remote.Conn, script string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := conn.Run(context.Background(), &remote.Cmd{Script: script, Stdout: &out, Stderr: &errOut})
	var exit *remote.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.Status
	case err != nil:
		t.Fatalf("%q: %v", script, err)
	}
	return out.String(), errOut.String(), status
}

// The POSIX hosts are as strict as a minimal server: GNU-only flags and
// tools fail, plain POSIX scripts work, and the shell is the one named.
// (Debian's busybox 1.35 does have `mv -T`, `ln -sfnT`, `sed -i`,
// `readlink -f`, `mktemp -p` and `sha256sum -c`, so those are not
// checked here.)
func TestPOSIXShellsAreStrict(t *testing.T) {
	failing := []struct{ name, script, only string }{
		{"ln -r (relative links)", "touch a && ln -sr a b", ""},
		{"readlink -e", "touch a && readlink -e a", ""},
		{"find -printf", "find . -printf '%p\\n'", ""},
		{"grep -P", "echo a | grep -P a", ""},
		{"sort -h", "echo 1K | sort -h", ""},
		{"stat --printf", "touch a && stat --printf=%s a", ""},
		{"install is absent", "install -d x", ""},
		{"flock is absent", "flock /tmp true", ""},
		{"bash is absent", "bash -c true", ""},
		{"[[ is not POSIX", "[[ a = a ]]", "dash"}, // busybox sh has it built in, as Alpine's does
	}
	for _, h := range sshtest.POSIXShells(t) {
		t.Run(h.Name, func(t *testing.T) {
			for _, tt := range failing {
				if tt.only != "" && tt.only != h.Name {
					continue
				}
				dir := t.TempDir()
				if out, errOut, status := runOn(t, h.Conn, "cd "+remote.MustQuote(dir)+"\n"+tt.script); status == 0 {
					t.Errorf("%s: succeeded, want a failure as on a minimal host\n%s%s", tt.name, out, errOut)
				}
			}

			dir := t.TempDir()
			script := `cd ` + remote.MustQuote(dir) + `
mkdir -p releases/1 && ln -sfn releases/1 current.tmp && mv -f current.tmp current
printf '%s\n' "$(readlink current)"
for f in a b; do echo "$f" >>list; done
wc -l <list | tr -d ' '
sha256sum list | cut -c1-8
git --version | cut -d' ' -f1
python3 -c 'print("py")'`
			out, errOut, status := runOn(t, h.Conn, script)
			want := "releases/1\n2\n" + sha256Prefix(t, "a\nb\n") + "\ngit\npy\n"
			if status != 0 || out != want {
				t.Errorf("plain POSIX script: exit %d\nstdout %q, want %q\nstderr %s", status, out, want, errOut)
			}

			if runtime.GOOS == "linux" {
				out, _, _ := runOn(t, h.Conn, `readlink /proc/$$/exe`)
				if !strings.Contains(filepath.Base(strings.TrimSpace(out)), h.Name) {
					t.Errorf("the script ran under %q, want %s", out, h.Name)
				}
			}
		})
	}
}

// sha256Prefix is the first 8 hex digits of the SHA-256 of s, computed by
// this machine's own tools for comparison.
func sha256Prefix(t *testing.T, s string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, status := runOn(t, remote.Local{}, "sha256sum "+remote.MustQuote(f)+" | cut -c1-8")
	if status != 0 {
		t.Fatal("sha256sum failed")
	}
	return strings.TrimSpace(out)
}

// Quoted values survive both strict shells byte for byte, as arguments
// and through the environment.
func TestQuoteUnderPOSIXShells(t *testing.T) {
	values := []struct{ name, value string }{
		{"spaces", "a  b "},
		{"single quotes", "it's 'quoted'"},
		{"double quotes", `say "hi"`},
		{"command substitution", "$(touch pwned)"},
		{"backticks", "`touch pwned`"},
		{"variables", "$HOME ${PATH} $1 $@"},
		{"newlines", "line1\nline2\n"},
		{"tabs", "a\tb\t"},
		{"non-ASCII", "é ü 日本 ☃"},
		{"glob and options", "* -n -- ~"},
		{"backslashes", `a\b\\c\n`},
		{"control bytes", "\x01\x1b[31m\x7f"},
		{"empty", ""},
	}
	for _, h := range sshtest.POSIXShells(t) {
		t.Run(h.Name, func(t *testing.T) {
			dir := t.TempDir()
			for _, v := range values {
				q, err := remote.Quote(v.value)
				if err != nil {
					t.Fatalf("%s: %v", v.name, err)
				}
				script := "cd " + remote.MustQuote(dir) + "\nprintf '%s' " + q + "\nprintf '|'\nprintf '%s' \"$V\""
				var out, errOut bytes.Buffer
				err = h.Conn.Run(context.Background(), &remote.Cmd{Script: script, Env: map[string]string{"V": v.value}, Stdout: &out, Stderr: &errOut})
				if err != nil {
					t.Errorf("%s: %v\n%s", v.name, err, errOut.String())
					continue
				}
				if want := v.value + "|" + v.value; out.String() != want {
					t.Errorf("%s: got %q, want %q", v.name, out.String(), want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("a quoted value ran a command")
			}
		})
	}
}
