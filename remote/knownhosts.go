package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsDB is known_hosts files matched as OpenSSH matches them, by
// golang.org/x/crypto/ssh/knownhosts: patterns with * and ?, negation
// (!pattern), [host]:port, hashed names (|1|…), @revoked and
// @cert-authority.
//
// OpenSSH matches a pattern against the whole name it looks up: "host"
// on port 22, "[host]:port" on any other. x/crypto splits the pattern
// into host and port and compares ports exactly, so `[10.0.0.1]:*` or
// `*` would never match a host on port 2222. Plain patterns and the name
// looked up are therefore given to x/crypto in a spelling without ':'
// and brackets (one byte for one byte, so * and ? match as before), which
// it reads as a host on port 22 and matches whole. Hashed names hash the
// real "[host]:port" and are checked as written. x/crypto reads only
// files: the rewritten lines go to a temporary directory, removed once
// read, at their original line numbers.
type knownHostsDB struct {
	keys, hashedKeys ssh.HostKeyCallback // host keys; keys also holds @revoked
	cas, hashedCAs   ssh.HostKeyCallback // @cert-authority keys, as host keys
	names            map[string]string   // x/crypto's file name → the file read
}

// The groups a known_hosts line goes to, one file each for x/crypto.
const (
	groupKeys = iota
	groupHashedKeys
	groupCAs
	groupHashedCAs
	groups
)

func readKnownHosts(files []string) (*knownHostsDB, error) {
	tmp, err := os.MkdirTemp("", "deploy-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	defer os.RemoveAll(tmp)
	db := &knownHostsDB{names: map[string]string{}}
	var byGroup [groups][]string
	for i, file := range files {
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		split, err := splitKnownHosts(data)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		for g, lines := range split {
			if strings.TrimSpace(strings.Join(lines, "")) == "" {
				continue
			}
			name := filepath.Join(tmp, strconv.Itoa(i)+"-"+strconv.Itoa(g))
			if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("known_hosts: %w", err)
			}
			db.names[name] = file
			byGroup[g] = append(byGroup[g], name)
		}
	}
	for g, cb := range []*ssh.HostKeyCallback{&db.keys, &db.hashedKeys, &db.cas, &db.hashedCAs} {
		if *cb, err = knownhosts.New(byGroup[g]...); err != nil {
			return nil, fmt.Errorf("known_hosts: %w", db.rename(err))
		}
	}
	return db, nil
}

// splitKnownHosts sorts the lines of a known_hosts file into the groups,
// each a list of lines as long as the file, blank where the line went to
// another group, so line numbers stay. Lines x/crypto could not read are
// skipped, as OpenSSH skips them; a file of nothing else is an error.
func splitKnownHosts(data []byte) ([groups][]string, error) {
	var out [groups][]string
	var firstErr error
	valid := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 0; sc.Scan(); n++ {
		for g := range out {
			out[g] = append(out[g], "")
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		marker, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err == nil && marker != "" && marker != "cert-authority" && marker != "revoked" {
			err = fmt.Errorf("unknown marker @%s", marker)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("line %d: %w", n+1, err)
			}
			continue
		}
		valid++
		fields := strings.Fields(line)
		if marker != "" {
			fields = fields[1:]
		}
		hashed := strings.HasPrefix(fields[0], "|")
		if !hashed {
			fields[0] = spellPatterns(fields[0])
		}
		g := groupKeys
		switch {
		case marker == "revoked":
			// x/crypto refuses a revoked key for every host; its
			// pattern is not looked at.
			fields = append([]string{"@revoked"}, fields...)
		case marker == "cert-authority" && hashed:
			g = groupHashedCAs
		case marker == "cert-authority":
			g = groupCAs
		case hashed:
			g = groupHashedKeys
		}
		out[g][n] = strings.Join(fields, " ")
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if valid == 0 && firstErr != nil {
		return out, firstErr
	}
	return out, nil
}

// spelling writes a name OpenSSH looks up, or a pattern for one, so that
// x/crypto reads it as one host on port 22: ':' and brackets, which no
// host name holds, become bytes no host name holds either.
var spelling = strings.NewReplacer(":", "+", "[", "{", "]", "}")

func spellPatterns(patterns string) string {
	ps := strings.Split(patterns, ",")
	for i, p := range ps {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			ps[i] = "!" + spelling.Replace(neg)
		} else {
			ps[i] = spelling.Replace(p)
		}
	}
	return strings.Join(ps, ",")
}

// noAddr stands for the remote address where there is none: x/crypto
// reads it even when it matches by name.
var noAddr net.Addr = &net.TCPAddr{IP: net.IPv4zero}

// check is the host key callback of the files: nil for a known key, a
// *knownhosts.KeyError for an unknown (Want empty) or a changed one, a
// *knownhosts.RevokedError for a revoked one. A certificate is checked
// against the @cert-authority keys for the host.
func (db *knownHostsDB) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		return db.lookup(db.keys, db.hashedKeys, hostname, remote, key)
	}
	checker := ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			return db.lookup(db.cas, db.hashedCAs, hostname, remote, auth) == nil
		},
		IsRevoked: func(c *ssh.Certificate) bool { return db.revoked(c.Key) || db.revoked(c.SignatureKey) },
	}
	if err := checker.CheckHostKey(hostname, remote, cert); err != nil {
		return fmt.Errorf("host certificate of %s: %w", hostname, err)
	}
	return nil
}

func (db *knownHostsDB) revoked(key ssh.PublicKey) bool {
	var revoked *knownhosts.RevokedError
	return errors.As(db.keys("revoked:22", noAddr, key), &revoked)
}

// lookup asks the callbacks of plain and hashed entries about key for
// hostname, and merges their answers.
func (db *knownHostsDB) lookup(plain, hashed ssh.HostKeyCallback, hostname string, remote net.Addr, key ssh.PublicKey) error {
	if remote == nil {
		remote = noAddr
	}
	if hostname == "" {
		hostname = remote.String()
	}
	// The name OpenSSH looks up: "host" on port 22, else "[host]:port".
	name := knownhosts.Normalize(hostname)
	errPlain := plain(net.JoinHostPort(spelling.Replace(name), "22"), remote, key)
	var revoked *knownhosts.RevokedError
	if errPlain == nil || errors.As(errPlain, &revoked) {
		return db.rename(errPlain)
	}
	host, port, err := net.SplitHostPort(hostname)
	if err != nil {
		host, port = hostname, "22"
	}
	errHashed := hashed(net.JoinHostPort(host, port), remote, key)
	if errHashed == nil {
		return nil
	}
	var a, b *knownhosts.KeyError
	if !errors.As(errPlain, &a) {
		return fmt.Errorf("known_hosts: %w", errPlain)
	}
	if !errors.As(errHashed, &b) {
		return fmt.Errorf("known_hosts: %w", errHashed)
	}
	merged := &knownhosts.KeyError{Want: append(append([]knownhosts.KnownKey(nil), a.Want...), b.Want...)}
	return db.rename(merged)
}

// rename makes the file names in x/crypto's errors those of the files read.
func (db *knownHostsDB) rename(err error) error {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &keyErr):
		for i := range keyErr.Want {
			keyErr.Want[i].Filename = db.name(keyErr.Want[i].Filename)
		}
	case errors.As(err, &revoked):
		revoked.Revoked.Filename = db.name(revoked.Revoked.Filename)
	}
	return err
}

func (db *knownHostsDB) name(tmp string) string {
	if n, ok := db.names[tmp]; ok {
		return n
	}
	return tmp
}

// algorithms are the host key algorithms of the keys the files hold for
// hostname, in their order, certificates first when an @cert-authority
// entry covers the host; nil when they hold none.
func (db *knownHostsDB) algorithms(hostname string) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(as ...string) {
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	var keyErr *knownhosts.KeyError
	if errors.As(db.lookup(db.cas, db.hashedCAs, hostname, nil, placeholderKey{}), &keyErr) && len(keyErr.Want) > 0 {
		add(ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
			ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01)
	}
	certs := len(algos)
	if errors.As(db.lookup(db.keys, db.hashedKeys, hostname, nil, placeholderKey{}), &keyErr) {
		for _, k := range keyErr.Want {
			if k.Key.Type() == ssh.KeyAlgoRSA {
				add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			} else {
				add(k.Key.Type())
			}
		}
	}
	if certs > 0 && len(algos) == certs {
		// Only a CA is known: a host without a certificate must still
		// be able to show its key, to be refused as unknown.
		return nil
	}
	return algos
}

// placeholderKey is no real key: looking it up lists the keys on record.
type placeholderKey struct{}

func (placeholderKey) Type() string                        { return "deploy-placeholder" }
func (placeholderKey) Marshal() []byte                     { return []byte("deploy placeholder key") }
func (placeholderKey) Verify([]byte, *ssh.Signature) error { return errors.New("placeholder key") }
