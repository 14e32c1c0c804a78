package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyring gathers the signers to authenticate with: the ssh-agent's first,
// then key files. A key file is read once per run; a passphrase is asked
// once per file, and only when there is a way to ask.
type keyring struct {
	agentSocket string
	passphrase  func(file string) ([]byte, error) // nil: no way to ask

	mu        sync.Mutex
	agentOnce sync.Once
	agentConn net.Conn
	agent     agent.ExtendedAgent
	agentErr  error
	files     map[string]fileKey
}

type fileKey struct {
	signer ssh.Signer
	// skipped says why a key file that exists gave no signer.
	skipped string
}

// signers returns the keys to offer, in OpenSSH's order: the key files
// named (ssh_config's IdentityFile first) — through the agent when it
// holds the same key, so no passphrase is asked — then, unless
// identitiesOnly, the agent's other keys. The key a host expects is
// offered first, and sshd's MaxAuthTries (6) is not spent on the agent's
// other keys before it. notes says what was skipped, for the error when
// nothing works.
func (k *keyring) signers(files []string, identitiesOnly bool) (signers []ssh.Signer, notes []string) {
	var agentKeys []ssh.Signer
	if a := k.agentClient(); a != nil {
		if s, err := a.Signers(); err == nil {
			agentKeys = s
		} else {
			notes = append(notes, "ssh-agent: "+err.Error())
		}
	} else if k.agentErr != nil {
		notes = append(notes, "ssh-agent: "+k.agentErr.Error())
	}
	used := map[string]bool{}
	for _, f := range files {
		if pub := publicKeyOf(f); pub != nil {
			if s := findKey(agentKeys, pub); s != nil {
				if !used[string(pub.Marshal())] {
					signers = append(signers, s)
					used[string(pub.Marshal())] = true
				}
				continue
			}
		}
		fk, ok := k.load(f)
		if !ok {
			continue
		}
		if fk.signer == nil {
			notes = append(notes, fk.skipped)
			continue
		}
		if key := string(fk.signer.PublicKey().Marshal()); !used[key] {
			signers = append(signers, fk.signer)
			used[key] = true
		}
	}
	if identitiesOnly {
		return signers, notes
	}
	for _, s := range agentKeys {
		if key := string(s.PublicKey().Marshal()); !used[key] {
			signers = append(signers, s)
			used[key] = true
		}
	}
	return signers, notes
}

// publicKeyOf is the public key of a key file, without its passphrase:
// from file.pub, or from the private key's own header; nil when neither
// says.
func publicKeyOf(file string) ssh.PublicKey {
	if data, err := os.ReadFile(file + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			return pub
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer.PublicKey()
	case errors.As(err, &missing):
		return missing.PublicKey
	}
	return nil
}

// findKey is the signer of keys whose public key is pub.
func findKey(keys []ssh.Signer, pub ssh.PublicKey) ssh.Signer {
	want := pub.Marshal()
	for _, s := range keys {
		if string(s.PublicKey().Marshal()) == string(want) {
			return s
		}
	}
	return nil
}

func (k *keyring) agentClient() agent.ExtendedAgent {
	k.agentOnce.Do(func() {
		if k.agentSocket == "" {
			return
		}
		conn, err := net.Dial("unix", k.agentSocket)
		if err != nil {
			k.agentErr = fmt.Errorf("cannot reach SSH_AUTH_SOCK %s: %w", k.agentSocket, err)
			return
		}
		k.agentConn, k.agent = conn, agent.NewClient(conn)
	})
	return k.agent
}

// load reads one key file; ok is false when the file does not exist.
func (k *keyring) load(file string) (fileKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.files == nil {
		k.files = map[string]fileKey{}
	}
	if fk, ok := k.files[file]; ok {
		return fk, true
	}
	pem, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fileKey{}, false
	}
	var fk fileKey
	switch {
	case err != nil:
		fk.skipped = fmt.Sprintf("key %s: %v", file, err)
	default:
		fk.signer, err = ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing) && k.passphrase != nil:
			pass, perr := k.passphrase(file)
			if perr != nil {
				fk.skipped = fmt.Sprintf("key %s: %v", file, perr)
				break
			}
			fk.signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
			if err != nil {
				fk.skipped = fmt.Sprintf("key %s: %v", file, err)
			}
		case errors.As(err, &missing):
			fk.skipped = fmt.Sprintf("key %s is passphrase-protected and there is no terminal to ask on: add it to ssh-agent (ssh-add %s)", file, file)
		case err != nil:
			fk.skipped = fmt.Sprintf("key %s: %v", file, err)
		}
	}
	k.files[file] = fk
	return fk, true
}

// Close lets go of the agent connection.
func (k *keyring) Close() error {
	if k.agentConn != nil {
		return k.agentConn.Close()
	}
	return nil
}

// defaultIdentityFiles are OpenSSH's, tried when ssh_config and the caller
// name none.
func defaultIdentityFiles(home string) []string {
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

// AuthError is a host that answered, showed a trusted host key, and
// accepted none of the keys offered.
type AuthError struct {
	User, Addr string
	Tried      int      // keys offered
	Notes      []string // what was skipped, and why
	Err        error
}

func (e *AuthError) Error() string {
	msg := fmt.Sprintf("authentication as %s on %s failed: the host accepted none of %d keys (agent and key files)", e.User, e.Addr, e.Tried)
	if e.Tried == 0 {
		msg = fmt.Sprintf("authentication as %s on %s failed: no keys to offer — start ssh-agent and ssh-add a key, or set IdentityFile", e.User, e.Addr)
	}
	if len(e.Notes) > 0 {
		msg += "; " + strings.Join(e.Notes, "; ")
	}
	return msg
}

func (e *AuthError) Unwrap() error { return e.Err }

func authError(e *endpoint, tried int, notes []string, err error) error {
	return &AuthError{User: e.user, Addr: e.addr(), Tried: tried, Notes: notes, Err: err}
}
