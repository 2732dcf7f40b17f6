package ibsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// SPYConid is IB's contract id of the SPY ETF (listing exchange ARCA).
const SPYConid = 756733

// Model constants. The walk's volatility is annualised over 252 trading
// days of 6.5 hours, so the simulated SPY moves about as much per hour as
// the real one does in a session.
const (
	modelVolatility = 0.18 // Black-Scholes vol of every option, and of the walk
	modelRate       = 0.04 // risk-free rate, continuous
	walkStep        = time.Second
	tradingSeconds  = 252 * 6.5 * 3600
	calendarYear    = 365 * 24 * time.Hour
)

// expiryKind is one of SPY's expiry cycles, which list different strikes.
type expiryKind int

const (
	expiryDaily   expiryKind = iota // Monday to Thursday, the next two weeks
	expiryWeekly                    // Fridays, the next eight weeks
	expiryMonthly                   // third Fridays, the next six months
)

// Strike ranges of each cycle around the listing price. Daily expiries
// list $1 strikes within 4 %, weeklies within 8 %, and monthlies add $5
// strikes out to 25 %. So a far strike exists only on the monthly expiry,
// and the month's pooled strike list offers strikes a weekly lacks.
const (
	dailyRange   = 0.04
	weeklyRange  = 0.08
	monthlyRange = 0.25
	monthlyStep  = 5.0
)

// contract is one listed SPY option.
type contract struct {
	conid   int64
	expiry  time.Time // 16:00 America/New_York on the expiry date
	date    string    // YYYYMMDD
	month   string    // IB's month code, such as AUG25
	strike  float64
	right   string // "C" or "P"
	kind    expiryKind
	openInt int
}

// description is IB's desc2 form, such as "AUG 15 '25 640 Call".
func (k *contract) description() string {
	right := "Call"
	if k.right == "P" {
		right = "Put"
	}
	d := k.expiry.In(newYork)
	return fmt.Sprintf("%s %02d '%s %s %s", strings.ToUpper(d.Format("Jan")), d.Day(), d.Format("06"), formatStrike(k.strike), right)
}

// market is SPY's price walk and option chain.
type market struct {
	price     float64
	walk      *rand.Rand
	walkTime  time.Time // the walk has been stepped up to here
	dayOpen   float64
	dayHigh   float64
	dayLow    float64
	dayVolume int64

	contracts []*contract // sorted by expiry, strike, right
	byConid   map[int64]*contract
	expiries  []expiryDate
}

type expiryDate struct {
	date    string
	month   string
	kind    expiryKind
	close   time.Time
	strikes []float64
}

// newMarket lists the chain around price for the expiries after now. The
// seed fixes the walk and the conid range.
func newMarket(seed uint64, price float64, now time.Time) *market {
	m := &market{
		price:    price,
		walk:     rand.New(rand.NewPCG(seed, 0x5b1)),
		walkTime: now,
		dayOpen:  price,
		dayHigh:  price,
		dayLow:   price,
		byConid:  map[int64]*contract{},
	}
	m.list(seed, now)
	return m
}

// list lists the chain once, at start-up.
// NOTE: expiries are never added later, so a simulator that runs for
// weeks lists fewer expiries as they pass; restart it to relist.
func (m *market) list(seed uint64, now time.Time) {
	today := now.In(newYork)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, newYork)
	tradingDays := 0
	for day := 0; day < 190; day++ {
		d := start.AddDate(0, 0, day)
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			continue
		}
		tradingDays++
		closeTime := time.Date(d.Year(), d.Month(), d.Day(), 16, 0, 0, 0, newYork)
		if !closeTime.After(now) {
			continue
		}

		var kind expiryKind
		switch {
		case d.Weekday() == time.Friday && (d.Day()+6)/7 == 3 && day < 186:
			kind = expiryMonthly
		case d.Weekday() == time.Friday && day < 56:
			kind = expiryWeekly
		case d.Weekday() != time.Friday && tradingDays <= 10:
			kind = expiryDaily
		default:
			continue
		}
		m.expiries = append(m.expiries, expiryDate{
			date:    d.Format("20060102"),
			month:   monthCode(d),
			kind:    kind,
			close:   closeTime,
			strikes: strikesFor(kind, m.price),
		})
	}

	conid := int64(700_000_000) + int64(seed%50)*2_000_000
	for _, e := range m.expiries {
		for _, k := range e.strikes {
			for _, right := range []string{"C", "P"} {
				conid++
				c := &contract{
					conid:   conid,
					expiry:  e.close,
					date:    e.date,
					month:   e.month,
					strike:  k,
					right:   right,
					kind:    e.kind,
					openInt: openInterest(conid, k, m.price),
				}
				m.contracts = append(m.contracts, c)
				m.byConid[conid] = c
			}
		}
	}
}

// strikesFor lists the strikes of one expiry cycle around price.
func strikesFor(kind expiryKind, price float64) []float64 {
	ref := math.Round(price)
	band := dailyRange
	if kind != expiryDaily {
		band = weeklyRange
	}
	set := map[float64]bool{}
	for k := math.Ceil(ref * (1 - band)); k <= math.Floor(ref*(1+band)); k++ {
		set[k] = true
	}
	if kind == expiryMonthly {
		lo := math.Ceil(ref*(1-monthlyRange)/monthlyStep) * monthlyStep
		for k := lo; k <= ref*(1+monthlyRange); k += monthlyStep {
			set[k] = true
		}
	}
	out := make([]float64, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Float64s(out)
	return out
}

// openInterest gives each contract a stable, plausible open interest:
// highest at the money and on round strikes.
func openInterest(conid int64, strike, price float64) int {
	distance := math.Abs(strike-price) / price
	base := 20000 * math.Exp(-distance*40)
	if math.Mod(strike, 5) == 0 {
		base *= 1.8
	}
	return int(base) + int(uint64(conid)*2654435761%97)
}

func monthCode(d time.Time) string {
	return strings.ToUpper(d.Format("Jan")) + d.Format("06")
}

// advance steps the walk to now, one step per walkStep. A long jump of
// the clock is taken as one step of the same total variance.
func (m *market) advance(now time.Time) {
	if !now.After(m.walkTime) {
		return
	}
	steps := int64(now.Sub(m.walkTime) / walkStep)
	if steps == 0 {
		return
	}
	perStep := modelVolatility * math.Sqrt(walkStep.Seconds()/tradingSeconds)
	var move float64
	if steps > 3600 {
		move = m.walk.NormFloat64() * perStep * math.Sqrt(float64(steps))
	} else {
		for range steps {
			move += m.walk.NormFloat64() * perStep
		}
	}
	m.price = math.Max(1, m.price*math.Exp(move))
	m.walkTime = m.walkTime.Add(time.Duration(steps) * walkStep)
	m.dayHigh = math.Max(m.dayHigh, m.price)
	m.dayLow = math.Min(m.dayLow, m.price)
	m.dayVolume += steps * int64(800+m.walk.IntN(400))
}

// setPrice moves the underlying to price now; the walk goes on from it.
func (m *market) setPrice(price float64, now time.Time) {
	m.price = price
	if now.After(m.walkTime) {
		m.walkTime = now
	}
	m.dayHigh = math.Max(m.dayHigh, price)
	m.dayLow = math.Min(m.dayLow, price)
}

// optionsOf returns the contracts of one month, strike and right, in
// expiry order.
func (m *market) optionsOf(month string, strike float64, right string, now time.Time) []*contract {
	var out []*contract
	for _, c := range m.contracts {
		if c.month == month && c.strike == strike && c.right == right && c.expiry.After(now) {
			out = append(out, c)
		}
	}
	return out
}

// liveExpiries returns the expiries not yet past at now.
func (m *market) liveExpiries(now time.Time) []expiryDate {
	var out []expiryDate
	for _, e := range m.expiries {
		if e.close.After(now) {
			out = append(out, e)
		}
	}
	return out
}

// quote is a two-sided market in cents, with greeks for options.
type quote struct {
	bid, ask, last   int64 // cents
	bidSize, askSize int
	lastSize         int
	model            float64 // model price in dollars
	delta, gamma     float64
	theta, vega      float64 // per calendar day, per volatility point
}

// mid returns the middle of bid and ask in dollars.
func (q quote) mid() float64 { return float64(q.bid+q.ask) / 200 }

// stockQuote quotes SPY one cent either side of the walk's price.
func (m *market) stockQuote(now time.Time) quote {
	last := int64(math.Round(m.price * 100))
	seed := uint64(now.Unix() / 5)
	return quote{
		bid:      last - 1,
		ask:      last + 1,
		last:     last,
		bidSize:  100 * (1 + int(mix(seed, 1)%40)),
		askSize:  100 * (1 + int(mix(seed, 2)%40)),
		lastSize: 100 * (1 + int(mix(seed, 3)%5)),
		model:    m.price,
		delta:    1,
	}
}

// optionQuote prices c with Black-Scholes at the walk's price and quotes
// it on IB's tick rule for options: $0.01 below $3.00, $0.05 from $3.00.
// The spread is 0.5 % of the price each side, at least one tick.
func (m *market) optionQuote(c *contract, now time.Time) quote {
	years := c.expiry.Sub(now).Hours() / calendarYear.Hours()
	g := blackScholes(m.price, c.strike, years, modelRate, modelVolatility, c.right == "C")

	half := math.Max(0.01, g.price*0.005)
	bid := floorTick(g.price - half)
	ask := ceilTick(g.price + half)
	if ask <= bid {
		ask = bid + tickCents(bid)
	}
	if ask < 1 {
		ask = 1
	}
	seed := mix(uint64(c.conid), uint64(now.Unix()/5))
	return quote{
		bid:      bid,
		ask:      ask,
		last:     roundTick(g.price),
		bidSize:  1 + int(seed%120),
		askSize:  1 + int((seed>>8)%120),
		lastSize: 1 + int((seed>>16)%10),
		model:    g.price,
		delta:    g.delta,
		gamma:    g.gamma,
		theta:    g.theta,
		vega:     g.vega,
	}
}

// tickCents is the minimum price increment in cents at a price in cents.
func tickCents(cents int64) int64 {
	if cents < 300 {
		return 1
	}
	return 5
}

func floorTick(price float64) int64 {
	if price <= 0 {
		return 0
	}
	cents := int64(math.Floor(price*100 + 1e-9))
	return cents - cents%tickCents(cents)
}

func ceilTick(price float64) int64 {
	cents := int64(math.Ceil(price*100 - 1e-9))
	if t := tickCents(cents); cents%t != 0 {
		cents += t - cents%t
	}
	return cents
}

func roundTick(price float64) int64 {
	cents := int64(math.Round(price * 100))
	t := tickCents(cents)
	return (cents + t/2) / t * t
}

// mix is a 64-bit hash (SplitMix64's finaliser) for stable pseudo-random
// sizes.
func mix(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 + b
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// greeks are a Black-Scholes price and its sensitivities.
type greeks struct {
	price, delta, gamma, theta, vega float64
}

// blackScholes prices a European option without dividends. theta is per
// calendar day and vega per volatility point. At or after expiry the
// price is the intrinsic value.
func blackScholes(spot, strike, years, rate, vol float64, call bool) greeks {
	if years <= 0 {
		intrinsic := math.Max(0, spot-strike)
		delta := 0.0
		if spot > strike {
			delta = 1
		}
		if !call {
			intrinsic = math.Max(0, strike-spot)
			delta = 0
			if spot < strike {
				delta = -1
			}
		}
		return greeks{price: intrinsic, delta: delta}
	}

	sqrtT := math.Sqrt(years)
	d1 := (math.Log(spot/strike) + (rate+vol*vol/2)*years) / (vol * sqrtT)
	d2 := d1 - vol*sqrtT
	discount := math.Exp(-rate * years)
	pdf := math.Exp(-d1*d1/2) / math.Sqrt(2*math.Pi)

	g := greeks{
		gamma: pdf / (spot * vol * sqrtT),
		vega:  spot * pdf * sqrtT / 100,
	}
	if call {
		g.price = spot*normCDF(d1) - strike*discount*normCDF(d2)
		g.delta = normCDF(d1)
		g.theta = (-spot*pdf*vol/(2*sqrtT) - rate*strike*discount*normCDF(d2)) / 365
	} else {
		g.price = strike*discount*normCDF(-d2) - spot*normCDF(-d1)
		g.delta = normCDF(d1) - 1
		g.theta = (-spot*pdf*vol/(2*sqrtT) + rate*strike*discount*normCDF(-d2)) / 365
	}
	g.price = math.Max(0, g.price)
	return g
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// formatStrike writes 640 as "640" and 642.5 as "642.5".
func formatStrike(k float64) string {
	if k == math.Trunc(k) {
		return fmt.Sprintf("%.0f", k)
	}
	return fmt.Sprintf("%g", k)
}

// formatCents writes cents as dollars with two decimals.
func formatCents(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// formatThousands writes n with comma separators, as IB writes sizes.
func formatThousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Underlying returns SPY's simulated price now.
func (s *Server) Underlying() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked(s.clock.Now())
	return s.market.price
}

// SetUnderlying moves SPY to price now, then lets working orders react
// (a stop whose option price is crossed fills). The walk continues from
// the new price.
func (s *Server) SetUnderlying(price float64) error {
	if price <= 0 || math.IsNaN(price) || math.IsInf(price, 0) {
		return fmt.Errorf("ibsim: underlying price %v must be a positive number", price)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.syncLocked(now)
	s.market.setPrice(price, now)
	s.book.advance(now, s.market, s.opts.SubmitDelay)
	return nil
}

// Option is one listed SPY option, for tests and the demo.
type Option struct {
	Conid  int64
	Expiry string // YYYYMMDD
	Month  string // IB's month code, such as AUG25
	Strike float64
	Right  string // "C" or "P"
}

// ListedOptions returns the options that have not expired, in expiry,
// strike and right order.
func (s *Server) ListedOptions() []Option {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []Option
	for _, c := range s.market.contracts {
		if c.expiry.After(now) {
			out = append(out, Option{Conid: c.conid, Expiry: c.date, Month: c.month, Strike: c.strike, Right: c.right})
		}
	}
	return out
}

// Quote returns the bid and ask of a conid (SPY or one of its options)
// in dollars now.
func (s *Server) Quote(conid int64) (bid, ask float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.syncLocked(now)
	q, ok := s.market.quoteOf(conid, now)
	if !ok {
		return 0, 0, fmt.Errorf("ibsim: conid %d is not SPY or a listed SPY option", conid)
	}
	return float64(q.bid) / 100, float64(q.ask) / 100, nil
}

func (m *market) quoteOf(conid int64, now time.Time) (quote, bool) {
	if conid == SPYConid {
		return m.stockQuote(now), true
	}
	c, ok := m.byConid[conid]
	if !ok {
		return quote{}, false
	}
	return m.optionQuote(c, now), true
}
