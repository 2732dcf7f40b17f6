package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ibdash/ibdash/ibclient"
)

// maxOrders is how many recent orders the panel lists.
const maxOrders = 20

// OrdersFromLive groups IB's live orders into parents with their
// attached stops, newest first.
//
// IB's live orders carry no parent id, and ibdash gives the attached
// stop no cOID (IB's spec says a child takes none), so a stop is matched
// to the parent with the same conid, the opposite side and the nearest
// lower order id: IB numbers a bracket's child right after its parent.
// NOTE: two brackets on one contract placed in an interleaved order
// could pair a stop with the wrong parent; the statuses stay right.
func OrdersFromLive(live []ibclient.LiveOrder) []Order {
	var parents, stops []ibclient.LiveOrder
	for _, o := range live {
		if isStop(o) && o.OrderRef == "" {
			stops = append(stops, o)
		} else {
			parents = append(parents, o)
		}
	}
	byIDDesc := func(a, b ibclient.LiveOrder) int { return cmp.Compare(orderNumber(b), orderNumber(a)) }
	slices.SortFunc(parents, byIDDesc)

	orders := make([]Order, len(parents))
	for i, p := range parents {
		orders[i] = Order{
			ID:          string(p.OrderID),
			Ref:         p.OrderRef,
			Description: describeLive(p),
			Legs:        []Leg{legOf("parent", p)},
		}
	}
	for _, s := range stops {
		i := parentOf(parents, s)
		if i < 0 {
			orders = append(orders, Order{ID: string(s.OrderID), Description: describeLive(s), Legs: []Leg{legOf("stop", s)}})
			continue
		}
		orders[i].Legs = append(orders[i].Legs, legOf("stop", s))
	}
	slices.SortStableFunc(orders, func(a, b Order) int { return cmp.Compare(numberOf(b.ID), numberOf(a.ID)) })
	if len(orders) > maxOrders {
		orders = orders[:maxOrders]
	}
	return orders
}

// parentOf returns the index of the parent of stop in parents (sorted
// by order id, highest first), or -1.
func parentOf(parents []ibclient.LiveOrder, stop ibclient.LiveOrder) int {
	id := orderNumber(stop)
	for i, p := range parents {
		if p.Conid == stop.Conid && !strings.EqualFold(p.Side, stop.Side) && orderNumber(p) < id {
			return i
		}
	}
	return -1
}

func isStop(o ibclient.LiveOrder) bool {
	return strings.EqualFold(o.OrderType, "STP") || strings.EqualFold(o.OrderType, "Stop")
}

func legOf(role string, o ibclient.LiveOrder) Leg {
	return Leg{Role: role, OrderID: string(o.OrderID), Status: o.Status,
		Filled: float64(o.FilledQuantity), Size: float64(o.TotalSize)}
}

// describeLive describes an order as IB does, after its contract when IB
// names it, so that two orders on different strikes look different.
func describeLive(o ibclient.LiveOrder) string {
	text := o.Description
	if text == "" {
		text = fmt.Sprintf("%s %g %s %s", o.Side, float64(o.TotalSize), o.Ticker, o.OrderType)
		if o.Price > 0 {
			text += fmt.Sprintf(" %.2f", float64(o.Price))
		}
	}
	if o.Contract != "" {
		return o.Contract + " · " + text
	}
	return text
}

func orderNumber(o ibclient.LiveOrder) int64 { return numberOf(string(o.OrderID)) }

// numberOf reads an order id as a number; ids that are not numbers sort
// first.
func numberOf(id string) int64 {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
