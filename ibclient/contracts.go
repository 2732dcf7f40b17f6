package ibclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Right is an option right as IB writes it.
type Right string

// The option rights.
const (
	Call Right = "C"
	Put  Right = "P"
)

// Validate returns an error unless r is Call or Put.
func (r Right) Validate() error {
	if r != Call && r != Put {
		return fmt.Errorf("ibclient: option right %q is not C (call) or P (put)", string(r))
	}
	return nil
}

// Underlying is a stock found by SearchStock, with its option months and
// expiries.
type Underlying struct {
	Conid       int64
	Symbol      string
	CompanyName string
	Description string // the listing exchange, such as ARCA
	// Months are the option months in IB's form, such as AUG25.
	Months []string
	// Expiries are the option expiry dates (YYYYMMDD) from the search
	// result's opt field; IB may send none.
	Expiries []string
}

type searchRow struct {
	Conid       FlexInt `json:"conid"`
	CompanyName string  `json:"companyName"`
	Symbol      string  `json:"symbol"`
	Description string  `json:"description"`
	Opt         *string `json:"opt"`
	Sections    []struct {
		SecType  string `json:"secType"`
		Months   string `json:"months"`
		Exchange string `json:"exchange"`
	} `json:"sections"`
}

// SearchStock performs GET iserver/secdef/search for a stock symbol and
// returns the row that lists options (SPY's is conid 756733 on ARCA).
func (c *Client) SearchStock(ctx context.Context, symbol string) (*Underlying, error) {
	symbol = strings.ToUpper(strings.TrimSpace(symbol))
	if symbol == "" {
		return nil, errors.New("ibclient: stock symbol is empty")
	}
	var rows []searchRow
	query := url.Values{"symbol": {symbol}, "secType": {"STK"}}
	if err := c.call(ctx, http.MethodGet, "iserver/secdef/search", query, nil, &rows); err != nil {
		return nil, err
	}

	for _, row := range rows {
		for _, section := range row.Sections {
			if section.SecType != "OPT" || !strings.EqualFold(row.Symbol, symbol) {
				continue
			}
			u := &Underlying{
				Conid:       int64(row.Conid),
				Symbol:      row.Symbol,
				CompanyName: row.CompanyName,
				Description: row.Description,
				Months:      splitList(section.Months),
			}
			if row.Opt != nil {
				u.Expiries = splitList(*row.Opt)
			}
			return u, nil
		}
	}
	return nil, fmt.Errorf("ibclient: secdef/search found no %s stock with options among %d rows; check the symbol", symbol, len(rows))
}

// splitList splits IB's ";"-separated lists, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Strikes are the strikes of one option month, per right. IB pools them
// over every expiry in the month.
type Strikes struct {
	Call []float64 `json:"call"`
	Put  []float64 `json:"put"`
}

// For returns the strikes of right r.
func (s *Strikes) For(r Right) []float64 {
	if r == Put {
		return s.Put
	}
	return s.Call
}

// Strikes performs GET iserver/secdef/strikes for the options of the
// underlying conid in month (such as AUG25), on SMART.
func (c *Client) Strikes(ctx context.Context, conid int64, month string) (*Strikes, error) {
	if err := validMonth(month); err != nil {
		return nil, err
	}
	query := url.Values{
		"conid":    {strconv.FormatInt(conid, 10)},
		"sectype":  {"OPT"},
		"month":    {month},
		"exchange": {"SMART"},
	}
	var out Strikes
	if err := c.call(ctx, http.MethodGet, "iserver/secdef/strikes", query, nil, &out); err != nil {
		return nil, err
	}
	sort.Float64s(out.Call)
	sort.Float64s(out.Put)
	return &out, nil
}

// OptionContract is one option from secdef/info.
type OptionContract struct {
	Conid          FlexInt   `json:"conid"`
	Symbol         string    `json:"symbol"`
	SecType        string    `json:"secType"`
	Exchange       string    `json:"exchange"`
	Right          Right     `json:"right"`
	Strike         FlexFloat `json:"strike"`
	Currency       string    `json:"currency"`
	Description    string    `json:"desc2"`
	MaturityDate   string    `json:"maturityDate"` // YYYYMMDD
	Multiplier     FlexFloat `json:"multiplier"`
	TradingClass   string    `json:"tradingClass"`
	ValidExchanges string    `json:"validExchanges"`
}

// OptionContracts performs GET iserver/secdef/info for (month, strike,
// right) and returns one contract per expiry in the month. An empty list
// means no such contract. Responses are cached for contractCacheTTL.
func (c *Client) OptionContracts(ctx context.Context, underlying int64, month string, strike float64, right Right) ([]OptionContract, error) {
	if err := validMonth(month); err != nil {
		return nil, err
	}
	if err := right.Validate(); err != nil {
		return nil, err
	}
	if strike <= 0 {
		return nil, fmt.Errorf("ibclient: strike %g must be positive", strike)
	}

	key := infoKey{underlying, month, strike, right}
	if rows, ok := c.contracts.get(key, c.now()); ok {
		return rows, nil
	}
	query := url.Values{
		"conid":    {strconv.FormatInt(underlying, 10)},
		"sectype":  {"OPT"},
		"month":    {month},
		"exchange": {"SMART"},
		"strike":   {strconv.FormatFloat(strike, 'f', -1, 64)},
		"right":    {string(right)},
	}
	var rows []OptionContract
	if err := c.call(ctx, http.MethodGet, "iserver/secdef/info", query, nil, &rows); err != nil {
		return nil, err
	}
	c.contracts.put(key, rows, c.now())
	return rows, nil
}

// OptionContract returns the contract for one expiry (YYYYMMDD), strike
// and right, picked from secdef/info by exact maturity date. A contract
// that IB does not list is an error naming the values.
func (c *Client) OptionContract(ctx context.Context, underlying int64, expiry string, strike float64, right Right) (*OptionContract, error) {
	month, err := ExpiryMonth(expiry)
	if err != nil {
		return nil, err
	}
	rows, err := c.OptionContracts(ctx, underlying, month, strike, right)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if rows[i].MaturityDate == expiry {
			return &rows[i], nil
		}
	}
	return nil, fmt.Errorf("ibclient: no %s option with strike %g expiring %s (IB lists %d expiries of that strike in %s); pick a strike listed for this expiry",
		right, strike, expiry, len(rows), month)
}

// ExpiryStrikes returns the strikes of right that really exist for one
// expiry (YYYYMMDD). The month's pooled strike list is checked strike by
// strike against secdef/info, nearest to center first, at most limit of
// them, through the rate limiter and the cache; the result is sorted.
func (c *Client) ExpiryStrikes(ctx context.Context, underlying int64, expiry string, right Right, center float64, limit int) ([]float64, error) {
	month, err := ExpiryMonth(expiry)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > 200 {
		return nil, fmt.Errorf("ibclient: strike check limit %d is outside 1 to 200", limit)
	}
	pooled, err := c.Strikes(ctx, underlying, month)
	if err != nil {
		return nil, err
	}
	candidates := nearest(pooled.For(right), center, limit)

	// A few requests in flight at once; the rate limiter paces them.
	const workers = 4
	found := make([]bool, len(candidates))
	errs := make([]error, len(candidates))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rows, err := c.OptionContracts(ctx, underlying, month, candidates[i], right)
				errs[i] = err
				found[i] = slices.ContainsFunc(rows, func(r OptionContract) bool { return r.MaturityDate == expiry })
			}
		}()
	}
	for i := range candidates {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()

	var out []float64
	for i, strike := range candidates {
		if errs[i] != nil {
			return nil, fmt.Errorf("ibclient: checking strike %g for %s: %w", strike, expiry, errs[i])
		}
		if found[i] {
			out = append(out, strike)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Float64s(out)
	return out, nil
}

// nearest returns up to n strikes closest to center (all of them when
// center is 0), in ascending order.
func nearest(strikes []float64, center float64, n int) []float64 {
	out := slices.Clone(strikes)
	if center > 0 {
		sort.SliceStable(out, func(i, j int) bool {
			return abs(out[i]-center) < abs(out[j]-center)
		})
	}
	if len(out) > n {
		out = out[:n]
	}
	sort.Float64s(out)
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Expiries returns the expiry dates (YYYYMMDD) in month, sorted: from
// the search result's opt field when it has any for the month, or else
// from secdef/info for the month's middle call strike.
func (c *Client) Expiries(ctx context.Context, u *Underlying, month string) ([]string, error) {
	if err := validMonth(month); err != nil {
		return nil, err
	}
	var out []string
	for _, expiry := range u.Expiries {
		if m, err := ExpiryMonth(expiry); err == nil && m == month {
			out = append(out, expiry)
		}
	}
	if len(out) > 0 {
		sort.Strings(out)
		return out, nil
	}

	strikes, err := c.Strikes(ctx, u.Conid, month)
	if err != nil {
		return nil, err
	}
	if len(strikes.Call) == 0 {
		return nil, fmt.Errorf("ibclient: IB lists no call strikes for %s %s", u.Symbol, month)
	}
	rows, err := c.OptionContracts(ctx, u.Conid, month, strikes.Call[len(strikes.Call)/2], Call)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if !slices.Contains(out, row.MaturityDate) {
			out = append(out, row.MaturityDate)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ExpiryMonth returns IB's month code (AUG25) of an expiry date YYYYMMDD.
func ExpiryMonth(expiry string) (string, error) {
	t, err := time.Parse("20060102", expiry)
	if err != nil {
		return "", fmt.Errorf("ibclient: expiry %q is not a date in the form YYYYMMDD, such as 20250815", expiry)
	}
	return strings.ToUpper(t.Format("Jan06")), nil
}

func validMonth(month string) error {
	if _, err := time.Parse("Jan06", month); err != nil || len(month) != 5 || month != strings.ToUpper(month) {
		return fmt.Errorf("ibclient: option month %q is not in IB's form MMMYY, such as AUG25", month)
	}
	return nil
}

// contractCacheTTL is how long a secdef/info response is reused. Listed
// contracts change when IB adds expiries, at most daily.
const contractCacheTTL = time.Hour

type infoKey struct {
	underlying int64
	month      string
	strike     float64
	right      Right
}

type cachedInfo struct {
	rows    []OptionContract
	fetched time.Time
}

// contractCache contains secdef/info responses.
type contractCache struct {
	mu      sync.Mutex
	entries map[infoKey]cachedInfo
}

func (cc *contractCache) get(key infoKey, now time.Time) ([]OptionContract, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	entry, ok := cc.entries[key]
	if !ok || now.Sub(entry.fetched) > contractCacheTTL {
		return nil, false
	}
	return slices.Clone(entry.rows), true
}

func (cc *contractCache) put(key infoKey, rows []OptionContract, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.entries[key] = cachedInfo{rows: slices.Clone(rows), fetched: now}
}
