package ibclient_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ibdash/ibdash/ibclient"
)

func TestSearchStockPicksOptionRow(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)

	u, err := s.Client().SearchStock(context.Background(), "spy")
	if err != nil {
		t.Fatalf("SearchStock: %v", err)
	}
	if u.Conid != spyConid {
		t.Errorf("conid = %d, want %d (the row with an OPT section)", u.Conid, spyConid)
	}
	if want := []string{"JAN27", "FEB27"}; !slices.Equal(u.Months, want) {
		t.Errorf("months = %v, want %v", u.Months, want)
	}
	if want := []string{"20270108", "20270115"}; !slices.Equal(u.Expiries, want) {
		t.Errorf("expiries = %v, want %v", u.Expiries, want)
	}

	if _, err := s.Client().SearchStock(context.Background(), "NOPE"); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("SearchStock(NOPE) = %v, want an error naming the symbol", err)
	}
}

func TestStrikesSorted(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	strikes, err := s.Client().Strikes(context.Background(), spyConid, "JAN27")
	if err != nil {
		t.Fatalf("Strikes: %v", err)
	}
	if want := []float64{590, 595, 600, 605, 610}; !slices.Equal(strikes.For(ibclient.Put), want) {
		t.Errorf("put strikes = %v, want %v", strikes.Put, want)
	}
	if _, err := s.Client().Strikes(context.Background(), spyConid, "jan27"); err == nil {
		t.Error("lower-case month accepted")
	}
}

func TestOptionContractByMaturity(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()

	c, err := s.Client().OptionContract(ctx, spyConid, "20270108", 600, ibclient.Call)
	if err != nil {
		t.Fatalf("OptionContract: %v", err)
	}
	if c.MaturityDate != "20270108" || int64(c.Conid) != 800080000+6000 || float64(c.Strike) != 600 || c.Right != ibclient.Call {
		t.Errorf("contract = %+v, want the 8 Jan 600 call", c)
	}
	if float64(c.Multiplier) != 100 {
		t.Errorf("multiplier = %g, want 100 (sent as a string)", c.Multiplier)
	}

	_, err = s.Client().OptionContract(ctx, spyConid, "20270108", 610, ibclient.Call)
	if err == nil || !strings.Contains(err.Error(), "20270108") {
		t.Errorf("610 call on 8 Jan = %v, want an error naming the expiry", err)
	}
	if _, err := s.Client().OptionContract(ctx, spyConid, "2027-01-08", 600, ibclient.Call); err == nil {
		t.Error("expiry with dashes accepted")
	}
	if _, err := s.Client().OptionContract(ctx, spyConid, "20270108", 600, "X"); err == nil {
		t.Error("right X accepted")
	}
}

func TestExpiryStrikesFilterPooled(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()

	got, err := s.Client().ExpiryStrikes(ctx, spyConid, "20270108", ibclient.Call, 600, 50)
	if err != nil {
		t.Fatalf("ExpiryStrikes: %v", err)
	}
	if want := []float64{595, 600, 605}; !slices.Equal(got, want) {
		t.Errorf("strikes for 8 Jan = %v, want %v (590 and 610 exist only on the 15th)", got, want)
	}
	infoCalls := ib.count("GET iserver/secdef/info")

	got, err = s.Client().ExpiryStrikes(ctx, spyConid, "20270115", ibclient.Call, 600, 50)
	if err != nil {
		t.Fatalf("ExpiryStrikes: %v", err)
	}
	if want := []float64{590, 595, 600, 605, 610}; !slices.Equal(got, want) {
		t.Errorf("strikes for 15 Jan = %v, want %v", got, want)
	}
	if again := ib.count("GET iserver/secdef/info"); again != infoCalls {
		t.Errorf("secdef/info calls went from %d to %d, want the cached answers reused", infoCalls, again)
	}

	limited, err := s.Client().ExpiryStrikes(ctx, spyConid, "20270115", ibclient.Call, 600, 3)
	if err != nil {
		t.Fatalf("ExpiryStrikes with limit 3: %v", err)
	}
	if want := []float64{595, 600, 605}; !slices.Equal(limited, want) {
		t.Errorf("3 strikes nearest 600 = %v, want %v", limited, want)
	}
}

func TestExpiriesFromInfo(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()

	// Without an opt field the expiries come from secdef/info.
	u := &ibclient.Underlying{Conid: spyConid, Symbol: "SPY"}
	got, err := s.Client().Expiries(ctx, u, "JAN27")
	if err != nil {
		t.Fatalf("Expiries: %v", err)
	}
	if want := []string{"20270108", "20270115"}; !slices.Equal(got, want) {
		t.Errorf("expiries = %v, want %v", got, want)
	}

	u.Expiries = []string{"20270115", "20270219"}
	got, err = s.Client().Expiries(ctx, u, "JAN27")
	if err != nil {
		t.Fatalf("Expiries: %v", err)
	}
	if want := []string{"20270115"}; !slices.Equal(got, want) {
		t.Errorf("expiries from opt = %v, want %v", got, want)
	}
}

func TestExpiryMonth(t *testing.T) {
	got, err := ibclient.ExpiryMonth("20250815")
	if err != nil || got != "AUG25" {
		t.Errorf("ExpiryMonth(20250815) = %q, %v, want AUG25", got, err)
	}
	if _, err := ibclient.ExpiryMonth("20251315"); err == nil {
		t.Error("month 13 accepted")
	}
}
