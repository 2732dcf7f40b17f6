package ticket

import "sync"

// Gate lets one ticket at a time place an order. Every viewer of one IB
// session (the dashboard and each SSH viewer) shares one Gate, so a
// second placement cannot start while IB has not answered the first and
// two pending questions never compete for the same reply id.
type Gate struct {
	mu     sync.Mutex
	holder string // cOID of the order being placed; empty when free
}

// Acquire takes the gate for the order coid. When another order holds
// it, Acquire returns that order's cOID and false.
func (g *Gate) Acquire(coid string) (holder string, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder != "" && g.holder != coid {
		return g.holder, false
	}
	g.holder = coid
	return coid, true
}

// Release frees the gate if coid holds it.
func (g *Gate) Release(coid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder == coid {
		g.holder = ""
	}
}

// Holder returns the cOID of the order being placed, or "" when none is.
func (g *Gate) Holder() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.holder
}
