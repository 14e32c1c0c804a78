//go:build unix

// Package bench measures deploy against its peers on real local sshd
// hosts. Run it with bench/run.sh; see BENCHMARKS.md for figures.
package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// BenchmarkExec runs `true` on 1, 10 and 50 hosts: once with `deploy
// exec`, once with OpenSSH's ssh run in parallel by xargs -P, with the
// same key, known_hosts and ssh_config. Each iteration is a cold start:
// new process(es), new connections, as a user typing the command sees it.
func BenchmarkExec(b *testing.B) {
	if _, err := exec.LookPath("ssh"); err != nil {
		b.Skip("OpenSSH client not installed")
	}
	bin := filepath.Join(b.TempDir(), "deploy")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	env := sshtest.New(b)
	var names []string
	for _, n := range []int{1, 10, 50} {
		for len(names) < n {
			name := "h" + strconv.Itoa(len(names)+1)
			env.Start(b, name)
			names = append(names, name)
		}
		hosts := names[:n]
		deployfile := filepath.Join(b.TempDir(), "Deployfile")
		quoted := make([]string, n)
		for i, h := range hosts {
			quoted[i] = strconv.Quote(h)
		}
		if err := os.WriteFile(deployfile, []byte("[hosts]\nall = ["+strings.Join(quoted, ", ")+"]\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("hosts=%d/deploy", n), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(bin, "-f", deployfile, "--ssh-config", env.SSHConfig, "exec", "all", "--", "true")
				cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("deploy exec: %v\n%s", err, out)
				}
			}
		})
		// OpenSSH as installed, and with the key exchange x/crypto/ssh
		// negotiates here (curve25519): OpenSSH 9's default,
		// sntrup761x25519, costs more CPU, and the second run shows how
		// much of the gap that is.
		for _, variant := range []struct{ name, kex string }{
			{"openssh-xargs", ""},
			{"openssh-xargs-curve25519", "curve25519-sha256"},
		} {
			b.Run(fmt.Sprintf("hosts=%d/%s", n, variant.name), func(b *testing.B) {
				args := []string{"-P", strconv.Itoa(n), "-I{}", "ssh", "-F", env.SSHConfig, "-o", "BatchMode=yes"}
				if variant.kex != "" {
					args = append(args, "-o", "KexAlgorithms="+variant.kex)
				}
				for b.Loop() {
					cmd := exec.Command("xargs", append(args, "{}", "true")...)
					cmd.Stdin = strings.NewReader(strings.Join(hosts, "\n") + "\n")
					cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("ssh via xargs: %v\n%s", err, out)
					}
				}
			})
		}
	}
}
