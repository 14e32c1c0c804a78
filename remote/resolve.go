package remote

import (
	"fmt"
	"strings"
)

// Resolve is the identity of the machine target reaches, for ordering
// locks: "user@hostname:port" after ssh_config's HostName, User and Port,
// so that two aliases of one machine (or an alias and the address it
// names) give the same string. A host behind ProxyJump is prefixed by its
// hops, resolved the same way, first hop first:
// "jump1>jump2>user@host:port". Host names are compared as given, in
// lower case: a name and its IP address are two identities. It connects to
// nothing.
func (p *Pool) Resolve(t Target) (string, error) {
	e, err := p.config.resolve(t)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", t, err)
	}
	// As Dial does, each hop is reached through the hops before it, not
	// through a ProxyJump of its own.
	parts := make([]string, 0, len(e.jumps)+1)
	for _, hop := range e.jumps {
		je, err := p.config.resolve(hop)
		if err != nil {
			return "", fmt.Errorf("resolve %s: jump host %s: %w", t, hop, err)
		}
		parts = append(parts, identity(je))
	}
	return strings.Join(append(parts, identity(e)), ">"), nil
}

func identity(e *endpoint) string {
	host := *e
	host.hostname = strings.ToLower(e.hostname)
	return host.user + "@" + host.addr()
}

// User is the user target logs in as: its own, else ssh_config's User,
// else this machine's user name, as ssh decides. It connects to nothing.
func (p *Pool) User(t Target) (string, error) {
	e, err := p.config.resolve(t)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", t, err)
	}
	return e.user, nil
}
