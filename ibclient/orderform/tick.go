package orderform

import (
	"fmt"
	"math"
	"sort"
)

// TickStep is one band of a tick rule: from LowerEdge (inclusive) up to
// the next band, prices move in steps of Increment. The JSON names are
// those of IB's incrementRules in GET trsrv/secdef.
type TickStep struct {
	LowerEdge float64 `json:"lowerEdge"`
	Increment float64 `json:"increment"`
}

// TickRule is the minimum price increment of a contract by price band.
type TickRule []TickStep

// PennyTick is the fallback rule for SPY options: $0.01 at every price.
// Under the Penny Interval Program, SPY, QQQ and IWM options trade in
// $0.01 steps regardless of price (MIAX's notice of the program, June
// 2020), so this rule applies when IB sends no incrementRules.
var PennyTick = TickRule{{LowerEdge: 0, Increment: 0.01}}

// priceScale is the number of price units per dollar that tick checks
// work in, so that 3.15 and 0.05 compare exactly as integers.
const priceScale = 1e6

// NewTickRule checks and sorts the bands that IB's incrementRules list.
// An empty list gives PennyTick.
func NewTickRule(steps []TickStep) (TickRule, error) {
	if len(steps) == 0 {
		return PennyTick, nil
	}
	rule := make(TickRule, len(steps))
	copy(rule, steps)
	sort.Slice(rule, func(i, j int) bool { return rule[i].LowerEdge < rule[j].LowerEdge })
	for _, s := range rule {
		if !(s.Increment > 0) || math.IsInf(s.Increment, 0) || s.LowerEdge < 0 || math.IsNaN(s.LowerEdge) {
			return nil, fmt.Errorf("orderform: tick band %+v is invalid: the increment must be positive and the lower edge not negative", s)
		}
	}
	if rule[0].LowerEdge != 0 {
		rule = append(TickRule{{LowerEdge: 0, Increment: rule[0].Increment}}, rule...)
	}
	return rule, nil
}

// Increment returns the tick at price: the increment of the band with the
// highest lower edge at or below price.
func (r TickRule) Increment(price float64) float64 {
	if len(r) == 0 {
		r = PennyTick
	}
	inc := r[0].Increment
	for _, s := range r {
		if price+1/priceScale >= s.LowerEdge {
			inc = s.Increment
		}
	}
	return inc
}

// OnTick reports whether price is a whole number of ticks.
func (r TickRule) OnTick(price float64) bool {
	units := int64(math.Round(price * priceScale))
	step := int64(math.Round(r.Increment(price) * priceScale))
	return step > 0 && units%step == 0
}

// Rounding picks which neighbouring tick a price goes to.
type Rounding int

// The roundings. The Nearest ones differ only on a price exactly halfway
// between two ticks.
const (
	NearestDown Rounding = iota // nearest tick, halfway goes down
	NearestUp                   // nearest tick, halfway goes up
	Down                        // the tick at or below
	Up                          // the tick at or above
)

// Round moves price onto the tick grid of its band.
func (r TickRule) Round(price float64, how Rounding) float64 {
	rounded := r.roundInBand(price, how)
	// Rounding across a band edge (2.99 up to 3.00) can land on a price
	// whose band has a coarser tick, so round again inside that band. Two
	// more passes settle any rule whose edges lie on its own grid.
	for range 2 {
		if r.OnTick(rounded) {
			break
		}
		rounded = r.roundInBand(rounded, how)
	}
	return rounded
}

func (r TickRule) roundInBand(price float64, how Rounding) float64 {
	step := int64(math.Round(r.Increment(price) * priceScale))
	units := int64(math.Round(price * priceScale))
	if step <= 0 || units <= 0 {
		return price
	}
	lower := units - units%step
	upper := lower
	if units%step != 0 {
		upper = lower + step
	}

	var out int64
	switch how {
	case Down:
		out = lower
	case Up:
		out = upper
	default:
		below, above := units-lower, upper-units
		switch {
		case below < above:
			out = lower
		case above < below:
			out = upper
		case how == NearestUp:
			out = upper
		default:
			out = lower
		}
	}
	return float64(out) / priceScale
}
