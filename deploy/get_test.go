package deploy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
)

// Hosts' directories are their addresses; hosts that share one (a machine
// on two ports, two users) are named as the Deployfile names them, ':'
// written '_', and a clash left gets a number.
func TestHostDirs(t *testing.T) {
	host := func(name, addr string, port int, user string) *config.Host {
		return &config.Host{Name: name, HostSpec: config.HostSpec{Host: addr, Port: port, User: user}}
	}
	hosts := []*config.Host{
		host("web1.example.com", "web1.example.com", 0, ""),
		host("web2.example.com:2222", "web2.example.com", 2222, ""),
		host("web2.example.com", "web2.example.com", 0, ""),
		host("deploy@web2.example.com", "web2.example.com", 0, "deploy"),
		host("WEB3", "WEB3", 0, ""),
		host("web3", "web3", 0, ""),
		host("odd/../name", "odd/../name", 0, ""),
		host("local", "local", 0, ""),
	}
	got := HostDirs(hosts, "out")
	want := []string{"web1.example.com", "web2.example.com_2222", "web2.example.com", "deploy@web2.example.com",
		"WEB3", "web3-2", "odd_.._name", "local"}
	for i := range want {
		want[i] = filepath.Join("out", want[i])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("HostDirs:\n got %q\nwant %q", got, want)
	}
	if one := HostDirs(hosts[:1], "."); one[0] != "." {
		t.Errorf("one host: %q, want .", one)
	}
}
