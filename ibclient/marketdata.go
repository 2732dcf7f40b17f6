package ibclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Market data field ids of GET iserver/marketdata/snapshot.
const (
	FieldLast         = "31"
	FieldBid          = "84"
	FieldAskSize      = "85"
	FieldAsk          = "86"
	FieldBidSize      = "88"
	FieldLastSize     = "7059"
	FieldDelta        = "7308"
	FieldImpliedVol   = "7633"
	FieldAvailability = "6509"
)

// QuoteFields are the fields Snapshot requests. IB streams only the
// fields named in the first (pre-flight) request for a conid, so every
// field a Quote has is requested every time.
var QuoteFields = []string{FieldLast, FieldBid, FieldAskSize, FieldAsk, FieldBidSize, FieldLastSize, FieldDelta, FieldImpliedVol, FieldAvailability}

// Number is a market data value that may be missing.
type Number struct {
	Value float64
	Valid bool
}

func (n Number) String() string {
	if !n.Valid {
		return "-"
	}
	return strconv.FormatFloat(n.Value, 'f', -1, 64)
}

// Availability is IB's field 6509: whether data is real-time, delayed,
// frozen or not subscribed.
type Availability string

// RealTime reports whether the data is live (first letter R).
func (a Availability) RealTime() bool { return strings.HasPrefix(string(a), "R") }

// Delayed reports whether the data is delayed (D) or frozen delayed (Y).
func (a Availability) Delayed() bool {
	return strings.HasPrefix(string(a), "D") || strings.HasPrefix(string(a), "Y")
}

// Subscribed reports whether the user has a data subscription (not N).
func (a Availability) Subscribed() bool { return a != "" && !strings.HasPrefix(string(a), "N") }

// Quote is one conid's snapshot, parsed from IB's strings.
type Quote struct {
	Conid    int64
	Bid      Number
	Ask      Number
	Last     Number
	BidSize  Number
	AskSize  Number
	LastSize Number
	Delta    Number
	// ImpliedVol is a fraction: IB's "14.8%" is 0.148.
	ImpliedVol   Number
	Availability Availability
	// LastIsClose is set when IB marked the last price C: the prior close.
	LastIsClose bool
	// Halted is set when IB marked the last price H.
	Halted  bool
	Updated time.Time // zero when IB sent no _updated
}

// HasData reports whether any price or Greek arrived, which the
// pre-flight response lacks.
func (q Quote) HasData() bool {
	return q.Bid.Valid || q.Ask.Valid || q.Last.Valid || q.Delta.Valid || q.ImpliedVol.Valid
}

// Snapshot performs GET iserver/marketdata/snapshot for conids. IB's
// first response for a new conid is a pre-flight without values, so the
// request is repeated, with a short pause, until every conid has data
// or the attempts (WithSnapshotRetry) run out; quotes still empty then
// are returned as they are.
func (c *Client) Snapshot(ctx context.Context, conids ...int64) ([]Quote, error) {
	if len(conids) == 0 {
		return nil, errors.New("ibclient: snapshot needs at least one conid")
	}
	ids := make([]string, len(conids))
	for i, id := range conids {
		ids[i] = strconv.FormatInt(id, 10)
	}
	query := url.Values{"conids": {strings.Join(ids, ",")}, "fields": {strings.Join(QuoteFields, ",")}}

	var quotes []Quote
	for attempt := 1; attempt <= c.snapshotAttempts; attempt++ {
		var rows []map[string]json.RawMessage
		if err := c.call(ctx, http.MethodGet, "iserver/marketdata/snapshot", query, nil, &rows); err != nil {
			return nil, err
		}
		var err error
		quotes, err = parseQuotes(rows)
		if err != nil {
			return nil, err
		}
		if allHaveData(quotes, conids) || attempt == c.snapshotAttempts {
			break
		}
		if !sleepCtx(ctx, c.snapshotPause) {
			return nil, ctx.Err()
		}
	}
	return quotes, nil
}

func allHaveData(quotes []Quote, conids []int64) bool {
	have := map[int64]bool{}
	for _, q := range quotes {
		if q.HasData() {
			have[q.Conid] = true
		}
	}
	for _, id := range conids {
		if !have[id] {
			return false
		}
	}
	return true
}

func parseQuotes(rows []map[string]json.RawMessage) ([]Quote, error) {
	quotes := make([]Quote, 0, len(rows))
	for _, row := range rows {
		q, err := parseQuote(row)
		if err != nil {
			return nil, err
		}
		quotes = append(quotes, q)
	}
	return quotes, nil
}

// parseQuote reads one snapshot row. Values are strings such as "3.10",
// "1,300", "C3.10" or "14.8%"; a value that cannot be read is left
// missing rather than failing the whole quote.
func parseQuote(row map[string]json.RawMessage) (Quote, error) {
	var q Quote
	var conid FlexInt
	raw, ok := row["conid"]
	if !ok {
		return q, &APIError{Endpoint: "GET iserver/marketdata/snapshot", Kind: KindMalformed, Message: "snapshot row has no conid"}
	}
	if err := json.Unmarshal(raw, &conid); err != nil {
		return q, &APIError{Endpoint: "GET iserver/marketdata/snapshot", Kind: KindMalformed, Message: err.Error()}
	}
	q.Conid = int64(conid)

	text := func(field string) string {
		raw, ok := row[field]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw) // a bare number
	}

	last := strings.TrimSpace(text(FieldLast))
	switch {
	case strings.HasPrefix(last, "C"):
		q.LastIsClose, last = true, last[1:]
	case strings.HasPrefix(last, "H"):
		q.Halted, last = true, last[1:]
	}
	q.Last = ParseMarketValue(last)
	q.Bid = ParseMarketValue(text(FieldBid))
	q.Ask = ParseMarketValue(text(FieldAsk))
	q.BidSize = ParseMarketValue(text(FieldBidSize))
	q.AskSize = ParseMarketValue(text(FieldAskSize))
	q.LastSize = ParseMarketValue(text(FieldLastSize))
	q.Delta = ParseMarketValue(text(FieldDelta))
	if iv := ParseMarketValue(text(FieldImpliedVol)); iv.Valid {
		q.ImpliedVol = Number{Value: iv.Value / 100, Valid: true}
	}
	q.Availability = Availability(text(FieldAvailability))

	if raw, ok := row["_updated"]; ok {
		var ms int64
		if json.Unmarshal(raw, &ms) == nil && ms > 0 {
			q.Updated = time.UnixMilli(ms)
		}
	}
	return q, nil
}

// ParseMarketValue reads one of IB's market data strings: thousands
// separators ("1,300"), a percent sign ("14.8%", returned as 14.8) and
// the K/M/B suffixes of volumes ("1.2K"). "" and "N/A" are missing.
func ParseMarketValue(s string) Number {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	s = strings.TrimSuffix(s, "%")
	if s == "" || strings.EqualFold(s, "N/A") {
		return Number{}
	}
	scale := 1.0
	switch s[len(s)-1] {
	case 'K', 'k':
		scale = 1e3
	case 'M', 'm':
		scale = 1e6
	case 'B', 'b':
		scale = 1e9
	}
	if scale != 1 {
		s = s[:len(s)-1]
	}
	v, ok := parseDecimal(s)
	if !ok || math.IsInf(v*scale, 0) {
		return Number{}
	}
	return Number{Value: v * scale, Valid: true}
}

// String formats a quote for logs and debugging.
func (q Quote) String() string {
	return fmt.Sprintf("conid %d bid %s ask %s last %s delta %s iv %s (%s)", q.Conid, q.Bid, q.Ask, q.Last, q.Delta, q.ImpliedVol, q.Availability)
}
