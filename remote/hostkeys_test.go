//go:build unix

package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Wildcard known_hosts entries, which OpenSSH honours, are honoured
// against a real sshd: a matching key connects, another key is refused
// as changed.
func TestWildcardKnownHosts(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		key     string // "host" or "other"
		kind    string // "" connects
	}{
		{"[127.0.0.1]:*", "host", ""},
		{"[127.0.0.?]:*", "host", ""},
		{"*", "host", ""},
		{"[127.0.0.1]:*", "other", "changed"},
		{"[127.0.0.1]:*,![127.0.0.1]:*", "host", "unknown"},
	} {
		t.Run(tt.pattern+" "+tt.key, func(t *testing.T) {
			env := sshtest.New(t)
			srv := env.Start(t, "web1", sshtest.Unknown())
			key := srv.HostKey
			if tt.key == "other" {
				key = generateKey(t).PublicKey()
			}
			appendTo(t, env.KnownHosts, tt.pattern+" "+string(ssh.MarshalAuthorizedKey(key)))
			conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				runOK(t, conn, "true")
				return
			}
			var hk *remote.HostKeyError
			if !errors.As(err, &hk) || hk.Kind != tt.kind {
				t.Fatalf("got %v, want a HostKeyError of kind %s", err, tt.kind)
			}
		})
	}
}

// With --accept-new-host-keys, a key accepted in a run is the host's key
// for the rest of the run: the host showing another key later in the same
// run (reinstalled, or someone in the middle) is refused as a changed key.
func TestAcceptNewSecondKeyRefused(t *testing.T) {
	env := sshtest.New(t)
	srv := env.Start(t, "web1", sshtest.Unknown())
	opts := env.Options()
	opts.AcceptNewHostKeys = true
	pool := newPool(t, opts)
	ctx := context.Background()
	conn, err := pool.Dial(ctx, remote.Target{Host: "web1"})
	if err != nil {
		t.Fatalf("first key: %v", err)
	}
	runOK(t, conn, "true")
	first := srv.HostKey

	srv.RestartWithNewHostKey(t, env)
	// Another login on the same alias and port: a new connection, so a
	// new handshake (the host key is checked before the login).
	_, err = pool.Dial(ctx, remote.Target{Host: "web1", User: "someone-else"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Kind != "changed" {
		t.Fatalf("second key in the same run: got %v, want a HostKeyError of kind changed", err)
	}
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(srv.HostKey)) {
		t.Errorf("error %q does not show the new key's fingerprint", err)
	}
	data, _ := os.ReadFile(env.KnownHosts)
	want := "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " " + string(ssh.MarshalAuthorizedKey(first))
	if string(data) != want {
		t.Errorf("known_hosts = %q, want only the first key %q", data, want)
	}
}

// serveAgent serves an ssh-agent holding the Env's client key on a socket
// of its own, and returns the socket.
func serveAgent(t *testing.T, env *sshtest.Env) string {
	t.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: loadPrivateKey(t, env.ClientKey), Comment: "forwarded-key"}); err != nil {
		t.Fatal(err)
	}
	return serveKeyring(t, keyring)
}

// The agent is forwarded only to a host whose key was known before the
// run, never to one accepted on first sight in it.
func TestNoAgentForwardingToHostAcceptedThisRun(t *testing.T) {
	env := sshtest.New(t)
	env.Start(t, "web1", sshtest.Unknown())
	opts := env.Options()
	opts.AgentSocket = serveAgent(t, env)
	opts.AcceptNewHostKeys = true
	ctx := context.Background()
	conn, err := newPool(t, opts).Dial(ctx, remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = conn.Run(ctx, &remote.Cmd{Script: "ssh-add -l", ForwardAgent: true, Stdout: &out})
	if err == nil {
		t.Fatalf("the agent was forwarded to a host accepted in this run (%q)", out.String())
	}
	for _, want := range []string{"accepted in this run", "without forward_agent", "known_hosts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	runOK(t, conn, "true") // commands without the agent run

	// The next run knows the key from before: the agent is forwarded.
	conn, err = newPool(t, opts).Dial(ctx, remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := conn.Run(ctx, &remote.Cmd{Script: "ssh-add -l", ForwardAgent: true, Stdout: &out}); err != nil || !strings.Contains(out.String(), "forwarded-key") {
		t.Errorf("next run: %v %q", err, out.String())
	}
}
