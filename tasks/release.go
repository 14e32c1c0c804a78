package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/remote"
)

// App is the [app] table as the release steps need it, with {{path}}
// filled in for the host.
type App struct {
	Repo     string   // the central repository the hosts fetch from
	Path     string   // the deploy root on this host
	Strategy string   // "releases" or "inplace"
	Shared   []string // paths under {path}/shared linked into each release
	Python   string
	Build    []Build
	// ForwardAgent lets the hosts fetch Repo with this machine's agent.
	ForwardAgent bool
}

// Build is an [app] build command, its {{variables}} filled in.
type Build struct {
	Run    string
	Inputs []string
	Output string
}

// PreparesRelease marks the built-in steps that build a release on the
// hosts (pull): the engine plans a switch after them.
type PreparesRelease interface {
	Step
	PreparesRelease()
}

// AfterSwitch marks the built-in steps that act on the release in use —
// reload, healthcheck — so the engine switches `current` on every host
// before the first of them.
type AfterSwitch interface {
	Step
	AfterSwitch()
}

// q quotes a word of a remote command; a path under "~/" is under the
// login user's home (remote.QuotePath).
var q = remote.MustQuotePath

// run runs a script on the host of env, its output to env's streams.
func run(ctx context.Context, env *Env, script string) error {
	return env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: env.Stdout, Stderr: env.Stderr})
}

// output runs a script and returns its stdout, trimmed.
func output(ctx context.Context, env *Env, script string) (string, error) {
	var out bytes.Buffer
	err := env.Conn.Run(ctx, &remote.Cmd{Script: script, Env: env.CmdEnv, Stdout: &out, Stderr: env.Stderr})
	return strings.TrimSpace(out.String()), err
}

func sha7(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// deploySHA is the commit to deploy; a release step before it is known
// (no push, no repository here) is an error.
func deploySHA(env *Env) (string, error) {
	if env.State == nil || env.State.SHA() == "" {
		return "", errors.New("the commit to deploy is not known: run the push step first, or deploy from the repository")
	}
	return env.State.SHA(), nil
}

// Release is one release directory on a host.
type Release struct {
	Name    string `json:"name"` // <UTC stamp>-<sha7>
	SHA     string `json:"sha"`
	Current bool   `json:"current"`
}

// Time is when the release was built, from its name.
func (r Release) Time() (time.Time, error) {
	stamp, _, _ := strings.Cut(r.Name, "-")
	return time.Parse(stampLayout, stamp)
}

// RollbackTarget is the release a rollback of a host goes to: the one
// named by to (a release name, or a commit or a prefix of one), else the
// last release other than current that was healthy (or reloaded, when it
// was never health checked) and is still on the host.
func RollbackTarget(st *HostState, to string) (Release, error) {
	if to != "" {
		for _, r := range st.Releases {
			if r.Name == to || (len(to) >= 4 && strings.HasPrefix(r.SHA, to)) {
				return r, nil
			}
		}
		return Release{}, fmt.Errorf("no release %q on this host (pruned, or never deployed here): `deploy releases` lists them", to)
	}
	if good, ok := st.LastGood(); ok {
		return good, nil
	}
	if st.Current == "" {
		return Release{}, errors.New("no release is in use here")
	}
	return Release{}, errors.New("no earlier release here was recorded healthy: name one with --to (`deploy releases` lists them)")
}
