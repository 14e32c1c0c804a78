//go:build unix

package remote_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

func newPool(t *testing.T, opts remote.Options) *remote.Pool {
	t.Helper()
	p, err := remote.NewPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestSSHRunExitStatus(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	pool := newPool(t, env.Options())
	conn, err := pool.Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatalf("dial: %v\nsshd log:\n%s", err, srv.Log())
	}
	for _, tt := range []struct {
		script         string
		status         int
		stdout, stderr string
	}{
		{"echo out; echo err >&2", 0, "out\n", "err\n"},
		{"exit 1", 1, "", ""},
		{"exit 255", 255, "", ""},
		{"echo $(whoami)", 0, env.User + "\n", ""},
		{"false\necho not reached", 1, "", ""},
		{"cd /tmp\npwd", 0, "/tmp\n", ""},
	} {
		var out, errOut bytes.Buffer
		err := conn.Run(context.Background(), &remote.Cmd{Script: tt.script, Stdout: &out, Stderr: &errOut})
		status := 0
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			status = exit.Status
		} else if err != nil {
			t.Fatalf("%q: %v", tt.script, err)
		}
		if status != tt.status || out.String() != tt.stdout || errOut.String() != tt.stderr {
			t.Errorf("%q: status %d stdout %q stderr %q; want %d %q %q", tt.script, status, out.String(), errOut.String(), tt.status, tt.stdout, tt.stderr)
		}
	}
}

// dialWeb1 connects to the Env's host "web1" with the Env's own files.
func dialWeb1(t *testing.T, env *sshtest.Env) remote.Conn {
	t.Helper()
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func runOK(t *testing.T, conn remote.Conn, script string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := conn.Run(context.Background(), &remote.Cmd{Script: script, Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatalf("%q: %v\nstderr: %s", script, err, errOut.String())
	}
	return out.String()
}

func TestUnknownHostKeyRefusedThenAccepted(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1", sshtest.Unknown())
	ctx := context.Background()

	_, err := newPool(t, env.Options()).Dial(ctx, remote.Target{Host: "web1"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Kind != "unknown" {
		t.Fatalf("unknown host: got %v, want a HostKeyError of kind unknown", err)
	}
	fp := ssh.FingerprintSHA256(srv.HostKey)
	for _, want := range []string{fp, "--accept-new-host-keys", "ssh-keyscan -p " + strconv.Itoa(srv.Port) + " 127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if data, _ := os.ReadFile(env.KnownHosts); len(data) != 0 {
		t.Fatalf("a refused key was written to known_hosts: %s", data)
	}

	opts := env.Options()
	opts.AcceptNewHostKeys = true
	conn, err := newPool(t, opts).Dial(ctx, remote.Target{Host: "web1"})
	if err != nil {
		t.Fatalf("with accept-new: %v", err)
	}
	runOK(t, conn, "true")
	data, _ := os.ReadFile(env.KnownHosts)
	want := "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey)))
	if strings.TrimSpace(string(data)) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}

	// Recorded: a strict pool now connects.
	if _, err := newPool(t, env.Options()).Dial(ctx, remote.Target{Host: "web1"}); err != nil {
		t.Errorf("after recording: %v", err)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1", sshtest.Unknown())
	// known_hosts records another key for this host.
	other := generateKey(t).PublicKey()
	line := "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " " + string(ssh.MarshalAuthorizedKey(other))
	if err := os.WriteFile(env.KnownHosts, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, acceptNew := range []bool{false, true} {
		opts := env.Options()
		opts.AcceptNewHostKeys = acceptNew
		_, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "web1"})
		var hk *remote.HostKeyError
		if !errors.As(err, &hk) || hk.Kind != "changed" {
			t.Fatalf("accept-new=%v: got %v, want a changed-key refusal", acceptNew, err)
		}
		if !strings.Contains(err.Error(), "HOST KEY CHANGED") || !strings.Contains(err.Error(), env.KnownHosts+":1") {
			t.Errorf("message is not loud or does not name the entry: %v", err)
		}
	}
	if data, _ := os.ReadFile(env.KnownHosts); string(data) != line {
		t.Errorf("known_hosts was changed: %q", data)
	}
}

func TestRevokedHostKeyRefused(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	line := "@revoked * " + string(ssh.MarshalAuthorizedKey(srv.HostKey))
	appendTo(t, env.KnownHosts, line)
	_, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Kind != "revoked" {
		t.Fatalf("got %v, want a revoked-key refusal", err)
	}
}

// A hashed known_hosts entry (ssh-keygen -H) is honoured.
func TestHashedKnownHosts(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1", sshtest.Unknown())
	entry := knownhosts.HashHostname(knownhosts.Normalize(srv.Addr()))
	appendTo(t, env.KnownHosts, entry+" "+string(ssh.MarshalAuthorizedKey(srv.HostKey)))
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: srv.Host, Port: srv.Port, User: srv.User})
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, conn, "true")
}

func TestProxyJump(t *testing.T) {
	env := sshtest.New(t)
	bastion := env.Start(t, "bastion", sshtest.Config("LogLevel DEBUG1"))
	env.Start(t, "inner", sshtest.ProxyJump("bastion"))
	pool := newPool(t, env.Options())
	conn, err := pool.Dial(context.Background(), remote.Target{Host: "inner"})
	if err != nil {
		t.Fatal(err)
	}
	if got := runOK(t, conn, "echo inner"); got != "inner\n" {
		t.Errorf("got %q", got)
	}
	inner := env.Servers()["inner"]
	want := "target 127.0.0.1 port " + strconv.Itoa(inner.Port)
	if !strings.Contains(bastion.Log(), want) {
		t.Errorf("the bastion did not forward to the inner host (%q not in its log):\n%s", want, bastion.Log())
	}
}

// Hosts behind one bastion share a single connection to it.
func TestJumpHostConnectionShared(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	bastion := env.Start(t, "bastion")
	for _, n := range []string{"a", "b", "c"} {
		env.Start(t, n, sshtest.ProxyJump("bastion"))
	}
	pool := newPool(t, env.Options())
	for _, n := range []string{"a", "b", "c"} {
		conn, err := pool.Dial(context.Background(), remote.Target{Host: n})
		if err != nil {
			t.Fatal(err)
		}
		runOK(t, conn, "true")
	}
	if n := strings.Count(bastion.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("the bastion saw %d logins, want 1:\n%s", n, bastion.Log())
	}
}

// Many commands on one host use one connection.
func TestOneConnectionPerHost(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	pool := newPool(t, env.Options())
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pool.Dial(context.Background(), remote.Target{Host: "web1"})
			if err == nil {
				err = conn.Run(context.Background(), &remote.Cmd{Script: "sleep 0.1"})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(srv.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("sshd saw %d logins, want 1", n)
	}
}

func TestCancelLeavesNoProcess(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	dir := env.UserDir(t)
	pidFile := filepath.Join(dir, "pid")
	conn := dialWeb1(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- conn.Run(ctx, &remote.Cmd{Script: "sleep 300 &\necho $! > " + remote.MustQuote(pidFile) + "\nwait"})
	}()
	pid := sshtest.WaitForPID(t, pidFile)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	sshtest.WaitGone(t, pid)
	// The connection is still good for the next command.
	runOK(t, conn, "true")
}

func TestCommandTimeout(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	conn := dialWeb1(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := conn.Run(ctx, &remote.Cmd{Script: "sleep 30"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

func TestEnvAndScriptNotInArgv(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	conn := dialWeb1(t, env)
	var out bytes.Buffer
	secret := "s3cr3t 'with' $(quotes)\nand a newline"
	err := conn.Run(context.Background(), &remote.Cmd{
		Script: `printf '%s' "$TOKEN"; echo; ps -eo args | grep -c s3cr3t || true`,
		Env:    map[string]string{"TOKEN": secret},
		Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if got := strings.Join(lines[:2], "\n"); got != secret {
		t.Errorf("env value arrived as %q, want %q", got, secret)
	}
	// Only the grep itself may show the word.
	if n := strings.TrimSpace(lines[2]); n != "1" {
		t.Errorf("the secret shows in %s process command lines", n)
	}
}

// A command that reads stdin gets /dev/null, not the rest of the script.
func TestStdinDoesNotEatScript(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	conn := dialWeb1(t, env)
	if got := runOK(t, conn, "cat\necho after"); got != "after\n" {
		t.Errorf("got %q", got)
	}
}

func TestUpload(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1")
	dest := env.UserDir(t)
	conn := dialWeb1(t, env)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a.txt"), "alpha", 0o640)
	writeFile(t, filepath.Join(src, "bin", "run.sh"), "#!/bin/sh\necho run\n", 0o755)
	if err := conn.Upload(context.Background(), src, dest+"/tree"); err != nil {
		t.Fatal(err)
	}
	if got := runOK(t, conn, "cd "+remote.MustQuote(dest)+"/tree && cat a.txt && ./bin/run.sh && stat -c %a a.txt bin/run.sh"); got != "alpharun\n640\n755\n" {
		t.Errorf("uploaded tree: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dest, "tree", "*.deploy-tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A reader of the destination sees the old file or the new one, whole,
// never a partial one.
func TestUploadAtomic(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	env.Start(t, "web1")
	dest := filepath.Join(env.UserDir(t), "big.bin")
	conn := dialWeb1(t, env)
	src := t.TempDir()
	old := bytes.Repeat([]byte("o"), 4<<20)
	neu := bytes.Repeat([]byte("n"), 4<<20)
	writeFile(t, filepath.Join(src, "old"), string(old), 0o644)
	writeFile(t, filepath.Join(src, "new"), string(neu), 0o644)
	if err := conn.Upload(context.Background(), filepath.Join(src, "old"), dest); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	bad := make(chan string, 1)
	reads := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(dest)
			reads++
			if err != nil || !(bytes.Equal(data, old) || bytes.Equal(data, neu)) {
				select {
				case bad <- fmt.Sprintf("read %d bytes, err %v", len(data), err):
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		for _, f := range []string{"new", "old"} {
			if err := conn.Upload(context.Background(), filepath.Join(src, f), dest); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatalf("a reader saw a partial file: %s", msg)
	default:
	}
	if reads < 2 {
		t.Fatalf("the reader ran only %d times", reads)
	}
}

// The agent is asked first; with no key files, its key logs in. (The
// tests dial by address: the ssh_config alias would name a key file.)
func TestAgentAuth(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	keyring := agent.NewKeyring()
	priv := loadPrivateKey(t, env.ClientKey)
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	served := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			served <- struct{}{}
			go agent.ServeAgent(keyring, c)
		}
	}()
	opts := env.Options()
	opts.IdentityFiles = []string{filepath.Join(t.TempDir(), "none")}
	opts.AgentSocket = sock
	conn, err := newPool(t, opts).Dial(context.Background(), srv.Target())
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, conn, "true")
	if len(served) == 0 {
		t.Error("the agent was never asked")
	}

	// Without the agent and without a key, the error says what to do.
	opts.AgentSocket = "none"
	_, err = newPool(t, opts).Dial(context.Background(), srv.Target())
	if err == nil || !strings.Contains(err.Error(), "no keys to offer") {
		t.Errorf("without keys: %v", err)
	}
}

func TestPassphraseKeyWithoutTerminal(t *testing.T) {
	t.Parallel()
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	priv := loadPrivateKey(t, env.ClientKey)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(t.TempDir(), "id_locked")
	writeFile(t, locked, string(pem.EncodeToMemory(block)), 0o600)

	opts := env.Options()
	opts.IdentityFiles = []string{locked}
	_, err = newPool(t, opts).Dial(context.Background(), srv.Target())
	if err == nil || !strings.Contains(err.Error(), "passphrase-protected") || !strings.Contains(err.Error(), "ssh-add "+locked) {
		t.Errorf("got %v, want a note on the passphrase-protected key", err)
	}

	asked := 0
	opts.Passphrase = func(file string) ([]byte, error) {
		asked++
		return []byte("hunter2"), nil
	}
	pool := newPool(t, opts)
	conn, err := pool.Dial(context.Background(), srv.Target())
	if err != nil {
		t.Fatalf("with a passphrase: %v", err)
	}
	runOK(t, conn, "true")
	if asked != 1 {
		t.Errorf("asked for the passphrase %d times, want 1", asked)
	}
}

func TestConnectionLost(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	conn := dialWeb1(t, env)
	pidFile := filepath.Join(env.UserDir(t), "pid")
	done := make(chan error, 1)
	go func() {
		done <- conn.Run(context.Background(), &remote.Cmd{Script: "echo $$ > " + remote.MustQuote(pidFile) + "\nsleep 30"})
	}()
	sshtest.WaitForPID(t, pidFile)
	srv.Stop()
	err := <-done
	var exit *remote.ExitError
	if err == nil || errors.As(err, &exit) {
		t.Fatalf("got %v, want a lost-connection error, not an exit status", err)
	}
}

// ProxyJump a,b: through a, then through b, to the host.
func TestProxyJumpChain(t *testing.T) {
	env := sshtest.New(t)
	outer := env.Start(t, "outer", sshtest.Config("LogLevel DEBUG1"))
	middle := env.Start(t, "middle", sshtest.Config("LogLevel DEBUG1"))
	inner := env.Start(t, "inner", sshtest.ProxyJump("outer,middle"))
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "inner"})
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, conn, "true")
	if want := "target 127.0.0.1 port " + strconv.Itoa(middle.Port); !strings.Contains(outer.Log(), want) {
		t.Errorf("outer did not forward to middle (%q)", want)
	}
	if want := "target 127.0.0.1 port " + strconv.Itoa(inner.Port); !strings.Contains(middle.Log(), want) {
		t.Errorf("middle did not forward to inner (%q)", want)
	}
}

// StrictHostKeyChecking accept-new in ssh_config works as the flag does.
func TestSSHConfigAcceptNew(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1", sshtest.Unknown())
	appendTo(t, env.SSHConfig, "Host web1\n  StrictHostKeyChecking accept-new\n")
	conn := dialWeb1(t, env)
	runOK(t, conn, "true")
	if data, _ := os.ReadFile(env.KnownHosts); len(data) == 0 {
		t.Error("the new key was not recorded")
	}
}

// known_hosts holds the host's ed25519 key; the host also has an RSA key,
// which x/crypto/ssh would negotiate by default. deploy asks for the type
// it knows and connects.
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1", sshtest.AlsoRSAKey())
	if srv.HostKey.Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("known key is %s", srv.HostKey.Type())
	}
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatalf("a good host looked bad: %v", err)
	}
	runOK(t, conn, "true")
}

// ForwardAgent: the command on the host sees this machine's agent keys.
func TestAgentForwarding(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	opts := env.Options()
	opts.AgentSocket = serveAgent(t, env)
	conn, err := newPool(t, opts).Dial(context.Background(), srv.Target())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = conn.Run(context.Background(), &remote.Cmd{Script: "ssh-add -l", ForwardAgent: true, Stdout: &out})
	if err != nil || !strings.Contains(out.String(), "forwarded-key") {
		t.Errorf("with forwarding: %v %q", err, out.String())
	}
	// Not asked: no agent on the host.
	// Not asked: no agent on the host — not even on the connection that
	// served the forwarded command.
	if err := conn.Run(context.Background(), &remote.Cmd{Script: `test -z "$SSH_AUTH_SOCK"`}); err != nil {
		t.Error("a command that did not ask for the agent got it")
	}
}
