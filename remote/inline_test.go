//go:build unix

package remote

import (
	"os/exec"
	"strings"
	"testing"
)

// inlineScripts are scripts that must reach sh exactly as written.
var inlineScripts = []string{
	"printf '%s\\n' hello",
	"printf '%s|' \"$1\" \"$#\"; echo",
	"x='it'\"'\"'s'; echo \"$x\"",
	"echo 'back\\slash \\n \\\\ \\c not cut'",
	"cat <<'EOF'\nline one\n\tline two $HOME `x`\nEOF",
	"printf '%s\\n' \"!event\" '$(not run)' \"%d %s\"",
	"echo tab\there; echo ünïcødé",
	"exit 3",
}

// The first command on a connection goes in the command line: whatever
// the login shell (sshd runs `$SHELL -c COMMAND`), sh gets the script as
// written, runs it as it would from stdin, with no positional parameters.
func TestInlineCommandUnderLoginShells(t *testing.T) {
	shells := []string{"sh", "dash", "bash", "zsh", "csh", "tcsh", "fish"}
	for _, sh := range shells {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s: not installed, left out", sh)
			continue
		}
		for _, script := range inlineScripts {
			command, err := inlineCommand(script)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(command, "\n") {
				t.Fatalf("command line has a newline: %q", command)
			}
			got, gotErr := exec.Command(path, "-c", command).CombinedOutput()
			ref := exec.Command("sh", "-s")
			ref.Stdin = strings.NewReader(script)
			want, wantErr := ref.CombinedOutput()
			if string(got) != string(want) || exitCode(gotErr) != exitCode(wantErr) {
				t.Errorf("login shell %s, script %q:\ngot  %q (%v)\nwant %q (%v)", sh, script, got, gotErr, want, wantErr)
			}
		}
	}
}

func exitCode(err error) int {
	if x, ok := err.(*exec.ExitError); ok {
		return x.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// FuzzInlineCommand: any text without NUL, printed by a script sent in
// the command line, arrives unchanged.
func FuzzInlineCommand(f *testing.F) {
	for _, s := range []string{"", "a\nb", `\`, `\\n`, `\c`, "'", `"$x"`, "\t", "%b %s", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return
		}
		command, err := inlineCommand("printf '%s' " + MustQuote(s) + "; printf .")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", command).Output()
		if err != nil || string(out) != s+"." {
			t.Fatalf("%q arrived as %q (%v)", s, out, err)
		}
	})
}
