//go:build unix

// Package sshtest starts SSH servers for tests, in the spirit of
// net/http/httptest: a real OpenSSH sshd on 127.0.0.1 with its own host
// key, or an in-process server for fast unit tests. The client side — a
// key, a known_hosts file and an ssh_config naming every server — is an
// Env shared by the servers of one test. The servers need a unix machine
// (their files build only there); POSIXShells, strict-POSIX hosts on this
// machine, builds everywhere and skips where dash and busybox are missing.
package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/remote"
)

// SSHD is where Debian's openssh-server installs the daemon.
const SSHD = "/usr/sbin/sshd"

// TestUser is the plain account the servers log in as when the tests run
// as root. Logging in as root would run root's shell start-up files on
// every command, which is slow on some machines and is not what a deploy
// account looks like.
const TestUser = "deploytest"

// Env is the client side of a test: one key, one known_hosts file and one
// ssh_config, which every server started from it is written into.
type Env struct {
	Dir        string // holds the files below; removed at cleanup
	ClientKey  string // private key file (unencrypted ed25519)
	ClientPub  ssh.PublicKey
	KnownHosts string
	SSHConfig  string
	User       string // the account the servers accept
	Signer     ssh.Signer

	mu      sync.Mutex
	servers map[string]*Server
}

// Servers are the servers started from the Env, by name.
func (e *Env) Servers() map[string]*Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]*Server, len(e.servers))
	for k, v := range e.servers {
		out[k] = v
	}
	return out
}

// New makes the client side of a test. It skips the test when sshd is not
// installed.
func New(t testing.TB) *Env {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Skipf("OpenSSH server not installed (%s): apt-get install openssh-server", SSHD)
	}
	dir, err := os.MkdirTemp("", "sshtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The login user reads authorized_keys through this directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Env{Dir: dir, KnownHosts: filepath.Join(dir, "known_hosts"), SSHConfig: filepath.Join(dir, "ssh_config")}
	e.User = LoginUser(t)
	e.ClientKey = filepath.Join(dir, "id_ed25519")
	e.Signer, e.ClientPub = writeKey(t, e.ClientKey)
	for _, f := range []string{e.KnownHosts, e.SSHConfig} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// Options are remote.Options that use only this Env's files: its
// ssh_config, known_hosts and key, and no ssh-agent.
func (e *Env) Options() remote.Options {
	return remote.Options{
		ConfigFile:      e.SSHConfig,
		KnownHostsFiles: []string{e.KnownHosts},
		IdentityFiles:   []string{e.ClientKey},
		AgentSocket:     "none",
	}
}

// LoginUser is TestUser when running as root (created if missing), else
// the current user: the account the servers log in as, and the one other
// test servers that refuse to run as root (pgtest's PostgreSQL) run as.
func LoginUser(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		return u.Username
	}
	if _, err := user.Lookup(TestUser); err == nil {
		return TestUser
	}
	// Test packages run in parallel processes: one useradd at a time.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "sshtest-useradd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(TestUser); err == nil {
		return TestUser
	}
	// Password "*": no password login, but not a locked account, which
	// sshd without PAM would refuse.
	out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", TestUser).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", TestUser, err, out)
	}
	return TestUser
}

func writeRSAKey(t testing.TB, file string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writePrivateKey(t, file, priv)
}

func writeKey(t testing.TB, file string) (ssh.Signer, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writePrivateKey(t, file, priv)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return signer, signer.PublicKey()
}

// writePrivateKey writes an unencrypted OpenSSH private key, mode 0600.
func writePrivateKey(t testing.TB, file string, priv any) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// UserDir makes a directory that the login user owns, for deploy roots
// and files the remote commands write. It is removed at cleanup.
func (e *Env) UserDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(e.Dir, "home-")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(e.User)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Server is a running OpenSSH sshd.
type Server struct {
	Name    string // its Host alias in the Env's ssh_config
	Host    string // 127.0.0.1
	Port    int
	User    string
	HostKey ssh.PublicKey
	Dir     string

	cmd   *exec.Cmd
	log   *Buffer
	done  chan struct{}
	setup serverSetup
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Target reaches the server by address, with its user.
func (s *Server) Target() remote.Target {
	return remote.Target{Host: s.Host, Port: s.Port, User: s.User}
}

// Log is what sshd has logged so far.
func (s *Server) Log() string { return s.log.String() }

// ServerOption changes how Start sets up a server.
type ServerOption func(*serverSetup)

type serverSetup struct {
	alsoRSA bool     // the server also has an RSA host key, not in known_hosts
	unknown bool     // leave the host key out of known_hosts
	extra   []string // extra sshd_config lines
	jump    string   // ProxyJump for the alias in ssh_config
}

// AlsoRSAKey gives the server an RSA host key besides its ed25519 one;
// known_hosts records only the ed25519 key, as OpenSSH does. x/crypto/ssh
// prefers RSA: a client that does not ask for the type it knows is shown
// the RSA key and wrongly sees a changed key.
func AlsoRSAKey() ServerOption { return func(s *serverSetup) { s.alsoRSA = true } }

// Unknown leaves the server's host key out of the Env's known_hosts.
func Unknown() ServerOption { return func(s *serverSetup) { s.unknown = true } }

// Config adds sshd_config lines.
func Config(lines ...string) ServerOption {
	return func(s *serverSetup) { s.extra = append(s.extra, lines...) }
}

// ProxyJump makes the ssh_config alias of the server go through jump
// ([user@]host[:port] or another alias).
func ProxyJump(jump string) ServerOption { return func(s *serverSetup) { s.jump = jump } }

// Start runs sshd on 127.0.0.1 on a free port, with a new host key, the
// Env's client key authorized, and an entry "Host name" in the Env's
// ssh_config. It is stopped at cleanup.
func (e *Env) Start(t testing.TB, name string, opts ...ServerOption) *Server {
	t.Helper()
	var setup serverSetup
	for _, o := range opts {
		o(&setup)
	}
	dir, err := os.MkdirTemp(e.Dir, "sshd-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Privilege separation needs its empty directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, hostPub := writeKey(t, filepath.Join(dir, "host_ed25519_key"))
	if setup.alsoRSA {
		writeRSAKey(t, filepath.Join(dir, "host_rsa_key"))
		setup.extra = append(setup.extra, "HostKey "+filepath.Join(dir, "host_ed25519_key"), "HostKey "+filepath.Join(dir, "host_rsa_key"))
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(e.ClientPub), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Name: name, Host: "127.0.0.1", User: e.User, HostKey: hostPub, Dir: dir, setup: setup}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Port = port
		if lastErr = s.start(e, setup); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("sshd %s: %v", name, lastErr)
	}
	t.Cleanup(s.Stop)

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.servers == nil {
		e.servers = map[string]*Server{}
	}
	e.servers[name] = s
	if !setup.unknown {
		line := fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, ssh.MarshalAuthorizedKey(hostPub))
		appendFile(t, e.KnownHosts, line)
	}
	// The entry names the Env's key and known_hosts, so a client given only
	// this ssh_config (deploy --ssh-config) reaches the server.
	entry := fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		name, s.Host, s.Port, s.User, e.ClientKey, e.KnownHosts)
	if setup.jump != "" {
		entry += "  ProxyJump " + setup.jump + "\n"
	}
	appendFile(t, e.SSHConfig, entry)
	return s
}

func (s *Server) start(e *Env, setup serverSetup) error {
	// sshd_config keeps the first value of a keyword: the test's lines
	// come first so that they win.
	cfg := strings.Join(append(append([]string(nil), setup.extra...),
		"Port "+strconv.Itoa(s.Port),
		"ListenAddress "+s.Host,
		"HostKey "+filepath.Join(s.Dir, "host_ed25519_key"),
		"PidFile "+filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile "+filepath.Join(s.Dir, "authorized_keys"),
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin no",
		"AllowUsers "+e.User,
		"AllowTcpForwarding yes",
		"Subsystem sftp internal-sftp",
		"PrintMotd no",
		"LogLevel VERBOSE",
	), "\n") + "\n"
	cfgFile := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return err
	}
	s.log = &Buffer{}
	s.cmd = exec.Command(SSHD, "-D", "-e", "-f", cfgFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Its own process group, so Stop takes the per-connection children.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited: %s", s.log.String())
		default:
		}
		if banner(s.Addr()) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("sshd did not answer on %s within 10s: %s", s.Addr(), s.log.String())
}

// banner reports whether an SSH server answers on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// Stop kills sshd and every process under it — the processes serving its
// connections (which sshd puts in sessions of their own) and the commands
// they run — which drops every client connected to it. It is safe to call
// twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which may hold spaces.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				children[ppid] = append(children[ppid], p)
			}
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now (it may
// be taken before the caller binds it: retry on "address in use").
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(t testing.TB, file, text string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Buffer is a bytes.Buffer that a test may read while a server or a
// command writes it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitForPID waits for a command on a test host to write its pid to file.
func WaitForPID(t testing.TB, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s after 10s", file)
	return 0
}

// WaitGone fails the test when process pid, on the test host (this
// machine), is still alive after a bounded wait.
func WaitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return
		}
		// A zombie has finished; it waits only for its parent to reap it.
		if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still runs on the test host", pid)
}

// Sudoers installs sudoers rules for the test (root only: it writes under
// /etc/sudoers.d) and removes them at cleanup. It skips the test when
// sudo is not installed or the test does not run as root.
func (e *Env) Sudoers(t testing.TB, rules ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sudoers rules need root")
	}
	if _, err := exec.LookPath("visudo"); err != nil {
		t.Skip("sudo not installed: apt-get install sudo")
	}
	file := filepath.Join("/etc/sudoers.d", "deploy-sshtest-"+strconv.Itoa(os.Getpid())+"-"+filepath.Base(e.Dir))
	if err := os.WriteFile(file, []byte(strings.Join(rules, "\n")+"\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	if out, err := exec.Command("visudo", "-c", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("sudoers rules %q: %v\n%s", rules, err, out)
	}
}

// SetPassword gives the login user a password (for sudo) until cleanup,
// when the account goes back to having none. Root only.
func (e *Env) SetPassword(t testing.TB, password string) {
	t.Helper()
	if os.Geteuid() != 0 || e.User != TestUser {
		t.Skip("setting a password needs root and the test user")
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(e.User + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("usermod", "--password", "*", e.User).Run() })
}
