package remote

import (
	"os/exec"
	"strings"
	"testing"
)

// roundTrip passes s through a real sh -c as one quoted argument.
func roundTrip(t *testing.T, s string) string {
	t.Helper()
	q, err := Quote(s)
	if err != nil {
		t.Fatalf("Quote(%q): %v", s, err)
	}
	out, err := exec.Command("sh", "-c", "printf '%s' "+q).Output()
	if err != nil {
		t.Fatalf("sh -c with %q: %v", q, err)
	}
	return string(out)
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `"double"`, "$(reboot)", "`id`", "a\nb", "tab\there",
		"; rm -rf /", "*", "~", "-n", "\\", "é ü 日本", "\x01\x7f", "'", "''", "a'b'c", "\xff\xfe"} {
		if got := roundTrip(t, s); got != s {
			t.Errorf("%q arrived as %q", s, got)
		}
	}
	if _, err := Quote("a\x00b"); err == nil {
		t.Error("a NUL byte must be refused")
	}
}

func TestQuoteArgs(t *testing.T) {
	line, err := QuoteArgs([]string{"printf", "[%s]", "a  b", "$HOME", "it's"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil || string(out) != "[a  b][$HOME][it's]" {
		t.Errorf("%s → %q, %v", line, out, err)
	}
}

// FuzzQuote: any string without NUL passes through sh -c unchanged.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a b", "it's", "$(x)", "a\nb", "\t", "\\'", "'\"'\"'", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			if _, err := Quote(s); err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		if got := roundTrip(t, s); got != s {
			t.Fatalf("%q arrived as %q", s, got)
		}
	})
}

// A path under "~/" reaches sh as a path under $HOME; "~" alone is
// $HOME; any other "~" is text.
func TestQuotePath(t *testing.T) {
	t.Setenv("HOME", "/home/it's me")
	for in, want := range map[string]string{
		"~":             "/home/it's me",
		"~/apps/my $x":  "/home/it's me/apps/my $x",
		"~user/x":       "~user/x",
		"/srv/~/x":      "/srv/~/x",
		"relative/path": "relative/path",
		"~~/x":          "~~/x",
	} {
		q, err := QuotePath(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", "printf %s "+q).Output()
		if err != nil || string(out) != want {
			t.Errorf("QuotePath(%q) = %s → %q, want %q (%v)", in, q, out, want, err)
		}
	}
}
