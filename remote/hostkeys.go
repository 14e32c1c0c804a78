package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key deploy will not trust.
type HostKeyError struct {
	Kind        string // "unknown", "changed" or "revoked"
	Host        string // host:port as dialled
	KeyType     string
	Fingerprint string   // SHA256 of the key the host presented
	Known       []string // file:line of the keys on record, for "changed"
	Files       []string // the known_hosts files consulted
}

func (e *HostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Host)
	entry := xknownhosts.Normalize(e.Host)
	scan := "ssh-keyscan " + host
	if port != "22" {
		scan = "ssh-keyscan -p " + port + " " + host
	}
	file := "~/.ssh/known_hosts"
	if len(e.Files) > 0 {
		file = e.Files[0]
	}
	switch e.Kind {
	case "changed":
		return fmt.Sprintf("HOST KEY CHANGED for %s: it now presents %s %s, but %s records another key. "+
			"Someone may be intercepting the connection, or the host was reinstalled. Refusing to connect. "+
			"If you know why the key changed, remove the old entry (ssh-keygen -R '%s' -f %s) and connect again",
			e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "), entry, file)
	case "revoked":
		return fmt.Sprintf("host key %s %s of %s is marked @revoked in known_hosts; refusing to connect",
			e.KeyType, e.Fingerprint, e.Host)
	}
	return fmt.Sprintf("unknown host key for %s: %s %s is not in %s. Check this fingerprint with the host's administrator, "+
		"then run again with --accept-new-host-keys to record it (or: %s >> %s)",
		e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Files, ", "), scan, file)
}

// hostKeys checks host keys against known_hosts files and, when asked,
// records keys of hosts not seen before (OpenSSH's accept-new). A changed
// or revoked key is refused whatever the settings. A key it records is
// part of its view at once: another key for that host in the same run is
// a changed key.
type hostKeys struct {
	files []string // known_hosts files; new keys go to the first

	mu       sync.Mutex
	db       *knownHostsDB
	accepted map[string]bool // hosts (as known_hosts names them) recorded in this run
}

func newHostKeys(files []string) (*hostKeys, error) {
	db, err := readKnownHosts(files)
	if err != nil {
		return nil, err
	}
	return &hostKeys{files: files, db: db, accepted: map[string]bool{}}, nil
}

// algorithms are the key types known_hosts holds for addr, so that the
// handshake asks for one of them; otherwise the server may offer another
// type of its keys and a good host looks like a changed one.
func (h *hostKeys) algorithms(addr string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.db.algorithms(addr)
}

// acceptedThisRun reports whether the key of addr was recorded in this
// run rather than known before it.
func (h *hostKeys) acceptedThisRun(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accepted[xknownhosts.Normalize(addr)]
}

func (h *hostKeys) callback(acceptNew bool) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		// One check at a time: two handshakes with a new host must not
		// both find it unknown and record two keys.
		h.mu.Lock()
		defer h.mu.Unlock()
		err := h.db.check(hostname, remote, key)
		if err == nil {
			return nil
		}
		e := &HostKeyError{Host: hostname, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), Files: h.files}
		var revoked *xknownhosts.RevokedError
		var keyErr *xknownhosts.KeyError
		switch {
		case errors.As(err, &revoked):
			e.Kind = "revoked"
			return e
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			e.Kind = "changed"
			for _, k := range keyErr.Want {
				e.Known = append(e.Known, k.Filename+":"+strconv.Itoa(k.Line))
			}
			return e
		case errors.As(err, &keyErr):
			e.Kind = "unknown"
			if !acceptNew {
				return e
			}
			return h.record(hostname, key)
		}
		return err
	}
}

// record appends a newly accepted key to the first known_hosts file and
// reads the files again, so that the key is known from now on. h.mu is
// held.
func (h *hostKeys) record(hostname string, key ssh.PublicKey) error {
	if len(h.files) == 0 {
		return errors.New("no known_hosts file to record the host key in")
	}
	name := xknownhosts.Normalize(hostname)
	if strings.ContainsAny(name, " \t\n,") {
		return fmt.Errorf("known_hosts: cannot record host name %q", name)
	}
	file := h.files[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	line := xknownhosts.Line([]string{name}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		// A file whose last line has no newline gets one first.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	db, err := readKnownHosts(h.files)
	if err != nil {
		return err
	}
	h.db = db
	h.accepted[name] = true
	return nil
}
