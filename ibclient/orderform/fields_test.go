package orderform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func date(s string) time.Time {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantFieldError checks that err is a *FieldError of field whose message
// contains every part of want.
func wantFieldError(t *testing.T, err error, field Field, want ...string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a *FieldError of %s", err, field)
	}
	if fe.Field != field {
		t.Errorf("field = %s, want %s (error %v)", fe.Field, field, err)
	}
	for _, part := range want {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not contain %q", err, part)
		}
	}
}

func TestParseSymbol(t *testing.T) {
	tests := []struct {
		in, want string
		errPart  string
	}{
		{"SPY", "SPY", ""},
		{" spy ", "SPY", ""},
		{"BRK.B", "BRK.B", ""},
		{"", "", "missing"},
		{"SP Y", "", "not a stock symbol"},
		{"1SPY", "", "not a stock symbol"},
		{"SPY$", "", "not a stock symbol"},
	}
	for _, tt := range tests {
		got, err := ParseSymbol(tt.in)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldSymbol, tt.errPart)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSymbol(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		errPart string
	}{
		{"2026-12-18", "2026-12-18", ""},
		{" 2026-12-18 ", "2026-12-18", ""},
		{"", "", "missing"},
		{"12/18/2026", "", "YYYY-MM-DD"},
		{"20261218", "", "YYYY-MM-DD"},
		{"2026-13-01", "", "YYYY-MM-DD"},
		{"2026-02-30", "", "YYYY-MM-DD"},
		{"2026-1-5", "", "YYYY-MM-DD"},
	}
	for _, tt := range tests {
		got, err := ParseExpiry(tt.in)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldExpiry, tt.errPart)
			continue
		}
		if err != nil || got.Format(DateLayout) != tt.want {
			t.Errorf("ParseExpiry(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckExpiry(t *testing.T) {
	today := date("2026-03-02")
	listed := []time.Time{date("2026-03-02"), date("2026-03-04"), date("2026-03-06"), date("2026-03-20"), date("2026-06-18")}
	tests := []struct {
		name    string
		expiry  string
		listed  []time.Time
		errPart []string
	}{
		{"listed", "2026-03-06", listed, nil},
		{"today listed", "2026-03-02", listed, nil},
		{"past", "2026-02-27", listed, []string{"in the past", "today in New York is 2026-03-02", "2026-03-02, 2026-03-04, 2026-03-06"}},
		{"not listed", "2026-03-05", listed, []string{"not a listed expiry", "2026-03-04, 2026-03-06"}},
		{"not listed far", "2026-06-19", listed, []string{"not a listed expiry", "2026-06-18"}},
		{"no list loaded", "2026-03-05", nil, nil},
		{"empty list", "2026-03-05", []time.Time{}, []string{"lists no expiries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckExpiry(date(tt.expiry), today, tt.listed)
			if tt.errPart == nil {
				if err != nil {
					t.Fatalf("CheckExpiry(%s) = %v, want nil", tt.expiry, err)
				}
				return
			}
			wantFieldError(t, err, FieldExpiry, tt.errPart...)
		})
	}
}

func TestParseStrike(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		errPart string
	}{
		{"500", 500, ""},
		{"502.5", 502.5, ""},
		{" 500.0 ", 500, ""},
		{"", 0, "missing"},
		{"five hundred", 0, "not a number"},
		{"-500", 0, "not a number"},
		{"0", 0, "above zero"},
		{"5e2", 0, "not a number"},
		{"NaN", 0, "not a number"},
		{"Inf", 0, "not a number"},
		{"0x1f4", 0, "not a number"},
	}
	for _, tt := range tests {
		got, err := ParseStrike(tt.in)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldStrike, tt.errPart)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStrike(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckStrike(t *testing.T) {
	expiry := date("2026-12-18")
	listed := []float64{480, 490, 495, 500, 505, 510, 520}
	tests := []struct {
		name    string
		strike  float64
		listed  []float64
		errPart []string
	}{
		{"listed", 500, listed, nil},
		{"between", 502.5, listed, []string{"502.5", "not listed for 2026-12-18", "495, 500, 505"}},
		{"pooled only", 515, listed, []string{"not listed for 2026-12-18", "505, 510, 520"}},
		{"below all", 100, listed, []string{"480, 490, 495"}},
		{"none listed", 500, nil, []string{"lists no strikes for 2026-12-18"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrike(tt.strike, expiry, tt.listed)
			if tt.errPart == nil {
				if err != nil {
					t.Fatalf("CheckStrike(%v) = %v, want nil", tt.strike, err)
				}
				return
			}
			wantFieldError(t, err, FieldStrike, tt.errPart...)
		})
	}
}

func TestParseRightAndSide(t *testing.T) {
	rights := map[string]ibclient.Right{"P": ibclient.Put, "put": ibclient.Put, " c ": ibclient.Call, "CALL": ibclient.Call}
	for in, want := range rights {
		if got, err := ParseRight(in); err != nil || got != want {
			t.Errorf("ParseRight(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "X", "puts"} {
		_, err := ParseRight(in)
		wantFieldError(t, err, FieldRight, "P for a put or C for a call")
	}

	sides := map[string]ibclient.Side{"BUY": ibclient.Buy, "b": ibclient.Buy, "sell": ibclient.Sell, " S ": ibclient.Sell}
	for in, want := range sides {
		if got, err := ParseSide(in); err != nil || got != want {
			t.Errorf("ParseSide(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "short", "BOT"} {
		_, err := ParseSide(in)
		wantFieldError(t, err, FieldSide, "BUY or SELL")
	}
	if ibclient.Buy.Opposite() != ibclient.Sell || ibclient.Sell.Opposite() != ibclient.Buy {
		t.Error("Opposite does not swap BUY and SELL")
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		errPart string
	}{
		{"1", 1, ""},
		{"10", 10, ""},
		{" 3 ", 3, ""},
		{"11", 0, "over the maximum of 10"},
		{"0", 0, "must be a whole number of contracts from 1 to 10"},
		{"-1", 0, "must be a whole number of contracts from 1 to 10"},
		{"-1", 0, "orders.max_quantity"},
		{"1.5", 0, "not a whole number; type a whole number of contracts from 1 to 10"},
		{"", 0, "missing"},
		{"ten", 0, "not a whole number"},
		{"+3", 0, "not a whole number"},
		{"99999999999999999999", 0, "over the maximum of 10"},
		{"-99999999999999999999", 0, "must be a whole number of contracts from 1 to 10"},
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.in, 10)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldQuantity, tt.errPart)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseQuantity(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseQuantity("11", 10)
	wantFieldError(t, err, FieldQuantity, "orders.max_quantity")
}

func TestParseOrderTypeAndTIF(t *testing.T) {
	types := map[string]ibclient.OrderType{"": ibclient.Limit, "lmt": ibclient.Limit, "LIMIT": ibclient.Limit, "MKT": ibclient.Market, "market": ibclient.Market}
	for in, want := range types {
		if got, err := ParseOrderType(in); err != nil || got != want {
			t.Errorf("ParseOrderType(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	_, err := ParseOrderType("STP")
	wantFieldError(t, err, FieldOrderType, "LMT (limit) or MKT (market)")

	tifs := map[string]TIF{"": Day, "day": Day, "GTC": GTC}
	for in, want := range tifs {
		if got, err := ParseTIF(in); err != nil || got != want {
			t.Errorf("ParseTIF(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	_, err = ParseTIF("IOC")
	wantFieldError(t, err, FieldTIF, "DAY or GTC")
}

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		errPart string
	}{
		{"3.15", 3.15, ""},
		{".5", 0.5, ""},
		{"3.", 3, ""},
		{"10", 10, ""},
		{"", 0, "missing"},
		{"3,15", 0, "not a price"},
		{"$3.15", 0, "not a price"},
		{"0", 0, "above zero"},
		{"0.00", 0, "above zero"},
		{"1e2", 0, "not a price"},
		{"3.1234567", 0, "not a price"},
	}
	for _, tt := range tests {
		got, err := ParsePrice(FieldLimit, tt.in)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldLimit, tt.errPart)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePrice(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckTick(t *testing.T) {
	nickel, err := NewTickRule([]TickStep{{0, 0.01}, {3, 0.05}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		price   float64
		rule    TickRule
		errPart []string
	}{
		{"penny", 3.17, PennyTick, nil},
		{"penny off", 3.175, PennyTick, []string{"3.175", "$0.01 tick", "use 3.17 or 3.18"}},
		{"nickel band below edge", 2.99, nickel, nil},
		{"nickel band on edge", 3.00, nickel, nil},
		{"nickel band on tick", 3.15, nickel, nil},
		{"nickel band off", 3.17, nickel, []string{"3.17", "$0.05 tick", "use 3.15 or 3.20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTick(FieldLimit, tt.price, tt.rule)
			if tt.errPart == nil {
				if err != nil {
					t.Fatalf("CheckTick(%v) = %v, want nil", tt.price, err)
				}
				return
			}
			wantFieldError(t, err, FieldLimit, tt.errPart...)
		})
	}
}

func TestParseStopLoss(t *testing.T) {
	tests := []struct {
		in      string
		want    StopLoss
		errPart string
	}{
		{"10.0", StopLoss{Price: 10}, ""},
		{"3x", StopLoss{Multiple: 3}, ""},
		{"2.5X", StopLoss{Multiple: 2.5}, ""},
		{"0.5x", StopLoss{Multiple: 0.5}, ""},
		{" 3 x ", StopLoss{Multiple: 3}, ""},
		{"", StopLoss{}, "missing"},
		{"x", StopLoss{}, "not a multiple"},
		{"0x", StopLoss{}, "not a multiple"},
		{"-2x", StopLoss{}, "not a multiple"},
		{"3xx", StopLoss{}, "not a multiple"},
		{"ten", StopLoss{}, "not a price or a multiple"},
		{"0", StopLoss{}, "above zero"},
	}
	for _, tt := range tests {
		got, err := ParseStopLoss(tt.in)
		if tt.errPart != "" {
			wantFieldError(t, err, FieldStopLoss, tt.errPart)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStopLoss(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestResolveStop(t *testing.T) {
	nickel, _ := NewTickRule([]TickStep{{0, 0.01}, {3, 0.05}})
	tests := []struct {
		name    string
		stop    StopLoss
		side    ibclient.Side
		entry   float64
		rule    TickRule
		want    float64
		errPart []string
	}{
		{"sell price above", StopLoss{Price: 10}, ibclient.Sell, 3.15, PennyTick, 10, nil},
		{"sell multiple", StopLoss{Multiple: 3}, ibclient.Sell, 1.23, PennyTick, 3.69, nil},
		{"sell multiple rounded to nickel", StopLoss{Multiple: 3}, ibclient.Sell, 1.23, nickel, 3.70, nil},
		{"buy price below", StopLoss{Price: 1.50}, ibclient.Buy, 3.15, PennyTick, 1.50, nil},
		{"buy half", StopLoss{Multiple: 0.5}, ibclient.Buy, 3.15, PennyTick, 1.58, nil},
		{"sell price below", StopLoss{Price: 2}, ibclient.Sell, 3.15, PennyTick, 0,
			[]string{"not above the entry 3.15", "SELL entry's stop is a BUY stop above it"}},
		{"sell price equal", StopLoss{Price: 3.15}, ibclient.Sell, 3.15, PennyTick, 0, []string{"not above the entry"}},
		{"buy price above", StopLoss{Price: 5}, ibclient.Buy, 3.15, PennyTick, 0,
			[]string{"not below the entry 3.15", "BUY entry's stop is a SELL stop below it"}},
		{"sell multiple under one", StopLoss{Multiple: 0.5}, ibclient.Sell, 3.15, PennyTick, 0, []string{"0.50x", "multiple over 1"}},
		{"buy multiple over one", StopLoss{Multiple: 3}, ibclient.Buy, 3.15, PennyTick, 0, []string{"3.00x", "multiple under 1"}},
		{"multiple without entry", StopLoss{Multiple: 3}, ibclient.Sell, 0, PennyTick, 0, []string{"needs an entry price"}},
		{"price off tick", StopLoss{Price: 10.03}, ibclient.Sell, 3.15, nickel, 0, []string{"$0.05 tick", "10.00 or 10.05"}},
		{"tiny multiple rounds onto entry", StopLoss{Multiple: 1.001}, ibclient.Sell, 1.00, PennyTick, 0, []string{"not above the entry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveStop(tt.stop, tt.side, tt.entry, tt.rule)
			if tt.errPart == nil {
				if err != nil {
					t.Fatalf("ResolveStop = %v", err)
				}
				if got != tt.want {
					t.Errorf("stop = %v, want %v", got, tt.want)
				}
				return
			}
			wantFieldError(t, err, FieldStopLoss, tt.errPart...)
		})
	}
}

func TestFormatPrice(t *testing.T) {
	tests := map[float64]string{3: "3.00", 3.1: "3.10", 3.15: "3.15", 0.005: "0.005", 1.0 / 3: "0.333333"}
	for in, want := range tests {
		if got := FormatPrice(in); got != want {
			t.Errorf("FormatPrice(%v) = %q, want %q", in, got, want)
		}
	}
	if got := FormatStrike(502.5); got != "502.5" {
		t.Errorf("FormatStrike(502.5) = %q", got)
	}
}

func TestFormatWhatIf(t *testing.T) {
	money := ibclient.Money{Number: ibclient.Number{Value: 1.05, Valid: true}, Currency: "USD"}
	if got := FormatMoney(money); got != "1.05 USD" {
		t.Errorf("FormatMoney = %q, want 1.05 USD", got)
	}
	if got := FormatMoney(ibclient.Money{}); got != "-" {
		t.Errorf("FormatMoney of nothing = %q, want -", got)
	}
	change := ibclient.MarginChange{
		Current: ibclient.Number{Value: 1000, Valid: true},
		Change:  ibclient.Number{Value: -12.5, Valid: true},
		After:   ibclient.Number{Value: 987.5, Valid: true},
	}
	if got := FormatChange(change); got != "1000 → 987.5 (-12.5)" {
		t.Errorf("FormatChange = %q", got)
	}
	if got := FormatChange(ibclient.MarginChange{}); got != "-" {
		t.Errorf("FormatChange of nothing = %q, want -", got)
	}
}
