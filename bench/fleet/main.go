//go:build unix

// Command fleet serves N SSH hosts on 127.0.0.1 from one process, for the
// benchmark harness's 1,000-host section (bench/harness_test.go, "scale"):
// 1,000 OpenSSH sshd do not fit 2 cores, in-process servers do. Each host
// is a remote/sshtest in-process server with its own ed25519 host key,
// accepting one client key, and runs exec requests with sh -c as this
// process's user.
//
//	fleet -n 1000 -dir DIR
//
// writes DIR/ssh_config (Host h1…hN), DIR/known_hosts and the client key
// DIR/id_ed25519, prints "ready" once every host listens, and serves until
// stdin closes or a SIGTERM or SIGINT. It counts handshakes in flight, per
// host and in all: each line read on stdin prints the peaks since the last
// line as a "peaks …" line and starts new ones; the end prints them too.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

func main() {
	n := flag.Int("n", 1000, "how many hosts")
	dir := flag.String("dir", "", "where to write ssh_config, known_hosts and the client key (required)")
	flag.Parse()
	if *dir == "" || *n < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *n, *dir, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// fleet is the servers, whose handshake gauges count into the fleet's.
type fleet struct {
	servers              []*sshtest.InProcess
	allShakes, allUnauth *sshtest.Gauge
}

func run(ctx context.Context, n int, dir string, stdin io.Reader, stdout io.Writer) error {
	// Per host: its listener, its connection, and up to 4 sessions' pipes
	// (3 each) while a task runs.
	if err := ensureFiles(uint64(16*n + 64)); err != nil {
		return err
	}
	signer, err := clientKey(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		return err
	}
	f := &fleet{allShakes: sshtest.NewGauge(nil), allUnauth: sshtest.NewGauge(nil)}
	defer f.close()
	for i := range n {
		s, err := sshtest.ListenInProcess(sshtest.InProcessConfig{Name: fmt.Sprintf("h%d", i+1), Client: signer.PublicKey(),
			Handshakes: sshtest.NewGauge(f.allShakes), Unauthenticated: sshtest.NewGauge(f.allUnauth)})
		if err != nil {
			return err
		}
		f.servers = append(f.servers, s)
	}
	if err := f.writeClientFiles(dir); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")

	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- struct{}{}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, f.peaks())
			return nil
		case _, ok := <-lines:
			fmt.Fprintln(stdout, f.peaks())
			if !ok {
				return nil
			}
		}
	}
}

// peaks says the most handshakes and unauthenticated connections there
// were at once, in all and with one server, since the last call.
func (f *fleet) peaks() string {
	most := func(gauge func(*sshtest.InProcess) *sshtest.Gauge) int {
		m := 0
		for _, s := range f.servers {
			m = max(m, gauge(s).Peak())
			gauge(s).Reset()
		}
		return m
	}
	shakes := func(s *sshtest.InProcess) *sshtest.Gauge { return s.Handshakes }
	unauth := func(s *sshtest.InProcess) *sshtest.Gauge { return s.Unauthenticated }
	all := func(g *sshtest.Gauge) int {
		defer g.Reset()
		return g.Peak()
	}
	return fmt.Sprintf("peaks handshakes=%d handshakes_per_server=%d unauthenticated=%d unauthenticated_per_server=%d",
		all(f.allShakes), most(shakes), all(f.allUnauth), most(unauth))
}

func (f *fleet) close() {
	for _, s := range f.servers {
		s.Close()
	}
}

// writeClientFiles writes the ssh_config naming each server hN and the
// known_hosts holding its key.
func (f *fleet) writeClientFiles(dir string) error {
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("current user: %w", err)
	}
	kh := filepath.Join(dir, "known_hosts")
	var hosts, config strings.Builder
	for _, s := range f.servers {
		fmt.Fprintf(&hosts, "[%s]:%d %s", s.Host, s.Port, ssh.MarshalAuthorizedKey(s.HostKey))
		fmt.Fprintf(&config, "Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n",
			s.Name, s.Host, s.Port, u.Username, filepath.Join(dir, "id_ed25519"), kh)
	}
	if err := os.WriteFile(kh, []byte(hosts.String()), 0o644); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(config.String()), 0o644); err != nil {
		return fmt.Errorf("ssh_config: %w", err)
	}
	return nil
}

// clientKey writes a new unencrypted ed25519 key to file, mode 0600.
func clientKey(file string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// ensureFiles makes sure this process may open need files. Go (1.19 and
// later) raises the soft RLIMIT_NOFILE to the hard limit at start on unix;
// this raises it where that did not happen, and fails early, saying so,
// where the hard limit is too low.
func ensureFiles(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("open-file limit: the hosts need about %d files, the hard limit is %d (ulimit -Hn)", need, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open-file limit: raise to %d: %w", lim.Max, err)
	}
	return nil
}
