package ibclient_test

import (
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// US daylight saving time in 2026 starts Sunday 8 March at 02:00 EST and
// ends Sunday 1 November at 02:00 EDT. All expectations are in UTC, so a
// wrong offset shows as a wrong hour.

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextDailyReset(t *testing.T) {
	cases := []struct {
		name       string
		at         string
		start, end string
	}{
		{"saturday before spring forward", "2026-03-07T17:00:00Z", "2026-03-08T05:15:00Z", "2026-03-08T06:45:00Z"},
		{"sunday after spring forward", "2026-03-08T16:00:00Z", "2026-03-09T04:15:00Z", "2026-03-09T05:45:00Z"},
		{"first minute is in progress", "2026-03-09T04:15:00Z", "2026-03-09T04:15:00Z", "2026-03-09T05:45:00Z"},
		{"last second is in progress", "2026-03-09T05:44:59Z", "2026-03-09T04:15:00Z", "2026-03-09T05:45:00Z"},
		{"end minute moves to next day", "2026-03-09T05:45:00Z", "2026-03-10T04:15:00Z", "2026-03-10T05:45:00Z"},
		{"minute before start", "2026-03-10T04:14:00Z", "2026-03-10T04:15:00Z", "2026-03-10T05:45:00Z"},
		{"friday skips saturday", "2026-03-13T16:00:00Z", "2026-03-15T04:15:00Z", "2026-03-15T05:45:00Z"},
		{"fall back sunday ends in EDT", "2026-10-31T16:00:00Z", "2026-11-01T04:15:00Z", "2026-11-01T05:45:00Z"},
		{"monday after fall back", "2026-11-01T17:00:00Z", "2026-11-02T05:15:00Z", "2026-11-02T06:45:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := ibclient.NextDailyReset(utc(tc.at))
			if !w.Start.Equal(utc(tc.start)) {
				t.Errorf("start = %s, want %s", w.Start.UTC().Format(time.RFC3339), tc.start)
			}
			if !w.End.Equal(utc(tc.end)) {
				t.Errorf("end = %s, want %s", w.End.UTC().Format(time.RFC3339), tc.end)
			}
		})
	}
}

func TestNextWeekendMaintenance(t *testing.T) {
	cases := []struct {
		name       string
		at         string
		start, end string
	}{
		{"week before spring forward", "2026-03-04T17:00:00Z", "2026-03-07T04:00:00Z", "2026-03-07T08:00:00Z"},
		{"minute before start", "2026-03-07T03:59:00Z", "2026-03-07T04:00:00Z", "2026-03-07T08:00:00Z"},
		{"week after spring forward", "2026-03-11T16:00:00Z", "2026-03-14T03:00:00Z", "2026-03-14T07:00:00Z"},
		{"last minute is in progress", "2026-03-14T06:59:00Z", "2026-03-14T03:00:00Z", "2026-03-14T07:00:00Z"},
		{"end minute moves to next week", "2026-03-14T07:00:00Z", "2026-03-21T03:00:00Z", "2026-03-21T07:00:00Z"},
		{"week before fall back", "2026-10-28T16:00:00Z", "2026-10-31T03:00:00Z", "2026-10-31T07:00:00Z"},
		{"week after fall back", "2026-11-02T17:00:00Z", "2026-11-07T04:00:00Z", "2026-11-07T08:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := ibclient.NextWeekendMaintenance(utc(tc.at))
			if !w.Start.Equal(utc(tc.start)) {
				t.Errorf("start = %s, want %s", w.Start.UTC().Format(time.RFC3339), tc.start)
			}
			if !w.End.Equal(utc(tc.end)) {
				t.Errorf("end = %s, want %s", w.End.UTC().Format(time.RFC3339), tc.end)
			}
			if got := w.Start.In(ibclient.NewYork()).Weekday(); got != time.Friday {
				t.Errorf("start weekday in New York = %s, want Friday", got)
			}
		})
	}
}

func TestNextGatewayTokenReset(t *testing.T) {
	cases := []struct {
		name string
		at   string
		want string
	}{
		{"saturday before spring forward", "2026-03-07T17:00:00Z", "2026-03-08T06:00:00Z"},
		{"minute before", "2026-03-08T05:59:00Z", "2026-03-08T06:00:00Z"},
		{"at the reset moves a week on, into EDT", "2026-03-08T06:00:00Z", "2026-03-15T05:00:00Z"},
		{"fall back sunday uses the first 01:00", "2026-10-31T16:00:00Z", "2026-11-01T05:00:00Z"},
		{"repeated hour does not fire twice", "2026-11-01T05:30:00Z", "2026-11-08T06:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ibclient.NextGatewayTokenReset(utc(tc.at))
			if !got.Equal(utc(tc.want)) {
				t.Errorf("next = %s, want %s", got.UTC().Format(time.RFC3339), tc.want)
			}
		})
	}
}

func TestResetWindowContains(t *testing.T) {
	w := ibclient.ResetWindow{Start: utc("2026-03-09T04:15:00Z"), End: utc("2026-03-09T05:45:00Z")}
	if !w.Contains(w.Start) {
		t.Error("window does not contain its start")
	}
	if w.Contains(w.End) {
		t.Error("window contains its end")
	}
	if w.Contains(w.Start.Add(-time.Second)) {
		t.Error("window contains the second before its start")
	}
}
