package orderform

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// Field names one input of the ticket, as messages and the form show it.
type Field string

// The ticket's fields.
const (
	FieldSymbol    Field = "symbol"
	FieldExpiry    Field = "expiry"
	FieldStrike    Field = "strike"
	FieldRight     Field = "right"
	FieldSide      Field = "side"
	FieldQuantity  Field = "quantity"
	FieldOrderType Field = "order type"
	FieldLimit     Field = "limit price"
	FieldStopLoss  Field = "stop-loss"
	FieldTIF       Field = "time in force"
)

// Fields lists the fields in the order the form shows them.
var Fields = []Field{FieldSymbol, FieldExpiry, FieldStrike, FieldRight, FieldSide,
	FieldQuantity, FieldOrderType, FieldLimit, FieldStopLoss, FieldTIF}

// FieldError is an invalid field value, with what is wrong and what to
// type instead.
type FieldError struct {
	Field   Field
	Value   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Message)
}

func fieldErr(field Field, value, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Value: value, Message: fmt.Sprintf(format, args...)}
}

// TIF is the entry's time in force.
type TIF string

// The times in force the ticket offers.
const (
	Day TIF = "DAY"
	GTC TIF = "GTC"
)

// DateLayout is the form of an expiry on the ticket: an ISO 8601 date.
const DateLayout = "2006-01-02"

var (
	symbolPattern   = regexp.MustCompile(`^[A-Z][A-Z.]{0,9}$`)
	decimalPattern  = regexp.MustCompile(`^([0-9]{1,7}(\.[0-9]{0,6})?|\.[0-9]{1,6})$`)
	quantityPattern = regexp.MustCompile(`^-?[0-9]+$`)
)

// ParseSymbol returns the upper-cased stock symbol.
func ParseSymbol(s string) (string, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	switch {
	case v == "":
		return "", fieldErr(FieldSymbol, s, "is missing; type a stock symbol such as SPY")
	case !symbolPattern.MatchString(v):
		return "", fieldErr(FieldSymbol, s, "is not a stock symbol; type letters only, such as SPY")
	}
	return v, nil
}

// ParseExpiry reads an expiry date in the form YYYY-MM-DD. The result is
// midnight UTC of that date.
func ParseExpiry(s string) (time.Time, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return time.Time{}, fieldErr(FieldExpiry, s, "is missing; type a date in the form YYYY-MM-DD, such as 2026-12-18")
	}
	t, err := time.Parse(DateLayout, v)
	if err != nil {
		return time.Time{}, fieldErr(FieldExpiry, s, "is not a date in the form YYYY-MM-DD, such as 2026-12-18")
	}
	return t, nil
}

// CheckExpiry checks an expiry against today's date in New York and, when
// listed is not nil, against the listed expiries.
func CheckExpiry(expiry, today time.Time, listed []time.Time) error {
	value := expiry.Format(DateLayout)
	if expiry.Before(today) {
		return fieldErr(FieldExpiry, value, "is in the past (today in New York is %s), so pick a listed expiry%s",
			today.Format(DateLayout), suggestDates(NearestDates(listed, today, 3)))
	}
	if listed == nil {
		return nil
	}
	if len(listed) == 0 {
		return fieldErr(FieldExpiry, value, "cannot be checked because IB lists no expiries; retry once the option chain loads")
	}
	if !slices.ContainsFunc(listed, expiry.Equal) {
		return fieldErr(FieldExpiry, value, "is not a listed expiry; pick one of the nearest%s",
			suggestDates(NearestDates(listed, expiry, 3)))
	}
	return nil
}

func suggestDates(dates []time.Time) string {
	if len(dates) == 0 {
		return ""
	}
	parts := make([]string, len(dates))
	for i, d := range dates {
		parts[i] = d.Format(DateLayout)
	}
	return ": " + strings.Join(parts, ", ")
}

// ParseStrike reads a strike price in dollars.
func ParseStrike(s string) (float64, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fieldErr(FieldStrike, s, "is missing; type a strike such as 500")
	}
	k, ok := parseDecimal(v)
	if !ok {
		return 0, fieldErr(FieldStrike, s, "is not a number; type a strike such as 500 or 502.5")
	}
	if k <= 0 {
		return 0, fieldErr(FieldStrike, s, "must be above zero; type a strike such as 500")
	}
	return k, nil
}

// CheckStrike checks that strike is among the strikes listed for one
// expiry. IB pools strikes over a month, so a strike of the month may
// still be missing from a given expiry.
func CheckStrike(strike float64, expiry time.Time, listed []float64) error {
	if slices.ContainsFunc(listed, func(k float64) bool { return math.Abs(k-strike) < 1e-9 }) {
		return nil
	}
	value := FormatStrike(strike)
	if len(listed) == 0 {
		return fieldErr(FieldStrike, value, "cannot be used because IB lists no strikes for %s; pick another expiry", expiry.Format(DateLayout))
	}
	return fieldErr(FieldStrike, value, "is not listed for %s; the nearest listed strikes are %s",
		expiry.Format(DateLayout), joinStrikes(NearestStrikes(listed, strike, 3)))
}

func joinStrikes(strikes []float64) string {
	parts := make([]string, len(strikes))
	for i, k := range strikes {
		parts[i] = FormatStrike(k)
	}
	return strings.Join(parts, ", ")
}

// ParseRight reads P, PUT, C or CALL in any case.
func ParseRight(s string) (ibclient.Right, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "P", "PUT":
		return ibclient.Put, nil
	case "C", "CALL":
		return ibclient.Call, nil
	case "":
		return "", fieldErr(FieldRight, s, "is missing; type P for a put or C for a call")
	}
	return "", fieldErr(FieldRight, s, "is not an option right; type P for a put or C for a call")
}

// ParseSide reads BUY or SELL (or B, S) in any case.
func ParseSide(s string) (ibclient.Side, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "BUY", "B":
		return ibclient.Buy, nil
	case "SELL", "S":
		return ibclient.Sell, nil
	case "":
		return "", fieldErr(FieldSide, s, "is missing; type BUY or SELL")
	}
	return "", fieldErr(FieldSide, s, "is not a side; type BUY or SELL")
}

// ParseQuantity reads a whole number of contracts from 1 to max.
func ParseQuantity(s string, max int) (int, error) {
	allowed := fmt.Sprintf("a whole number of contracts from 1 to %d (the maximum is orders.max_quantity in the config)", max)
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fieldErr(FieldQuantity, s, "is missing; type %s", allowed)
	}
	if !quantityPattern.MatchString(v) {
		return 0, fieldErr(FieldQuantity, s, "is not a whole number; type %s", allowed)
	}
	n, err := strconv.Atoi(v)
	switch {
	case strings.HasPrefix(v, "-") || (err == nil && n < 1):
		return 0, fieldErr(FieldQuantity, s, "must be %s", allowed)
	case err != nil || n > max:
		// Atoi fails here only on a number too large for an int.
		return 0, fieldErr(FieldQuantity, s, "is over the maximum of %d (orders.max_quantity in the config); type %d or less, or raise the limit", max, max)
	}
	return n, nil
}

// ParseOrderType reads LMT or MKT (or LIMIT, MARKET); empty is LMT.
func ParseOrderType(s string) (ibclient.OrderType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "LMT", "LIMIT":
		return ibclient.Limit, nil
	case "MKT", "MARKET":
		return ibclient.Market, nil
	}
	return "", fieldErr(FieldOrderType, s, "is not an order type; type LMT (limit) or MKT (market)")
}

// ParseTIF reads DAY or GTC; empty is DAY.
func ParseTIF(s string) (TIF, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "DAY":
		return Day, nil
	case "GTC":
		return GTC, nil
	}
	return "", fieldErr(FieldTIF, s, "is not a time in force; type DAY or GTC")
}

// ParsePrice reads a positive price in dollars for field, such as 3.15.
func ParsePrice(field Field, s string) (float64, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fieldErr(field, s, "is missing; type a price such as 3.15")
	}
	p, ok := parseDecimal(v)
	if !ok {
		return 0, fieldErr(field, s, "is not a price; type dollars and cents such as 3.15")
	}
	if p <= 0 {
		return 0, fieldErr(field, s, "must be above zero; type a price such as 3.15")
	}
	return p, nil
}

// CheckTick checks that price is a whole number of ticks under rule.
func CheckTick(field Field, price float64, rule TickRule) error {
	if rule.OnTick(price) {
		return nil
	}
	inc := rule.Increment(price)
	down, up := rule.Round(price, Down), rule.Round(price, Up)
	return fieldErr(field, FormatPrice(price), "is not a multiple of the $%s tick at this price; use %s or %s",
		FormatPrice(inc), FormatPrice(down), FormatPrice(up))
}

// StopLoss is the stop as typed: a price, or a multiple of the entry
// price ("3x"). Exactly one of Price and Multiple is set.
type StopLoss struct {
	Price    float64
	Multiple float64
}

// ParseStopLoss reads a stop price such as 10.00 or a multiple of the
// entry price such as 3x.
func ParseStopLoss(s string) (StopLoss, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "" {
		return StopLoss{}, fieldErr(FieldStopLoss, s, "is missing; type a stop price such as 10.00 or a multiple of the entry price such as 3x")
	}
	if m, ok := strings.CutSuffix(v, "x"); ok {
		mult, ok := parseDecimal(strings.TrimSpace(m))
		if !ok || mult <= 0 {
			return StopLoss{}, fieldErr(FieldStopLoss, s, "is not a multiple; type a positive number followed by x, such as 3x or 0.5x")
		}
		return StopLoss{Multiple: mult}, nil
	}
	p, ok := parseDecimal(v)
	if !ok {
		return StopLoss{}, fieldErr(FieldStopLoss, s, "is not a price or a multiple; type a price such as 10.00 or a multiple such as 3x")
	}
	if p <= 0 {
		return StopLoss{}, fieldErr(FieldStopLoss, s, "must be above zero; type a price such as 10.00")
	}
	return StopLoss{Price: p}, nil
}

// ResolveStop turns the stop as typed into a stop price for an entry on
// side at price entry: a multiple is applied to entry and rounded to the
// nearest tick, a price must already be on a tick. Either way the stop
// must be on the protective side of the entry (see CheckStopSide).
func ResolveStop(stop StopLoss, side ibclient.Side, entry float64, rule TickRule) (float64, error) {
	if stop.Multiple > 0 {
		typed := FormatPrice(stop.Multiple) + "x"
		if !(entry > 0) {
			return 0, fieldErr(FieldStopLoss, typed, "needs an entry price to multiply; type a limit price, or wait for the quote")
		}
		switch {
		case side == ibclient.Sell && stop.Multiple <= 1:
			return 0, fieldErr(FieldStopLoss, typed, "would not be above the entry %s, but a SELL entry's stop is a BUY stop above it; use a multiple over 1, such as 3x",
				FormatPrice(entry))
		case side == ibclient.Buy && stop.Multiple >= 1:
			return 0, fieldErr(FieldStopLoss, typed, "would not be below the entry %s, but a BUY entry's stop is a SELL stop below it; use a multiple under 1, such as 0.5x",
				FormatPrice(entry))
		}
		price := rule.Round(stop.Multiple*entry, NearestUp)
		if err := CheckStopSide(side, entry, price); err != nil {
			return 0, err
		}
		return price, nil
	}

	if err := CheckTick(FieldStopLoss, stop.Price, rule); err != nil {
		return 0, err
	}
	if err := CheckStopSide(side, entry, stop.Price); err != nil {
		return 0, err
	}
	return stop.Price, nil
}

// CheckStopSide checks that the stop protects the entry: a SELL entry's
// stop is a BUY stop above the entry price, and a BUY entry's stop is a
// SELL stop below it.
func CheckStopSide(side ibclient.Side, entry, stop float64) error {
	value := FormatPrice(stop)
	switch {
	case side == ibclient.Sell && stop <= entry:
		return fieldErr(FieldStopLoss, value, "is not above the entry %s, but a SELL entry's stop is a BUY stop above it; type a price over %s or a multiple such as 3x",
			FormatPrice(entry), FormatPrice(entry))
	case side == ibclient.Buy && stop >= entry:
		return fieldErr(FieldStopLoss, value, "is not below the entry %s, but a BUY entry's stop is a SELL stop below it; type a price under %s or a multiple such as 0.5x",
			FormatPrice(entry), FormatPrice(entry))
	}
	return nil
}

// parseDecimal reads an unsigned decimal with at most 7 digits before
// and 6 after the point. Go's ParseFloat alone would also take "1e3",
// "Inf", "NaN" and hex floats, none of which belong on a ticket.
func parseDecimal(s string) (float64, bool) {
	if !decimalPattern.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// FormatPrice writes a price with two decimals, or more when it has more.
func FormatPrice(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	whole, frac, found := strings.Cut(s, ".")
	switch {
	case !found:
		return whole + ".00"
	case len(frac) == 1:
		return s + "0"
	case len(frac) > 6:
		return strconv.FormatFloat(p, 'f', 6, 64)
	}
	return s
}

// FormatStrike writes a strike without trailing zeros: 500, 502.5.
func FormatStrike(k float64) string { return strconv.FormatFloat(k, 'f', -1, 64) }

// FormatMoney writes an amount of IB's what-if with its currency, such
// as "1.05 USD", or "-" when IB sent none.
func FormatMoney(m ibclient.Money) string {
	if !m.Valid {
		return "-"
	}
	return strings.TrimSpace(FormatPrice(m.Value) + " " + m.Currency)
}

// FormatChange writes one line of IB's what-if as "current → after
// (change)", or "-" when IB sent no change.
func FormatChange(c ibclient.MarginChange) string {
	if !c.Change.Valid {
		return "-"
	}
	return fmt.Sprintf("%s → %s (%+g)", c.Current, c.After, c.Change.Value)
}
