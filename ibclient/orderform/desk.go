package orderform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
)

// DefaultStrikeCount is how many strikes around the money ListedStrikes
// checks against secdef/info when the caller gives no count. Each is one
// request, so the count trades coverage against the rate limit.
const DefaultStrikeCount = 30

// Desk runs tickets against IB: it loads what Check needs, prices and
// previews an order, and places it with every step in the audit log. The
// command line and the dashboard's ticket share it.
type Desk struct {
	Client  *ibclient.Client
	Account string
	// Audit receives the ticket's requests through the client's
	// transport (see audit.Transport) and the user's answers from Place.
	Audit *audit.Log
	// Suppress lists question ids (orders.suppress_questions) that are
	// confirmed without asking; such an answer is recorded as such.
	Suppress    []string
	MaxQuantity int
	// Now is the clock for today's date in New York; nil is time.Now.
	Now func() time.Time
}

func (d *Desk) today() time.Time {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	return NewYorkDate(now())
}

func (d *Desk) check() error {
	switch {
	case d.Client == nil:
		return errors.New("orderform: desk has no client; start the trading session first")
	case d.Account == "":
		return errors.New("orderform: desk has no account; the session has not queried /iserver/accounts yet")
	case d.Audit == nil:
		return errors.New("orderform: desk has no audit log; open orders.audit_log before trading")
	}
	return nil
}

// Chain is an underlying with its listed option expiries from today on.
type Chain struct {
	Underlying *ibclient.Underlying
	Expiries   []time.Time
}

// LoadChain finds the stock and its listed expiries: the search result's
// opt list when IB sends one, else the expiries of each option month.
func (d *Desk) LoadChain(ctx context.Context, symbol string) (*Chain, error) {
	if d.Client == nil {
		return nil, errors.New("orderform: desk has no client; start the trading session first")
	}
	u, err := d.Client.SearchStock(ctx, symbol)
	if err != nil {
		return nil, err
	}
	dates := u.Expiries
	if len(dates) == 0 {
		for _, month := range u.Months {
			more, err := d.Client.Expiries(ctx, u, month)
			if err != nil {
				return nil, fmt.Errorf("orderform: listing the %s expiries of %s: %w", month, u.Symbol, err)
			}
			dates = append(dates, more...)
		}
	}
	expiries, err := FromIBDates(dates)
	if err != nil {
		return nil, err
	}
	today := d.today()
	expiries = slices.DeleteFunc(expiries, func(e time.Time) bool { return e.Before(today) })
	return &Chain{Underlying: u, Expiries: expiries}, nil
}

// UnderlyingPrice returns the stock's last price, or its mid when IB
// sends no last.
func (d *Desk) UnderlyingPrice(ctx context.Context, c *Chain) (float64, error) {
	q, err := d.Quote(ctx, c.Underlying.Conid)
	if err != nil {
		return 0, err
	}
	if q.Last.Valid && q.Last.Value > 0 {
		return q.Last.Value, nil
	}
	if p, ok := ReferencePrice(q, ibclient.Buy, PennyTick); ok {
		return p, nil
	}
	return 0, fmt.Errorf("orderform: IB sent no price for %s (conid %d); check the market data subscription", c.Underlying.Symbol, c.Underlying.Conid)
}

// ListedStrikes returns the strikes of right that exist for expiry, up to
// count of them nearest center (DefaultStrikeCount when count is 0),
// sorted nearest the money first.
func (d *Desk) ListedStrikes(ctx context.Context, c *Chain, expiry time.Time, right ibclient.Right, center float64, count int) ([]float64, error) {
	if count <= 0 {
		count = DefaultStrikeCount
	}
	strikes, err := d.Client.ExpiryStrikes(ctx, c.Underlying.Conid, ToIBDate(expiry), right, center, count)
	if err != nil {
		return nil, err
	}
	return ByMoneyness(strikes, center), nil
}

// Contract returns the option of one expiry, strike and right, picked by
// exact maturity date from secdef/info. found is false when IB lists no
// such contract, which is not an error.
func (d *Desk) Contract(ctx context.Context, c *Chain, expiry time.Time, strike float64, right ibclient.Right) (contract *ibclient.OptionContract, found bool, err error) {
	month, err := ibclient.ExpiryMonth(ToIBDate(expiry))
	if err != nil {
		return nil, false, err
	}
	rows, err := d.Client.OptionContracts(ctx, c.Underlying.Conid, month, strike, right)
	if err != nil {
		return nil, false, err
	}
	for i := range rows {
		if rows[i].MaturityDate == ToIBDate(expiry) {
			return &rows[i], true, nil
		}
	}
	return nil, false, nil
}

// Quote returns a fresh snapshot of conid. The client repeats IB's empty
// pre-flight response; a quote still without data is returned as it is, and
// Check then asks for a limit price.
func (d *Desk) Quote(ctx context.Context, conid int64) (*ibclient.Quote, error) {
	quotes, err := d.Client.Snapshot(ctx, conid)
	if err != nil {
		return nil, err
	}
	for i := range quotes {
		if quotes[i].Conid == conid {
			return &quotes[i], nil
		}
	}
	return &ibclient.Quote{Conid: conid}, nil
}

// TickRule returns the contract's tick rule from the incrementRules of
// GET trsrv/secdef. When IB sends none, or the request fails, it returns
// PennyTick with the reason, so the caller can say which rule applies.
func (d *Desk) TickRule(ctx context.Context, conid int64) (TickRule, error) {
	req, err := d.Client.NewRequest(ctx, http.MethodGet, "trsrv/secdef", url.Values{"conids": {strconv.FormatInt(conid, 10)}}, nil)
	if err != nil {
		return PennyTick, err
	}
	var out struct {
		Secdef []struct {
			Conid          ibclient.FlexInt `json:"conid"`
			IncrementRules []TickStep       `json:"incrementRules"`
		} `json:"secdef"`
	}
	if _, err := d.Client.Do(req, &out); err != nil {
		return PennyTick, fmt.Errorf("orderform: reading the tick rule of conid %d: %w", conid, err)
	}
	for _, row := range out.Secdef {
		if int64(row.Conid) == conid && len(row.IncrementRules) > 0 {
			return NewTickRule(row.IncrementRules)
		}
	}
	return PennyTick, fmt.Errorf("orderform: IB sent no incrementRules for conid %d", conid)
}

// Plan is a checked order ready to preview and place: the contract, the
// quote it was priced with, and the ticket's orders under their cOID.
type Plan struct {
	COID     string
	Order    Order
	Contract ibclient.OptionContract
	Quote    ibclient.Quote
	Ticket   ibclient.Ticket
	Orders   []ibclient.Order
	// TickNote names the tick rule the prices were checked with.
	TickNote string
}

// Entry returns the entry order, the first of Orders.
func (p *Plan) Entry() ibclient.Order { return p.Orders[0] }

// StopOrder returns the attached stop, the second of Orders.
func (p *Plan) StopOrder() ibclient.Order { return p.Orders[1] }

// Context returns ctx tagged with the plan's cOID, so that the audit
// transport files the requests made with it under this ticket.
func (p *Plan) Context(ctx context.Context) context.Context { return audit.WithCOID(ctx, p.COID) }

// NewPlan gives the ticket a new cOID, takes a fresh snapshot of the
// contract (recorded under that cOID), checks in against m with that
// quote and builds the orders. An invalid field is returned as Errors.
func (d *Desk) NewPlan(ctx context.Context, in Input, m Market, contract ibclient.OptionContract) (*Plan, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	coid, err := ibclient.NewCOID("", time.Now(), nil)
	if err != nil {
		return nil, err
	}
	ctx = audit.WithCOID(ctx, coid)

	quote, err := d.Quote(ctx, int64(contract.Conid))
	if err != nil {
		return nil, err
	}
	m.Quote = quote
	if m.MaxQuantity == 0 {
		m.MaxQuantity = d.MaxQuantity
	}
	order, err := Check(in, m)
	if err != nil {
		return nil, err
	}
	ticket := order.Ticket(d.Account, int64(contract.Conid))
	orders, err := ticket.Orders(coid)
	if err != nil {
		return nil, err
	}
	return &Plan{COID: coid, Order: *order, Contract: contract, Quote: *quote, Ticket: ticket, Orders: orders}, nil
}

// Prepare loads everything the checks of in need and returns its plan:
// the chain, the contract, its tick rule and a fresh quote. The command
// line uses it; the dashboard loads the same pieces one at a time while
// the user types. Invalid fields are returned as Errors.
func (d *Desk) Prepare(ctx context.Context, in Input) (*Plan, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	today := d.today()
	if err := CheckSyntax(in, today, d.MaxQuantity); err != nil && !OnlyPastExpiry(err) {
		return nil, err
	}

	symbol, _ := ParseSymbol(in.Symbol)
	chain, err := d.LoadChain(ctx, symbol)
	if err != nil {
		return nil, err
	}
	m := Market{Today: today, Expiries: chain.Expiries, MaxQuantity: d.MaxQuantity}

	expiry, _ := ParseExpiry(in.Expiry)
	strike, _ := ParseStrike(in.Strike)
	right, _ := ParseRight(in.Right)
	if CheckExpiry(expiry, today, chain.Expiries) != nil {
		_, err := Check(in, m)
		return nil, err
	}

	contract, found, err := d.Contract(ctx, chain, expiry, strike, right)
	if err != nil {
		return nil, err
	}
	if !found {
		// Only a wrong strike gets here, and its error lists the nearest
		// strikes that this expiry really has.
		near, err := d.ListedStrikes(ctx, chain, expiry, right, strike, 12)
		if err != nil {
			return nil, err
		}
		m.SetStrikes(expiry, right, near)
		_, err = Check(in, m)
		if err == nil {
			err = fmt.Errorf("orderform: IB lists no %s %s %s option for %s", symbol, FormatStrike(strike), right, expiry.Format(DateLayout))
		}
		return nil, err
	}
	m.SetStrikes(expiry, right, []float64{float64(contract.Strike)})

	rule, ruleErr := d.TickRule(ctx, int64(contract.Conid))
	m.Tick = rule
	plan, err := d.NewPlan(ctx, in, m, *contract)
	if err != nil {
		return nil, err
	}
	plan.TickNote = TickNote(rule, ruleErr)
	return plan, nil
}

// OnlyPastExpiry reports whether the only error of CheckSyntax is an
// expiry in the past. Prepare still checks such a ticket against the
// chain, so that the message lists the nearest listed expiries.
func OnlyPastExpiry(err error) bool {
	var errs Errors
	return errors.As(err, &errs) && len(errs) == 1 && errs[0].Field == FieldExpiry && strings.Contains(errs[0].Message, "in the past")
}

// TickNote describes a tick rule and where it came from, for the preview.
func TickNote(rule TickRule, fetchErr error) string {
	var bands []string
	for _, s := range rule {
		bands = append(bands, fmt.Sprintf("$%s from $%s", FormatPrice(s.Increment), FormatPrice(s.LowerEdge)))
	}
	note := "tick " + strings.Join(bands, ", ")
	if fetchErr != nil {
		return note + " (SPY's penny rule; IB's rule was not available: " + fetchErr.Error() + ")"
	}
	return note + " (from IB's incrementRules)"
}

// Preview runs the what-if request for the plan's orders.
func (d *Desk) Preview(ctx context.Context, p *Plan) (*ibclient.Preview, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Client.WhatIf(p.Context(ctx), d.Account, p.Orders)
}

// Place sends the plan's orders and puts each of IB's questions to ask.
// Every answer is recorded in the audit log with by (audit.AnsweredByUser
// or audit.AnsweredByFlag), and a question whose ids are all on Suppress
// is confirmed and recorded as audit.AnsweredBySuppress. An answer that
// cannot be recorded declines the order. After a lost answer the client
// looks the cOID up instead of sending again (see ibclient.PlaceOrders);
// the outcome is recorded as an event either way.
func (d *Desk) Place(ctx context.Context, p *Plan, ask ibclient.Asker, by string) (*ibclient.Placement, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if ask == nil {
		return nil, errors.New("orderform: placing an order needs a way to answer IB's questions")
	}
	record := func(ctx context.Context, q ibclient.Question) (bool, error) {
		confirmed, who, askErr := true, audit.AnsweredBySuppress, error(nil)
		if !allSuppressed(q.MessageIDs, d.Suppress) {
			who = by
			confirmed, askErr = ask(ctx, q)
			if askErr != nil {
				confirmed = false
			}
		}
		if err := d.Audit.Answer(p.COID, q.ID, q.MessageIDs, q.Messages, confirmed, who); err != nil {
			return false, fmt.Errorf("orderform: the answer to %v could not be recorded, so the order is declined: %w", q.MessageIDs, err)
		}
		return confirmed, askErr
	}

	// Suppression is decided above, so that each such answer is recorded;
	// the client gets no suppress list of its own.
	placement, err := d.Client.PlaceOrders(p.Context(ctx), d.Account, p.COID, p.Orders, record, nil)
	if placement != nil {
		if logErr := d.Audit.Event(p.COID, describePlacement(placement)); logErr != nil && err == nil {
			err = logErr
		}
	}
	return placement, err
}

func allSuppressed(ids, suppress []string) bool {
	if len(ids) == 0 {
		return false
	}
	for _, id := range ids {
		if !slices.Contains(suppress, id) {
			return false
		}
	}
	return true
}

// describePlacement is the audit note of a placement's outcome.
func describePlacement(p *ibclient.Placement) string {
	var b strings.Builder
	b.WriteString("placement " + p.Outcome.String())
	for _, ack := range p.Acks {
		fmt.Fprintf(&b, "; order %s %s", ack.OrderID, ack.Status)
	}
	if len(p.OrderIDs) > 0 {
		b.WriteString("; found order ids " + strings.Join(p.OrderIDs, ", "))
	}
	if p.Err != nil {
		b.WriteString("; error: " + p.Err.Error())
	}
	return b.String()
}

// LegStatus is the state of one leg of a placed ticket.
type LegStatus struct {
	Leg     string // "entry" or "stop"
	OrderID string
	Status  string
	Filled  float64
	Total   float64
	Price   float64 // average fill price
	Err     error   // why the status request failed, when Status is empty
}

// Terminal reports whether IB will not change the leg any more.
func (l LegStatus) Terminal() bool {
	switch l.Status {
	case "Filled", "Cancelled", "Inactive":
		return true
	}
	return false
}

// Status returns the current state of each leg (entry first), by order
// id, with requests recorded under the plan's cOID.
func (d *Desk) Status(ctx context.Context, p *Plan, orderIDs []string) []LegStatus {
	ctx = p.Context(ctx)
	out := make([]LegStatus, len(orderIDs))
	for i, id := range orderIDs {
		leg := LegStatus{Leg: LegName(i), OrderID: id}
		st, err := d.Client.OrderStatus(ctx, id)
		if err != nil {
			leg.Err = err
		} else {
			leg.Status, leg.Filled, leg.Total, leg.Price = st.Status, float64(st.CumFill), float64(st.TotalSize), float64(st.AveragePrice)
		}
		out[i] = leg
	}
	return out
}

// LegName names the i-th order of a ticket: the entry, then its stop.
func LegName(i int) string {
	if i == 0 {
		return "entry"
	}
	if i == 1 {
		return "stop"
	}
	return "leg " + strconv.Itoa(i+1)
}

// OrderIDs returns the order ids a placement produced, entry first: the
// acks of a placed order, or the ids the lookup found.
func OrderIDs(p *ibclient.Placement) []string {
	if p == nil {
		return nil
	}
	if len(p.Acks) > 0 {
		ids := make([]string, len(p.Acks))
		for i, a := range p.Acks {
			ids[i] = string(a.OrderID)
		}
		return ids
	}
	return slices.Clone(p.OrderIDs)
}
