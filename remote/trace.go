package remote

import (
	"cmp"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// TraceKind says what a TraceEvent reports.
type TraceKind int

// What a Pool traces.
const (
	TraceConnect    TraceKind = iota // a connection made (or not), with how
	TraceCommand                     // a command about to be sent
	TraceCommandEnd                  // a command ended, with its status
)

// TraceEvent is one thing a Pool did, for `deploy -v`. Host is the Target
// as the caller gave it (Target.String()). A command's Script is as the
// caller wrote it, secrets included: masking them is the tracer's job.
// Environment values are never given, only their names.
type TraceEvent struct {
	Kind TraceKind
	Host string

	// TraceConnect.
	Addr         string        // host:port dialled, after ssh_config
	User         string        // the user logged in as
	Jumps        []string      // ProxyJump hops, first first
	HostKey      string        // "ssh-ed25519 SHA256:…" the host showed
	HostKeyCheck string        // how known_hosts judged it
	Keys         []string      // the keys offered, in order, and where from
	Accepted     string        // the key the host accepted, when known
	Dial         time.Duration // TCP connection (through the jump hosts)
	Handshake    time.Duration // SSH key exchange and authentication

	// TraceCommand and TraceCommandEnd.
	Command string   // how the script runs: "sh", under sudo as a user, on a terminal
	Script  string   // the script, as the caller wrote it
	Env     []string // names of the variables exported first

	Duration time.Duration // TraceConnect: in all; TraceCommandEnd: the command's
	Err      error         // failure; an *ExitError for a non-zero exit
}

// trace sends e to the pool's tracer, if it has one.
func (p *Pool) trace(e TraceEvent) {
	if p.opts.Trace != nil {
		p.opts.Trace(e)
	}
}

// connTrace gathers what a dial learns, for TraceConnect. It is nil when
// nothing traces, and then records nothing.
type connTrace struct {
	mu sync.Mutex
	ev TraceEvent
}

func (p *Pool) newConnTrace(e *endpoint) *connTrace {
	if p.opts.Trace == nil {
		return nil
	}
	ct := &connTrace{ev: TraceEvent{Kind: TraceConnect, Host: e.name, Addr: e.addr(), User: e.user}}
	for _, j := range e.jumps {
		ct.ev.Jumps = append(ct.ev.Jumps, j.String())
	}
	return ct
}

func (ct *connTrace) setDial(d time.Duration) {
	if ct != nil {
		ct.mu.Lock()
		ct.ev.Dial = d
		ct.mu.Unlock()
	}
}

func (ct *connTrace) setHandshake(d time.Duration) {
	if ct != nil {
		ct.mu.Lock()
		ct.ev.Handshake = d
		ct.mu.Unlock()
	}
}

// done sends the event, with err.
func (ct *connTrace) done(p *Pool, err error) {
	if ct == nil {
		return
	}
	ct.mu.Lock()
	ev := ct.ev
	ct.mu.Unlock()
	ev.Duration, ev.Err = ev.Dial+ev.Handshake, err
	p.trace(ev)
}

// watch makes cfg tell ct the host key and how known_hosts judged it,
// and which of the offered keys the host accepted.
func (ct *connTrace) watch(cfg *ssh.ClientConfig, hk *hostKeys, keys []ssh.Signer, files []string) {
	if ct == nil {
		return
	}
	check := cfg.HostKeyCallback
	cfg.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		verdict := "known: in " + strings.Join(hk.files, ", ")
		var hkErr *HostKeyError
		switch {
		case errors.As(err, &hkErr):
			verdict = hkErr.Kind + ": refused"
		case err != nil:
			verdict = "refused: " + err.Error()
		case hk.acceptedThisRun(hostname):
			verdict = "new: recorded in " + hk.files[0] + " (accept-new)"
		}
		ct.mu.Lock()
		ct.ev.HostKey, ct.ev.HostKeyCheck = key.Type()+" "+ssh.FingerprintSHA256(key), verdict
		ct.mu.Unlock()
		return err
	}
	from := keySources(files)
	var offered []ssh.Signer
	for _, k := range keys {
		desc := describeKey(k.PublicKey(), from)
		ct.ev.Keys = append(ct.ev.Keys, desc)
		offered = append(offered, usedSigner(k, func() {
			ct.mu.Lock()
			ct.ev.Accepted = desc
			ct.mu.Unlock()
		}))
	}
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(offered...)}
}

// keySources maps the public keys of key files to the files.
func keySources(files []string) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		if pub := publicKeyOf(f); pub != nil {
			if _, ok := out[string(pub.Marshal())]; !ok {
				out[string(pub.Marshal())] = f
			}
		}
	}
	return out
}

func describeKey(pub ssh.PublicKey, files map[string]string) string {
	where := "ssh-agent"
	if f, ok := files[string(pub.Marshal())]; ok {
		where = f
	}
	return pub.Type() + " " + ssh.FingerprintSHA256(pub) + " (" + where + ")"
}

// usedSigner is s, calling used when it signs: x/crypto asks the host
// whether it accepts a key before signing with it, so the key that signs
// last is the one that logged in. A signer that cannot choose its
// algorithm is left as it is.
func usedSigner(s ssh.Signer, used func()) ssh.Signer {
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return s
	}
	w := signerWatch{as, used}
	if ms, ok := s.(ssh.MultiAlgorithmSigner); ok {
		return multiSignerWatch{w, ms.Algorithms()}
	}
	return w
}

type signerWatch struct {
	ssh.AlgorithmSigner
	used func()
}

func (w signerWatch) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	w.used()
	return w.AlgorithmSigner.Sign(rand, data)
}

func (w signerWatch) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	w.used()
	return w.AlgorithmSigner.SignWithAlgorithm(rand, data, algorithm)
}

type multiSignerWatch struct {
	signerWatch
	algorithms []string
}

func (w multiSignerWatch) Algorithms() []string { return w.algorithms }

// traced runs cmd as Run does, telling the tracer what is sent, how long
// it took and how it ended.
func (c *sshConn) traced(ctx context.Context, cmd *Cmd) error {
	how := "sh"
	if cmd.Sudo {
		how += " under sudo as " + cmp.Or(cmd.SudoUser, "root")
	}
	if cmd.TTY {
		how += " on a terminal"
	}
	ev := TraceEvent{Kind: TraceCommand, Host: c.name, Command: how, Script: cmd.Script,
		Env: slices.Sorted(maps.Keys(cmd.Env))}
	c.pool.trace(ev)
	start := time.Now()
	err := c.runCmd(ctx, cmd)
	ev.Kind, ev.Duration, ev.Err = TraceCommandEnd, time.Since(start), err
	c.pool.trace(ev)
	return err
}
