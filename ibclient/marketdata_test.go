package ibclient_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func TestSnapshotRepeatsPreflight(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib, ibclient.WithSnapshotRetry(4, 10*time.Millisecond))

	quotes, err := s.Client().Snapshot(context.Background(), testOptionConid)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if got := ib.count("GET iserver/marketdata/snapshot"); got != 2 {
		t.Errorf("snapshot calls = %d, want 2 (pre-flight, then data)", got)
	}
	if len(quotes) != 1 {
		t.Fatalf("quotes = %d, want 1", len(quotes))
	}
	q := quotes[0]
	checks := []struct {
		name string
		got  ibclient.Number
		want float64
	}{
		{"bid", q.Bid, 3.10},
		{"ask", q.Ask, 3.14},
		{"last", q.Last, 3.12},
		{"ask size", q.AskSize, 1300},
		{"bid size", q.BidSize, 38},
		{"last size", q.LastSize, 2},
		{"delta", q.Delta, 0.412},
		{"implied vol", q.ImpliedVol, 0.148},
	}
	for _, c := range checks {
		if !c.got.Valid || math.Abs(c.got.Value-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %g", c.name, c.got, c.want)
		}
	}
	if !q.LastIsClose {
		t.Error("last price C3.12 not marked as the prior close")
	}
	if !q.Availability.RealTime() || !q.Availability.Subscribed() {
		t.Errorf("availability %q not read as real-time and subscribed", q.Availability)
	}
	if q.Updated.IsZero() {
		t.Error("_updated not read")
	}
}

func TestSnapshotGivesUpOnEmpty(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib, ibclient.WithSnapshotRetry(1, 0))

	quotes, err := s.Client().Snapshot(context.Background(), testOptionConid)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if len(quotes) != 1 || quotes[0].HasData() {
		t.Errorf("quotes = %+v, want one empty pre-flight quote", quotes)
	}
}

func TestParseMarketValue(t *testing.T) {
	cases := []struct {
		in    string
		want  float64
		valid bool
	}{
		{"3.10", 3.10, true},
		{"1,300", 1300, true},
		{"14.8%", 14.8, true},
		{"1.2K", 1200, true},
		{"3.5M", 3.5e6, true},
		{"-631", -631, true},
		{"", 0, false},
		{"N/A", 0, false},
		{"abc", 0, false},
		{"1e3", 1000, true},
		// ParseFloat alone takes these, and a NaN or infinite bid would
		// reach the mid price of an order.
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"-Inf", 0, false},
		{"+infinity", 0, false},
		{"NaN%", 0, false},
		{"0x1p3", 0, false},
		{"1_000", 0, false},
		{"1e999", 0, false},
		{"1e308B", 0, false},
	}
	for _, tc := range cases {
		got := ibclient.ParseMarketValue(tc.in)
		if got.Valid != tc.valid || got.Value != tc.want {
			t.Errorf("ParseMarketValue(%q) = %+v, want %g valid=%v", tc.in, got, tc.want, tc.valid)
		}
	}
}

func TestAvailabilityCodes(t *testing.T) {
	cases := []struct {
		code                          ibclient.Availability
		realTime, delayed, subscribed bool
	}{
		{"RpB", true, false, true},
		{"DPB", false, true, true},
		{"Y", false, true, true},
		{"N", false, false, false},
		{"", false, false, false},
	}
	for _, tc := range cases {
		if got := tc.code.RealTime(); got != tc.realTime {
			t.Errorf("%q RealTime = %v, want %v", tc.code, got, tc.realTime)
		}
		if got := tc.code.Delayed(); got != tc.delayed {
			t.Errorf("%q Delayed = %v, want %v", tc.code, got, tc.delayed)
		}
		if got := tc.code.Subscribed(); got != tc.subscribed {
			t.Errorf("%q Subscribed = %v, want %v", tc.code, got, tc.subscribed)
		}
	}
}
