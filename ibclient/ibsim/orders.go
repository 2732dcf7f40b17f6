package ibsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSuppressIDs is IB's limit of question ids per suppress request.
const maxSuppressIDs = 51

// orderRequest is one element of the orders array IB takes.
type orderRequest struct {
	AcctID     string   `json:"acctId"`
	Conid      int64    `json:"conid"`
	Conidex    string   `json:"conidex"`
	SecType    string   `json:"secType"`
	COID       string   `json:"cOID"`
	ParentID   string   `json:"parentId"`
	OrderType  string   `json:"orderType"`
	Price      *float64 `json:"price"`
	AuxPrice   *float64 `json:"auxPrice"`
	Side       string   `json:"side"`
	TIF        string   `json:"tif"`
	Quantity   float64  `json:"quantity"`
	OutsideRTH bool     `json:"outsideRTH"`
	Ticker     string   `json:"ticker"`
	Referrer   string   `json:"referrer"`
}

// pendingReply is a submission waiting for its confirmation questions.
type pendingReply struct {
	id        string
	questions []string // message ids still to ask, the first one asked now
	orders    []*order
	created   time.Time
}

// questionTexts are the simulator's wording of IB's confirmation
// questions; the ids are IB's.
var questionTexts = map[string]string{
	"o163":   "The limit price of %s is more than 10%% away from the current market. Are you sure you want to submit this order?",
	"o354":   "No market data has been requested for %s, so the order cannot be checked against the market. Are you sure you want to submit this order?",
	"o10331": "%s includes a stop order. Once triggered, a stop becomes a market order and may fill far from its stop price. Are you sure you want to submit this order?",
}

// decodeOrders accepts IB's {"orders":[...]} wrapper and a bare array.
func decodeOrders(body []byte) ([]orderRequest, error) {
	body = bytes.TrimSpace(body)
	var reqs []orderRequest
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &reqs); err != nil {
			return nil, fmt.Errorf("orders array is not valid JSON: %v", err)
		}
	} else {
		var wrapped struct {
			Orders []orderRequest `json:"orders"`
		}
		if err := json.Unmarshal(body, &wrapped); err != nil {
			return nil, fmt.Errorf("body is not JSON like {\"orders\":[...]}: %v", err)
		}
		reqs = wrapped.Orders
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("no orders in the body; send {\"orders\":[{...}]}")
	}
	return reqs, nil
}

// buildOrders checks each request and links children to parents by
// parentId == the parent's cOID within the same submission.
func (s *Server) buildOrders(reqs []orderRequest, account string, now time.Time) ([]*order, error) {
	byCOID := map[string]*order{}
	var out []*order
	for i, r := range reqs {
		o, err := s.buildOrder(r, account, now)
		if err != nil {
			return nil, fmt.Errorf("order %d: %w", i, err)
		}
		if o.cOID != "" {
			if _, dup := byCOID[o.cOID]; dup {
				return nil, fmt.Errorf("order %d: cOID %s appears twice in this submission", i, o.cOID)
			}
			byCOID[o.cOID] = o
		}
		if o.parentCOID != "" {
			parent, ok := byCOID[o.parentCOID]
			if !ok || parent.parent != nil {
				return nil, fmt.Errorf("order %d: parentId %s matches no earlier parent order's cOID in this submission", i, o.parentCOID)
			}
			o.parent = parent
			parent.children = append(parent.children, o)
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *Server) buildOrder(r orderRequest, account string, now time.Time) (*order, error) {
	if r.AcctID != "" && r.AcctID != account {
		return nil, fmt.Errorf("acctId %s differs from the account %s in the path", r.AcctID, account)
	}
	conid := r.Conid
	if conid == 0 && r.Conidex != "" {
		id, _, _ := strings.Cut(r.Conidex, "@")
		conid, _ = strconv.ParseInt(id, 10, 64)
	}
	if conid != SPYConid {
		c, ok := s.market.byConid[conid]
		if !ok {
			return nil, fmt.Errorf("conid %d is not SPY or a listed SPY option", conid)
		}
		if !c.expiry.After(now) {
			return nil, fmt.Errorf("conid %d expired on %s", conid, c.date)
		}
	}

	o := &order{
		cOID: r.COID, parentCOID: r.ParentID, account: account, conid: conid,
		side: r.Side, orderType: r.OrderType, quantity: r.Quantity, tif: r.TIF,
	}
	if o.tif == "" {
		o.tif = "DAY"
	}
	switch o.tif {
	case "DAY", "GTC", "IOC", "OPG":
	default:
		return nil, fmt.Errorf("tif %q is not DAY, GTC, IOC or OPG", o.tif)
	}
	if o.side != "BUY" && o.side != "SELL" {
		return nil, fmt.Errorf("side %q is not BUY or SELL", o.side)
	}
	if o.quantity <= 0 || o.quantity != math.Trunc(o.quantity) {
		return nil, fmt.Errorf("quantity %v must be a whole number above zero", o.quantity)
	}

	needPrice := func(name string, p *float64) (float64, error) {
		if p == nil || *p <= 0 {
			return 0, fmt.Errorf("orderType %s needs a %s above zero", o.orderType, name)
		}
		return *p, nil
	}
	var err error
	switch o.orderType {
	case TypeMarket:
	case TypeLimit, TypeStop:
		o.price, err = needPrice("price", r.Price)
	case TypeStopLimit:
		if o.price, err = needPrice("price (the limit)", r.Price); err == nil {
			o.auxPrice, err = needPrice("auxPrice (the stop)", r.AuxPrice)
		}
	default:
		err = fmt.Errorf("orderType %q is not one of LMT, MKT, STP, STOP_LIMIT (case-sensitive)", o.orderType)
	}
	return o, err
}

// questionsFor returns the confirmation questions a submission raises,
// without the suppressed ones: o354 for a conid with no snapshot in this
// session, o163 for a limit far from the mid, o10331 for a stop.
func (s *Server) questionsFor(orders []*order, sess *session, now time.Time) []string {
	raised := map[string]bool{}
	for _, o := range orders {
		if _, ok := sess.subscribed[o.conid]; !ok {
			raised["o354"] = true
		}
		if o.orderType == TypeLimit {
			if q, ok := s.market.quoteOf(o.conid, now); ok {
				mid := q.mid()
				gap := math.Abs(o.price - mid)
				if gap > questionPriceLimit*mid && gap > questionPriceFloor {
					raised["o163"] = true
				}
			}
		}
		if o.orderType == TypeStop || o.orderType == TypeStopLimit {
			raised["o10331"] = true
		}
	}
	var out []string
	for _, id := range []string{"o354", "o163", "o10331"} {
		if raised[id] && !sess.suppressed[id] {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) handlePlaceOrders(c *call) {
	account := c.r.PathValue("account")
	if account != s.opts.AccountID {
		s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("account %s is not one of /iserver/accounts (%s)", account, s.opts.AccountID))
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, "cannot read body: "+err.Error())
		return
	}
	reqs, err := decodeOrders(body)
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, err.Error())
		return
	}
	orders, err := s.buildOrders(reqs, account, c.now)
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, err.Error())
		return
	}
	if s.rejectRegistered(c, orders) {
		return
	}

	questions := s.questionsFor(orders, c.session, c.now)
	if len(questions) == 0 {
		c.session.reply = nil
		s.placeOrders(c, orders)
		return
	}
	// IB keeps one unanswered question per session: a new submission
	// makes the id of an older one unknown ("reply id not found").
	c.session.reply = &pendingReply{questions: questions, orders: orders, created: c.now}
	s.askQuestion(c, c.session.reply)
}

// rejectRegistered sends IB's duplicate-cOID error when an order's cOID
// was used in the last 24 hours, and returns true if it did.
func (s *Server) rejectRegistered(c *call, orders []*order) bool {
	for _, o := range orders {
		if o.cOID != "" && s.book.registered(o.cOID, c.now) {
			// NOTE: IB has been seen returning this with 200 and with 400,
			// and the simulator uses 400.
			s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("Order couldn't be submitted: Local order ID=%s is already registered.", o.cOID))
			return true
		}
	}
	return false
}

func (s *Server) askQuestion(c *call, p *pendingReply) {
	p.id = s.newUUID()
	id := p.questions[0]
	s.writeJSON(c, http.StatusOK, []map[string]any{{
		"id":           p.id,
		"message":      []string{fmt.Sprintf(questionTexts[id], describeOrders(s.market, p.orders))},
		"isSuppressed": false,
		"messageIds":   []string{id},
	}})
}

// describeOrders names the first order of a submission for a question,
// such as "BUY 2 SPY AUG 15 '25 640 Call LMT 3.15".
func describeOrders(m *market, orders []*order) string {
	o := orders[0]
	name := "SPY"
	if k, ok := m.byConid[o.conid]; ok {
		name = "SPY " + k.description()
	}
	desc := fmt.Sprintf("%s %v %s %s", o.side, o.quantity, name, o.orderType)
	if o.orderType != TypeMarket {
		desc += fmt.Sprintf(" %.2f", o.price)
	}
	if len(orders) > 1 {
		desc += fmt.Sprintf(" (with %d attached orders)", len(orders)-1)
	}
	return desc
}

func (s *Server) placeOrders(c *call, orders []*order) {
	s.book.add(orders, c.now)
	ack := make([]map[string]string, 0, len(orders))
	for _, o := range orders {
		ack = append(ack, map[string]string{
			"order_id":        strconv.FormatInt(o.id, 10),
			"order_status":    o.status,
			"encrypt_message": "1",
		})
		s.log.Info("order placed", "order_id", o.id, "cOID", o.cOID, "parentId", o.parentCOID,
			"side", o.side, "type", o.orderType, "price", o.price, "quantity", o.quantity, "conid", o.conid)
	}
	s.writeJSON(c, http.StatusOK, ack)
}

func (s *Server) handleReply(c *call) {
	p := c.session.reply
	id := c.r.PathValue("id")
	if p == nil || p.id != id || c.now.Sub(p.created) > s.opts.ReplyLifetime {
		// NOTE: the exact text of IB's response is not published.
		s.writeOrderError(c, http.StatusBadRequest, "reply id "+id+" not found; it was answered, replaced by a newer order submission, or expired")
		return
	}
	var req struct {
		Confirmed *bool `json:"confirmed"`
	}
	body, _ := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil || req.Confirmed == nil {
		s.writeOrderError(c, http.StatusBadRequest, "body must be JSON like {\"confirmed\":true}")
		return
	}

	if !*req.Confirmed {
		c.session.reply = nil
		// NOTE: IB's response to a declined question is not published, so
		// the simulator states that nothing was submitted.
		s.writeJSON(c, http.StatusOK, map[string]any{"confirmed": false, "message": "order discarded; nothing was submitted"})
		return
	}

	p.questions = p.questions[1:]
	if len(p.questions) > 0 {
		s.askQuestion(c, p)
		return
	}
	c.session.reply = nil
	if s.rejectRegistered(c, p.orders) {
		return
	}
	s.placeOrders(c, p.orders)
}

func (s *Server) handleSuppress(c *call) {
	var req struct {
		MessageIDs []string `json:"messageIds"`
	}
	body, _ := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(c, http.StatusBadRequest, "Bad Request: body must be JSON like {\"messageIds\":[\"o163\"]}")
		return
	}
	if len(req.MessageIDs) > maxSuppressIDs {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: %d message ids; the limit is %d per request", len(req.MessageIDs), maxSuppressIDs))
		return
	}
	// Each request sends the full list, which replaces the previous one.
	c.session.suppressed = map[string]bool{}
	for _, id := range req.MessageIDs {
		c.session.suppressed[id] = true
	}
	s.writeJSON(c, http.StatusOK, map[string]string{"status": "submitted"})
}

func (s *Server) handleSuppressReset(c *call) {
	c.session.suppressed = nil
	s.writeJSON(c, http.StatusOK, map[string]string{"status": "submitted"})
}

// handleWhatIf previews the first order of the body without placing it.
// The margin figures are the simulator's simplification: a position's
// margin is its value at the mid.
func (s *Server) handleWhatIf(c *call) {
	account := c.r.PathValue("account")
	if account != s.opts.AccountID {
		s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("account %s is not one of /iserver/accounts (%s)", account, s.opts.AccountID))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	reqs, err := decodeOrders(body)
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, err.Error())
		return
	}
	orders, err := s.buildOrders(reqs, account, c.now)
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, err.Error())
		return
	}

	o := orders[0]
	q, _ := s.market.quoteOf(o.conid, c.now)
	price := o.price
	if o.orderType != TypeLimit {
		price = q.mid()
	}
	multiplier := 1.0
	if o.conid != SPYConid {
		multiplier = optionMultiplier
	}
	amount := price * o.quantity * multiplier
	fee := commission(o.quantity, o.conid)
	signed := o.quantity
	if o.side == "SELL" {
		signed = -signed
	}

	equity := s.book.netLiquidation(s.market, c.now)
	position := s.book.positions[o.conid]
	margin := math.Abs(position) * q.mid() * multiplier
	marginAfter := math.Abs(position+signed) * q.mid() * multiplier
	s.writeJSON(c, http.StatusOK, map[string]any{
		"amount": map[string]string{
			"amount":     formatMoney(amount) + " USD",
			"commission": formatMoney(fee) + " USD",
			"total":      formatMoney(amount+fee) + " USD",
		},
		"equity":      changeRow(equity, -fee),
		"initial":     changeRow(margin, marginAfter-margin),
		"maintenance": changeRow(margin*0.9, (marginAfter-margin)*0.9),
		"position":    changeRow(position, signed),
		"warn":        nil,
		"error":       nil,
	})
}

// changeRow is the what-if form {"current","change","after"} in whole
// units with thousands separators, as IB formats it.
func changeRow(current, change float64) map[string]string {
	return map[string]string{
		"current": formatThousands(int64(math.Round(current))),
		"change":  formatThousands(int64(math.Round(change))),
		"after":   formatThousands(int64(math.Round(current + change))),
	}
}

// formatMoney writes dollars with two decimals and thousands separators.
func formatMoney(v float64) string {
	cents := int64(math.Round(v * 100))
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%s.%02d", sign, formatThousands(cents/100), cents%100)
}

// handleLiveOrders lists the account's orders of the day. filters keeps
// the given statuses; force=true clears IB's cache and returns an empty
// list, as IB does.
func (s *Server) handleLiveOrders(c *call) {
	q := c.r.URL.Query()
	if force, _ := strconv.ParseBool(q.Get("force")); force {
		s.writeJSON(c, http.StatusOK, map[string]any{"orders": []any{}, "snapshot": false})
		return
	}
	keep := map[string]bool{}
	for _, f := range strings.Split(q.Get("filters"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			keep[strings.ToLower(f)] = true
		}
	}
	if acct := q.Get("accountId"); acct != "" && acct != s.opts.AccountID {
		s.writeJSON(c, http.StatusOK, map[string]any{"orders": []any{}, "snapshot": true})
		return
	}

	rows := []map[string]any{}
	for _, o := range s.book.orders {
		if len(keep) > 0 && !keep[strings.ToLower(o.status)] {
			continue
		}
		rows = append(rows, s.liveOrderRow(o))
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"orders": rows, "snapshot": true})
}

func (s *Server) liveOrderRow(o *order) map[string]any {
	desc, kind := "SPY", "STK"
	if k, ok := s.market.byConid[o.conid]; ok {
		desc, kind = "SPY "+k.description(), "OPT"
	}
	row := map[string]any{
		"acct":              o.account,
		"conid":             strconv.FormatInt(o.conid, 10),
		"conidex":           strconv.FormatInt(o.conid, 10),
		"orderId":           o.id,
		"cashCcy":           "USD",
		"sizeAndFills":      fmt.Sprintf("%v/%v", o.filled, o.quantity),
		"orderDesc":         orderDescription(o),
		"description1":      desc,
		"ticker":            "SPY",
		"secType":           kind,
		"listingExchange":   "SMART",
		"remainingQuantity": o.quantity - o.filled,
		"filledQuantity":    o.filled,
		"totalSize":         o.quantity,
		"companyName":       "SPDR S&P 500 ETF TRUST",
		"status":            o.status,
		"order_ccp_status":  o.status,
		"origOrderType":     longOrderType(o.orderType),
		"supportsTaxOpt":    "1",
		"orderType":         longOrderType(o.orderType),
		"bgColor":           "#FFFFFF",
		"fgColor":           "#000000",
		"order_ref":         o.cOID,
		"timeInForce":       o.tif,
		"side":              o.side,
	}
	if o.orderType != TypeMarket {
		row["price"] = fmt.Sprintf("%.2f", o.price)
	}
	if o.orderType == TypeStopLimit {
		row["auxPrice"] = fmt.Sprintf("%.2f", o.auxPrice)
	}
	if o.filled > 0 {
		row["avgPrice"] = fmt.Sprintf("%.2f", o.avgPrice)
		row["lastExecutionTime"] = o.lastExecute.UTC().Format("060102150405")
		row["lastExecutionTime_r"] = o.lastExecute.UnixMilli()
	}
	return row
}

func longOrderType(t string) string {
	switch t {
	case TypeLimit:
		return "Limit"
	case TypeMarket:
		return "Market"
	case TypeStop:
		return "Stop"
	case TypeStopLimit:
		return "StopLimit"
	}
	return t
}

func orderDescription(o *order) string {
	side := "Buy"
	if o.side == "SELL" {
		side = "Sell"
	}
	desc := fmt.Sprintf("%s %v %s", side, o.quantity, longOrderType(o.orderType))
	switch o.orderType {
	case TypeLimit, TypeStop:
		desc += fmt.Sprintf(" %.2f", o.price)
	case TypeStopLimit:
		desc += fmt.Sprintf(" %.2f, stop %.2f", o.price, o.auxPrice)
	}
	return desc + ", " + o.tif
}

func (s *Server) handleOrderStatus(c *call) {
	o, ok := s.orderByPath(c)
	if !ok {
		return
	}
	desc := "SPY"
	if k, ok := s.market.byConid[o.conid]; ok {
		desc = "SPY " + k.description()
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"order_id":                        o.id,
		"conid":                           o.conid,
		"symbol":                          "SPY",
		"side":                            o.side[:1],
		"order_status":                    o.status,
		"size":                            strconv.FormatFloat(o.quantity-o.filled, 'f', -1, 64),
		"total_size":                      strconv.FormatFloat(o.quantity, 'f', -1, 64),
		"cum_fill":                        strconv.FormatFloat(o.filled, 'f', -1, 64),
		"average_price":                   fmt.Sprintf("%.2f", o.avgPrice),
		"limit_price":                     fmt.Sprintf("%.2f", o.price),
		"order_type":                      longOrderType(o.orderType),
		"tif":                             o.tif,
		"order_description":               orderDescription(o),
		"order_description_with_contract": desc + " " + orderDescription(o),
		"cannot_cancel_order":             !o.working(),
		"order_time":                      o.placed.UTC().Format("060102150405"),
		"account":                         o.account,
		"order_ref":                       o.cOID,
	})
}

// orderByPath finds the order named by the {id} path value. When there
// is none, it writes the error response itself.
func (s *Server) orderByPath(c *call) (*order, bool) {
	raw := c.r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("order id %q is not a number", raw))
		return nil, false
	}
	o, ok := s.book.byID[id]
	if !ok {
		s.writeOrderError(c, http.StatusNotFound, fmt.Sprintf("order %d not found", id))
		return nil, false
	}
	return o, true
}

// handleCancel sends IB's receipt; the order and its children go to
// PendingCancel and reach Cancelled after the submit delay.
func (s *Server) handleCancel(c *call) {
	account := c.r.PathValue("account")
	if account != s.opts.AccountID {
		s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("account %s is not one of /iserver/accounts (%s)", account, s.opts.AccountID))
		return
	}
	o, ok := s.orderByPath(c)
	if !ok {
		return
	}
	if !o.working() {
		s.writeOrderError(c, http.StatusBadRequest, fmt.Sprintf("order %d is %s and can no longer be cancelled", o.id, o.status))
		return
	}
	s.book.cancel(o, c.now)
	s.log.Info("order cancel requested", "order_id", o.id, "cOID", o.cOID, "children", len(o.children))
	s.writeJSON(c, http.StatusOK, map[string]any{
		"msg":      "Request was submitted",
		"order_id": o.id, // a number here, a string in the placement ack, as in IB
		"conid":    o.conid,
		"account":  o.account,
	})
}

// newUUID returns a version 4 UUID from the seeded source, so reply ids
// repeat between runs with the same seed.
func (s *Server) newUUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.idRand.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
