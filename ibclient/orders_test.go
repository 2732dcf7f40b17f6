package ibclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

const testOptionConid = 800150600

func testTicket() ibclient.Ticket {
	return ibclient.Ticket{Account: fakeAccount, Conid: testOptionConid, Side: ibclient.Buy, Quantity: 2,
		OrderType: ibclient.Limit, LimitPrice: 3.15, StopPrice: 2.05}
}

func testOrders(t *testing.T, coid string) []ibclient.Order {
	t.Helper()
	orders, err := testTicket().Orders(coid)
	if err != nil {
		t.Fatalf("Orders: %v", err)
	}
	return orders
}

func startedSession(t *testing.T, ib *fakeIB, opts ...ibclient.Option) *ibclient.Session {
	t.Helper()
	s := newTestSession(t, ib, fastSession(), opts...)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// recordingAsker answers every question with answer and records them.
type recordingAsker struct {
	mu     sync.Mutex
	answer bool
	asked  []ibclient.Question
}

func (a *recordingAsker) ask(_ context.Context, q ibclient.Question) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, q)
	return a.answer, nil
}

func TestTicketOrdersBracket(t *testing.T) {
	orders := testOrders(t, "ibdash-1")
	if len(orders) != 2 {
		t.Fatalf("orders = %d, want parent and stop", len(orders))
	}
	parent, stop := orders[0], orders[1]
	if parent.COID != "ibdash-1" || parent.ParentID != "" {
		t.Errorf("parent cOID/parentId = %q/%q, want ibdash-1/empty", parent.COID, parent.ParentID)
	}
	if parent.OrderType != ibclient.Limit || parent.Price != 3.15 || parent.TIF != "DAY" || parent.Side != ibclient.Buy {
		t.Errorf("parent = %+v, want BUY LMT 3.15 DAY", parent)
	}
	if stop.ParentID != "ibdash-1" || stop.COID != "" {
		t.Errorf("stop parentId/cOID = %q/%q, want ibdash-1/empty", stop.ParentID, stop.COID)
	}
	if stop.OrderType != ibclient.Stop || stop.Price != 2.05 || stop.Side != ibclient.Sell || stop.TIF != "GTC" {
		t.Errorf("stop = %+v, want SELL STP 2.05 GTC", stop)
	}
	if stop.Quantity != parent.Quantity {
		t.Errorf("stop quantity = %g, want the parent's %g", stop.Quantity, parent.Quantity)
	}
	if parent.SecType != "800150600:OPT" {
		t.Errorf("secType = %q, want 800150600:OPT", parent.SecType)
	}

	data, err := json.Marshal(map[string]any{"orders": orders})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cOID":"ibdash-1"`, `"parentId":"ibdash-1"`, `"orderType":"STP"`, `"acctId":"DU7654321"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("order body lacks %s: %s", want, data)
		}
	}
}

func TestTicketMarketHasNoPrice(t *testing.T) {
	ticket := testTicket()
	ticket.OrderType, ticket.LimitPrice = ibclient.Market, 0
	ticket.TIF, ticket.StopTIF = "IOC", "DAY"
	orders, err := ticket.Orders("c")
	if err != nil {
		t.Fatalf("Orders: %v", err)
	}
	if orders[0].Price != 0 || orders[0].TIF != "IOC" {
		t.Errorf("MKT parent price/tif = %g/%s, want 0/IOC", orders[0].Price, orders[0].TIF)
	}
	if orders[1].TIF != "DAY" {
		t.Errorf("stop tif = %s, want the set DAY", orders[1].TIF)
	}
}

func TestTicketValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*ibclient.Ticket)
		want   string
	}{
		{"no account", func(tk *ibclient.Ticket) { tk.Account = "" }, "no account"},
		{"bad conid", func(tk *ibclient.Ticket) { tk.Conid = 0 }, "conid 0"},
		{"bad side", func(tk *ibclient.Ticket) { tk.Side = "buy" }, `side "buy"`},
		{"zero quantity", func(tk *ibclient.Ticket) { tk.Quantity = 0 }, "quantity 0"},
		{"stop type as parent", func(tk *ibclient.Ticket) { tk.OrderType = ibclient.Stop }, `order type "STP"`},
		{"no limit price", func(tk *ibclient.Ticket) { tk.LimitPrice = 0 }, "limit price 0"},
		{"no stop", func(tk *ibclient.Ticket) { tk.StopPrice = 0 }, "stop price 0"},
		{"buy stop above limit", func(tk *ibclient.Ticket) { tk.StopPrice = 4 }, "below the limit price"},
		{"sell stop below limit", func(tk *ibclient.Ticket) { tk.Side = ibclient.Sell }, "above the limit price"},
		{"NaN quantity", func(tk *ibclient.Ticket) { tk.Quantity = math.NaN() }, "quantity NaN"},
		{"infinite quantity", func(tk *ibclient.Ticket) { tk.Quantity = math.Inf(1) }, "quantity +Inf"},
		{"NaN limit price", func(tk *ibclient.Ticket) { tk.LimitPrice = math.NaN() }, "limit price NaN"},
		{"NaN stop price", func(tk *ibclient.Ticket) { tk.StopPrice = math.NaN() }, "stop price NaN"},
		{"infinite limit price", func(tk *ibclient.Ticket) { tk.LimitPrice = math.Inf(1) }, "limit price +Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ticket := testTicket()
			tc.change(&ticket)
			err := ticket.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := testTicket().Validate(); err != nil {
		t.Errorf("valid ticket: %v", err)
	}
}

func TestNewCOIDFormat(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 30, 5, 0, time.UTC)
	a, err := ibclient.NewCOID("spy", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ibclient.NewCOID("spy", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^spy-261204153005-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("cOID %q does not have the form spy-YYMMDDhhmmss-RANDOM", a)
	}
	if a == b {
		t.Errorf("two cOIDs in the same second are equal: %s", a)
	}
	if _, err := ibclient.NewCOID("bad prefix!", now, nil); err == nil {
		t.Error("prefix with a space and ! accepted")
	}
}

func TestPlaceOrdersTwoQuestions(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.questionIDs = []string{"o163", "o10331"} })
	s := startedSession(t, ib)
	asker := &recordingAsker{answer: true}

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), asker.ask, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomePlaced {
		t.Fatalf("outcome = %s, want placed", p.Outcome)
	}
	if len(asker.asked) != 2 || asker.asked[0].MessageIDs[0] != "o163" || asker.asked[1].MessageIDs[0] != "o10331" {
		t.Errorf("questions asked = %+v, want o163 then o10331", asker.asked)
	}
	if len(p.Questions) != 2 {
		t.Errorf("placement records %d questions, want 2", len(p.Questions))
	}
	if len(p.Acks) != 2 {
		t.Errorf("acks = %d, want 2 (parent and stop)", len(p.Acks))
	}
	book := ib.orders()
	if len(book) != 2 || book[0].coid != p.COID || book[1].parentID != p.COID {
		t.Errorf("book = %+v, want the parent %s and its stop", book, p.COID)
	}
	if got := ib.count("POST iserver/account/" + fakeAccount + "/orders"); got != 1 {
		t.Errorf("placements sent = %d, want 1", got)
	}
}

func TestPlaceOrdersReplyLoopBounded(t *testing.T) {
	ib := newFakeIB(t)
	endless := make([]string, ibclient.MaxReplyRounds+5)
	for i := range endless {
		endless[i] = fmt.Sprintf("o9%03d", i)
	}
	ib.set(func(ib *fakeIB) { ib.questionIDs = endless })
	s := startedSession(t, ib)
	asker := &recordingAsker{answer: true}

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), asker.ask, nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d questions", ibclient.MaxReplyRounds)) {
		t.Fatalf("PlaceTicket = %v, want an error about too many questions", err)
	}
	if p.Outcome != ibclient.OutcomeRejected {
		t.Errorf("outcome = %s, want rejected", p.Outcome)
	}
	if len(asker.asked) != ibclient.MaxReplyRounds {
		t.Errorf("user was asked %d questions, want %d", len(asker.asked), ibclient.MaxReplyRounds)
	}
	if len(p.Questions) != ibclient.MaxReplyRounds+1 {
		t.Errorf("placement records %d questions, want %d", len(p.Questions), ibclient.MaxReplyRounds+1)
	}
	if book := ib.orders(); len(book) != 0 {
		t.Errorf("book = %+v, want nothing placed", book)
	}
}

func TestPlaceOrdersSuppressedQuestion(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.questionIDs = []string{"o163", "o10331"} })
	s := startedSession(t, ib)
	asker := &recordingAsker{answer: true}

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), asker.ask, []string{"o163"})
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomePlaced {
		t.Errorf("outcome = %s, want placed", p.Outcome)
	}
	if len(asker.asked) != 1 || asker.asked[0].MessageIDs[0] != "o10331" {
		t.Errorf("questions put to the user = %+v, want only o10331", asker.asked)
	}
}

func TestPlaceOrdersDeclined(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.questionIDs = []string{"o163"} })
	s := startedSession(t, ib)
	asker := &recordingAsker{answer: false}

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), asker.ask, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomeDeclined {
		t.Errorf("outcome = %s, want declined", p.Outcome)
	}
	if n := len(ib.orders()); n != 0 {
		t.Errorf("book has %d orders after a decline, want 0", n)
	}
}

func TestPlaceOrdersNoAskerDeclines(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.questionIDs = []string{"o354"} })
	s := startedSession(t, ib)

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "o354") {
		t.Errorf("error = %v, want one naming question o354", err)
	}
	if p == nil || p.Outcome != ibclient.OutcomeDeclined {
		t.Errorf("placement = %+v, want declined", p)
	}
	if n := len(ib.orders()); n != 0 {
		t.Errorf("book has %d orders, want 0", n)
	}
}

func TestPlaceOrdersDuplicateCOID(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()
	orders := testOrders(t, "ibdash-dup-1")

	if _, err := s.Client().PlaceOrders(ctx, fakeAccount, "ibdash-dup-1", orders, nil, nil); err != nil {
		t.Fatalf("first placement: %v", err)
	}
	p, err := s.Client().PlaceOrders(ctx, fakeAccount, "ibdash-dup-1", orders, nil, nil)
	if !ibclient.IsKind(err, ibclient.KindDuplicateOrder) {
		t.Fatalf("second placement error = %v, want KindDuplicateOrder", err)
	}
	if p.Outcome != ibclient.OutcomeRejected {
		t.Errorf("outcome = %s, want rejected", p.Outcome)
	}
	var apiErr *ibclient.APIError
	if errors.As(err, &apiErr) && !strings.Contains(apiErr.Explanation(), "live orders") {
		t.Errorf("explanation %q does not say to check live orders", apiErr.Explanation())
	}
	if n := len(ib.orders()); n != 2 {
		t.Errorf("book has %d orders, want the first bracket's 2", n)
	}
}

func TestPlaceOrdersTimeoutFoundByLookup(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.placeHang = true })
	s := startedSession(t, ib, ibclient.WithRequestTimeout(300*time.Millisecond))

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), nil, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomeFound {
		t.Fatalf("outcome = %s (err %v), want found", p.Outcome, p.Err)
	}
	if !ibclient.IsTimeout(p.Err) {
		t.Errorf("placement error = %v, want the timeout that caused the lookup", p.Err)
	}
	if got := ib.count("POST iserver/account/" + fakeAccount + "/orders"); got != 1 {
		t.Errorf("placements sent = %d, want exactly 1", got)
	}
	var parents []fakeOrder
	for _, o := range ib.orders() {
		if o.coid == p.COID {
			parents = append(parents, o)
		}
	}
	if len(parents) != 1 {
		t.Fatalf("book has %d orders with cOID %s, want exactly 1", len(parents), p.COID)
	}
	if len(p.OrderIDs) != 1 || p.OrderIDs[0] != itoa(parents[0].id) {
		t.Errorf("found order ids = %v, want [%d]", p.OrderIDs, parents[0].id)
	}
}

func TestPlaceOrdersLostRequestNotFound(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.placeLose = true })
	s := startedSession(t, ib, ibclient.WithRequestTimeout(300*time.Millisecond))

	// Another order is live, so the list is not IB's empty first response.
	ib.set(func(ib *fakeIB) { ib.commit(testOrders(t, "already-there")) })

	p, err := s.Client().PlaceTicket(context.Background(), testTicket(), nil, nil)
	if p.Outcome != ibclient.OutcomeNotFound {
		t.Fatalf("outcome = %s, want not found", p.Outcome)
	}
	if !ibclient.IsTimeout(err) {
		t.Errorf("error = %v, want the timeout", err)
	}
}

func TestWhatIfPreview(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)

	p, err := s.Client().WhatIf(context.Background(), fakeAccount, testOrders(t, "whatif-1"))
	if err != nil {
		t.Fatalf("WhatIf: %v", err)
	}
	if p.Commission.Value != 1.30 || p.Commission.Currency != "USD" {
		t.Errorf("commission = %+v, want 1.30 USD", p.Commission)
	}
	if p.Equity.Change.Value != -631 || p.Equity.Current.Value != 1002345 {
		t.Errorf("equity = %+v, want current 1002345 change -631", p.Equity)
	}
	if p.Initial.Change.Value != 631 || p.Maintenance.Change.Value != 631 {
		t.Errorf("margin changes = %v/%v, want 631/631", p.Initial.Change, p.Maintenance.Change)
	}
	if !strings.Contains(p.Warning, "outside regular hours") || p.Error != "" {
		t.Errorf("warning/error = %q/%q", p.Warning, p.Error)
	}
	if n := len(ib.orders()); n != 0 {
		t.Errorf("what-if placed %d orders, want 0", n)
	}
}

func TestOrderStatusAndCancel(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()
	p, err := s.Client().PlaceTicket(ctx, testTicket(), nil, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	id := string(p.Acks[0].OrderID)

	st, err := s.Client().OrderStatus(ctx, id)
	if err != nil {
		t.Fatalf("OrderStatus: %v", err)
	}
	if string(st.OrderID) != id || st.Status != "PreSubmitted" || float64(st.TotalSize) != 2 {
		t.Errorf("status = %+v, want order %s PreSubmitted size 2", st, id)
	}

	ack, err := s.Client().CancelOrder(ctx, fakeAccount, id)
	if err != nil {
		t.Fatalf("CancelOrder: %v", err)
	}
	if string(ack.OrderID) != id || ack.Message != "Request was submitted" {
		t.Errorf("cancel ack = %+v", ack)
	}

	live, err := s.Client().LiveOrders(ctx, fakeAccount)
	if err != nil {
		t.Fatalf("LiveOrders: %v", err)
	}
	if len(live) != 2 || string(live[0].OrderID) != id || live[0].Status != "PendingCancel" || live[0].OrderRef != p.COID {
		t.Errorf("live orders = %+v, want order %s PendingCancel with order_ref %s", live, id, p.COID)
	}
	if int64(live[0].Conid) != testOptionConid {
		t.Errorf("live order conid = %d, want %d (sent as a string)", live[0].Conid, testOptionConid)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestPlaceOrdersHostileResponses(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		outcome ibclient.Outcome
		lookups bool // whether the live orders must be searched
	}{
		{"question without id", 200, `[{"id":"","message":["Are you sure?"],"messageIds":["o163"]}]`, ibclient.OutcomeNotFound, true},
		{"unknown object", 200, `{"foo":1}`, ibclient.OutcomeNotFound, true},
		{"null", 200, `null`, ibclient.OutcomeNotFound, true},
		{"empty list", 200, `[]`, ibclient.OutcomeNotFound, true},
		{"truncated", 200, `[{"order_id":`, ibclient.OutcomeNotFound, true},
		{"list of lists", 200, `[[1]]`, ibclient.OutcomeNotFound, true},
		{"html 502", 502, `<html><title>502 Bad Gateway</title></html>`, ibclient.OutcomeNotFound, true},
		{"error in 200", 200, `{"error":"Order couldn't be submitted: Local order ID=x is already registered."}`, ibclient.OutcomeRejected, false},
		{"advanced reject", 200, `{"order_id":0,"text":"Order rejected: margin","messageId":"x"}`, ibclient.OutcomeRejected, false},
		{"429", 429, `Too Many Requests`, ibclient.OutcomeRejected, false},
		{"401", 401, `{"error":"not authenticated","statusCode":401}`, ibclient.OutcomeRejected, false},
		{"ack with numeric id", 200, `[{"order_id":1837465502,"order_status":"Submitted"}]`, ibclient.OutcomePlaced, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var posts, lookups atomic.Int32
			c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/orders"):
					posts.Add(1)
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
				case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/iserver/account/orders"):
					lookups.Add(1)
					writeJSON(w, 200, map[string]any{"orders": []map[string]any{{"orderId": "9", "order_ref": "someone-else"}}})
				default:
					http.NotFound(w, r)
				}
			})
			asker := &recordingAsker{answer: true}

			p, _ := c.PlaceOrders(context.Background(), fakeAccount, "ibdash-hostile", testOrders(t, "ibdash-hostile"), asker.ask, nil)
			if p == nil {
				t.Fatal("PlaceOrders returned no placement")
			}
			if p.Outcome != tc.outcome {
				t.Errorf("outcome = %s (err %v), want %s", p.Outcome, p.Err, tc.outcome)
			}
			if got := posts.Load(); got != 1 {
				t.Errorf("order POSTs = %d, want exactly 1", got)
			}
			if got := lookups.Load() > 0; got != tc.lookups {
				t.Errorf("searched live orders = %v, want %v", got, tc.lookups)
			}
			if len(asker.asked) != 0 {
				t.Errorf("user was asked %d questions, want none", len(asker.asked))
			}
		})
	}
}
