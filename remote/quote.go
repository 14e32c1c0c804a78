package remote

import (
	"errors"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Quote makes s one word of a POSIX shell command: whatever it holds, sh
// sees exactly s. It is the only quoting function of the project; every
// value put into a command goes through it.
//
// mvdan.cc/sh's Quote gives the shortest safe form, but refuses the
// control characters POSIX sh has no escapes for — newline and tab among
// them, which real values hold. Single quotes carry every byte but NUL
// literally in POSIX sh, so those strings are single-quoted, with each
// embedded ' written as '\”.
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("a shell word cannot hold a NUL byte")
	}
	if q, err := syntax.Quote(s, syntax.LangPOSIX); err == nil {
		return q, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// MustQuote is Quote for strings known to hold no NUL byte, such as those
// of a validated Deployfile.
func MustQuote(s string) string {
	q, err := Quote(s)
	if err != nil {
		panic(err)
	}
	return q
}

// QuotePath is Quote for a path on a host, where "~" and a leading "~/"
// mean the login user's home, as in ssh and scp: "~/apps/x" becomes
// "$HOME"/apps/x, which sh expands there. Any other value is Quote's.
func QuotePath(s string) (string, error) {
	if s == "~" {
		return `"$HOME"`, nil
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		q, err := Quote(rest)
		return `"$HOME"/` + q, err
	}
	return Quote(s)
}

// MustQuotePath is QuotePath for strings known to hold no NUL byte.
func MustQuotePath(s string) string {
	q, err := QuotePath(s)
	if err != nil {
		panic(err)
	}
	return q
}

// HomeRelative is a path for SFTP, which resolves a relative path
// against the login user's home: "~/x" is "x", "~" is ".".
func HomeRelative(p string) string {
	if p == "~" {
		return "."
	}
	return strings.TrimPrefix(p, "~/")
}

// QuoteArgs quotes each argument and joins them with spaces: a command
// line that sh splits back into exactly args.
func QuoteArgs(args []string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		q, err := Quote(a)
		if err != nil {
			return "", err
		}
		out[i] = q
	}
	return strings.Join(out, " "), nil
}
