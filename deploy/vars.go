package deploy

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/deploy-tool/deploy/remote"
)

// scope is the variables one command sees: a host's, or the laptop's for
// local steps (no {{host}}, {{user}}, {{path}}).
type scope struct {
	vars    map[string]string
	broken  map[string]error // variables without a value here, and why
	secrets []string         // values to mask in every output
}

// scopeFor resolves the variables of h (nil: a local step). Secret values
// read from the environment are read here, at run time.
func (df *Deployfile) scopeFor(h *Host) (*scope, error) {
	s := &scope{vars: map[string]string{"python": df.App.Python}, broken: map[string]error{}}
	defs := df.VarsFor(h)
	raw := map[string]string{}
	for n, v := range defs {
		val := v.Value
		if v.Env != "" {
			env, ok := os.LookupEnv(v.Env)
			if !ok {
				return nil, fmt.Errorf("variable %s reads the environment variable %s, which is not set — export it, or pass --var %s=VALUE", n, v.Env, n)
			}
			val = env
		}
		raw[n] = val
	}
	if h != nil {
		s.vars["host"] = h.Name
		s.vars["user"] = df.Target(h).User
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
			for _, m := range templateRef.FindAllStringSubmatch(val, -1) {
				if err := resolve(m[1]); err != nil {
					return err
				}
			}
			var err error
			if val, err = s.expandRaw(val); err != nil {
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
		path, err := s.expandRaw(df.App.Path)
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
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
	return s, nil
}

// expandShell puts each {{name}} into shell text as one quoted word, so a
// value can never become a command.
func (s *scope) expandShell(text string) (string, error) {
	return s.expand(text, func(v string) (string, error) { return remote.Quote(v) })
}

// expandRaw puts values in as they are: for paths and other text that is
// not shell (an upload destination, an env value).
func (s *scope) expandRaw(text string) (string, error) {
	return s.expand(text, func(v string) (string, error) { return v, nil })
}

func (s *scope) expand(text string, put func(string) (string, error)) (string, error) {
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

// mask replaces every secret in text with ***.
func (s *scope) mask(text string) string {
	return maskAll(text, s.secrets)
}

func maskAll(text string, secrets []string) string {
	for _, sec := range secrets {
		text = strings.ReplaceAll(text, sec, "***")
	}
	return text
}

// maskingPrinter masks secrets in every event before passing it on, so no
// output, error or JSON line shows one.
type maskingPrinter struct {
	next    Printer
	secrets []string
}

func (p *maskingPrinter) Event(e Event) {
	e.Line = maskAll(e.Line, p.secrets)
	e.Error = maskAll(e.Error, p.secrets)
	e.Command = maskAll(e.Command, p.secrets)
	p.next.Event(e)
}
