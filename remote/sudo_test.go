//go:build unix

package remote_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

func TestSudoWithoutPassword(t *testing.T) {
	env := sshtest.New(t)
	env.Sudoers(t, env.User+" ALL=(nobody) NOPASSWD: ALL")
	env.Start(t, "web1")
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = conn.Run(context.Background(), &remote.Cmd{Script: "id -un; echo $X", Env: map[string]string{"X": "kept"},
		Sudo: true, SudoUser: "nobody", Stdout: &out})
	if err != nil || out.String() != "nobody\nkept\n" {
		t.Errorf("got %q, %v", out.String(), err)
	}
}

func TestSudoPassword(t *testing.T) {
	env := sshtest.New(t)
	const password = "correct horse"
	env.SetPassword(t, password)
	env.Sudoers(t, env.User+" ALL=(daemon) ALL")
	env.Start(t, "web1")
	var out, errOut bytes.Buffer
	cmd := func() *remote.Cmd {
		return &remote.Cmd{Script: "id -un; cat </dev/stdin || true", Sudo: true, SudoUser: "daemon", Stdout: &out, Stderr: &errOut}
	}

	// No way to ask: a clear error, and nothing ran.
	conn, err := newPool(t, env.Options()).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Run(context.Background(), cmd())
	var need *remote.SudoPasswordError
	if !errors.As(err, &need) || !strings.Contains(err.Error(), "NOPASSWD") {
		t.Fatalf("got %v, want a SudoPasswordError", err)
	}
	if strings.Contains(out.String(), "daemon") {
		t.Error("the command ran without the password")
	}

	// Asked: the password goes on sudo's stdin, is used once, and shows
	// nowhere in the output.
	opts := env.Options()
	asked := 0
	opts.SudoPassword = func(host, user string) ([]byte, error) {
		asked++
		if user != "daemon" {
			t.Errorf("asked for user %q", user)
		}
		return []byte(password), nil
	}
	conn, err = newPool(t, opts).Dial(context.Background(), remote.Target{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if err := conn.Run(context.Background(), cmd()); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if out.String() != "daemon\n" || strings.Contains(out.String()+errOut.String(), "horse") || asked != 1 {
		t.Errorf("stdout %q, stderr %q, asked %d times", out.String(), errOut.String(), asked)
	}
}
