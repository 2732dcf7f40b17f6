package ibsim

import (
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// limitRule is one per-endpoint limit from IB's rate-limit table.
type limitRule struct {
	method string // "" matches every method
	path   string // exact, or a prefix when it ends in "/"
	every  time.Duration
	burst  int
}

// endpointLimits is IB's published table. Paths the simulator does not
// serve are listed too, so a client meets the limit before the 404.
var endpointLimits = []limitRule{
	{"GET", "/iserver/marketdata/snapshot", time.Second / 10, 10},
	{"GET", "/iserver/scanner/params", 15 * time.Minute, 1},
	{"POST", "/iserver/scanner/run", time.Second, 1},
	{"GET", "/iserver/account/trades", 5 * time.Second, 1},
	{"GET", "/iserver/account/orders", 5 * time.Second, 1},
	{"GET", "/iserver/account/pnl/partitioned", 5 * time.Second, 1},
	{"GET", "/portfolio/accounts", 5 * time.Second, 1},
	{"GET", "/portfolio/subaccounts", 5 * time.Second, 1},
	{"POST", "/pa/performance", 15 * time.Minute, 1},
	{"POST", "/pa/summary", 15 * time.Minute, 1},
	{"POST", "/pa/transactions", 15 * time.Minute, 1},
	{"", "/fyi/", time.Second, 1},
	{"", "/tickle", time.Second, 1}, // IB lists GET; POST is the same endpoint
	{"GET", "/sso/validate", time.Minute, 1},
}

// globalRate is IB's limit per authenticated user on the Web API: 50
// requests a second.
const (
	globalEvery = time.Second / 50
	globalBurst = 50
)

// violationWindow is how far back rate-limit violations count toward the
// penalty box.
const violationWindow = time.Minute

type clientLimits struct {
	global       *rate.Limiter
	endpoints    map[int]*rate.Limiter // by index into endpointLimits
	violations   []time.Time
	penaltyUntil time.Time
}

// rateLimiter keeps token buckets per client, where a client is a
// consumer key or, for requests without one, a remote address.
type rateLimiter struct {
	clients      map[string]*clientLimits
	penaltyAfter int
	penalty      time.Duration
	onPenalty    func(client string, until time.Time)
}

func newRateLimiter(penaltyAfter int, penalty time.Duration) *rateLimiter {
	return &rateLimiter{clients: map[string]*clientLimits{}, penaltyAfter: penaltyAfter, penalty: penalty}
}

func matchRule(method, path string) int {
	for i, r := range endpointLimits {
		if r.method != "" && r.method != method {
			continue
		}
		if path == r.path || (strings.HasSuffix(r.path, "/") && strings.HasPrefix(path, r.path)) {
			return i
		}
	}
	return -1
}

// allow takes a token for the request, or records a violation and
// returns false. A client in the penalty box gets false until it ends.
func (l *rateLimiter) allow(client, method, path string, now time.Time) bool {
	cl, ok := l.clients[client]
	if !ok {
		cl = &clientLimits{global: rate.NewLimiter(rate.Every(globalEvery), globalBurst), endpoints: map[int]*rate.Limiter{}}
		l.clients[client] = cl
	}
	if now.Before(cl.penaltyUntil) {
		return false
	}

	allowed := cl.global.AllowN(now, 1)
	if i := matchRule(method, path); i >= 0 && allowed {
		lim, ok := cl.endpoints[i]
		if !ok {
			lim = rate.NewLimiter(rate.Every(endpointLimits[i].every), endpointLimits[i].burst)
			cl.endpoints[i] = lim
		}
		allowed = lim.AllowN(now, 1)
	}
	if allowed {
		return true
	}

	kept := cl.violations[:0]
	for _, t := range cl.violations {
		if now.Sub(t) < violationWindow {
			kept = append(kept, t)
		}
	}
	cl.violations = append(kept, now)
	if len(cl.violations) >= l.penaltyAfter {
		cl.penaltyUntil = now.Add(l.penalty)
		cl.violations = nil
		if l.onPenalty != nil {
			l.onPenalty(client, cl.penaltyUntil)
		}
	}
	return false
}

// ClearRateLimits deletes every bucket and penalty, as if no request had
// been made.
func (s *Server) ClearRateLimits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.clients = map[string]*clientLimits{}
}
