package config

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
)

// Scope is the variables one command sees: a host's, or the laptop's for
// local steps (no {{host}}, {{user}}, {{path}}). The engine fills a step's
// text with them, and masks their secret values in what it prints.
type Scope struct {
	vars    map[string]string
	broken  map[string]error // variables without a value here, and why
	secrets []string         // values to mask in every output
}

// Scope resolves the variables of h (nil: a local step). Secret values
// read from the environment are read here, at run time.
func (df *Deployfile) Scope(h *Host) (*Scope, error) {
	s := &Scope{vars: map[string]string{"python": df.App.Python}, broken: map[string]error{}}
	defs := df.VarsFor(h)
	raw := map[string]string{}
	for n, v := range defs {
		val := v.Value
		if v.Env != "" {
			env, ok := os.LookupEnv(v.Env)
			if !ok {
				// An error where it is used, not here: deploy status
				// needs {{path}}, not the app's secrets.
				s.broken[n] = fmt.Errorf("variable %s reads the environment variable %s, which is not set — export it, or pass --var %s=VALUE", n, v.Env, n)
				continue
			}
			if len(env) > MaxValueBytes {
				return nil, fmt.Errorf("variable %s reads the environment variable %s, which is longer than %s — pass a shorter value", n, v.Env, sizeName(MaxValueBytes))
			}
			val = env
		}
		raw[n] = val
	}
	if h != nil {
		s.vars["host"] = h.Name
		s.vars["user"] = cmp.Or(h.User, df.SSH.User)
		if s.vars["user"] == "" && df.LoginUser != nil {
			s.vars["user"] = df.LoginUser(h) // from ssh_config, as the connection logs in
		}
	}
	// A value may use other variables ("{{root}}/{{host}}"): resolve them
	// depth-first, refusing a loop. Values from the environment are taken
	// as they are.
	resolving := map[string]bool{}
	var resolve func(n string) error
	resolve = func(n string) error {
		if _, done := s.vars[n]; done {
			return nil
		}
		if _, bad := s.broken[n]; bad {
			return nil
		}
		val, ok := raw[n]
		if !ok {
			return nil // unknown here: reported where it is used
		}
		if defs[n].Env == "" {
			if resolving[n] {
				return fmt.Errorf("variables refer to each other in a loop through {{%s}}", n)
			}
			resolving[n] = true
			size := len(val)
			for _, m := range templateRef.FindAllStringSubmatch(val, -1) {
				if err := resolve(m[1]); err != nil {
					return err
				}
				size += len(s.vars[m[1]]) - len(m[0])
				if size > MaxValueBytes {
					return fmt.Errorf("variable %s is longer than %s once the variables it uses are put in — use them fewer times", n, sizeName(MaxValueBytes))
				}
			}
			var err error
			if val, err = s.ExpandRaw(val); err != nil {
				// Only an error where it is used: a local step has no
				// {{host}}, but need not use the variables that do.
				s.broken[n] = fmt.Errorf("variable %s: %w", n, err)
				return nil
			}
		}
		s.vars[n] = val
		if defs[n].Secret && val != "" {
			s.secrets = append(s.secrets, val)
		}
		return nil
	}
	for n := range raw {
		if err := resolve(n); err != nil {
			return nil, err
		}
	}
	if h != nil {
		path, err := s.ExpandRaw(df.App.Path)
		if err != nil {
			return nil, fmt.Errorf("[app] path: %w", err)
		}
		s.vars["path"] = path
		switch {
		case path == "":
		case df.App.Strategy == StrategyInPlace:
			s.vars["current"] = path // the work tree is the release in use
		default:
			s.vars["current"] = strings.TrimSuffix(path, "/") + "/current"
		}
		if path != "" {
			s.vars["current_path"] = s.vars["current"]
			s.vars["shared_path"] = strings.TrimSuffix(path, "/") + "/shared"
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
	return s, nil
}

// Get returns the value of a variable here ("" when it has none): {{path}}
// is Get("path").
func (s *Scope) Get(name string) string { return s.vars[name] }

// Vars returns a copy of every variable that has a value here.
func (s *Scope) Vars() map[string]string { return maps.Clone(s.vars) }

// With returns a copy of the scope where name has value: {{sha}}, known
// only once the commit to deploy is.
func (s *Scope) With(name, value string) *Scope {
	c := *s
	c.vars = maps.Clone(s.vars)
	c.vars[name] = value
	return &c
}

// Secrets are the secret values of the scope, longest first.
func (s *Scope) Secrets() []string { return slices.Clone(s.secrets) }

// ExpandRaw puts values in as they are: for paths and other text that is
// not shell (an upload destination, an env value).
func (s *Scope) ExpandRaw(text string) (string, error) {
	return s.Expand(text, func(v string) (string, error) { return v, nil })
}

// Expand replaces each {{name}} of text with put(value): the engine quotes
// values as shell words with it, so a value can never become a command.
// Text of other {{…}} forms passes through. A variable without a value
// here is an error.
func (s *Scope) Expand(text string, put func(string) (string, error)) (string, error) {
	var firstErr error
	out := templateRef.ReplaceAllStringFunc(text, func(ref string) string {
		name := templateRef.FindStringSubmatch(ref)[1]
		v, ok := s.vars[name]
		if !ok {
			if firstErr == nil {
				firstErr = s.broken[name]
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("{{%s}} has no value here", name)
			}
			return ref
		}
		q, err := put(v)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("{{%s}}: %w", name, err)
		}
		return q
	})
	return out, firstErr
}

// Mask replaces every secret value of the scope in text with ***.
func (s *Scope) Mask(text string) string {
	return Mask(text, s.secrets)
}

// Mask replaces every one of secrets in text with ***; put the longest
// first, so a secret that contains another is masked whole.
func Mask(text string, secrets []string) string {
	for _, sec := range secrets {
		text = strings.ReplaceAll(text, sec, "***")
	}
	return text
}
