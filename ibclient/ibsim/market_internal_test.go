package ibsim

import (
	"math"
	"testing"
)

func TestBlackScholesPutCallParity(t *testing.T) {
	spot, strike, years := 600.0, 610.0, 0.1
	call := blackScholes(spot, strike, years, modelRate, modelVolatility, true)
	put := blackScholes(spot, strike, years, modelRate, modelVolatility, false)
	parity := call.price - put.price - (spot - strike*math.Exp(-modelRate*years))
	if math.Abs(parity) > 1e-9 {
		t.Errorf("C - P - (S - K e^-rT) = %v, want 0", parity)
	}
	if math.Abs(call.delta-put.delta-1) > 1e-12 {
		t.Errorf("call delta %v minus put delta %v is not 1", call.delta, put.delta)
	}
	if call.gamma <= 0 || call.vega <= 0 || call.theta >= 0 {
		t.Errorf("greeks %+v: want gamma and vega above 0, theta below", call)
	}
}

func TestBlackScholesAtExpiry(t *testing.T) {
	if g := blackScholes(600, 590, 0, modelRate, modelVolatility, true); g.price != 10 || g.delta != 1 {
		t.Errorf("expired in-the-money call = %+v, want price 10, delta 1", g)
	}
	if g := blackScholes(600, 590, 0, modelRate, modelVolatility, false); g.price != 0 || g.delta != 0 {
		t.Errorf("expired out-of-the-money put = %+v, want 0", g)
	}
}

func TestTickRule(t *testing.T) {
	cases := []struct {
		price            float64
		floor, ceil, rnd int64
	}{
		{1.234, 123, 124, 123},
		{2.999, 299, 300, 300},
		{3.01, 300, 305, 300},
		{3.03, 300, 305, 305},
		{12.345, 1230, 1235, 1235},
		{0, 0, 0, 0},
	}
	for _, tc := range cases {
		if got := floorTick(tc.price); got != tc.floor {
			t.Errorf("floorTick(%v) = %d, want %d", tc.price, got, tc.floor)
		}
		if got := ceilTick(tc.price); got != tc.ceil {
			t.Errorf("ceilTick(%v) = %d, want %d", tc.price, got, tc.ceil)
		}
		if got := roundTick(tc.price); got != tc.rnd {
			t.Errorf("roundTick(%v) = %d, want %d", tc.price, got, tc.rnd)
		}
	}
}

func TestFormatThousands(t *testing.T) {
	cases := map[int64]string{0: "0", 999: "999", 1300: "1,300", -1234567: "-1,234,567", 1000000: "1,000,000"}
	for n, want := range cases {
		if got := formatThousands(n); got != want {
			t.Errorf("formatThousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatMoney(1234.5); got != "1,234.50" {
		t.Errorf("formatMoney(1234.5) = %q", got)
	}
}

func TestOptionQuotesFollowTickRule(t *testing.T) {
	m := newMarket(1, 600, testTime)
	for _, c := range m.contracts[:400] {
		q := m.optionQuote(c, testTime)
		for _, cents := range []int64{q.bid, q.ask, q.last} {
			if cents%tickCents(cents) != 0 {
				t.Fatalf("%s %v %s: price %d cents is off the tick", c.date, c.strike, c.right, cents)
			}
		}
		if q.ask <= q.bid || q.bid < 0 {
			t.Fatalf("%s %v %s: bid %d, ask %d", c.date, c.strike, c.right, q.bid, q.ask)
		}
	}
}
