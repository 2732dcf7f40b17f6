package tui

import (
	"testing"

	"github.com/ibdash/ibdash/ibclient"
)

func TestOrdersFromLivePairsStops(t *testing.T) {
	live := []ibclient.LiveOrder{
		{OrderID: "101", OrderRef: "ibdash-a", Conid: 7, Side: "BUY", OrderType: "Limit", Status: "Filled", TotalSize: 1, FilledQuantity: 1, Description: "Bought 1 SPY Limit 4.15", Contract: "SPY AUG 15 '25 600 Put"},
		{OrderID: "102", Conid: 7, Side: "SELL", OrderType: "Stop", Status: "PreSubmitted", TotalSize: 1},
		{OrderID: "205", OrderRef: "ibdash-b", Conid: 9, Side: "SELL", OrderType: "Limit", Status: "Submitted", TotalSize: 2, Ticker: "SPY", Price: 3.1},
		{OrderID: "206", Conid: 9, Side: "BUY", OrderType: "Stop", Status: "PreSubmitted", TotalSize: 2},
		{OrderID: "300", Conid: 5, Side: "SELL", OrderType: "Stop", Status: "Submitted", TotalSize: 1, Ticker: "SPY"},
	}
	got := OrdersFromLive(live)
	if len(got) != 3 {
		t.Fatalf("got %d orders, want 3: %+v", len(got), got)
	}
	if got[0].ID != "300" || len(got[0].Legs) != 1 || got[0].Legs[0].Role != "stop" {
		t.Errorf("lone stop = %+v, want order 300 with one stop leg", got[0])
	}
	if got[1].ID != "205" || len(got[1].Legs) != 2 || got[1].Legs[1].OrderID != "206" {
		t.Errorf("second bracket = %+v, want 205 with stop 206", got[1])
	}
	if got[1].Description != "SELL 2 SPY Limit 3.10" {
		t.Errorf("built description = %q", got[1].Description)
	}
	if got[2].ID != "101" || len(got[2].Legs) != 2 || got[2].Legs[1].Status != "PreSubmitted" {
		t.Errorf("first bracket = %+v, want 101 with stop 102", got[2])
	}
	if got[2].Description != "SPY AUG 15 '25 600 Put · Bought 1 SPY Limit 4.15" {
		t.Errorf("description with contract = %q", got[2].Description)
	}
	if got[2].Legs[0].Filled != 1 || got[2].Legs[0].Size != 1 {
		t.Errorf("parent fill = %g/%g, want 1/1", got[2].Legs[0].Filled, got[2].Legs[0].Size)
	}
}
