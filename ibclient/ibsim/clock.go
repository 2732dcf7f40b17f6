package ibsim

import (
	"sync"
	"time"
	_ "time/tzdata" // the reset schedule needs America/New_York on hosts without zoneinfo
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

// newYork is IB's reference zone for its North American reset schedule.
var newYork = mustLoadLocation("America/New_York")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// The embedded tzdata makes this unreachable unless the Go
		// distribution is broken.
		panic("ibsim: time zone " + name + " is missing: " + err.Error())
	}
	return loc
}

// NextWeekendMaintenanceEnd returns the first Saturday 03:00 America/New_York
// strictly after t: the end of IB's weekend maintenance (Friday 23:00 to
// Saturday 03:00 ET, from IB's system status page), after which new
// consumer keys are expected to be active.
func NextWeekendMaintenanceEnd(t time.Time) time.Time {
	local := t.In(newYork)
	daysAhead := (int(time.Saturday) - int(local.Weekday()) + 7) % 7
	end := time.Date(local.Year(), local.Month(), local.Day()+daysAhead, 3, 0, 0, 0, newYork)
	if !end.After(t) {
		end = time.Date(local.Year(), local.Month(), local.Day()+daysAhead+7, 3, 0, 0, 0, newYork)
	}
	return end
}

// nightlyResetHour and nightlyResetMinute are the start of IB's daily North
// American reset window (00:15 to 01:45 ET, Sunday to Friday). The
// simulator drops every brokerage session at that instant.
const (
	nightlyResetHour   = 0
	nightlyResetMinute = 15
)

// nextNightlyReset returns the first daily reset strictly after t. IB
// lists the daily reset for Sunday to Friday, so Saturday has none.
func nextNightlyReset(t time.Time) time.Time {
	local := t.In(newYork)
	for days := 0; days < 8; days++ {
		reset := time.Date(local.Year(), local.Month(), local.Day()+days, nightlyResetHour, nightlyResetMinute, 0, 0, newYork)
		if reset.After(t) && reset.Weekday() != time.Saturday {
			return reset
		}
	}
	panic("ibsim: no nightly reset within a week") // unreachable: six of seven days have one
}
