package ibsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxSecdefConids is IB's limit of conids per /trsrv/secdef request.
const maxSecdefConids = 200

// searchRequest is the query or POST body of /iserver/secdef/search.
type searchRequest struct {
	Symbol  string `json:"symbol"`
	SecType string `json:"secType"`
	Name    bool   `json:"name"`
}

func (s *Server) handleSecdefSearch(c *call) {
	req := searchRequest{Symbol: c.r.URL.Query().Get("symbol"), SecType: c.r.URL.Query().Get("secType")}
	if c.r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
		if err == nil && len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				s.writeError(c, http.StatusBadRequest, "Bad Request: body is not JSON like {\"symbol\":\"SPY\"}")
				return
			}
		}
	}
	if req.Symbol == "" {
		s.writeError(c, http.StatusBadRequest, "Bad Request: symbol is required")
		return
	}
	if req.SecType != "" && !strings.EqualFold(req.SecType, "STK") {
		s.writeJSON(c, http.StatusOK, []any{})
		return
	}
	// IB matches symbols regardless of case; the simulator lists SPY only.
	if !strings.EqualFold(req.Symbol, "SPY") {
		s.writeJSON(c, http.StatusOK, []any{})
		return
	}

	expiries := s.market.liveExpiries(c.now)
	var dates, months []string
	for _, e := range expiries {
		dates = append(dates, e.date)
		if len(months) == 0 || months[len(months)-1] != e.month {
			months = append(months, e.month)
		}
	}
	s.writeJSON(c, http.StatusOK, []map[string]any{{
		"conid":         strconv.Itoa(SPYConid), // a string here, a number elsewhere, as in IB
		"companyHeader": "SPDR S&P 500 ETF TRUST - ARCA",
		"companyName":   "SPDR S&P 500 ETF TRUST",
		"symbol":        "SPY",
		"description":   "ARCA",
		"restricted":    nil,
		"fop":           nil,
		"opt":           strings.Join(dates, ";"),
		"war":           nil,
		"sections": []map[string]string{
			{"secType": "STK"},
			{"secType": "OPT", "months": strings.Join(months, ";"), "exchange": "SMART;AMEX;BATS;BOX;CBOE;CBOE2;EDGX;GEMINI;ISE;MIAX;NASDAQOM;PHLX;PSE"},
			{"secType": "BAG"},
		},
	}})
}

var monthPattern = regexp.MustCompile(`^[A-Z]{3}[0-9]{2}$`)

// optionQuery reads conid, sectype and month, which strikes and info
// share. IB's docs spell the parameter sectype and its staff code secType,
// so both are read.
func (s *Server) optionQuery(c *call) (month string, ok bool) {
	q := c.r.URL.Query()
	if conid := q.Get("conid"); conid != strconv.Itoa(SPYConid) {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: conid %q has no options here; use SPY's conid %d", conid, SPYConid))
		return "", false
	}
	secType := q.Get("sectype")
	if secType == "" {
		secType = q.Get("secType")
	}
	if !strings.EqualFold(secType, "OPT") {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: sectype %q is not supported; use OPT", secType))
		return "", false
	}
	month = strings.ToUpper(q.Get("month"))
	if !monthPattern.MatchString(month) {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: month %q is not a month code such as AUG25", q.Get("month")))
		return "", false
	}
	return month, true
}

// handleStrikes returns the strikes of a month pooled over all its
// expiries, as IB does, so a strike may be missing on some expiries.
func (s *Server) handleStrikes(c *call) {
	month, ok := s.optionQuery(c)
	if !ok {
		return
	}
	pooled := map[float64]bool{}
	for _, e := range s.market.liveExpiries(c.now) {
		if e.month == month {
			for _, k := range e.strikes {
				pooled[k] = true
			}
		}
	}
	strikes := make([]float64, 0, len(pooled))
	for k := range pooled {
		strikes = append(strikes, k)
	}
	sort.Float64s(strikes)
	s.writeJSON(c, http.StatusOK, map[string][]float64{"call": strikes, "put": strikes})
}

// handleSecdefInfo returns one entry per expiry of the month that lists
// the strike and right; an empty array means no such contract.
func (s *Server) handleSecdefInfo(c *call) {
	month, ok := s.optionQuery(c)
	if !ok {
		return
	}
	q := c.r.URL.Query()
	strike, err := strconv.ParseFloat(q.Get("strike"), 64)
	if err != nil {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: strike %q is not a number", q.Get("strike")))
		return
	}
	right := strings.ToUpper(q.Get("right"))
	switch right {
	case "CALL":
		right = "C"
	case "PUT":
		right = "P"
	}
	if right != "C" && right != "P" {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: right %q is not C or P", q.Get("right")))
		return
	}

	out := []map[string]any{}
	for _, k := range s.market.optionsOf(month, strike, right, c.now) {
		out = append(out, map[string]any{
			"conid":           k.conid,
			"symbol":          "SPY",
			"secType":         "OPT",
			"exchange":        "SMART",
			"listingExchange": nil,
			"right":           k.right,
			"strike":          k.strike,
			"currency":        "USD",
			"cusip":           nil,
			"coupon":          "No Coupon",
			"desc1":           "SPY",
			"desc2":           k.description(),
			"maturityDate":    k.date,
			"multiplier":      "100",
			"tradingClass":    "SPY",
			"validExchanges":  "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,CBOE2,MIAX,GEMINI,EDGX",
		})
	}
	s.writeJSON(c, http.StatusOK, out)
}

func (s *Server) handleTrsrvSecdef(c *call) {
	raw := c.r.URL.Query().Get("conids")
	if raw == "" {
		s.writeError(c, http.StatusBadRequest, "Bad Request: conids is required, such as conids=756733")
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > maxSecdefConids {
		s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: %d conids requested; the limit is %d per request", len(ids), maxSecdefConids))
		return
	}

	out := []map[string]any{}
	for _, id := range ids {
		conid, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil {
			s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: conid %q is not a number", id))
			return
		}
		if entry, ok := s.secdefEntry(conid); ok {
			out = append(out, entry)
		}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"secdef": out})
}

func (s *Server) secdefEntry(conid int64) (map[string]any, bool) {
	if conid == SPYConid {
		return map[string]any{
			"conid": SPYConid, "currency": "USD", "time": 0, "allExchanges": "ARCA,SMART,AMEX,BATS,NYSE,NASDAQ",
			"listingExchange": "ARCA", "name": "SPDR S&P 500 ETF TRUST", "assetClass": "STK", "expiry": nil,
			"lastTradingDay": nil, "group": "Equity Funds", "putOrCall": nil, "sector": "Funds", "sectorGroup": "Equity Fund",
			"strike": "0", "ticker": "SPY", "undConid": 0, "multiplier": 0, "type": "ETF", "hasOptions": true,
			"fullName": "SPY", "isUS": true,
			"incrementRules": []map[string]float64{{"lowerEdge": 0, "increment": 0.01}},
		}, true
	}
	k, ok := s.market.byConid[conid]
	if !ok {
		return nil, false
	}
	return map[string]any{
		"conid": k.conid, "currency": "USD", "time": 0, "allExchanges": "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM",
		"listingExchange": "SMART", "name": "SPDR S&P 500 ETF TRUST", "assetClass": "OPT", "expiry": k.date,
		"lastTradingDay": k.date, "group": "Equity Funds", "putOrCall": k.right, "sector": "Funds", "sectorGroup": "Equity Fund",
		"strike": formatStrike(k.strike), "ticker": "SPY", "undConid": SPYConid, "multiplier": 100, "type": "",
		"hasOptions": false, "fullName": "SPY " + k.description(), "isUS": true,
		// The tick rule the quotes follow: $0.01 below $3.00, $0.05 from $3.00.
		"incrementRules": []map[string]float64{{"lowerEdge": 0, "increment": 0.01}, {"lowerEdge": 3, "increment": 0.05}},
		"displayRule":    map[string]any{"magnification": 0, "displayRuleStep": []map[string]any{{"decimalDigits": 2, "lowerEdge": 0, "wholeDigits": 4}}},
	}, true
}

// handleSnapshot follows IB's pre-flight rule. The first request for a
// conid in a brokerage session starts the stream and returns only conid
// and conidEx. Later requests return the fields, as strings, and may omit
// fields to get those of the pre-flight.
func (s *Server) handleSnapshot(c *call) {
	q := c.r.URL.Query()
	if q.Get("conids") == "" {
		s.writeError(c, http.StatusBadRequest, "Bad Request: conids is required, such as conids=756733&fields=31,84,86")
		return
	}
	var fields []string
	if f := q.Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}

	sess := c.session
	if sess.subscribed == nil {
		sess.subscribed = map[int64][]string{}
	}
	out := []map[string]any{}
	for _, id := range strings.Split(q.Get("conids"), ",") {
		conid, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil {
			s.writeError(c, http.StatusBadRequest, fmt.Sprintf("Bad Request: conid %q is not a number", id))
			return
		}
		row := map[string]any{"conid": conid, "conidEx": strconv.FormatInt(conid, 10)}
		known, started := sess.subscribed[conid]
		if !started {
			sess.subscribed[conid] = fields
			out = append(out, row)
			continue
		}
		want := fields
		if len(want) == 0 {
			want = known
		}
		s.fillSnapshot(row, conid, want, c.now)
		out = append(out, row)
	}
	s.writeJSON(c, http.StatusOK, out)
}

// fillSnapshot adds the requested fields of conid to row. An unknown
// conid or field is left out, as IB leaves out what it has no value for.
func (s *Server) fillSnapshot(row map[string]any, conid int64, fields []string, now time.Time) {
	q, ok := s.market.quoteOf(conid, now)
	if !ok {
		return
	}
	row["server_id"] = "q0"
	row["_updated"] = now.UnixMilli()
	row["6119"] = "q0"

	values := map[string]string{
		"31":   formatCents(q.last),
		"84":   formatCents(q.bid),
		"86":   formatCents(q.ask),
		"85":   formatThousands(int64(q.askSize)),
		"88":   formatThousands(int64(q.bidSize)),
		"7059": formatThousands(int64(q.lastSize)),
		"55":   "SPY",
		"6509": "RpB", // real time, consolidated, book
		"7283": fmt.Sprintf("%.1f%%", modelVolatility*100),
	}
	if conid == SPYConid {
		m := s.market
		change := m.price - m.dayOpen
		values["70"] = fmt.Sprintf("%.2f", m.dayHigh)
		values["71"] = fmt.Sprintf("%.2f", m.dayLow)
		values["82"] = fmt.Sprintf("%+.2f", change)
		values["83"] = fmt.Sprintf("%+.2f%%", change/m.dayOpen*100)
		values["87"] = formatThousands(m.dayVolume)
		values["7295"] = fmt.Sprintf("%.2f", m.dayOpen)
		values["7741"] = fmt.Sprintf("%.2f", m.dayOpen)
	} else {
		k := s.market.byConid[conid]
		values["7308"] = fmt.Sprintf("%.3f", q.delta)
		values["7309"] = fmt.Sprintf("%.4f", q.gamma)
		values["7310"] = fmt.Sprintf("%.3f", q.theta)
		values["7311"] = fmt.Sprintf("%.3f", q.vega)
		values["7633"] = fmt.Sprintf("%.1f%%", modelVolatility*100)
		values["7638"] = formatThousands(int64(k.openInt))
		values["7089"] = formatThousands(int64(k.openInt / 7))
		values["201"] = k.right
		values["6457"] = strconv.Itoa(SPYConid)
		values["7219"] = "SPY"
		values["7220"] = k.description()
	}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if v, ok := values[f]; ok {
			row[f] = v
		}
	}
}

func (s *Server) handleUnsubscribe(c *call) {
	var req struct {
		Conid int64 `json:"conid"`
	}
	body, _ := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil || req.Conid == 0 {
		s.writeError(c, http.StatusBadRequest, "Bad Request: body must be JSON like {\"conid\":756733}")
		return
	}
	_, found := c.session.subscribed[req.Conid]
	delete(c.session.subscribed, req.Conid)
	s.writeJSON(c, http.StatusOK, map[string]bool{"success": found})
}

func (s *Server) handleUnsubscribeAll(c *call) {
	c.session.subscribed = nil
	s.writeJSON(c, http.StatusOK, map[string]bool{"unsubscribed": true})
}
