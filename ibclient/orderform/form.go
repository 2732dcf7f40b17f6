// Package orderform is the SPY option order ticket's fields and checks:
// each field is parsed and checked by a pure function, and Check turns a
// whole ticket into an Order only when every field is valid. The checks
// use what IB lists (expiries, the strikes of one expiry, the contract's
// tick rule) and a fresh quote, all handed in by the caller in a Market.
package orderform

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// Input is the ticket as typed: every field as text, as a form or the
// command line holds it.
type Input struct {
	Symbol    string
	Expiry    string // YYYY-MM-DD
	Strike    string
	Right     string // P or C
	Side      string // BUY or SELL
	Quantity  string
	OrderType string // LMT (empty) or MKT
	Limit     string // empty on a limit order: priced at the quote's mid
	StopLoss  string // a price such as 10.00, or a multiple such as 3x
	TIF       string // DAY (empty) or GTC
}

// Defaults returns the ticket's starting values: one SPY put sold at a
// limit priced at the mid, good for the day.
func Defaults() Input {
	return Input{Symbol: "SPY", Right: "P", Side: "SELL", Quantity: "1", OrderType: "LMT", TIF: "DAY"}
}

// DefaultMaxQuantity is the quantity limit when Market.MaxQuantity is 0;
// it matches the config default of orders.max_quantity.
const DefaultMaxQuantity = 10

// StrikeKey picks the strike list of one expiry and right.
type StrikeKey struct {
	Expiry time.Time
	Right  ibclient.Right
}

// Market is the listing and quote data the checks need, as far as the
// caller has loaded it. A nil Expiries or a missing Strikes entry means
// "not loaded yet", and Check then reports the field as not checkable
// instead of passing it.
type Market struct {
	// Today is the date in New York (see NewYorkDate); zero means now.
	Today    time.Time
	Expiries []time.Time
	Strikes  map[StrikeKey][]float64
	// Quote is a fresh snapshot of the contract; nil when none is loaded.
	Quote *ibclient.Quote
	// Tick is the contract's tick rule; nil means PennyTick.
	Tick        TickRule
	MaxQuantity int
}

// SetStrikes stores the strikes listed for one expiry and right.
func (m *Market) SetStrikes(expiry time.Time, right ibclient.Right, strikes []float64) {
	if m.Strikes == nil {
		m.Strikes = map[StrikeKey][]float64{}
	}
	m.Strikes[StrikeKey{expiry, right}] = strikes
}

// Order is a ticket whose every field is valid.
type Order struct {
	Symbol   string
	Expiry   time.Time // midnight UTC of the expiry date
	Strike   float64
	Right    ibclient.Right
	Side     ibclient.Side
	Quantity int
	Type     ibclient.OrderType
	// Limit is the entry's limit price; 0 on a market order.
	Limit float64
	// LimitFromMid is set when the limit was left empty and priced at the
	// quote's mid.
	LimitFromMid bool
	// Stop is the stop price of the attached stop order.
	Stop float64
	// StopMultiple is the multiple typed ("3x"), or 0 when a price was.
	StopMultiple float64
	// Reference is the entry price the stop was checked against: the
	// limit, or the quote's mid (else last) on a market order.
	Reference float64
	TIF       TIF
}

// String describes the order in one line, as the preview shows it.
func (o Order) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s %s %s %s ", o.Side, o.Quantity, o.Symbol, o.Expiry.Format(DateLayout), FormatStrike(o.Strike), o.Right)
	if o.Type == ibclient.Market {
		b.WriteString("MKT")
	} else {
		b.WriteString("LMT " + FormatPrice(o.Limit))
		if o.LimitFromMid {
			b.WriteString(" (mid)")
		}
	}
	fmt.Fprintf(&b, " %s, stop %s STP %s", o.TIF, o.Side.Opposite(), FormatPrice(o.Stop))
	if o.StopMultiple > 0 {
		fmt.Fprintf(&b, " (%sx entry)", FormatPrice(o.StopMultiple))
	}
	return b.String()
}

// Errors is every invalid field of a ticket, in form order.
type Errors []*FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// For returns the error of field, or nil.
func (e Errors) For(field Field) *FieldError {
	for _, fe := range e {
		if fe.Field == field {
			return fe
		}
	}
	return nil
}

// add appends err when it is a *FieldError; any other error is wrapped as
// an error of field.
func (e *Errors) add(field Field, err error) {
	if err == nil {
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		fe = &FieldError{Field: field, Message: err.Error()}
	}
	*e = append(*e, fe)
}

// Check parses and checks every field of in against m and returns the
// order, or an Errors value listing every invalid field. Fields are
// checked independently where they can be, so one typo does not hide the
// others. A check that needs another field (the strike needs the expiry,
// a limit priced at the mid needs the contract) is skipped while that
// field is invalid, since that field's error already explains it.
func Check(in Input, m Market) (*Order, error) {
	var errs Errors
	var o Order
	var err error
	today := m.Today
	if today.IsZero() {
		today = NewYorkDate(time.Now())
	}
	maxQty := m.MaxQuantity
	if maxQty <= 0 {
		maxQty = DefaultMaxQuantity
	}
	rule := m.Tick
	if len(rule) == 0 {
		rule = PennyTick
	}

	o.Symbol, err = ParseSymbol(in.Symbol)
	symbolOK := err == nil
	errs.add(FieldSymbol, err)

	expiryOK := false
	if o.Expiry, err = ParseExpiry(in.Expiry); err == nil {
		if m.Expiries == nil && !o.Expiry.Before(today) {
			err = fieldErr(FieldExpiry, in.Expiry, "cannot be checked yet because the listed expiries are not loaded; wait for them")
		} else {
			err = CheckExpiry(o.Expiry, today, m.Expiries)
		}
		expiryOK = err == nil
	}
	errs.add(FieldExpiry, err)

	o.Right, err = ParseRight(in.Right)
	rightOK := err == nil
	errs.add(FieldRight, err)

	strikeOK := false
	if o.Strike, err = ParseStrike(in.Strike); err == nil && expiryOK && rightOK {
		listed, ok := m.Strikes[StrikeKey{o.Expiry, o.Right}]
		if ok {
			err = CheckStrike(o.Strike, o.Expiry, listed)
		} else {
			err = fieldErr(FieldStrike, in.Strike, "cannot be checked yet because the strikes of %s are not loaded; wait for them", o.Expiry.Format(DateLayout))
		}
		strikeOK = err == nil
	}
	errs.add(FieldStrike, err)
	// Without a listed contract there is no quote to price at, and the
	// error on symbol, expiry, right or strike explains why.
	contractOK := symbolOK && expiryOK && rightOK && strikeOK

	o.Side, err = ParseSide(in.Side)
	sideOK := err == nil
	errs.add(FieldSide, err)

	o.Quantity, err = ParseQuantity(in.Quantity, maxQty)
	errs.add(FieldQuantity, err)

	o.Type, err = ParseOrderType(in.OrderType)
	typeOK := err == nil
	errs.add(FieldOrderType, err)

	priceOK := false
	if typeOK && sideOK {
		priceOK = o.price(in.Limit, m.Quote, rule, contractOK, &errs)
	}

	stop, err := ParseStopLoss(in.StopLoss)
	if err == nil && priceOK {
		o.StopMultiple = stop.Multiple
		o.Stop, err = ResolveStop(stop, o.Side, o.Reference, rule)
	}
	errs.add(FieldStopLoss, err)

	o.TIF, err = ParseTIF(in.TIF)
	errs.add(FieldTIF, err)

	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return &o, nil
}

// price sets the limit and the reference price of the entry and reports
// whether they are valid. A price that needs the quote is not checked
// while contractOK is false, and gets no error of its own then.
func (o *Order) price(limit string, quote *ibclient.Quote, rule TickRule, contractOK bool, errs *Errors) bool {
	typed := strings.TrimSpace(limit)
	if o.Type == ibclient.Market {
		if typed != "" {
			errs.add(FieldLimit, fieldErr(FieldLimit, limit, "is set on a market order; clear it, or choose LMT"))
			return false
		}
		if !contractOK {
			return false
		}
		ref, ok := ReferencePrice(quote, o.Side, rule)
		if !ok {
			errs.add(FieldOrderType, fieldErr(FieldOrderType, string(ibclient.Market), "has no quote to check the stop against; wait for the quote, or choose LMT with a price"))
			return false
		}
		o.Reference = ref
		return true
	}

	if typed == "" {
		if !contractOK {
			return false
		}
		mid, ok := Mid(quote, o.Side, rule)
		switch {
		case !ok && quote == nil:
			errs.add(FieldLimit, fieldErr(FieldLimit, "", "is empty and no quote is loaded yet to price it at the mid; pick a listed expiry and strike, or type a price"))
			return false
		case !ok:
			errs.add(FieldLimit, fieldErr(FieldLimit, "", "is empty and the quote has no bid and ask to price it at the mid; type a price"))
			return false
		}
		o.Limit, o.LimitFromMid = mid, true
	} else {
		p, err := ParsePrice(FieldLimit, limit)
		if err == nil {
			err = CheckTick(FieldLimit, p, rule)
		}
		if err != nil {
			errs.add(FieldLimit, err)
			return false
		}
		o.Limit = p
	}
	o.Reference = o.Limit
	return true
}

// Mid returns the midpoint of the quote's bid and ask on the tick grid.
// A mid between two ticks goes to the nearer one, and exactly halfway it
// goes to the side that waits: down for a BUY, up for a SELL.
func Mid(q *ibclient.Quote, side ibclient.Side, rule TickRule) (float64, bool) {
	if q == nil || !q.Bid.Valid || !q.Ask.Valid || q.Bid.Value <= 0 || q.Ask.Value < q.Bid.Value {
		return 0, false
	}
	how := NearestDown
	if side == ibclient.Sell {
		how = NearestUp
	}
	return rule.Round((q.Bid.Value+q.Ask.Value)/2, how), true
}

// ReferencePrice returns the price a market order on side is expected
// near: the quote's mid as Mid rounds it, else its last price.
func ReferencePrice(q *ibclient.Quote, side ibclient.Side, rule TickRule) (float64, bool) {
	if mid, ok := Mid(q, side, rule); ok {
		return mid, true
	}
	if q != nil && q.Last.Valid && q.Last.Value > 0 {
		return rule.Round(q.Last.Value, NearestDown), true
	}
	return 0, false
}

// sortErrors puts errs in form order.
func sortErrors(errs Errors) Errors {
	out := make(Errors, 0, len(errs))
	for _, f := range Fields {
		for _, fe := range errs {
			if fe.Field == f {
				out = append(out, fe)
			}
		}
	}
	return out
}

// CheckSyntax checks what needs nothing from IB: that every field parses,
// that the expiry is not before today, and that a limit price is not set
// on a market order. It returns Errors, or nil. Check does all of this
// and more, so CheckSyntax only serves to reject a malformed ticket
// before connecting.
func CheckSyntax(in Input, today time.Time, maxQuantity int) error {
	var errs Errors
	if maxQuantity <= 0 {
		maxQuantity = DefaultMaxQuantity
	}
	_, err := ParseSymbol(in.Symbol)
	errs.add(FieldSymbol, err)
	if expiry, err := ParseExpiry(in.Expiry); err != nil {
		errs.add(FieldExpiry, err)
	} else if expiry.Before(today) {
		errs.add(FieldExpiry, CheckExpiry(expiry, today, nil))
	}
	_, err = ParseStrike(in.Strike)
	errs.add(FieldStrike, err)
	_, err = ParseRight(in.Right)
	errs.add(FieldRight, err)
	_, err = ParseSide(in.Side)
	errs.add(FieldSide, err)
	_, err = ParseQuantity(in.Quantity, maxQuantity)
	errs.add(FieldQuantity, err)
	orderType, err := ParseOrderType(in.OrderType)
	errs.add(FieldOrderType, err)
	if limit := strings.TrimSpace(in.Limit); limit != "" {
		if orderType == ibclient.Market {
			errs.add(FieldLimit, fieldErr(FieldLimit, in.Limit, "is set on a market order; clear it, or choose LMT"))
		} else {
			_, err = ParsePrice(FieldLimit, in.Limit)
			errs.add(FieldLimit, err)
		}
	}
	_, err = ParseStopLoss(in.StopLoss)
	errs.add(FieldStopLoss, err)
	_, err = ParseTIF(in.TIF)
	errs.add(FieldTIF, err)

	if len(errs) > 0 {
		return sortErrors(errs)
	}
	return nil
}

// Ticket returns the ibclient ticket of the order on the option conid in
// account: the entry, and the attached stop that ibclient builds from it
// (opposite side, STP at Stop, GTC).
func (o Order) Ticket(account string, conid int64) ibclient.Ticket {
	t := ibclient.Ticket{
		Account:   account,
		Conid:     conid,
		SecType:   "OPT",
		Side:      o.Side,
		Quantity:  float64(o.Quantity),
		OrderType: o.Type,
		StopPrice: o.Stop,
		TIF:       string(o.TIF),
	}
	if o.Type == ibclient.Limit {
		t.LimitPrice = o.Limit
	}
	return t
}
