package ibclient

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Side is an order side.
type Side string

// The order sides.
const (
	Buy  Side = "BUY"
	Sell Side = "SELL"
)

// Opposite returns the side that closes a position opened with s.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// OrderType is IB's orderType; the values are case-sensitive.
type OrderType string

// The order types a ticket uses.
const (
	Limit  OrderType = "LMT"
	Market OrderType = "MKT"
	Stop   OrderType = "STP"
)

// Limits of the reply loop and of the lookup after an uncertain placement.
const (
	// MaxReplyRounds bounds the confirmation questions of one placement,
	// as ibind does; IB has not been seen to ask more than a handful.
	MaxReplyRounds = 20
	// lookupAttempts and lookupTimeout bound the live-orders lookup that
	// settles a placement whose response was lost. The endpoint allows one
	// call per 5 s, and its first response may be empty.
	lookupAttempts = 3
	lookupTimeout  = 30 * time.Second
	// defaultOrderTimeout bounds each placement and reply request, even
	// without WithRequestTimeout or a context deadline, so that an IB
	// that never responds ends in the lookup instead of holding the ticket.
	// NOTE: 60 s is a guess well above IB's usual second or two.
	defaultOrderTimeout = 60 * time.Second
)

// Ticket is one order as the user enters it: a parent order and the stop
// attached to it.
type Ticket struct {
	Account  string
	Conid    int64
	SecType  string // default OPT
	Side     Side
	Quantity float64
	// OrderType is the parent's type, LMT or MKT.
	OrderType  OrderType
	LimitPrice float64 // LMT only
	// StopPrice is the trigger of the attached stop, which is required.
	StopPrice  float64
	TIF        string // parent's time in force; default DAY
	StopTIF    string // the stop's time in force; default GTC
	OutsideRTH bool
	// COIDPrefix starts the client order id; default "ibdash".
	COIDPrefix string
}

// Order is one element of the body of POST iserver/account/{id}/orders.
type Order struct {
	AccountID  string    `json:"acctId,omitempty"`
	Conid      int64     `json:"conid"`
	SecType    string    `json:"secType,omitempty"`
	COID       string    `json:"cOID,omitempty"`
	ParentID   string    `json:"parentId,omitempty"`
	OrderType  OrderType `json:"orderType"`
	Price      float64   `json:"price,omitempty"`
	Side       Side      `json:"side"`
	TIF        string    `json:"tif"`
	Quantity   float64   `json:"quantity"`
	OutsideRTH bool      `json:"outsideRTH"`
}

// Validate checks the ticket and names the first field that is wrong.
func (t Ticket) Validate() error {
	// NaN passes every comparison below, and json.Marshal rejects it.
	for _, v := range []struct {
		name  string
		value float64
	}{{"quantity", t.Quantity}, {"limit price", t.LimitPrice}, {"stop price", t.StopPrice}} {
		if math.IsNaN(v.value) || math.IsInf(v.value, 0) {
			return fmt.Errorf("ibclient: ticket %s %g is not a finite number", v.name, v.value)
		}
	}
	switch {
	case t.Account == "":
		return errors.New("ibclient: ticket has no account; prime the session first")
	case t.Conid <= 0:
		return fmt.Errorf("ibclient: ticket conid %d is not a contract id", t.Conid)
	case t.Side != Buy && t.Side != Sell:
		return fmt.Errorf("ibclient: ticket side %q is not BUY or SELL", string(t.Side))
	case t.Quantity <= 0:
		return fmt.Errorf("ibclient: ticket quantity %g must be positive", t.Quantity)
	case t.OrderType != Limit && t.OrderType != Market:
		return fmt.Errorf("ibclient: ticket order type %q is not LMT or MKT", string(t.OrderType))
	case t.OrderType == Limit && t.LimitPrice <= 0:
		return fmt.Errorf("ibclient: limit price %g must be positive for a LMT order", t.LimitPrice)
	case t.StopPrice <= 0:
		return fmt.Errorf("ibclient: stop price %g must be positive; every ticket carries a stop-loss", t.StopPrice)
	case t.OrderType == Limit && t.Side == Buy && t.StopPrice >= t.LimitPrice:
		return fmt.Errorf("ibclient: stop price %g must be below the limit price %g of a BUY", t.StopPrice, t.LimitPrice)
	case t.OrderType == Limit && t.Side == Sell && t.StopPrice <= t.LimitPrice:
		return fmt.Errorf("ibclient: stop price %g must be above the limit price %g of a SELL", t.StopPrice, t.LimitPrice)
	}
	return nil
}

// Orders returns the parent order with client order id coid and the
// attached stop: opposite side, STP at the stop price, linked by
// parentId. IB's older spec says not to set cOID on a child, so the stop
// has none.
func (t Ticket) Orders(coid string) ([]Order, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if coid == "" {
		return nil, errors.New("ibclient: client order id is empty")
	}
	secType := t.SecType
	if secType == "" {
		secType = "OPT"
	}
	tif := cmpOr(t.TIF, "DAY")
	stopTIF := cmpOr(t.StopTIF, "GTC")

	parent := Order{
		AccountID: t.Account, Conid: t.Conid, SecType: fmt.Sprintf("%d:%s", t.Conid, secType),
		COID: coid, OrderType: t.OrderType, Side: t.Side, TIF: tif, Quantity: t.Quantity, OutsideRTH: t.OutsideRTH,
	}
	if t.OrderType == Limit {
		parent.Price = t.LimitPrice
	}
	stop := Order{
		AccountID: t.Account, Conid: t.Conid, SecType: parent.SecType,
		ParentID: coid, OrderType: Stop, Price: t.StopPrice, Side: t.Side.Opposite(), TIF: stopTIF, Quantity: t.Quantity,
	}
	return []Order{parent, stop}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var coidPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

// NewCOID returns a client order id "PREFIX-YYMMDDhhmmss-RANDOM" with 8
// random hex digits from random (crypto/rand when nil). IB requires cOIDs
// to be unique for 24 h.
func NewCOID(prefix string, now time.Time, random io.Reader) (string, error) {
	if prefix == "" {
		prefix = "ibdash"
	}
	if !coidPrefix.MatchString(prefix) {
		return "", fmt.Errorf("ibclient: client order id prefix %q must be 1 to 16 letters, digits, - or _", prefix)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(randReader(random), buf); err != nil {
		return "", fmt.Errorf("ibclient: reading randomness for a client order id: %w", err)
	}
	return prefix + "-" + now.UTC().Format("060102150405") + "-" + hex.EncodeToString(buf), nil
}

// Question is a confirmation that IB requires before it accepts an order.
type Question struct {
	ID           string   `json:"id"`
	Messages     []string `json:"message"`
	MessageIDs   []string `json:"messageIds"`
	IsSuppressed bool     `json:"isSuppressed"`
}

// OrderAck is IB's acceptance of one order.
type OrderAck struct {
	OrderID       FlexString `json:"order_id"`
	Status        string     `json:"order_status"`
	ParentOrderID FlexString `json:"parent_order_id"`
	LocalOrderID  string     `json:"local_order_id"`
}

// OrderReply is IB's response to a placement or a reply: the acks, or the
// next question.
type OrderReply struct {
	Acks     []OrderAck
	Question *Question
}

// PlaceOrder performs POST iserver/account/{account}/orders with orders
// (one parent and its children) and returns the acks or IB's question.
// It never sends twice; see PlaceOrders for a timeout.
func (c *Client) PlaceOrder(ctx context.Context, account string, orders []Order) (*OrderReply, error) {
	if account == "" || len(orders) == 0 {
		return nil, errors.New("ibclient: placing an order needs an account and at least one order")
	}
	var raw json.RawMessage
	path := "iserver/account/" + url.PathEscape(account) + "/orders"
	if err := c.call(ctx, http.MethodPost, path, nil, map[string]any{"orders": orders}, &raw); err != nil {
		return nil, err
	}
	return parseOrderReply("POST "+path, raw)
}

// Reply performs POST iserver/reply/{id}: confirmed true accepts the
// question, false discards the order.
func (c *Client) Reply(ctx context.Context, id string, confirmed bool) (*OrderReply, error) {
	if id == "" {
		return nil, errors.New("ibclient: reply needs the question id")
	}
	var raw json.RawMessage
	path := "iserver/reply/" + url.PathEscape(id)
	if err := c.call(ctx, http.MethodPost, path, nil, map[string]bool{"confirmed": confirmed}, &raw); err != nil {
		return nil, err
	}
	if !confirmed {
		// IB does not document its response to a declined question; any
		// 2xx without an error means the order was dropped.
		return &OrderReply{}, nil
	}
	return parseOrderReply("POST "+path, raw)
}

// parseOrderReply reads the three shapes IB sends: an array of questions,
// an array of acks (or one ack object), or an "advanced reject" object.
func parseOrderReply(endpoint string, raw json.RawMessage) (*OrderReply, error) {
	raw = bytes.TrimSpace(raw)
	malformed := func(why string) error {
		return &APIError{Endpoint: endpoint, Kind: KindMalformed, Message: why}
	}
	if len(raw) == 0 {
		return nil, malformed("empty response")
	}

	if raw[0] == '{' {
		var reject struct {
			OrderID   FlexString `json:"order_id"`
			Text      string     `json:"text"`
			MessageID string     `json:"messageId"`
			Prompt    bool       `json:"prompt"`
		}
		if err := json.Unmarshal(raw, &reject); err != nil {
			return nil, malformed(err.Error())
		}
		if reject.Text != "" {
			return nil, &APIError{Endpoint: endpoint, Message: reject.Text, Kind: ClassifyMessage(0, reject.Text)}
		}
		raw = append(append([]byte{'['}, raw...), ']')
	}

	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, malformed(err.Error())
	}
	if len(elems) == 0 {
		return nil, malformed("empty list")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(elems[0], &probe); err != nil {
		return nil, malformed(err.Error())
	}
	_, hasID := probe["id"]
	if _, ok := probe["message"]; ok && hasID {
		var q Question
		if err := json.Unmarshal(elems[0], &q); err != nil {
			return nil, malformed(err.Error())
		}
		// Without an id the question cannot be answered, so it must not
		// be put to the user.
		if strings.TrimSpace(q.ID) == "" {
			return nil, malformed("confirmation question has no id")
		}
		return &OrderReply{Question: &q}, nil
	}

	acks := make([]OrderAck, 0, len(elems))
	for _, e := range elems {
		var ack OrderAck
		if err := json.Unmarshal(e, &ack); err != nil {
			return nil, malformed(err.Error())
		}
		if ack.OrderID == "" {
			return nil, malformed("order acknowledgement has no order_id")
		}
		acks = append(acks, ack)
	}
	return &OrderReply{Acks: acks}, nil
}

// Asker puts IB's question to the user and returns true to confirm.
type Asker func(ctx context.Context, q Question) (bool, error)

// Outcome is how a placement ended.
type Outcome int

// The placement outcomes.
const (
	OutcomeRejected Outcome = iota // IB rejected the order; Err gives the reason
	OutcomePlaced                  // IB acknowledged it; Acks has the order ids
	OutcomeDeclined                // the user declined a question; nothing placed
	OutcomeFound                   // the response was lost, and the lookup found the order
	OutcomeNotFound                // the response was lost, and the lookup did not find it
	OutcomeUnknown                 // the response was lost, and the lookup failed too
)

var outcomeNames = [...]string{"rejected", "placed", "declined", "found after a lost response", "not found after a lost response", "unknown"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Placement is the result of PlaceOrders.
type Placement struct {
	COID      string
	Outcome   Outcome
	Acks      []OrderAck // OutcomePlaced
	OrderIDs  []string   // OutcomeFound: live orders whose order_ref is COID
	Questions []Question // every question IB asked, in order
	// Err is the error that ended the placement, or that made its outcome
	// uncertain, or nil.
	Err error
}

// PlaceTicket builds the ticket's orders with a new cOID and runs
// PlaceOrders.
func (c *Client) PlaceTicket(ctx context.Context, t Ticket, ask Asker, suppress []string) (*Placement, error) {
	coid, err := NewCOID(t.COIDPrefix, c.now(), nil)
	if err != nil {
		return nil, err
	}
	orders, err := t.Orders(coid)
	if err != nil {
		return nil, err
	}
	return c.PlaceOrders(ctx, t.Account, coid, orders, ask, suppress)
}

// PlaceOrders places orders and handles IB's questions: each is put to
// ask, except one whose message ids are all in suppress, which is
// confirmed. It never confirms on its own otherwise, and stops after
// MaxReplyRounds questions, discarding the order. When the response to the
// placement or a reply is lost (timeout, dropped connection, 5xx), the
// request is not sent again: the live orders are searched for coid and
// the outcome reports whether the order exists. The returned error is the
// one in Placement.Err, for an outcome other than placed, declined or
// found.
func (c *Client) PlaceOrders(ctx context.Context, account, coid string, orders []Order, ask Asker, suppress []string) (*Placement, error) {
	p := &Placement{COID: coid}
	reply, err := withOrderTimeout(ctx, c.orderTimeout, func(ctx context.Context) (*OrderReply, error) {
		return c.PlaceOrder(ctx, account, orders)
	})
	for round := 0; ; round++ {
		if err != nil {
			return c.settle(ctx, account, p, err)
		}
		if reply.Question == nil {
			p.Outcome, p.Acks = OutcomePlaced, reply.Acks
			return p, nil
		}

		q := *reply.Question
		p.Questions = append(p.Questions, q)
		if round >= MaxReplyRounds {
			_, _ = c.Reply(ctx, q.ID, false)
			p.Outcome = OutcomeRejected
			p.Err = fmt.Errorf("ibclient: IB asked more than %d questions for order %s; the order was discarded", MaxReplyRounds, coid)
			return p, p.Err
		}

		confirmed, askErr := c.decide(ctx, q, ask, suppress)
		if askErr != nil || !confirmed {
			if _, err := c.Reply(ctx, q.ID, false); err != nil {
				c.logger.Warn("ibclient: discarding a declined order failed", "coid", coid, "err", err)
			}
			p.Outcome, p.Err = OutcomeDeclined, askErr
			return p, askErr
		}
		reply, err = withOrderTimeout(ctx, c.orderTimeout, func(ctx context.Context) (*OrderReply, error) {
			return c.Reply(ctx, q.ID, true)
		})
	}
}

// withOrderTimeout runs one order request under timeout. The user's
// time to answer a question is not part of it.
func withOrderTimeout(ctx context.Context, timeout time.Duration, fn func(context.Context) (*OrderReply, error)) (*OrderReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(ctx)
}

// decide confirms a question whose ids are all suppressed, and puts any
// other to the user.
func (c *Client) decide(ctx context.Context, q Question, ask Asker, suppress []string) (bool, error) {
	if len(q.MessageIDs) > 0 && !slices.ContainsFunc(q.MessageIDs, func(id string) bool { return !slices.Contains(suppress, id) }) {
		c.logger.Info("ibclient: confirming a suppressed question", "question", q.ID, "message_ids", q.MessageIDs)
		return true, nil
	}
	if ask == nil {
		return false, fmt.Errorf("ibclient: IB sent question %v (%s) but no Asker was given to put it to the user; the order was discarded",
			q.MessageIDs, truncate(strings.Join(q.Messages, " "), 120))
	}
	return ask(ctx, q)
}

// settle ends a placement after err. An error that leaves it uncertain
// whether IB acted is settled by looking the cOID up in the live orders.
func (c *Client) settle(ctx context.Context, account string, p *Placement, err error) (*Placement, error) {
	p.Err = err
	if !placementUncertain(err) {
		p.Outcome = OutcomeRejected
		return p, err
	}
	c.logger.Warn("ibclient: placement response lost; looking the order up instead of sending again", "coid", p.COID, "err", err)

	// The caller's context may be what ran out; the lookup gets its own.
	lookupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
	defer cancel()
	ids, found, lookupErr := c.FindOrder(lookupCtx, account, p.COID)
	switch {
	case found:
		p.Outcome, p.OrderIDs = OutcomeFound, ids
		return p, nil
	case lookupErr == nil:
		p.Outcome = OutcomeNotFound
	default:
		p.Outcome = OutcomeUnknown
		p.Err = fmt.Errorf("%w; looking the order up failed too (%v): check live orders before sending it again", err, lookupErr)
	}
	return p, p.Err
}

// placementUncertain reports whether IB may have acted on a request
// whose response was err.
func placementUncertain(err error) bool {
	var netErr *NetworkError
	if errors.As(err, &netErr) {
		return true
	}
	return IsKind(err, KindServer) || IsKind(err, KindMalformed)
}

// FindOrder searches the live orders of account for order_ref coid and
// returns the matching order ids. IB's first response can be an empty
// snapshot, so an empty list is requested again (the endpoint allows one
// call per 5 s). found false with a nil error means the order is not
// there.
func (c *Client) FindOrder(ctx context.Context, account, coid string) (ids []string, found bool, err error) {
	succeeded := false
	var lastErr error
	for attempt := 1; attempt <= lookupAttempts; attempt++ {
		orders, err := c.LiveOrders(ctx, account)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		succeeded = true
		for _, o := range orders {
			if o.OrderRef == coid {
				ids = append(ids, string(o.OrderID))
			}
		}
		if len(ids) > 0 {
			return ids, true, nil
		}
		if len(orders) > 0 {
			return nil, false, nil
		}
	}
	if succeeded {
		return nil, false, nil
	}
	return nil, false, lastErr
}

// LiveOrder is one row of GET iserver/account/orders.
type LiveOrder struct {
	Account           string     `json:"acct"`
	Conid             FlexInt    `json:"conid"`
	OrderID           FlexString `json:"orderId"`
	OrderRef          string     `json:"order_ref"` // the cOID
	Ticker            string     `json:"ticker"`
	Contract          string     `json:"description1"` // such as "SPY AUG 15 '25 600 Put"
	Description       string     `json:"orderDesc"`
	Status            string     `json:"status"`
	OrderType         string     `json:"orderType"`
	Side              string     `json:"side"`
	Price             FlexFloat  `json:"price"`
	TotalSize         FlexFloat  `json:"totalSize"`
	FilledQuantity    FlexFloat  `json:"filledQuantity"`
	RemainingQuantity FlexFloat  `json:"remainingQuantity"`
	TimeInForce       string     `json:"timeInForce"`
}

// LiveOrders performs GET iserver/account/orders for account ("" for
// IB's selected one). The rate limiter holds it to one call per 5 s.
func (c *Client) LiveOrders(ctx context.Context, account string) ([]LiveOrder, error) {
	query := url.Values{}
	if account != "" {
		query.Set("accountId", account)
	}
	var out struct {
		Orders []LiveOrder `json:"orders"`
	}
	if err := c.call(ctx, http.MethodGet, "iserver/account/orders", query, nil, &out); err != nil {
		return nil, err
	}
	return out.Orders, nil
}

// OrderStatus is the response of GET iserver/account/order/status/{id}.
type OrderStatus struct {
	OrderID      FlexString `json:"order_id"`
	Conid        FlexInt    `json:"conid"`
	Symbol       string     `json:"symbol"`
	Side         string     `json:"side"`
	Status       string     `json:"order_status"`
	Size         FlexFloat  `json:"size"`
	TotalSize    FlexFloat  `json:"total_size"`
	CumFill      FlexFloat  `json:"cum_fill"`
	AveragePrice FlexFloat  `json:"average_price"`
	OrderType    string     `json:"order_type"`
	TIF          string     `json:"tif"`
	Description  string     `json:"order_description"`
	CannotCancel bool       `json:"cannot_cancel_order"`
}

// OrderStatus performs GET iserver/account/order/status/{orderID}.
func (c *Client) OrderStatus(ctx context.Context, orderID string) (*OrderStatus, error) {
	if orderID == "" {
		return nil, errors.New("ibclient: order status needs an order id")
	}
	var out OrderStatus
	if err := c.call(ctx, http.MethodGet, "iserver/account/order/status/"+url.PathEscape(orderID), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelAck is IB's receipt for a cancel request; poll OrderStatus for
// the result.
type CancelAck struct {
	Message string     `json:"msg"`
	OrderID FlexString `json:"order_id"`
	Conid   FlexInt    `json:"conid"`
	Account string     `json:"account"`
}

// CancelOrder performs DELETE iserver/account/{account}/order/{orderID}.
func (c *Client) CancelOrder(ctx context.Context, account, orderID string) (*CancelAck, error) {
	if account == "" || orderID == "" {
		return nil, errors.New("ibclient: cancel needs an account and an order id")
	}
	var out CancelAck
	path := "iserver/account/" + url.PathEscape(account) + "/order/" + url.PathEscape(orderID)
	if err := c.call(ctx, http.MethodDelete, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SuppressQuestions performs POST iserver/questions/suppress, after
// which IB stops asking the given question ids (such as o163) for the
// rest of the brokerage session. IB takes the whole list each time.
func (c *Client) SuppressQuestions(ctx context.Context, messageIDs []string) error {
	if len(messageIDs) == 0 || len(messageIDs) > 51 {
		return fmt.Errorf("ibclient: %d question ids to suppress; IB takes 1 to 51", len(messageIDs))
	}
	return c.call(ctx, http.MethodPost, "iserver/questions/suppress", nil, map[string][]string{"messageIds": messageIDs}, nil)
}

// Money is an amount with its currency, parsed from IB's "1.30 USD".
type Money struct {
	Number
	Currency string
}

// MarginChange is one line of a what-if preview: before, change, after.
type MarginChange struct {
	Current, Change, After Number
}

// Preview is the response of the what-if endpoint: what the order would
// cost and how it would move equity and margin. Warning and Error carry
// IB's text; an Error means IB would reject the order.
type Preview struct {
	Amount      Money
	Commission  Money
	Total       Money
	Equity      MarginChange
	Initial     MarginChange
	Maintenance MarginChange
	Position    MarginChange
	Warning     string
	Error       string
}

type previewLine struct {
	Current string `json:"current"`
	Change  string `json:"change"`
	After   string `json:"after"`
}

func (l *previewLine) parse() MarginChange {
	if l == nil {
		return MarginChange{}
	}
	return MarginChange{ParseMarketValue(l.Current), ParseMarketValue(l.Change), ParseMarketValue(l.After)}
}

type previewBody struct {
	Amount *struct {
		Amount     string `json:"amount"`
		Commission string `json:"commission"`
		Total      string `json:"total"`
	} `json:"amount"`
	Equity      *previewLine `json:"equity"`
	Initial     *previewLine `json:"initial"`
	Maintenance *previewLine `json:"maintenance"`
	Position    *previewLine `json:"position"`
	Warn        *string      `json:"warn"`
	Error       *string      `json:"error"`
}

// parseMoney reads "1,002.30 USD" into a value and a currency.
func parseMoney(s string) Money {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Money{}
	}
	m := Money{Number: ParseMarketValue(fields[0])}
	if len(fields) > 1 {
		m.Currency = fields[1]
	}
	return m
}

func parsePreview(data []byte) (*Preview, bool) {
	var body previewBody
	if json.Unmarshal(data, &body) != nil || body.Amount == nil {
		return nil, false
	}
	p := &Preview{
		Amount:      parseMoney(body.Amount.Amount),
		Commission:  parseMoney(body.Amount.Commission),
		Total:       parseMoney(body.Amount.Total),
		Equity:      body.Equity.parse(),
		Initial:     body.Initial.parse(),
		Maintenance: body.Maintenance.parse(),
		Position:    body.Position.parse(),
	}
	if body.Warn != nil {
		p.Warning = *body.Warn
	}
	if body.Error != nil {
		p.Error = *body.Error
	}
	return p, true
}

// WhatIf performs POST iserver/account/{account}/orders/whatif with the
// same orders PlaceOrder would send. A preview whose error field is set
// is returned as a Preview with Error, not as an error, so the user sees
// the numbers and the reason together.
func (c *Client) WhatIf(ctx context.Context, account string, orders []Order) (*Preview, error) {
	if account == "" || len(orders) == 0 {
		return nil, errors.New("ibclient: a what-if preview needs an account and at least one order")
	}
	path := "iserver/account/" + url.PathEscape(account) + "/orders/whatif"
	var preview *Preview
	err := c.retryUnprimed(ctx, path, func(ctx context.Context) error {
		ctx, cancel := c.withTimeout(ctx)
		defer cancel()
		req, err := c.NewRequest(ctx, http.MethodPost, path, nil, map[string]any{"orders": orders})
		if err != nil {
			return err
		}
		resp, data, err := c.send(req)
		if err != nil {
			return err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if p, ok := parsePreview(data); ok {
				preview = p
				return nil
			}
		}
		if err := CheckResponse(resp, data); err != nil {
			c.afterError("POST "+path, resp, err)
			return err
		}
		return &APIError{StatusCode: resp.StatusCode, Endpoint: "POST " + path, Kind: KindMalformed, Message: "what-if response has no amount section"}
	})
	return preview, err
}
