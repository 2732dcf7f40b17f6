package ibsim

import (
	"sync"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// Clock is the simulator's source of time. Every timer in the simulator
// (bridge delay, idle timeout, LST expiry, activation, resets, the cOID
// window, rate limits and the price walk) reads it.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function such as time.Now to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// ManualClock is a Clock that moves only when a test moves it. It is safe
// for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d; a negative d moves it back.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newYork is IB's reference zone for the reset schedule and the option
// expiry times.
var newYork = ibclient.NewYork()

// nextNightlyReset returns the first start of IB's daily reset (00:15 ET,
// Sunday to Friday) strictly after t. The simulator drops every brokerage
// session at that instant.
func nextNightlyReset(t time.Time) time.Time {
	w := ibclient.NextDailyReset(t)
	if !w.Start.After(t) {
		w = ibclient.NextDailyReset(w.End)
	}
	return w.Start
}

// activationTime is when a new consumer key added at t turns active: the
// end of the next weekend maintenance, Saturday 03:00 ET.
func activationTime(t time.Time) time.Time {
	return ibclient.NextWeekendMaintenance(t).End
}
