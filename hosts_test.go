package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// deploy hosts shows where each host is reached, ssh_config applied
// (--ssh-config): its HostName, User and Port for an alias, the jump
// host, the Deployfile winning where it says; connecting to nothing (the
// addresses are reserved for documentation).
func TestHostsFromSSHConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sshConfig := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(sshConfig, []byte(`Host app1
  HostName 192.0.2.10
  User appuser
  Port 2201
Host app2
  HostName 192.0.2.11
  ProxyJump jumper@bastion.example.com:2222
Host *
  User fallback
`), 0o644); err != nil {
		t.Fatal(err)
	}
	df := filepath.Join(dir, "Deployfile")
	if err := os.WriteFile(df, []byte(`[hosts]
web = ["app1", "app2", "ops@app1:2022", "local"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "--no-color", "-f", df, "--ssh-config", sshConfig, "hosts", "web")
	want := []string{
		"GROUP  NAME          USER      HOST        PORT      VIA",
		"web    app1          appuser   192.0.2.10  2201",
		"web    app2          fallback  192.0.2.11  22        jumper@bastion.example.com:2222",
		"web    ops@app1:2022  ops       192.0.2.10  2022",
		"web    local         (you)     local       (no ssh)",
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := range got {
		got[i] = strings.Join(strings.Fields(got[i]), " ")
	}
	for i := range want {
		want[i] = strings.Join(strings.Fields(want[i]), " ")
	}
	if code != 0 || !slices.Equal(got, want) {
		t.Errorf("exit %d\n%s%s\nwant (spacing aside):\n%s", code, out, errOut, strings.Join(want, "\n"))
	}

	code, out, _ = runCLI(t, "-f", df, "--ssh-config", sshConfig, "hosts", "web", "--json")
	hosts := jsonLinesOf[struct {
		Name, User, Host, HostName string
		Port                       int
		Via                        []string
	}](t, out)
	if code != 0 || len(hosts) != 4 || hosts[0].HostName != "192.0.2.10" || hosts[0].User != "appuser" || hosts[0].Port != 2201 ||
		hosts[0].Host != "app1" || len(hosts[1].Via) != 1 {
		t.Errorf("--json: exit %d\n%s", code, out)
	}
}
