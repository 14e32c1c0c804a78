package sshtest

import "sync"

// Gauge counts what is in flight — handshakes, say — and keeps the most
// there were at once. A Gauge made with a parent counts into it too, so a
// fleet of servers can keep each server's peak and the fleet's. It is safe
// for concurrent use; the zero value is a Gauge without a parent.
type Gauge struct {
	parent *Gauge

	mu   sync.Mutex
	now  int
	peak int
}

// NewGauge returns a Gauge that also counts into parent (nil for none).
func NewGauge(parent *Gauge) *Gauge { return &Gauge{parent: parent} }

// Inc counts one more in flight; Dec one fewer.
func (g *Gauge) Inc() { g.add(1) }
func (g *Gauge) Dec() { g.add(-1) }

func (g *Gauge) add(d int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.now += d
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
	g.parent.add(d)
}

// Now is how many are in flight now.
func (g *Gauge) Now() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now
}

// Peak is the most in flight at once since the Gauge was made or last
// reset.
func (g *Gauge) Peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// Reset starts a new peak from what is in flight now.
func (g *Gauge) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.peak = g.now
}
