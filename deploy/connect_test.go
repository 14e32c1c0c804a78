package deploy

import (
	"net"
	"strings"
	"testing"
)

// A name that neither ssh_config nor DNS knows says so, and where to look
// (a forgotten --ssh-config is the usual cause).
func TestConnectErrorUnknownName(t *testing.T) {
	err := &ConnectError{Host: "web1", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "web1", IsNotFound: true}}}
	got := err.Error()
	if !strings.HasPrefix(got, `connect to web1: no such host "web1": neither the ssh_config read`) || !strings.Contains(got, "--ssh-config FILE") {
		t.Errorf("%s", got)
	}
}
