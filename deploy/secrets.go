package deploy

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// minSecret is the shortest value masked: "1" or "on" would garble every
// line.
const minSecret = 4

// maskForms are the strings to mask for secret values, longest first:
// each value as it is; each of its lines, for a multi-line secret that a
// command prints line by line; and the forms it takes on its way into
// output — shell-quoted (a guard's reason, a failed command), JSON-escaped
// (a --json line, the journal) and URL-encoded (a URL in a health check).
func maskForms(values []string) []string {
	set := map[string]bool{}
	add := func(s string) {
		if len(s) >= minSecret {
			set[s] = true
		}
	}
	for _, v := range values {
		add(v)
		if strings.ContainsAny(v, "\n\r") {
			for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(line)
			}
		}
		if q, err := remote.Quote(v); err == nil {
			add(q)
		}
		if b, err := json.Marshal(v); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// public reports whether script holds none of the run's secrets: then it
// may travel in a command line (remote.Cmd.Public).
func (r *Runner) public(script string) bool {
	for _, m := range r.masks {
		if m != "" && strings.Contains(script, m) {
			return false
		}
	}
	return true
}
