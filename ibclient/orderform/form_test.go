package orderform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func quote(bid, ask, last float64) *ibclient.Quote {
	num := func(v float64) ibclient.Number { return ibclient.Number{Value: v, Valid: v > 0} }
	return &ibclient.Quote{Conid: 801, Bid: num(bid), Ask: num(ask), Last: num(last)}
}

// testMarket lists three expiries; 2026-03-20 lacks the 515 strike that
// the month's pooled list has.
func testMarket() Market {
	m := Market{
		Today:       date("2026-03-02"),
		Expiries:    []time.Time{date("2026-03-04"), date("2026-03-06"), date("2026-03-20")},
		Quote:       quote(3.10, 3.20, 3.12),
		MaxQuantity: 5,
	}
	m.SetStrikes(date("2026-03-20"), ibclient.Put, []float64{490, 495, 500, 505, 510, 520})
	m.SetStrikes(date("2026-03-20"), ibclient.Call, []float64{500, 505, 510})
	return m
}

func validInput() Input {
	in := Defaults()
	in.Expiry = "2026-03-20"
	in.Strike = "500"
	in.StopLoss = "3x"
	return in
}

func TestCheckValidTicket(t *testing.T) {
	o, err := Check(validInput(), testMarket())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if o.Symbol != "SPY" || o.Right != ibclient.Put || o.Side != ibclient.Sell || o.Quantity != 1 || o.TIF != Day {
		t.Errorf("order = %+v", o)
	}
	if !o.Expiry.Equal(date("2026-03-20")) || o.Strike != 500 {
		t.Errorf("contract = %v %v", o.Expiry, o.Strike)
	}
	if o.Type != ibclient.Limit || o.Limit != 3.15 || !o.LimitFromMid {
		t.Errorf("limit = %v from mid %v, want 3.15 from the 3.10/3.20 mid", o.Limit, o.LimitFromMid)
	}
	if o.Stop != 9.45 || o.StopMultiple != 3 || o.Reference != 3.15 {
		t.Errorf("stop = %v (multiple %v, reference %v), want 9.45 = 3 x 3.15", o.Stop, o.StopMultiple, o.Reference)
	}
	want := "SELL 1 SPY 2026-03-20 500 P LMT 3.15 (mid) DAY, stop BUY STP 9.45 (3.00x entry)"
	if o.String() != want {
		t.Errorf("String() = %q, want %q", o.String(), want)
	}
}

func TestCheckBuyCallWithPrices(t *testing.T) {
	in := validInput()
	in.Right, in.Side, in.Strike, in.Limit, in.StopLoss, in.TIF, in.Quantity = "C", "BUY", "505", "3.11", "1.50", "GTC", "5"
	o, err := Check(in, testMarket())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if o.Right != ibclient.Call || o.Side != ibclient.Buy || o.Limit != 3.11 || o.LimitFromMid || o.Stop != 1.50 || o.TIF != GTC || o.Quantity != 5 {
		t.Errorf("order = %+v", o)
	}
}

func TestCheckMarketOrder(t *testing.T) {
	in := validInput()
	in.OrderType = "MKT"
	in.StopLoss = "2x"
	o, err := Check(in, testMarket())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if o.Type != ibclient.Market || o.Limit != 0 || o.Reference != 3.15 || o.Stop != 6.30 {
		t.Errorf("order = %+v, want a market order with stop 6.30 = 2 x the 3.15 mid", o)
	}
}

func TestCheckMidTies(t *testing.T) {
	m := testMarket()
	m.Quote = quote(1.00, 1.01, 0)
	in := validInput()
	o, err := Check(in, m)
	if err != nil {
		t.Fatal(err)
	}
	if o.Limit != 1.01 {
		t.Errorf("SELL limit = %v, want the halfway mid rounded up to 1.01", o.Limit)
	}
	in.Side, in.StopLoss = "BUY", "0.5x"
	o, err = Check(in, m)
	if err != nil {
		t.Fatal(err)
	}
	if o.Limit != 1.00 {
		t.Errorf("BUY limit = %v, want the halfway mid rounded down to 1.00", o.Limit)
	}
}

// checkErrors runs Check and returns its Errors, failing when it passes.
func checkErrors(t *testing.T, in Input, m Market) Errors {
	t.Helper()
	o, err := Check(in, m)
	if err == nil {
		t.Fatalf("Check passed with order %+v", o)
	}
	if o != nil {
		t.Errorf("Check returned an order with its errors")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not Errors", err)
	}
	return errs
}

func TestCheckInlineErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Input, *Market)
		field  Field
		want   []string
	}{
		{"expiry past", func(in *Input, m *Market) { in.Expiry = "2026-02-27" },
			FieldExpiry, []string{"in the past", "2026-03-04"}},
		{"expiry not listed", func(in *Input, m *Market) { in.Expiry = "2026-03-05" },
			FieldExpiry, []string{"not a listed expiry", "2026-03-04, 2026-03-06"}},
		{"expiry malformed", func(in *Input, m *Market) { in.Expiry = "03/20/2026" },
			FieldExpiry, []string{"YYYY-MM-DD"}},
		{"expiries not loaded", func(in *Input, m *Market) { m.Expiries = nil },
			FieldExpiry, []string{"not loaded"}},
		{"strike not listed", func(in *Input, m *Market) { in.Strike = "515" },
			FieldStrike, []string{"not listed for 2026-03-20", "505, 510, 520"}},
		{"strike malformed", func(in *Input, m *Market) { in.Strike = "5OO" },
			FieldStrike, []string{"not a number"}},
		{"strikes not loaded", func(in *Input, m *Market) { m.Strikes = nil },
			FieldStrike, []string{"not loaded"}},
		{"right", func(in *Input, m *Market) { in.Right = "X" },
			FieldRight, []string{"P for a put"}},
		{"side", func(in *Input, m *Market) { in.Side = "SHORT" },
			FieldSide, []string{"BUY or SELL"}},
		{"quantity over max", func(in *Input, m *Market) { in.Quantity = "6" },
			FieldQuantity, []string{"over the maximum of 5"}},
		{"quantity under one", func(in *Input, m *Market) { in.Quantity = "0" },
			FieldQuantity, []string{"from 1 to 5", "orders.max_quantity"}},
		{"quantity malformed", func(in *Input, m *Market) { in.Quantity = "1.5" },
			FieldQuantity, []string{"not a whole number"}},
		{"limit off tick", func(in *Input, m *Market) { in.Limit = "3.155" },
			FieldLimit, []string{"$0.01 tick", "3.15 or 3.16"}},
		{"limit malformed", func(in *Input, m *Market) { in.Limit = "3,15" },
			FieldLimit, []string{"not a price"}},
		{"limit without quote", func(in *Input, m *Market) { m.Quote = nil },
			FieldLimit, []string{"no quote is loaded yet", "type a price"}},
		{"limit quote without bid", func(in *Input, m *Market) { m.Quote = quote(0, 0, 3.12) },
			FieldLimit, []string{"no bid and ask"}},
		{"expiry not listed, no quote", func(in *Input, m *Market) { in.Expiry, m.Quote = "2026-03-05", nil },
			FieldExpiry, []string{"not a listed expiry"}},
		{"strike not listed, no quote", func(in *Input, m *Market) { in.Strike, m.Quote = "515", nil },
			FieldStrike, []string{"not listed for 2026-03-20"}},
		{"market strike not listed", func(in *Input, m *Market) { in.OrderType, in.Strike, m.Quote = "MKT", "515", nil },
			FieldStrike, []string{"not listed for 2026-03-20"}},
		{"limit on market order", func(in *Input, m *Market) { in.OrderType, in.Limit = "MKT", "3.15" },
			FieldLimit, []string{"market order"}},
		{"market without quote", func(in *Input, m *Market) { in.OrderType, m.Quote = "MKT", nil },
			FieldOrderType, []string{"no quote"}},
		{"order type", func(in *Input, m *Market) { in.OrderType = "STP" },
			FieldOrderType, []string{"LMT (limit) or MKT (market)"}},
		{"stop wrong side for sell", func(in *Input, m *Market) { in.StopLoss = "2.00" },
			FieldStopLoss, []string{"not above the entry 3.15", "BUY stop above"}},
		{"stop wrong side for buy", func(in *Input, m *Market) { in.Side, in.StopLoss = "BUY", "9.00" },
			FieldStopLoss, []string{"not below the entry 3.15", "SELL stop below"}},
		{"stop multiple wrong side", func(in *Input, m *Market) { in.StopLoss = "0.5x" },
			FieldStopLoss, []string{"multiple over 1"}},
		{"stop malformed", func(in *Input, m *Market) { in.StopLoss = "ten" },
			FieldStopLoss, []string{"not a price or a multiple"}},
		{"stop missing", func(in *Input, m *Market) { in.StopLoss = "" },
			FieldStopLoss, []string{"missing"}},
		{"stop off tick", func(in *Input, m *Market) {
			in.StopLoss = "9.47"
			m.Tick = TickRule{{0, 0.01}, {3, 0.05}}
		}, FieldStopLoss, []string{"$0.05 tick", "9.45 or 9.50"}},
		{"tif", func(in *Input, m *Market) { in.TIF = "IOC" },
			FieldTIF, []string{"DAY or GTC"}},
		{"symbol", func(in *Input, m *Market) { in.Symbol = "" },
			FieldSymbol, []string{"missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, m := validInput(), testMarket()
			tt.change(&in, &m)
			errs := checkErrors(t, in, m)
			fe := errs.For(tt.field)
			if fe == nil {
				t.Fatalf("no error on %s; errors: %v", tt.field, errs)
			}
			for _, part := range tt.want {
				if !strings.Contains(fe.Error(), part) {
					t.Errorf("%s error %q does not contain %q", tt.field, fe, part)
				}
			}
			if len(errs) != 1 {
				t.Errorf("got %d errors, want only the one on %s: %v", len(errs), tt.field, errs)
			}
		})
	}
}

func TestCheckReportsEveryField(t *testing.T) {
	in := Input{Symbol: "1", Expiry: "x", Strike: "y", Right: "z", Side: "w", Quantity: "0", OrderType: "STP", StopLoss: "", TIF: "IOC"}
	errs := checkErrors(t, in, testMarket())
	want := []Field{FieldSymbol, FieldExpiry, FieldStrike, FieldRight, FieldSide, FieldQuantity, FieldOrderType, FieldStopLoss, FieldTIF}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, f := range want {
		if errs[i].Field != f {
			t.Errorf("error %d is on %s, want %s (form order)", i, errs[i].Field, f)
		}
	}
}

func TestCheckDefaultsMaxQuantity(t *testing.T) {
	in, m := validInput(), testMarket()
	m.MaxQuantity = 0
	in.Quantity = "10"
	if _, err := Check(in, m); err != nil {
		t.Fatalf("quantity 10 with the default maximum: %v", err)
	}
	in.Quantity = "11"
	errs := checkErrors(t, in, m)
	if errs.For(FieldQuantity) == nil {
		t.Fatalf("quantity 11 passed the default maximum of %d", DefaultMaxQuantity)
	}
}

func TestReferencePrice(t *testing.T) {
	if p, ok := ReferencePrice(quote(0, 0, 2.5), ibclient.Sell, PennyTick); !ok || p != 2.5 {
		t.Errorf("ReferencePrice(last only) = %v, %v, want 2.5", p, ok)
	}
	if _, ok := ReferencePrice(quote(0, 0, 0), ibclient.Sell, PennyTick); ok {
		t.Error("ReferencePrice of an empty quote is ok")
	}
	if _, ok := Mid(quote(3.2, 3.1, 0), ibclient.Buy, PennyTick); ok {
		t.Error("Mid of a crossed quote is ok")
	}
}

func TestCheckSyntax(t *testing.T) {
	today := date("2026-03-02")
	if err := CheckSyntax(validInput(), today, 5); err != nil {
		t.Fatalf("CheckSyntax(valid) = %v", err)
	}

	in := validInput()
	in.Expiry, in.Quantity, in.OrderType, in.Limit = "2026-02-27", "9", "MKT", "3.15"
	err := CheckSyntax(in, today, 5)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("CheckSyntax error = %v, want Errors", err)
	}
	for _, f := range []Field{FieldExpiry, FieldQuantity, FieldLimit} {
		if errs.For(f) == nil {
			t.Errorf("no error on %s: %v", f, errs)
		}
	}
	if fe := errs.For(FieldExpiry); fe != nil && !strings.Contains(fe.Error(), "in the past") {
		t.Errorf("expiry error = %q, want it to say the date is in the past", fe)
	}
	if len(errs) != 3 {
		t.Errorf("got %d errors, want 3: %v", len(errs), errs)
	}
}

func TestOrderTicket(t *testing.T) {
	o, err := Check(validInput(), testMarket())
	if err != nil {
		t.Fatal(err)
	}
	tk := o.Ticket("DU1234567", 801)
	if err := tk.Validate(); err != nil {
		t.Fatalf("ticket does not validate: %v", err)
	}
	orders, err := tk.Orders("ibdash-test-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 2 {
		t.Fatalf("got %d orders, want entry and stop", len(orders))
	}
	entry, stop := orders[0], orders[1]
	if entry.Side != ibclient.Sell || entry.OrderType != ibclient.Limit || entry.Price != 3.15 || entry.Quantity != 1 || entry.TIF != "DAY" {
		t.Errorf("entry = %+v", entry)
	}
	if stop.Side != ibclient.Buy || stop.OrderType != ibclient.Stop || stop.Price != 9.45 || stop.ParentID != "ibdash-test-1" {
		t.Errorf("stop = %+v", stop)
	}

	in := validInput()
	in.OrderType, in.StopLoss = "MKT", "2x"
	o, err = Check(in, testMarket())
	if err != nil {
		t.Fatal(err)
	}
	if tk := o.Ticket("DU1234567", 801); tk.LimitPrice != 0 || tk.OrderType != ibclient.Market {
		t.Errorf("market ticket = %+v, want no limit price", tk)
	}
}
