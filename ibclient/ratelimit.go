package ibclient

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Client-side limits. IB's current Web API page gives 50 requests/s per
// username for OAuth-direct traffic, but older pages and the Client
// Portal Gateway give 10, so 10 is the default and 50 the maximum.
const (
	DefaultGlobalRate = 10
	MaxGlobalRate     = 50
	// DefaultPenalty is how long IB may keep an IP in its penalty box
	// after a 429, per IB's rate-limit page; no Retry-After is sent.
	DefaultPenalty = 10 * time.Minute
	// MaxRetryAfter caps the wait that a 429's Retry-After header can
	// impose, so that a proxy sending a huge value cannot stop the
	// dashboard for days.
	// NOTE: the cap is a guess, because IB documents no Retry-After.
	MaxRetryAfter = time.Hour
)

// RateLimits configures a RateLimiter. Zero fields take the defaults.
type RateLimits struct {
	// Global is the limit over all endpoints, in requests per second.
	Global float64
	// Penalty is how long every call is held back after a 429.
	Penalty time.Duration
	// Now is the clock of the penalty window; default time.Now.
	Now func() time.Time
}

// endpointRule limits one endpoint, or every endpoint under a prefix when
// pattern ends in "/*". method "" matches every method.
type endpointRule struct {
	method  string
	pattern string
	limiter *rate.Limiter
}

func (r endpointRule) matches(method, path string) bool {
	if r.method != "" && r.method != method {
		return false
	}
	if prefix, ok := strings.CutSuffix(r.pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return path == r.pattern
}

// RateLimiter holds requests back so that IB's published limits are never
// exceeded, and holds every request back for the penalty after a 429.
// Each bucket has a burst of one, so requests are spaced evenly; IB does
// not document how it counts, and even spacing stays under either a
// sliding or a fixed window (to within one request).
type RateLimiter struct {
	global  *rate.Limiter
	rules   []endpointRule
	penalty time.Duration
	now     func() time.Time

	mu    sync.Mutex
	until time.Time

	// takeMu makes taking tokens from two buckets one step.
	takeMu sync.Mutex
}

// NewRateLimiter returns a limiter with IB's per-endpoint table and the
// given global limit.
func NewRateLimiter(limits RateLimits) (*RateLimiter, error) {
	global := limits.Global
	switch {
	case global == 0:
		global = DefaultGlobalRate
	case global < 0 || global > MaxGlobalRate:
		return nil, fmt.Errorf("ibclient: global rate limit %g requests/s is outside (0, %d]; IB allows at most %d", global, MaxGlobalRate, MaxGlobalRate)
	}
	penalty := limits.Penalty
	switch {
	case penalty == 0:
		penalty = DefaultPenalty
	case penalty < 0:
		return nil, fmt.Errorf("ibclient: rate limit penalty %s is negative", penalty)
	}
	now := limits.Now
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{
		global:  rate.NewLimiter(withMargin(rate.Limit(global)), 1),
		rules:   endpointRules(),
		penalty: penalty,
		now:     now,
	}, nil
}

// withMargin lowers a limit by 5%, so that jitter in network latency
// cannot bring two evenly spaced requests closer together at IB than
// the limit allows.
func withMargin(l rate.Limit) rate.Limit { return l * 0.95 }

// endpointRules is IB's per-endpoint table. Aliases of one endpoint,
// and endpoints that IB's table lists in one row, share one bucket.
func endpointRules() []endpointRule {
	every := func(d time.Duration) *rate.Limiter { return rate.NewLimiter(withMargin(rate.Every(d)), 1) }
	perSecond := func(n float64) *rate.Limiter { return rate.NewLimiter(withMargin(rate.Limit(n)), 1) }

	orders := every(5 * time.Second)
	trades := every(5 * time.Second)
	portfolio := every(5 * time.Second)
	performance := every(15 * time.Minute)
	fyi := perSecond(1)

	return []endpointRule{
		{"GET", "iserver/marketdata/snapshot", perSecond(10)},
		{"GET", "iserver/account/orders", orders},
		{"GET", "iserver/orders", orders},
		{"GET", "iserver/account/trades", trades},
		{"GET", "iserver/trades", trades},
		{"GET", "iserver/account/pnl/partitioned", every(5 * time.Second)},
		{"GET", "portfolio/accounts", portfolio},
		{"GET", "portfolio/subaccounts", portfolio},
		{"GET", "iserver/scanner/params", every(15 * time.Minute)},
		{"POST", "iserver/scanner/run", perSecond(1)},
		{"POST", "pa/performance", performance},
		{"POST", "pa/summary", performance},
		{"POST", "pa/transactions", performance},
		{"", "fyi/*", fyi},
		{"", "tickle", perSecond(1)},
		{"GET", "sso/validate", every(time.Minute)},
	}
}

// Wait blocks until a request to path (relative to the base URL, such as
// "iserver/account/orders") may be sent, or ctx ends. During a 429
// penalty it returns a *PenaltyError at once.
//
// The endpoint's token and the global one are taken together, at the
// moment both are free. Taking the endpoint's token first and then
// waiting for the global one would let the request leave later than its
// token was taken, so the next request to the endpoint could follow it
// closer than the endpoint's limit.
func (l *RateLimiter) Wait(ctx context.Context, method, path string) error {
	if until := l.PenaltyUntil(); !until.IsZero() {
		return &PenaltyError{Endpoint: method + " " + path, Until: until}
	}
	endpoint := l.endpointLimiter(method, path)
	for {
		delay := l.take(endpoint)
		if delay == 0 {
			return nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("ibclient: %s %s: the rate limit delays the request by %s, past the context's deadline", method, path, delay.Round(time.Millisecond))
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("ibclient: %s %s: waiting for the rate limit: %w", method, path, ctx.Err())
		case <-timer.C:
		}
	}
}

// endpointLimiter returns the bucket of the first rule that matches, or
// nil when only the global limit applies.
func (l *RateLimiter) endpointLimiter(method, path string) *rate.Limiter {
	for _, r := range l.rules {
		if r.matches(method, path) {
			return r.limiter
		}
	}
	return nil
}

// take takes a token from the global bucket and from endpoint (when not
// nil) if both have one now, and returns 0. Otherwise it takes none and
// returns how long to wait before trying again.
func (l *RateLimiter) take(endpoint *rate.Limiter) time.Duration {
	l.takeMu.Lock()
	defer l.takeMu.Unlock()

	now := time.Now()
	reservations := []*rate.Reservation{l.global.ReserveN(now, 1)}
	if endpoint != nil {
		reservations = append(reservations, endpoint.ReserveN(now, 1))
	}
	var delay time.Duration
	for _, r := range reservations {
		delay = max(delay, r.DelayFrom(now))
	}
	if delay > 0 {
		for _, r := range reservations {
			r.CancelAt(now)
		}
	}
	return delay
}

// Penalize starts (or extends) the penalty window at now and returns its
// end.
func (l *RateLimiter) Penalize(now time.Time) time.Time { return l.PenalizeFor(now, 0) }

// PenalizeFor starts (or extends) the penalty window at now for the
// longer of the configured penalty and d, such as a Retry-After, and
// returns its end. d is capped at MaxRetryAfter.
func (l *RateLimiter) PenalizeFor(now time.Time, d time.Duration) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := max(l.penalty, min(d, MaxRetryAfter))
	if end := now.Add(wait); end.After(l.until) {
		l.until = end
	}
	return l.until
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP
// date, relative to now. A missing, negative or unreadable value is 0.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		if seconds <= 0 {
			return 0
		}
		// Capping before the multiplication keeps a huge value from
		// overflowing a Duration.
		return time.Duration(min(seconds, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// PenaltyUntil returns the end of the current penalty window, or the zero
// time when no penalty is in force.
func (l *RateLimiter) PenaltyUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.until.IsZero() || !l.now().Before(l.until) {
		return time.Time{}
	}
	return l.until
}

// PenaltyError is a call that was not sent because IB returned 429 and
// the penalty window is still open.
type PenaltyError struct {
	Endpoint string
	Until    time.Time
}

func (e *PenaltyError) Error() string {
	return fmt.Sprintf("ibclient: %s: not sent, because IB returned 429 Too Many Requests and calls are held back until %s",
		e.Endpoint, e.Until.UTC().Format(time.TimeOnly+" UTC"))
}

// Is lets errors.Is(err, &APIError{Kind: KindRateLimited}) match.
func (e *PenaltyError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Kind == KindRateLimited && t.StatusCode == 0 && t.Message == ""
}
