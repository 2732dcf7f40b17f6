package ibsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

const ordersPath = "/iserver/account/" + ibsim.DefaultAccountID + "/orders"

// question is one element of IB's reply-message answer.
type question struct {
	ID           string   `json:"id"`
	Message      []string `json:"message"`
	IsSuppressed bool     `json:"isSuppressed"`
	MessageIDs   []string `json:"messageIds"`
}

// ack is one element of IB's order acknowledgement.
type ack struct {
	OrderID     string `json:"order_id"`
	OrderStatus string `json:"order_status"`
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// submit posts orders and returns the questions or the acks.
func submit(t *testing.T, c *client, body any) ([]question, []ack) {
	t.Helper()
	status, data := c.do("POST", ordersPath, body)
	if status != 200 {
		t.Fatalf("placing orders: status %d, body %s", status, data)
	}
	return decodeOrderResponse(t, data)
}

func decodeOrderResponse(t *testing.T, data []byte) ([]question, []ack) {
	t.Helper()
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil || len(raw) == 0 {
		t.Fatalf("order response is not a non-empty array: %s", data)
	}
	if _, isQuestion := raw[0]["message"]; isQuestion {
		var qs []question
		if err := json.Unmarshal(data, &qs); err != nil {
			t.Fatal(err)
		}
		return qs, nil
	}
	var acks []ack
	if err := json.Unmarshal(data, &acks); err != nil {
		t.Fatal(err)
	}
	return nil, acks
}

// confirmAll answers every question with confirmed=true and returns the
// message ids asked, in order, and the final acks.
func confirmAll(t *testing.T, c *client, qs []question) ([]string, []ack) {
	t.Helper()
	var asked []string
	for range 10 {
		if len(qs) == 0 {
			t.Fatal("no question and no ack")
		}
		q := qs[0]
		if !uuidPattern.MatchString(q.ID) || len(q.Message) != 1 || q.IsSuppressed || len(q.MessageIDs) != 1 {
			t.Fatalf("question %+v is not in IB's form", q)
		}
		asked = append(asked, q.MessageIDs[0])
		status, data := c.do("POST", "/iserver/reply/"+q.ID, map[string]bool{"confirmed": true})
		if status != 200 {
			t.Fatalf("reply %s: status %d, body %s", q.ID, status, data)
		}
		var acks []ack
		qs, acks = decodeOrderResponse(t, data)
		if acks != nil {
			return asked, acks
		}
	}
	t.Fatal("more than 10 questions")
	return nil, nil
}

func limitOrder(cOID string, conid int64, side string, price float64, quantity int) map[string]any {
	return map[string]any{
		"acctId": ibsim.DefaultAccountID, "conid": conid, "secType": fmt.Sprintf("%d:OPT", conid), "cOID": cOID,
		"orderType": "LMT", "price": price, "side": side, "tif": "DAY", "quantity": quantity,
	}
}

func stopChild(parentCOID string, conid int64, stop float64, quantity int) map[string]any {
	return map[string]any{
		"acctId": ibsim.DefaultAccountID, "conid": conid, "parentId": parentCOID,
		"orderType": "STP", "price": stop, "side": "SELL", "tif": "GTC", "quantity": quantity,
	}
}

// tradingEnv returns a primed session and the AUG 15 600 call with its
// market data stream started.
func tradingEnv(t *testing.T) (*env, *client, ibsim.Option) {
	t.Helper()
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	opt := findOption(t, e.sim, "20250815", 600, "C")
	c.decode("GET", fmt.Sprintf("/iserver/marketdata/snapshot?conids=%d&fields=31,84,86", opt.Conid), nil, 200, nil)
	return e, c, opt
}

func bookOrder(t *testing.T, sim *ibsim.Server, cOIDOrParent string, child bool) ibsim.BookOrder {
	t.Helper()
	for _, o := range sim.Orders() {
		if (!child && o.COID == cOIDOrParent) || (child && o.ParentID == cOIDOrParent) {
			return o
		}
	}
	t.Fatalf("no order for %s (child %v) in %+v", cOIDOrParent, child, sim.Orders())
	return ibsim.BookOrder{}
}

func TestBracketLifecycle(t *testing.T) {
	e, c, opt := tradingEnv(t)
	bid, ask, err := e.sim.Quote(opt.Conid)
	if err != nil {
		t.Fatal(err)
	}
	stop := bid - 1.00

	qs, _ := submit(t, c, map[string]any{"orders": []any{
		limitOrder("spy-ent-0001", opt.Conid, "BUY", ask, 2),
		stopChild("spy-ent-0001", opt.Conid, stop, 2),
	}})
	asked, acks := confirmAll(t, c, qs)
	if !slices.Equal(asked, []string{"o10331"}) {
		t.Errorf("questions = %v, want only o10331 (stop order)", asked)
	}
	if len(acks) != 2 || acks[0].OrderStatus != "PreSubmitted" || acks[1].OrderStatus != "PreSubmitted" {
		t.Fatalf("acks = %+v, want two PreSubmitted", acks)
	}
	if _, err := strconv.ParseInt(acks[0].OrderID, 10, 64); err != nil {
		t.Errorf("order_id %q is not a number in a string", acks[0].OrderID)
	}

	parent := bookOrder(t, e.sim, "spy-ent-0001", false)
	child := bookOrder(t, e.sim, "spy-ent-0001", true)
	if parent.Side != "BUY" || parent.Type != "LMT" || parent.Price != ask || parent.Status != "PreSubmitted" {
		t.Errorf("parent = %+v", parent)
	}
	if child.Side != "SELL" || child.Type != "STP" || child.Price != stop || child.Status != "PreSubmitted" {
		t.Errorf("child = %+v", child)
	}

	// The marketable parent fills once submitted; the stop turns active.
	e.clock.Advance(ibsim.DefaultSubmitDelay)
	parent = bookOrder(t, e.sim, "spy-ent-0001", false)
	child = bookOrder(t, e.sim, "spy-ent-0001", true)
	if parent.Status != "Filled" || parent.Filled != 2 {
		t.Fatalf("parent after the submit delay = %+v, want Filled", parent)
	}
	if child.Status != "Submitted" {
		t.Fatalf("child after the parent filled = %+v, want Submitted", child)
	}
	if got := e.sim.Position(opt.Conid); got != 2 {
		t.Errorf("position = %v, want 2", got)
	}

	// The underlying falls until the call's bid crosses the stop.
	for price := e.sim.Underlying(); ; price -= 0.5 {
		if err := e.sim.SetUnderlying(price); err != nil {
			t.Fatal(err)
		}
		if b, _, _ := e.sim.Quote(opt.Conid); b <= stop {
			break
		}
		if price < 500 {
			t.Fatal("the call's bid never reached the stop")
		}
	}
	child = bookOrder(t, e.sim, "spy-ent-0001", true)
	if child.Status != "Filled" || child.AvgPrice > stop {
		t.Errorf("child after the stop was crossed = %+v, want Filled at or below %.2f", child, stop)
	}
	if got := e.sim.Position(opt.Conid); got != 0 {
		t.Errorf("position after the stop = %v, want 0", got)
	}
}

func TestQuestionsOneAfterAnother(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	opt := findOption(t, e.sim, "20250815", 600, "C")
	_, ask, _ := e.sim.Quote(opt.Conid)

	// No snapshot yet (o354), a limit far above the market (o163) and a
	// stop child (o10331).
	qs, _ := submit(t, c, map[string]any{"orders": []any{
		limitOrder("far-0001", opt.Conid, "BUY", ask*2, 1),
		stopChild("far-0001", opt.Conid, 0.5, 1),
	}})
	firstID := qs[0].ID
	asked, acks := confirmAll(t, c, qs)
	if !slices.Equal(asked, []string{"o354", "o163", "o10331"}) {
		t.Errorf("questions = %v, want o354, o163, o10331", asked)
	}
	if len(acks) != 2 {
		t.Errorf("acks = %+v, want 2", acks)
	}
	// An answered id is gone.
	status, data := c.do("POST", "/iserver/reply/"+firstID, map[string]bool{"confirmed": true})
	if status != http.StatusBadRequest || !strings.Contains(errorText(t, data), "not found") {
		t.Errorf("reusing an answered reply id: status %d, body %s", status, data)
	}
}

func TestReplyFalseDiscards(t *testing.T) {
	e, c, opt := tradingEnv(t)
	_, ask, _ := e.sim.Quote(opt.Conid)
	qs, _ := submit(t, c, []any{limitOrder("no-0001", opt.Conid, "BUY", ask, 1), stopChild("no-0001", opt.Conid, 0.5, 1)})
	status, data := c.do("POST", "/iserver/reply/"+qs[0].ID, map[string]bool{"confirmed": false})
	if status != 200 {
		t.Fatalf("reply false: status %d, body %s", status, data)
	}
	if n := len(e.sim.Orders()); n != 0 {
		t.Errorf("%d orders placed after confirmed=false, want 0", n)
	}
	// The cOID was never registered, so it may be used again.
	qs, _ = submit(t, c, []any{limitOrder("no-0001", opt.Conid, "BUY", ask, 1), stopChild("no-0001", opt.Conid, 0.5, 1)})
	if _, acks := confirmAll(t, c, qs); len(acks) != 2 {
		t.Errorf("acks = %+v", acks)
	}
}

func TestReplyIDNotFound(t *testing.T) {
	e, c, opt := tradingEnv(t)
	_, ask, _ := e.sim.Quote(opt.Conid)
	wantError(t, c, "POST", "/iserver/reply/5b0f3e8a-91c2-4d7e-a6b1-2f4c8d9e7a13", map[string]bool{"confirmed": true}, http.StatusBadRequest,
		"reply id 5b0f3e8a-91c2-4d7e-a6b1-2f4c8d9e7a13 not found; it was answered, replaced by a newer order submission, or expired")

	// A second submission replaces the first one's pending question.
	older, _ := submit(t, c, []any{limitOrder("a-0001", opt.Conid, "BUY", ask, 1), stopChild("a-0001", opt.Conid, 0.5, 1)})
	newer, _ := submit(t, c, []any{limitOrder("b-0001", opt.Conid, "BUY", ask, 1), stopChild("b-0001", opt.Conid, 0.5, 1)})
	if older[0].ID == newer[0].ID {
		t.Fatal("two submissions got the same reply id")
	}
	status, _ := c.do("POST", "/iserver/reply/"+older[0].ID, map[string]bool{"confirmed": true})
	if status != http.StatusBadRequest {
		t.Errorf("replying to the replaced question: status %d, want 400", status)
	}
	if _, acks := confirmAll(t, c, newer); len(acks) != 2 {
		t.Errorf("acks = %+v", acks)
	}

	// A question expires.
	qs, _ := submit(t, c, []any{limitOrder("c-0001", opt.Conid, "BUY", ask, 1), stopChild("c-0001", opt.Conid, 0.5, 1)})
	e.clock.Advance(ibsim.DefaultReplyLifetime + time.Second)
	c.decode("GET", "/tickle", nil, 200, nil)
	status, _ = c.do("POST", "/iserver/reply/"+qs[0].ID, map[string]bool{"confirmed": true})
	if status != http.StatusBadRequest {
		t.Errorf("replying after the question expired: status %d, want 400", status)
	}
}

func TestSuppressQuestions(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	opt := findOption(t, e.sim, "20250815", 600, "C")
	_, ask, _ := e.sim.Quote(opt.Conid)
	bracket := func(id string) any {
		return map[string]any{"orders": []any{limitOrder(id, opt.Conid, "BUY", ask*2, 1), stopChild(id, opt.Conid, 0.5, 1)}}
	}

	var out map[string]string
	c.decode("POST", "/iserver/questions/suppress", map[string][]string{"messageIds": {"o163", "o354", "o10331"}}, 200, &out)
	if out["status"] != "submitted" {
		t.Errorf("suppress response = %v", out)
	}
	if qs, acks := submit(t, c, bracket("s-0001")); qs != nil || len(acks) != 2 {
		t.Errorf("with every question suppressed: questions %+v, acks %+v", qs, acks)
	}

	c.decode("POST", "/iserver/questions/suppress", map[string][]string{"messageIds": {"o354"}}, 200, nil)
	qs, _ := submit(t, c, bracket("s-0002"))
	if asked, _ := confirmAll(t, c, qs); !slices.Equal(asked, []string{"o163", "o10331"}) {
		t.Errorf("with only o354 suppressed, asked %v", asked)
	}

	c.decode("POST", "/iserver/questions/suppress/reset", nil, 200, nil)
	qs, _ = submit(t, c, bracket("s-0003"))
	if asked, _ := confirmAll(t, c, qs); len(asked) != 3 {
		t.Errorf("after reset, asked %v, want three questions", asked)
	}

	many := make([]string, 52)
	for i := range many {
		many[i] = fmt.Sprintf("o%d", i)
	}
	if status, _ := c.do("POST", "/iserver/questions/suppress", map[string][]string{"messageIds": many}); status != http.StatusBadRequest {
		t.Errorf("52 ids: status %d, want 400", status)
	}
}

// suppressAll switches every question off for order tests that are not
// about questions.
func suppressAll(c *client) {
	c.e.t.Helper()
	c.decode("POST", "/iserver/questions/suppress", map[string][]string{"messageIds": {"o163", "o354", "o10331"}}, 200, nil)
}

func TestDuplicateCOID(t *testing.T) {
	e, c, opt := tradingEnv(t)
	suppressAll(c)
	bid, _, _ := e.sim.Quote(opt.Conid)
	order := []any{limitOrder("dup-0001", opt.Conid, "BUY", bid-0.5, 1)}
	submit(t, c, order)

	wantError(t, c, "POST", ordersPath, order, http.StatusBadRequest,
		"Order couldn't be submitted: Local order ID=dup-0001 is already registered.")

	status, data := c.do("POST", ordersPath, []any{limitOrder("twice", opt.Conid, "BUY", bid, 1), limitOrder("twice", opt.Conid, "BUY", bid, 1)})
	if status != http.StatusBadRequest || !strings.Contains(errorText(t, data), "appears twice") {
		t.Errorf("one cOID twice in a submission: status %d, body %s", status, data)
	}

	// A minute before 24 hours have passed the id is still taken. The
	// brokerage session has timed out by then, so it is started again.
	e.clock.Advance(24*time.Hour - time.Minute)
	c.startSession()
	suppressAll(c)
	wantError(t, c, "POST", ordersPath, order, http.StatusBadRequest,
		"Order couldn't be submitted: Local order ID=dup-0001 is already registered.")

	// After 24 hours the id is free again; the LST and session are gone
	// by then, so the client starts over.
	e.clock.Advance(time.Minute + time.Second)
	c.lst = nil
	c.startSession()
	suppressAll(c)
	if _, acks := submit(t, c, order); len(acks) != 1 {
		t.Errorf("the same cOID after 24 h: acks %+v", acks)
	}
}

func TestCancelCancelsChildren(t *testing.T) {
	e, c, opt := tradingEnv(t)
	suppressAll(c)
	bid, _, _ := e.sim.Quote(opt.Conid)
	_, acks := submit(t, c, []any{limitOrder("cxl-0001", opt.Conid, "BUY", bid-0.5, 1), stopChild("cxl-0001", opt.Conid, 0.5, 1)})
	e.clock.Advance(ibsim.DefaultSubmitDelay)
	if p := bookOrder(t, e.sim, "cxl-0001", false); p.Status != "Submitted" {
		t.Fatalf("resting parent = %+v, want Submitted", p)
	}

	var receipt map[string]any
	c.decode("DELETE", "/iserver/account/"+ibsim.DefaultAccountID+"/order/"+acks[0].OrderID, nil, 200, &receipt)
	if receipt["msg"] != "Request was submitted" || receipt["conid"] != float64(opt.Conid) || receipt["account"] != ibsim.DefaultAccountID {
		t.Errorf("cancel receipt = %v", receipt)
	}
	if id, ok := receipt["order_id"].(float64); !ok || strconv.FormatFloat(id, 'f', -1, 64) != acks[0].OrderID {
		t.Errorf("receipt order_id = %#v, want the number %s", receipt["order_id"], acks[0].OrderID)
	}
	if p, ch := bookOrder(t, e.sim, "cxl-0001", false), bookOrder(t, e.sim, "cxl-0001", true); p.Status != "PendingCancel" || ch.Status != "PendingCancel" {
		t.Errorf("right after cancel: parent %s, child %s, want PendingCancel", p.Status, ch.Status)
	}

	e.clock.Advance(ibsim.DefaultSubmitDelay)
	if p, ch := bookOrder(t, e.sim, "cxl-0001", false), bookOrder(t, e.sim, "cxl-0001", true); p.Status != "Cancelled" || ch.Status != "Cancelled" {
		t.Errorf("after the delay: parent %s, child %s, want Cancelled", p.Status, ch.Status)
	}
	status, data := c.do("DELETE", "/iserver/account/"+ibsim.DefaultAccountID+"/order/"+acks[0].OrderID, nil)
	if status != http.StatusBadRequest || !strings.Contains(errorText(t, data), "can no longer be cancelled") {
		t.Errorf("cancelling a cancelled order: status %d, body %s", status, data)
	}
	if status, _ := c.do("DELETE", "/iserver/account/"+ibsim.DefaultAccountID+"/order/1", nil); status != http.StatusNotFound {
		t.Errorf("cancelling an unknown order: status %d, want 404", status)
	}
}

func TestRestingLimitFillsWhenMarketMoves(t *testing.T) {
	e, c, opt := tradingEnv(t)
	suppressAll(c)
	_, ask, _ := e.sim.Quote(opt.Conid)
	limit := ask - 0.5
	submit(t, c, []any{limitOrder("rest-0001", opt.Conid, "BUY", limit, 1)})
	e.clock.Advance(ibsim.DefaultSubmitDelay)
	if o := bookOrder(t, e.sim, "rest-0001", false); o.Status != "Submitted" {
		t.Fatalf("order below the ask = %+v, want Submitted", o)
	}
	if err := e.sim.SetUnderlying(e.sim.Underlying() - 5); err != nil {
		t.Fatal(err)
	}
	o := bookOrder(t, e.sim, "rest-0001", false)
	if o.Status != "Filled" || o.AvgPrice > limit {
		t.Errorf("after the call cheapened: %+v, want Filled at or below %.2f", o, limit)
	}
}

func TestLiveOrders(t *testing.T) {
	e, c, opt := tradingEnv(t)
	suppressAll(c)
	bid, ask, _ := e.sim.Quote(opt.Conid)
	submit(t, c, []any{limitOrder("live-0001", opt.Conid, "BUY", ask, 1)})
	submit(t, c, []any{limitOrder("live-0002", opt.Conid, "BUY", bid-0.5, 1)})
	e.clock.Advance(ibsim.DefaultSubmitDelay)

	var live struct {
		Orders []map[string]any `json:"orders"`
	}
	c.decode("GET", "/iserver/account/orders", nil, 200, &live)
	if len(live.Orders) != 2 {
		t.Fatalf("live orders = %d rows, want 2", len(live.Orders))
	}
	row := live.Orders[0]
	if row["order_ref"] != "live-0001" || row["status"] != "Filled" || row["conid"] != strconv.FormatInt(opt.Conid, 10) {
		t.Errorf("first row = %v", row)
	}
	if _, ok := row["orderId"].(float64); !ok {
		t.Errorf("orderId = %#v, want a number", row["orderId"])
	}

	// IB allows this endpoint once every 5 seconds.
	status, _ := c.do("GET", "/iserver/account/orders", nil)
	if status != http.StatusTooManyRequests {
		t.Errorf("second call within 5 s: status %d, want 429", status)
	}
	e.clock.Advance(5 * time.Second)
	c.decode("GET", "/iserver/account/orders?filters=Submitted,PreSubmitted", nil, 200, &live)
	if len(live.Orders) != 1 || live.Orders[0]["order_ref"] != "live-0002" {
		t.Errorf("filtered rows = %v, want only live-0002", live.Orders)
	}
	e.clock.Advance(5 * time.Second)
	c.decode("GET", "/iserver/account/orders?force=true", nil, 200, &live)
	if len(live.Orders) != 0 {
		t.Errorf("force=true returned %d rows, want none", len(live.Orders))
	}
}

func TestOrderStatusEndpoint(t *testing.T) {
	e, c, opt := tradingEnv(t)
	suppressAll(c)
	_, ask, _ := e.sim.Quote(opt.Conid)
	_, acks := submit(t, c, []any{limitOrder("st-0001", opt.Conid, "BUY", ask, 3)})
	e.clock.Advance(ibsim.DefaultSubmitDelay)

	var st map[string]any
	c.decode("GET", "/iserver/account/order/status/"+acks[0].OrderID, nil, 200, &st)
	if st["order_status"] != "Filled" || st["cum_fill"] != "3" || st["order_ref"] != "st-0001" || st["cannot_cancel_order"] != true {
		t.Errorf("status = %v", st)
	}
	if status, _ := c.do("GET", "/iserver/account/order/status/999", nil); status != http.StatusNotFound {
		t.Errorf("unknown order: status %d, want 404", status)
	}
}

func TestWhatIf(t *testing.T) {
	e, c, opt := tradingEnv(t)
	var preview struct {
		Amount   map[string]string `json:"amount"`
		Equity   map[string]string `json:"equity"`
		Initial  map[string]string `json:"initial"`
		Position map[string]string `json:"position"`
	}
	c.decode("POST", ordersPath+"/whatif", map[string]any{"orders": []any{limitOrder("wi-0001", opt.Conid, "BUY", 3.15, 2)}}, 200, &preview)
	if preview.Amount["amount"] != "630.00 USD" || preview.Amount["commission"] != "1.30 USD" || preview.Amount["total"] != "631.30 USD" {
		t.Errorf("amount = %v, want 630.00, 1.30 and 631.30 USD", preview.Amount)
	}
	if preview.Equity["current"] != "1,000,000" || preview.Equity["change"] != "-1" {
		t.Errorf("equity = %v", preview.Equity)
	}
	if preview.Position["current"] != "0" || preview.Position["change"] != "2" || preview.Position["after"] != "2" {
		t.Errorf("position = %v", preview.Position)
	}
	if preview.Initial["after"] == "" {
		t.Errorf("initial = %v", preview.Initial)
	}
	if n := len(e.sim.Orders()); n != 0 {
		t.Errorf("whatif placed %d orders", n)
	}
}

func TestOrderValidation(t *testing.T) {
	_, c, opt := tradingEnv(t)
	cases := []struct {
		name string
		body any
		want string
	}{
		{"lower-case type", []any{map[string]any{"conid": opt.Conid, "orderType": "lmt", "price": 1.0, "side": "BUY", "quantity": 1}}, `orderType "lmt" is not one of`},
		{"no price", []any{map[string]any{"conid": opt.Conid, "orderType": "LMT", "side": "BUY", "quantity": 1}}, "needs a price above zero"},
		{"unknown conid", []any{map[string]any{"conid": 1, "orderType": "MKT", "side": "BUY", "quantity": 1}}, "conid 1 is not SPY"},
		{"zero quantity", []any{map[string]any{"conid": opt.Conid, "orderType": "MKT", "side": "BUY", "quantity": 0}}, "quantity 0 must be"},
		{"bad side", []any{map[string]any{"conid": opt.Conid, "orderType": "MKT", "side": "LONG", "quantity": 1}}, `side "LONG"`},
		{"orphan child", []any{stopChild("nobody", opt.Conid, 1, 1)}, "parentId nobody matches no earlier parent"},
		{"empty", map[string]any{"orders": []any{}}, "no orders in the body"},
		{"other account", []any{map[string]any{"acctId": "DU0000000", "conid": opt.Conid, "orderType": "MKT", "side": "BUY", "quantity": 1}}, "acctId DU0000000 differs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, data := c.do("POST", ordersPath, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", status, data)
			}
			if got := errorText(t, data); !strings.Contains(got, tc.want) {
				t.Errorf("error %q does not contain %q", got, tc.want)
			}
		})
	}
	status, _ := c.do("POST", "/iserver/account/DU0000000/orders", []any{limitOrder("x", opt.Conid, "BUY", 1, 1)})
	if status != http.StatusBadRequest {
		t.Errorf("unknown account in the path: status %d, want 400", status)
	}
}
