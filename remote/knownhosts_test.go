package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func testSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorized(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// verdict names what check said: "ok", "unknown", "changed", "revoked"
// or the error.
func verdict(err error) string {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &revoked):
		return "revoked"
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return "unknown"
	case errors.As(err, &keyErr):
		return "changed"
	}
	return err.Error()
}

// known_hosts is read as OpenSSH reads it: a pattern matches the whole
// name looked up, "host" on port 22 and "[host]:port" on others.
func TestKnownHostsMatching(t *testing.T) {
	key, other := testSigner(t).PublicKey(), testSigner(t).PublicKey()
	k, o := authorized(key), authorized(other)
	hashed := func(name string) string { return knownhosts.HashHostname(name) }
	for _, tt := range []struct {
		name  string
		lines []string
		host  string
		want  string
	}{
		{"exact host and port", []string{"[127.0.0.1]:2222 " + k}, "127.0.0.1:2222", "ok"},
		{"exact, other port", []string{"[127.0.0.1]:2222 " + k}, "127.0.0.1:2223", "unknown"},
		{"port 22 is the bare name", []string{"web.example.com " + k}, "web.example.com:22", "ok"},
		{"bare name is port 22 only", []string{"web.example.com " + k}, "web.example.com:2222", "unknown"},
		{"port wildcard", []string{"[127.0.0.1]:* " + k}, "127.0.0.1:2222", "ok"},
		{"port wildcard, other host", []string{"[127.0.0.1]:* " + k}, "127.0.0.2:2222", "unknown"},
		{"port ?", []string{"[127.0.0.1]:22?? " + k}, "127.0.0.1:2222", "ok"},
		{"port ?, too short", []string{"[127.0.0.1]:22?? " + k}, "127.0.0.1:222", "unknown"},
		{"domain wildcard", []string{"*.example.com " + k}, "web.example.com:22", "ok"},
		{"domain wildcard, not on another port", []string{"*.example.com " + k}, "web.example.com:2222", "unknown"},
		{"domain and port wildcards", []string{"[*.example.com]:* " + k}, "web.example.com:2222", "ok"},
		{"? in a name", []string{"web?.example.com " + k}, "web1.example.com:22", "ok"},
		{"* matches every name", []string{"* " + k}, "10.1.2.3:2222", "ok"},
		{"negation", []string{"*.example.com,!db.example.com " + k}, "db.example.com:22", "unknown"},
		{"negation, others match", []string{"*.example.com,!db.example.com " + k}, "web.example.com:22", "ok"},
		{"list", []string{"a.example.com,[127.0.0.1]:2222 " + k}, "127.0.0.1:2222", "ok"},
		{"IPv6", []string{"[::1]:2222 " + k}, "[::1]:2222", "ok"},
		{"IPv6 port 22", []string{"::1 " + k}, "[::1]:22", "ok"},
		{"hashed", []string{hashed("[127.0.0.1]:2222") + " " + k}, "127.0.0.1:2222", "ok"},
		{"hashed, other port", []string{hashed("[127.0.0.1]:2222") + " " + k}, "127.0.0.1:2223", "unknown"},
		{"hashed port 22", []string{hashed("web.example.com") + " " + k}, "web.example.com:22", "ok"},
		{"changed", []string{"[127.0.0.1]:2222 " + o}, "127.0.0.1:2222", "changed"},
		{"changed by a wildcard", []string{"[127.0.0.1]:* " + o}, "127.0.0.1:2222", "changed"},
		{"changed by a hashed entry", []string{hashed("[127.0.0.1]:2222") + " " + o}, "127.0.0.1:2222", "changed"},
		{"one of several keys", []string{"[127.0.0.1]:2222 " + o, "[127.0.0.1]:* " + k}, "127.0.0.1:2222", "ok"},
		{"revoked", []string{"[127.0.0.1]:2222 " + k, "@revoked * " + k}, "127.0.0.1:2222", "revoked"},
		{"revoked, whatever its pattern", []string{"* " + k, "@revoked other.example.com " + k}, "127.0.0.1:2222", "revoked"},
		{"a CA key is no host key", []string{"@cert-authority * " + k}, "127.0.0.1:2222", "unknown"},
		{"comments, blanks and bad lines", []string{"# comment", "", "garbage", "[127.0.0.1]:2222 " + k}, "127.0.0.1:2222", "ok"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := readKnownHosts([]string{writeKnownHosts(t, tt.lines...)})
			if err != nil {
				t.Fatal(err)
			}
			if got := verdict(db.check(tt.host, noAddr, key)); got != tt.want {
				t.Errorf("%s with %q: %s, want %s", tt.host, tt.lines, got, tt.want)
			}
		})
	}
}

// A changed key names the file and line of the key on record.
func TestKnownHostsChangedNamesLine(t *testing.T) {
	key, other := testSigner(t).PublicKey(), testSigner(t).PublicKey()
	file := writeKnownHosts(t, "# header", "other.example.com "+authorized(key), "[127.0.0.1]:* "+authorized(other))
	db, err := readKnownHosts([]string{filepath.Join(t.TempDir(), "missing"), file})
	if err != nil {
		t.Fatal(err)
	}
	var keyErr *knownhosts.KeyError
	if err := db.check("127.0.0.1:2222", noAddr, key); !errors.As(err, &keyErr) || len(keyErr.Want) != 1 {
		t.Fatalf("got %v, want a changed key", err)
	}
	if got := keyErr.Want[0]; got.Filename != file || got.Line != 3 {
		t.Errorf("key on record at %s:%d, want %s:3", got.Filename, got.Line, file)
	}
}

func TestKnownHostsBadFile(t *testing.T) {
	if _, err := readKnownHosts([]string{writeKnownHosts(t, "garbage", "more garbage here")}); err == nil {
		t.Error("a file of nothing but bad lines was read")
	}
}

// @cert-authority entries vouch for host certificates of the hosts they
// cover, and only those.
func TestKnownHostsCertAuthority(t *testing.T) {
	ca, host := testSigner(t), testSigner(t)
	cert := &ssh.Certificate{
		Key: host.PublicKey(), CertType: ssh.HostCert, ValidPrincipals: []string{"web.example.com"},
		ValidBefore: ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		lines []string
		host  string
		ok    bool
	}{
		{"CA for the domain", []string{"@cert-authority *.example.com " + authorized(ca.PublicKey())}, "web.example.com:22", true},
		{"CA for the domain, any port", []string{"@cert-authority [*.example.com]:* " + authorized(ca.PublicKey())}, "web.example.com:2222", true},
		{"CA for another domain", []string{"@cert-authority *.example.org " + authorized(ca.PublicKey())}, "web.example.com:22", false},
		{"principal not in the certificate", []string{"@cert-authority * " + authorized(ca.PublicKey())}, "db.example.com:22", false},
		{"CA key as a plain host key", []string{"* " + authorized(ca.PublicKey())}, "web.example.com:22", false},
		{"CA revoked", []string{"@cert-authority * " + authorized(ca.PublicKey()), "@revoked * " + authorized(ca.PublicKey())}, "web.example.com:22", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := readKnownHosts([]string{writeKnownHosts(t, tt.lines...)})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.check(tt.host, noAddr, cert); (err == nil) != tt.ok {
				t.Errorf("certificate for %s: %v, want ok %v", tt.host, err, tt.ok)
			}
		})
	}
}

// The handshake asks for the key types on record for the host, in the
// order of the files.
func TestKnownHostsAlgorithms(t *testing.T) {
	ed := authorized(testSigner(t).PublicKey())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rs := authorized(rsaPub)
	rsaAlgos := []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	for _, tt := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"nothing known", []string{"other.example.com " + ed}, nil},
		{"ed25519", []string{"[127.0.0.1]:2222 " + ed}, []string{ssh.KeyAlgoED25519}},
		{"by a wildcard", []string{"[127.0.0.1]:* " + ed}, []string{ssh.KeyAlgoED25519}},
		{"in file order", []string{"[127.0.0.1]:2222 " + rs, "* " + ed}, append(rsaAlgos, ssh.KeyAlgoED25519)},
		{"hashed", []string{knownhosts.HashHostname("[127.0.0.1]:2222") + " " + ed}, []string{ssh.KeyAlgoED25519}},
		{"certificates first", []string{"[127.0.0.1]:2222 " + ed, "@cert-authority * " + ed}, []string{
			ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
			ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.KeyAlgoED25519}},
		{"only a CA: the defaults", []string{"@cert-authority * " + ed}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := readKnownHosts([]string{writeKnownHosts(t, tt.lines...)})
			if err != nil {
				t.Fatal(err)
			}
			if got := db.algorithms("127.0.0.1:2222"); !slices.Equal(got, tt.want) {
				t.Errorf("algorithms = %q, want %q", got, tt.want)
			}
		})
	}
}

// A key accepted in a run is known at once: another key for the same host
// in the same run is a changed key, and the first is recorded once.
func TestAcceptNewThenAnotherKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	hk, err := newHostKeys([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	first, second := testSigner(t).PublicKey(), testSigner(t).PublicKey()
	check := hk.callback(true)
	if err := check("127.0.0.1:2222", noAddr, first); err != nil {
		t.Fatalf("first key: %v", err)
	}
	if !hk.acceptedThisRun("127.0.0.1:2222") || hk.acceptedThisRun("127.0.0.1:2223") {
		t.Error("acceptedThisRun does not name the host accepted")
	}
	if err := check("127.0.0.1:2222", noAddr, first); err != nil {
		t.Errorf("first key again: %v", err)
	}
	var hkErr *HostKeyError
	if err := check("127.0.0.1:2222", noAddr, second); !errors.As(err, &hkErr) || hkErr.Kind != "changed" {
		t.Errorf("second key: got %v, want a changed key", err)
	}
	if got := hk.algorithms("127.0.0.1:2222"); !slices.Equal(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("algorithms after accepting: %q", got)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[127.0.0.1]:2222 " + authorized(first) + "\n"; string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
}

// A key is appended on a line of its own, even to a file whose last line
// has no newline.
func TestRecordAfterUnterminatedLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	old := "other.example.com " + authorized(testSigner(t).PublicKey())
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	hk, err := newHostKeys([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	key := testSigner(t).PublicKey()
	if err := hk.callback(true)("web.example.com:22", noAddr, key); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if want := old + "\nweb.example.com " + authorized(key) + "\n"; string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
}
