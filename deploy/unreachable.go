package deploy

import (
	"maps"
	"sync"
)

// Unreachable is the outcome, in a plan, of a step on a host that could
// not be reached (or whose state could not be read) as the plan began:
// the plan goes on with the other hosts and says why for this one.
const Unreachable Outcome = "unreachable"

// unreachableHosts are the hosts a plan could not reach, and why. It is
// safe for concurrent use; a nil one holds none.
type unreachableHosts struct {
	mu    sync.Mutex
	hosts map[string]string
}

func (u *unreachableHosts) add(host string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.hosts == nil {
		u.hosts = map[string]string{}
	}
	u.hosts[host] = err.Error()
}

// why is why host could not be reached; ok is false when it could.
func (u *unreachableHosts) why(host string) (why string, ok bool) {
	if u == nil {
		return "", false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	why, ok = u.hosts[host]
	return why, ok
}

// all are the hosts and why, nil when there are none.
func (u *unreachableHosts) all() map[string]string {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.hosts) == 0 {
		return nil
	}
	return maps.Clone(u.hosts)
}

// planWithout notes, as a plan begins, the hosts whose state could not be
// read: the plan goes on without them, and reports each.
func (x *execution) planWithout(failed map[string]error) {
	for h, err := range failed {
		x.r.unreachable.add(h, err)
	}
}
