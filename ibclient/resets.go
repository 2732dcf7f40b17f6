package ibclient

import (
	"time"
	_ "time/tzdata" // America/New_York on hosts without a zoneinfo database
)

// IB's reset schedule, from IB's system status page, in US Eastern time:
// a daily reset 00:15-01:45 ET Sunday to Friday, weekend maintenance from
// Friday 23:00 ET to Saturday 03:00 ET (new consumer keys are expected to
// work after it), and IB Gateway's security tokens invalidated every
// Sunday at 01:00 ET.
var newYork = mustLoadNewYork()

func mustLoadNewYork() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// The embedded tzdata makes this unreachable.
		panic("ibclient: America/New_York missing from the embedded tzdata: " + err.Error())
	}
	return loc
}

// NewYork returns the America/New_York zone, in which IB's resets are set.
func NewYork() *time.Location { return newYork }

// ResetWindow is one occurrence of a reset: Start inclusive, End exclusive.
type ResetWindow struct {
	Start, End time.Time
}

// Contains reports whether t falls inside the window.
func (w ResetWindow) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// NextDailyReset returns the daily reset (00:15-01:45 ET, Sunday to
// Friday) in progress at t, or else the next one after t.
func NextDailyReset(t time.Time) ResetWindow {
	noon := noonET(t)
	for day := -1; day <= 8; day++ {
		date := noon.AddDate(0, 0, day)
		if date.Weekday() == time.Saturday {
			continue
		}
		w := ResetWindow{
			Start: wallClock(date, 0, 15),
			End:   wallClock(date, 1, 45),
		}
		if t.Before(w.End) {
			return w
		}
	}
	panic("ibclient: no daily reset within nine days") // unreachable: six of seven days have one
}

// NextWeekendMaintenance returns IB's weekend maintenance (Friday 23:00
// ET to Saturday 03:00 ET) in progress at t, or else the next one. Its
// End is the earliest time a newly created consumer key is expected to
// be active.
func NextWeekendMaintenance(t time.Time) ResetWindow {
	noon := noonET(t)
	for day := -1; day <= 8; day++ {
		date := noon.AddDate(0, 0, day)
		if date.Weekday() != time.Friday {
			continue
		}
		w := ResetWindow{
			Start: wallClock(date, 23, 0),
			End:   wallClock(date.AddDate(0, 0, 1), 3, 0),
		}
		if t.Before(w.End) {
			return w
		}
	}
	panic("ibclient: no Friday within nine days") // unreachable
}

// NextGatewayTokenReset returns the next Sunday 01:00 ET strictly after
// t, when IB invalidates IB Gateway's security tokens.
func NextGatewayTokenReset(t time.Time) time.Time {
	noon := noonET(t)
	for day := 0; day <= 7; day++ {
		date := noon.AddDate(0, 0, day)
		if date.Weekday() != time.Sunday {
			continue
		}
		if at := wallClock(date, 1, 0); at.After(t) {
			return at
		}
	}
	panic("ibclient: no Sunday within eight days") // unreachable
}

// noonET returns 12:00 ET on t's calendar day in New York; stepping whole
// days from noon never lands in a DST gap.
func noonET(t time.Time) time.Time {
	y, m, d := t.In(newYork).Date()
	return time.Date(y, m, d, 12, 0, 0, 0, newYork)
}

// wallClock returns hour:minute ET on the calendar day of date. A wall
// time that occurs twice (the first Sunday of November, 01:00-02:00) is
// its first occurrence, in daylight time; one that does not occur (the
// second Sunday of March, 02:00-03:00) is moved forward by the hour.
func wallClock(date time.Time, hour, minute int) time.Time {
	y, m, d := date.In(newYork).Date()
	at := time.Date(y, m, d, hour, minute, 0, 0, newYork)
	if earlier := at.Add(-time.Hour); earlier.Hour() == hour && earlier.Minute() == minute {
		return earlier
	}
	return at
}
