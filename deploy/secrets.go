package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/deploy-tool/deploy/deploy/config"
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

// MissingEnvError is a variable that reads an environment variable of
// this machine which is not set: found before anything connects, and
// said once, however many steps and hosts use the variable.
type MissingEnvError struct{ Vars []*config.Var }

func (e *MissingEnvError) Error() string {
	lines := make([]string, len(e.Vars))
	for i, v := range e.Vars {
		kind := "variable"
		if v.Secret {
			kind = "secret"
		}
		lines[i] = fmt.Sprintf("%s %q needs the environment variable %s: export %s=… or pass --var %s=…", kind, v.Name, v.Env, v.Env, v.Name)
	}
	return strings.Join(lines, "\n")
}

// CheckEnv reports, as a *MissingEnvError, the variables of hosts (and of
// this machine's steps) that read an environment variable which is not
// set, each once, in name order. It connects to nothing.
func CheckEnv(df *config.Deployfile, hosts []*config.Host) error {
	missing := map[string]*config.Var{}
	for _, h := range append([]*config.Host{nil}, hosts...) {
		for name, v := range df.VarsFor(h) {
			if _, set := os.LookupEnv(v.Env); v.Env != "" && !set {
				missing[name] = v
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := &MissingEnvError{}
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		err.Vars = append(err.Vars, missing[name])
	}
	return err
}
