package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// HostSpec is where to reach one host: [user@]host[:port]. IPv6 addresses
// are written in brackets when a port follows ([::1]:2222).
type HostSpec struct {
	User string `json:"user,omitempty"`
	Host string `json:"host"`
	Port int    `json:"port,omitempty"` // 0: not given (ssh_config or 22 decides)
}

// LocalHost is the host name that means "this machine, without SSH".
const LocalHost = "local"

// String writes the spec back in the form ParseHostSpec reads.
func (s HostSpec) String() string {
	host := s.Host
	if s.Port != 0 {
		host = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if s.User != "" {
		return s.User + "@" + host
	}
	return host
}

// ParseHostSpec reads [user@]host[:port]. It refuses anything that could be
// mistaken for an option or smuggle a command into ssh or a shell: a leading
// '-', whitespace, quotes, or characters no host name or user name has.
func ParseHostSpec(spec string) (HostSpec, error) {
	var s HostSpec
	if spec == "" {
		return s, fmt.Errorf("empty host")
	}
	rest := spec
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		s.User, rest = rest[:at], rest[at+1:]
		if err := checkUser(s.User); err != nil {
			return HostSpec{}, err
		}
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return HostSpec{}, err
	}
	if err := checkHost(host); err != nil {
		return HostSpec{}, err
	}
	s.Host, s.Port = host, port
	return s, nil
}

func splitHostPort(hp string) (host string, port int, err error) {
	switch {
	case strings.HasPrefix(hp, "["):
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("%q: missing ']' after an IPv6 address", hp)
		}
		host = hp[1:end]
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("%q: only IPv6 addresses go in brackets", hp)
		}
		after := hp[end+1:]
		if after == "" {
			return host, 0, nil
		}
		if !strings.HasPrefix(after, ":") {
			return "", 0, fmt.Errorf("%q: expected ':PORT' after ']'", hp)
		}
		port, err = parsePort(after[1:])
		return host, port, err
	case strings.Count(hp, ":") > 1:
		// A bare IPv6 address cannot carry a port: [::1]:22 can.
		if _, err := netip.ParseAddr(hp); err != nil {
			return "", 0, fmt.Errorf("%q: not an IPv6 address; write IPv6 with a port as [addr]:port", hp)
		}
		return hp, 0, nil
	case strings.Contains(hp, ":"):
		i := strings.IndexByte(hp, ':')
		port, err = parsePort(hp[i+1:])
		return hp[:i], port, err
	}
	return hp, 0, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' || p[0] == '0' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		// The zone of fe80::1%eth0 is an interface name: keep it plain.
		for _, c := range ip.Zone() {
			if !isAlnum(c) && c != '-' && c != '.' && c != '_' {
				return fmt.Errorf("interface %q of %q has %q", ip.Zone(), h, c)
			}
		}
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	if h[0] == '-' || h[0] == '.' {
		return fmt.Errorf("host name %q starts with %q", h, h[0])
	}
	for _, c := range h {
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' {
			return fmt.Errorf("host name %q has %q: a host name has letters, digits, '-', '_' and '.'", h, c)
		}
	}
	return nil
}

func checkUser(u string) error {
	if u == "" {
		return fmt.Errorf("empty user before '@'")
	}
	if u[0] == '-' {
		return fmt.Errorf("user %q starts with '-'", u)
	}
	for i, c := range u {
		ok := isAlnum(c) || c == '_' || c == '-' || c == '.' || (c == '$' && i == len(u)-1)
		if !ok {
			return fmt.Errorf("user %q has %q: a user name has letters, digits, '_', '-' and '.'", u, c)
		}
	}
	return nil
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
