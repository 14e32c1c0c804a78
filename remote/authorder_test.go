//go:build unix

package remote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// serveKeyring serves keyring on a unix socket, as ssh-agent does.
func serveKeyring(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	return sock
}

// The key ssh_config names is offered before the agent's other keys: with
// seven of those, sshd (MaxAuthTries 6) would otherwise hang up before it.
// IdentitiesOnly yes offers the named keys alone.
func TestIdentityFileFirstAndIdentitiesOnly(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1")
	keyring := agent.NewKeyring()
	for range 7 {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
			t.Fatal(err)
		}
	}
	opts := env.Options()
	opts.IdentityFiles = nil // only what ssh_config names
	opts.AgentSocket = serveKeyring(t, keyring)
	conn, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatalf("seven agent keys and the right IdentityFile: %v", err)
	}
	runOK(t, conn, "true")

	// The right key only in the agent; the alias names a missing file.
	keyring2 := agent.NewKeyring()
	if err := keyring2.Add(agent.AddedKey{PrivateKey: loadPrivateKey(t, env.ClientKey)}); err != nil {
		t.Fatal(err)
	}
	opts.AgentSocket = serveKeyring(t, keyring2)
	f, err := os.OpenFile(env.SSHConfig, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"only", "loose"} {
		fmt.Fprintf(f, "Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
			alias, srv.Host, srv.Port, srv.User, filepath.Join(t.TempDir(), "missing"), env.KnownHosts)
		if alias == "only" {
			fmt.Fprintln(f, "  IdentitiesOnly yes")
		}
	}
	f.Close()
	if _, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "only"}); err == nil {
		t.Error("IdentitiesOnly yes: the agent's key was offered")
	}
	if _, err := newPool(t, opts).Dial(context.Background(), remote.Target{Host: "loose"}); err != nil {
		t.Errorf("without IdentitiesOnly the agent's key is offered: %v", err)
	}
}
