//go:build unix

package remote_test

import (
	"path/filepath"
	"testing"

	"github.com/deploy-tool/deploy/remote"
)

func TestResolve(t *testing.T) {
	config := filepath.Join(t.TempDir(), "ssh_config")
	writeFile(t, config, `Host web-a
  HostName 10.0.0.5
  User deploy
Host web-b
  HostName 10.0.0.5
  User deploy
  Port 22
Host WEB-C
  HostName Db1.Example.COM
  User deploy
  Port 2200
Host behind
  HostName 10.1.0.7
  User app
  Port 2222
  ProxyJump bastion,ops@jump2:2200
Host bastion
  HostName bastion.example.com
  User ops
  ProxyJump ignored-as-a-hop
Host broken
  Port nope
`, 0o644)
	pool := newPool(t, remote.Options{ConfigFile: config, AgentSocket: "none"})
	for _, tt := range []struct {
		name   string
		target remote.Target
		want   string
	}{
		{"alias", remote.Target{Host: "web-a"}, "deploy@10.0.0.5:22"},
		{"second alias of the same machine", remote.Target{Host: "web-b"}, "deploy@10.0.0.5:22"},
		{"the address itself", remote.Target{Host: "10.0.0.5", User: "deploy", Port: 22}, "deploy@10.0.0.5:22"},
		{"user given wins", remote.Target{Host: "web-a", User: "root"}, "root@10.0.0.5:22"},
		{"port given wins", remote.Target{Host: "web-a", Port: 2022}, "deploy@10.0.0.5:2022"},
		{"host name in lower case", remote.Target{Host: "WEB-C"}, "deploy@db1.example.com:2200"},
		{"jump chain", remote.Target{Host: "behind"}, "ops@bastion.example.com:22>ops@jump2:2200>app@10.1.0.7:2222"},
		{"IPv6", remote.Target{Host: "::1", User: "u", Port: 22}, "u@[::1]:22"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pool.Resolve(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%v) = %q, want %q", tt.target, got, tt.want)
			}
		})
	}
	if got, err := pool.Resolve(remote.Target{Host: "broken"}); err == nil {
		t.Errorf("a bad Port resolved to %q", got)
	}
}
