package ibsim

import (
	"math"
	"time"
)

// Order statuses the simulator moves through, named as IB names them.
const (
	StatusPreSubmitted  = "PreSubmitted"
	StatusSubmitted     = "Submitted"
	StatusFilled        = "Filled"
	StatusPendingCancel = "PendingCancel"
	StatusCancelled     = "Cancelled"
)

// Order types the simulator executes. IB spells them case-sensitively.
const (
	TypeLimit     = "LMT"
	TypeMarket    = "MKT"
	TypeStop      = "STP"
	TypeStopLimit = "STOP_LIMIT"
)

// cOIDWindow is how long IB keeps a client order id registered.
const cOIDWindow = 24 * time.Hour

// Simulated account values.
const (
	startingCash       = 1_000_000.0
	commissionPerUnit  = 0.65 // USD per option contract
	minimumCommission  = 1.00
	optionMultiplier   = 100
	questionPriceLimit = 0.10 // o163 when a limit is this far from the mid
	questionPriceFloor = 0.05 // and at least this many dollars away
)

// order is one working or finished order.
type order struct {
	id         int64
	cOID       string
	parentCOID string
	parent     *order
	children   []*order

	account   string
	conid     int64
	side      string // BUY or SELL
	orderType string
	price     float64 // limit price, or the stop price of STP
	auxPrice  float64 // the stop price of STOP_LIMIT
	quantity  float64
	tif       string

	status      string
	placed      time.Time
	cancelAt    time.Time // when PendingCancel began
	triggered   bool      // a STOP_LIMIT whose stop was reached
	filled      float64
	avgPrice    float64
	lastExecute time.Time
}

// working reports whether the order can still fill or be cancelled.
func (o *order) working() bool {
	return o.status == StatusPreSubmitted || o.status == StatusSubmitted
}

// book holds the account's orders, positions and cash.
type book struct {
	orders    []*order // in placement order, each parent before its children
	byID      map[int64]*order
	cOIDs     map[string]time.Time // cOID -> when it was registered
	nextID    int64
	positions map[int64]float64
	cash      float64
}

func newBook(seed uint64) *book {
	return &book{
		byID:      map[int64]*order{},
		cOIDs:     map[string]time.Time{},
		nextID:    1_800_000_000 + int64(seed%1000)*10_000,
		positions: map[int64]float64{},
		cash:      startingCash,
	}
}

// registered reports whether cOID was used within the last 24 hours.
func (b *book) registered(cOID string, now time.Time) bool {
	at, ok := b.cOIDs[cOID]
	return ok && now.Sub(at) < cOIDWindow
}

// add places orders, parents first, and registers their cOIDs.
func (b *book) add(orders []*order, now time.Time) {
	for _, o := range orders {
		b.nextID++
		o.id = b.nextID
		o.status = StatusPreSubmitted
		o.placed = now
		b.orders = append(b.orders, o)
		b.byID[o.id] = o
		if o.cOID != "" {
			b.cOIDs[o.cOID] = now
		}
	}
}

// cancel moves a working order and its working children to
// PendingCancel; advance finishes the cancel after the submit delay.
func (b *book) cancel(o *order, now time.Time) {
	for _, x := range append([]*order{o}, o.children...) {
		if x.working() {
			x.status = StatusPendingCancel
			x.cancelAt = now
		}
	}
}

// advance moves every order as far as now allows: PreSubmitted to
// Submitted after delay, children active once their parent fills, fills
// against the market, and cancels. A bracket's children form one OCA
// group, so when one fills the others are cancelled.
func (b *book) advance(now time.Time, m *market, delay time.Duration) {
	for cOID, at := range b.cOIDs {
		if now.Sub(at) >= cOIDWindow {
			delete(b.cOIDs, cOID)
		}
	}

	for _, o := range b.orders {
		switch o.status {
		case StatusPendingCancel:
			if !now.Before(o.cancelAt.Add(delay)) {
				o.status = StatusCancelled
			}
			continue
		case StatusPreSubmitted:
			if !b.activate(o, now, delay) {
				continue
			}
		case StatusSubmitted:
		default:
			continue
		}

		q, ok := m.quoteOf(o.conid, now)
		if !ok {
			continue
		}
		if price, fills := fillPrice(o, q); fills {
			b.fill(o, price, now)
		}
	}
}

// activate moves a PreSubmitted order to Submitted when it may work: a
// parent or lone order after the submit delay, a child once its parent
// has filled. A child of a cancelled parent is cancelled.
func (b *book) activate(o *order, now time.Time, delay time.Duration) bool {
	if o.parent == nil {
		if now.Before(o.placed.Add(delay)) {
			return false
		}
		o.status = StatusSubmitted
		return true
	}
	switch o.parent.status {
	case StatusFilled:
		o.status = StatusSubmitted
		return true
	case StatusCancelled:
		o.status = StatusCancelled
	}
	return false
}

// fillPrice decides whether a working order fills at quote q, and at what
// price: a marketable limit at the touch, a triggered stop at the touch.
// A sell stop triggers when the bid falls to the stop, a buy stop when the
// ask rises to it.
func fillPrice(o *order, q quote) (float64, bool) {
	bid, ask := float64(q.bid)/100, float64(q.ask)/100
	buy := o.side == "BUY"
	touch := bid
	if buy {
		touch = ask
	}

	switch o.orderType {
	case TypeMarket:
		return touch, true
	case TypeLimit:
		if (buy && ask <= o.price) || (!buy && bid >= o.price) {
			return touch, true
		}
	case TypeStop:
		if (buy && ask >= o.price) || (!buy && bid <= o.price) {
			return touch, true
		}
	case TypeStopLimit:
		if !o.triggered && ((buy && ask >= o.auxPrice) || (!buy && bid <= o.auxPrice)) {
			o.triggered = true
		}
		if o.triggered && ((buy && ask <= o.price) || (!buy && bid >= o.price)) {
			return touch, true
		}
	}
	return 0, false
}

func (b *book) fill(o *order, price float64, now time.Time) {
	o.status = StatusFilled
	o.filled = o.quantity
	o.avgPrice = price
	o.lastExecute = now

	multiplier := 1.0
	if o.conid != SPYConid {
		multiplier = optionMultiplier
	}
	signed := o.quantity
	if o.side == "SELL" {
		signed = -signed
	}
	b.positions[o.conid] += signed
	b.cash -= signed*price*multiplier + commission(o.quantity, o.conid)

	if o.parent != nil {
		for _, sibling := range o.parent.children {
			if sibling != o && sibling.working() {
				sibling.status = StatusCancelled
			}
		}
	}
}

// commission is the simulator's schedule: $0.65 a contract with a $1.00
// minimum for options, $0.005 a share with a $1.00 minimum for SPY.
func commission(quantity float64, conid int64) float64 {
	per := commissionPerUnit
	if conid == SPYConid {
		per = 0.005
	}
	return math.Max(minimumCommission, per*quantity)
}

// netLiquidation values cash plus positions at the mid.
func (b *book) netLiquidation(m *market, now time.Time) float64 {
	total := b.cash
	for conid, qty := range b.positions {
		if q, ok := m.quoteOf(conid, now); ok {
			multiplier := 1.0
			if conid != SPYConid {
				multiplier = optionMultiplier
			}
			total += qty * q.mid() * multiplier
		}
	}
	return total
}

// BookOrder is one order as the simulator holds it, for tests.
type BookOrder struct {
	OrderID  int64
	COID     string
	ParentID string // the parent's cOID; "" for a parent or a lone order
	Conid    int64
	Side     string // BUY or SELL
	Type     string // LMT, MKT, STP or STOP_LIMIT
	Price    float64
	AuxPrice float64
	Quantity float64
	Filled   float64
	AvgPrice float64
	Status   string
	TIF      string
}

// Orders returns every order placed since the server started, in
// placement order, after bringing their states up to the clock.
func (s *Server) Orders() []BookOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked(s.clock.Now())
	out := make([]BookOrder, 0, len(s.book.orders))
	for _, o := range s.book.orders {
		out = append(out, BookOrder{
			OrderID: o.id, COID: o.cOID, ParentID: o.parentCOID, Conid: o.conid,
			Side: o.side, Type: o.orderType, Price: o.price, AuxPrice: o.auxPrice,
			Quantity: o.quantity, Filled: o.filled, AvgPrice: o.avgPrice, Status: o.status, TIF: o.tif,
		})
	}
	return out
}

// Position returns the account's position in a conid, in contracts (or
// shares for SPY); short is negative.
func (s *Server) Position(conid int64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked(s.clock.Now())
	return s.book.positions[conid]
}
