package orderform

import (
	"errors"
	"testing"

	"github.com/ibdash/ibdash/ibclient"
)

// FuzzCheck feeds arbitrary text into every field. Check must never
// panic, and must return either an order or field errors, never both.
func FuzzCheck(f *testing.F) {
	f.Add("SPY", "2026-03-20", "500", "P", "SELL", "1", "LMT", "", "3x", "DAY")
	f.Add("spy", "2026-03-20", "502.5", "c", "buy", "5", "mkt", "", "0.5x", "gtc")
	f.Add("", "", "", "", "", "", "", "", "", "")
	f.Add("SPY", "2026-02-30", "-1", "X", "S", "99999999999", "STP", "1e9", "NaNx", "IOC")
	f.Add("SPY", "2026-03-20", ".5", "P", "SELL", "1", "LMT", "9999999.999999", "9999999x", "DAY")
	f.Fuzz(func(t *testing.T, symbol, expiry, strike, right, side, qty, typ, limit, stop, tif string) {
		in := Input{Symbol: symbol, Expiry: expiry, Strike: strike, Right: right, Side: side,
			Quantity: qty, OrderType: typ, Limit: limit, StopLoss: stop, TIF: tif}
		for _, m := range []Market{testMarket(), {}} {
			o, err := Check(in, m)
			if (o == nil) == (err == nil) {
				t.Fatalf("Check(%+v) = %v, %v: want exactly one of order and error", in, o, err)
			}
			var errs Errors
			if err != nil && (!errors.As(err, &errs) || len(errs) == 0) {
				t.Fatalf("Check error %v is not a non-empty Errors", err)
			}
			if o != nil && (o.Stop <= 0 || o.Quantity < 1 || o.Strike <= 0) {
				t.Fatalf("Check passed an invalid order %+v", o)
			}
		}
	})
}

// FuzzParseStopLoss checks the stop parser on its own, since it has the
// most forms.
func FuzzParseStopLoss(f *testing.F) {
	for _, s := range []string{"3x", "10.00", "0.5X", "x", "", "1e3x", "--1", "\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stop, err := ParseStopLoss(s)
		if err != nil {
			return
		}
		if (stop.Price > 0) == (stop.Multiple > 0) {
			t.Fatalf("ParseStopLoss(%q) = %+v: want exactly one of price and multiple", s, stop)
		}
		for _, side := range []ibclient.Side{ibclient.Buy, ibclient.Sell} {
			ResolveStop(stop, side, 3.15, PennyTick)
			ResolveStop(stop, side, 0, TickRule{{0, 0.01}, {3, 0.05}})
		}
	})
}
