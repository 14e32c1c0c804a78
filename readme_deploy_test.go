//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// The first Deployfile of README.md deploys testdata/superbook with
// `deploy prod` onto real sshd hosts, and a second `deploy prod` has
// nothing to do.
//
// The file is used as README has it, but for what only the real servers
// it names could give, each replaced on its own line (so errors still
// name README's lines):
//   - [app] repo: git@git.example.com does not exist; the hosts fetch from
//     a central repository the test makes (the laptop's clone pushes to
//     it too).
//   - [app] path: the test's hosts are one machine with one filesystem,
//     so each gets a deploy root of its own, {{host}} in it, in a
//     directory the hosts' login user owns.
//   - [hosts]: each member "[user@]host[:port]" becomes "host", and an
//     sshd on 127.0.0.1 is started under that name: the test's ssh_config
//     gives its address, port and user. Groups and includes are kept.
func TestREADMEFirstDeployfileDeploys(t *testing.T) {
	t.Parallel()
	path := pathWithDjango(t)
	first := readmeBlocks(t, "toml")[0]
	env := sshtest.New(t)
	root := env.UserDir(t)
	central := filepath.Join(root, "central.git")
	mustSh(t, "/", "git", "init", "-q", "--bare", "-b", "main", central)

	text, hosts := readmeOnTestHosts(t, first, central, root+"/{{host}}")
	for _, h := range hosts {
		env.Start(t, h)
	}
	if os.Geteuid() == 0 {
		mustSh(t, "/", "chown", "-R", env.User, central)
	}

	// The laptop: testdata/superbook in a git repository whose origin is
	// the central one, the Deployfile committed.
	_, work := gitProject(t)
	src, _ := filepath.Abs("testdata/superbook")
	mustSh(t, work, "cp", "-r", src+"/.", work)
	mustSh(t, work, "git", "remote", "set-url", "origin", central)
	file := filepath.Join(work, "Deployfile")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, work, "git", "add", ".")
	mustSh(t, work, "git", "commit", "-q", "-m", "superbook, with README's Deployfile")
	flags := []string{"--no-color", "-f", file, "--ssh-config", env.SSHConfig}

	if code, out, errOut := runCLI(t, append(flags, "check")...); code != 0 {
		t.Fatalf("%s:%d: deploy check: exit %d\n%s%s", readmeFile, first.Line, code, out, errOut)
	}
	// The real binary, so that README's test task (`python3 manage.py
	// test`) finds a python3 with Django first on PATH; prod asks for
	// confirmation (confirm = true), which --yes gives.
	bin := deployBinary(t)
	if out, ok := sh(t, work, []string{path}, bin, append(flags, "prod", "--yes")...); !ok {
		t.Fatalf("%s:%d: deploy prod with README's first Deployfile failed:\n%s\nthe Deployfile:\n%s", readmeFile, first.Line, out, strings.TrimLeft(text, "\n"))
	}
	sha := mustSh(t, work, "git", "rev-parse", "HEAD")
	if got := mustSh(t, "/", "git", "--git-dir", central, "rev-parse", "main"); got != sha {
		t.Errorf("the central repository has %s, want %s pushed", got, sha)
	}
	released := 0
	for _, h := range hosts {
		// Only the hosts of the groups the release steps run on get one.
		cur, err := os.Readlink(filepath.Join(root, h, "current"))
		if err != nil {
			continue
		}
		released++
		if !strings.HasSuffix(cur, "-"+sha[:7]) {
			t.Errorf("%s: current is %s, want the release of %s", h, cur, sha[:7])
		}
	}
	if released == 0 {
		t.Errorf("no host has a release of %s (%v)", sha[:7], hosts)
	}

	if out, ok := sh(t, work, []string{path}, bin, append(flags, "prod", "--yes")...); !ok || !strings.Contains(out, "Nothing to do") {
		t.Errorf("a second deploy prod: want success and nothing to do\n%s", out)
	}
}

// pathWithDjango is PATH=… with the directory of a python3 that has
// Django first: python3 on PATH may be another one (pyenv's).
func pathWithDjango(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import django").Run() == nil {
			full, err := exec.LookPath(py)
			if err != nil {
				t.Fatal(err)
			}
			return "PATH=" + filepath.Dir(full) + string(os.PathListSeparator) + os.Getenv("PATH")
		}
	}
	t.Skip("no python3 with Django: apt-get install python3-django")
	return ""
}

var (
	tableHeader = regexp.MustCompile(`^\s*\[`)
	quoted      = regexp.MustCompile(`"([^"]*)"`)
	hostSpec    = regexp.MustCompile(`^(?:[^@\s]+@)?([A-Za-z0-9][A-Za-z0-9.-]*)(?::[0-9]+)?$`)
)

// readmeOnTestHosts is a README Deployfile with its repo, path and host
// specs replaced (see TestREADMEFirstDeployfileDeploys), on the lines they
// were on; and the names of the hosts to start.
func readmeOnTestHosts(t *testing.T, b mdBlock, repo, path string) (string, []string) {
	t.Helper()
	lines := append([]string(nil), b.Lines...)
	section := ""
	seen := map[string]bool{}
	var hosts []string
	replaced := map[string]bool{}
	for i, l := range lines {
		key, _, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch key = strings.TrimSpace(key); {
		case tableHeader.MatchString(l):
			section = strings.TrimSpace(l)
		case section == "[app]" && (key == "repo" || key == "path"):
			value := map[string]string{"repo": repo, "path": path}[key]
			lines[i] = fmt.Sprintf("%s = %q", key, value)
			replaced[key] = true
		case section == "[hosts]":
			lines[i] = quoted.ReplaceAllStringFunc(l, func(q string) string {
				m := hostSpec.FindStringSubmatch(strings.Trim(q, `"`))
				if m == nil || m[1] == "local" {
					return q
				}
				if !seen[m[1]] {
					seen[m[1]] = true
					hosts = append(hosts, m[1])
				}
				return fmt.Sprintf("%q", m[1])
			})
		}
	}
	if !replaced["repo"] || !replaced["path"] || len(hosts) == 0 {
		t.Fatalf("%s:%d: the first Deployfile has no [app] repo, [app] path or [hosts] for the test to put its own in", readmeFile, b.Line)
	}
	return strings.Repeat("\n", b.Line-1) + strings.Join(lines, "\n") + "\n", hosts
}
