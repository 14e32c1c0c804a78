package config

import (
	"fmt"
	"strings"
)

// Ad-hoc hosts: hosts a command names that the Deployfile does not, as
// `fab -H` and `ansible -i host,` take them.

// Empty is a Deployfile with no hosts, groups nor tasks, under the name
// file, for the commands that work without one (exec, check TARGET): the
// hosts come from the command line, and ssh_config decides the rest.
func Empty(file string, opts LoadOptions) (*Deployfile, error) {
	return Parse(file, nil, opts)
}

// LooksLikeHostSpec reports whether a target's part is written as a host
// rather than a name: it holds '@', ':', '.' or brackets (user@web1,
// web1:2222, web1.example.com, 10.0.0.1, [::1]:22). A plain word is a
// group or host of the Deployfile, or a typo of one, never an address.
func LooksLikeHostSpec(part string) bool {
	return strings.ContainsAny(part, "@:.[")
}

// adHocHost is the host a part written as [user@]host[:port] names.
func adHocHost(part string) (*Host, error) {
	spec, err := ParseHostSpec(part)
	if err != nil {
		return nil, fmt.Errorf("bad host %q: %v — write [user@]host[:port], with IPv6 in brackets: [::1]:22", part, err)
	}
	return &Host{Name: part, HostSpec: spec, Vars: map[string]*Var{}}, nil
}

// ResolveHosts is Resolve for an explicit host list (-H): each part is a
// group or host of the Deployfile, or else a host, whatever it looks like
// (a bare ssh_config alias included).
func (df *Deployfile) ResolveHosts(list string) ([]*Host, error) {
	return df.resolve(list, true)
}

// Suggest is the candidate nearest to s, or "" when none is near enough
// to be a typo of it.
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }
