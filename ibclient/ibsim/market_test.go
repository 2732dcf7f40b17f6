package ibsim_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// From testStart (Tuesday 5 August 2025), AUG25 lists dailies Monday to
// Thursday, weekly Fridays 8, 22 and 29, and the monthly Friday 15.

func TestSecdefSearch(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.startSession()

	var rows []struct {
		Conid    string `json:"conid"`
		Symbol   string `json:"symbol"`
		Opt      string `json:"opt"`
		Sections []struct {
			SecType string `json:"secType"`
			Months  string `json:"months"`
		} `json:"sections"`
	}
	c.decode("GET", "/iserver/secdef/search?symbol=spy&secType=STK", nil, 200, &rows)
	if len(rows) != 1 || rows[0].Conid != "756733" || rows[0].Symbol != "SPY" {
		t.Fatalf("search rows = %+v, want one SPY row with conid \"756733\"", rows)
	}
	dates := strings.Split(rows[0].Opt, ";")
	for _, d := range []string{"20250805", "20250808", "20250815", "20250919"} {
		if !slices.Contains(dates, d) {
			t.Errorf("opt lacks expiry %s: %s", d, rows[0].Opt)
		}
	}
	if slices.Contains(dates, "20250809") {
		t.Error("opt lists a Saturday")
	}
	var months string
	for _, s := range rows[0].Sections {
		if s.SecType == "OPT" {
			months = s.Months
		}
	}
	if !strings.HasPrefix(months, "AUG25;SEP25;OCT25") {
		t.Errorf("OPT months = %q, want AUG25;SEP25;OCT25;...", months)
	}

	var none []any
	c.decode("GET", "/iserver/secdef/search?symbol=QQQ", nil, 200, &none)
	if len(none) != 0 {
		t.Errorf("QQQ search returned %d rows, want none", len(none))
	}
	wantError(t, c, "GET", "/iserver/secdef/search", nil, http.StatusBadRequest, "Bad Request: symbol is required")

	var posted []map[string]any
	c.decode("POST", "/iserver/secdef/search", map[string]string{"symbol": "SPY"}, 200, &posted)
	if len(posted) != 1 {
		t.Errorf("POST search returned %d rows, want 1", len(posted))
	}
}

type infoRow struct {
	Conid        json.Number `json:"conid"`
	Right        string      `json:"right"`
	Strike       float64     `json:"strike"`
	MaturityDate string      `json:"maturityDate"`
	Desc2        string      `json:"desc2"`
}

func secdefInfo(t *testing.T, c *client, month string, strike float64, right string) []infoRow {
	t.Helper()
	var rows []infoRow
	path := fmt.Sprintf("/iserver/secdef/info?conid=756733&sectype=OPT&month=%s&exchange=SMART&strike=%v&right=%s", month, strike, right)
	c.decode("GET", path, nil, 200, &rows)
	return rows
}

func maturities(rows []infoRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.MaturityDate)
	}
	return out
}

func TestStrikesPooledOverMonth(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.startSession()

	var strikes struct {
		Call []float64 `json:"call"`
		Put  []float64 `json:"put"`
	}
	c.decode("GET", "/iserver/secdef/strikes?conid=756733&sectype=OPT&month=AUG25&exchange=SMART", nil, 200, &strikes)
	for _, k := range []float64{450, 576, 600, 630, 700, 750} {
		if !slices.Contains(strikes.Call, k) || !slices.Contains(strikes.Put, k) {
			t.Errorf("pooled AUG25 strikes lack %v", k)
		}
	}
	for _, k := range []float64{449, 701, 755} {
		if slices.Contains(strikes.Call, k) {
			t.Errorf("pooled AUG25 strikes list %v, which no expiry has", k)
		}
	}
	if !slices.IsSorted(strikes.Call) {
		t.Error("strikes are not sorted")
	}

	// The secType spelling of IB's staff code works too.
	c.decode("GET", "/iserver/secdef/strikes?conid=756733&secType=OPT&month=AUG25", nil, 200, nil)
	wantError(t, c, "GET", "/iserver/secdef/strikes?conid=756733&sectype=OPT&month=August", nil, http.StatusBadRequest,
		`Bad Request: month "August" is not a month code such as AUG25`)
}

func TestSecdefInfoPerExpiry(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.startSession()

	// A far strike exists only on the monthly expiry.
	far := secdefInfo(t, c, "AUG25", 700, "C")
	if got := maturities(far); !slices.Equal(got, []string{"20250815"}) {
		t.Errorf("700 C expiries = %v, want only the monthly 20250815", got)
	}
	// 630 is outside the dailies' range: Fridays only.
	if got := maturities(secdefInfo(t, c, "AUG25", 630, "P")); !slices.Equal(got, []string{"20250808", "20250815", "20250822", "20250829"}) {
		t.Errorf("630 P expiries = %v, want the four Fridays", got)
	}
	// Dailies run for the first ten trading days, Fridays included.
	atm := secdefInfo(t, c, "AUG25", 600, "C")
	wantATM := []string{"20250805", "20250806", "20250807", "20250808", "20250811", "20250812", "20250813",
		"20250814", "20250815", "20250818", "20250822", "20250829"}
	if got := maturities(atm); !slices.Equal(got, wantATM) {
		t.Errorf("600 C expiries = %v, want %v", got, wantATM)
	}
	for _, row := range atm {
		if _, err := strconv.ParseInt(row.Conid.String(), 10, 64); err != nil {
			t.Errorf("conid %q is not a number", row.Conid)
		}
		if row.Right != "C" || row.Strike != 600 {
			t.Errorf("row %+v is not the 600 call", row)
		}
	}
	if far[0].Desc2 != "AUG 15 '25 700 Call" {
		t.Errorf("desc2 = %q, want AUG 15 '25 700 Call", far[0].Desc2)
	}
	if rows := secdefInfo(t, c, "AUG25", 701, "C"); len(rows) != 0 {
		t.Errorf("unlisted strike 701 returned %d rows, want none", len(rows))
	}
	wantError(t, c, "GET", "/iserver/secdef/info?conid=756733&sectype=OPT&month=AUG25&strike=600&right=X", nil,
		http.StatusBadRequest, `Bad Request: right "X" is not C or P`)
}

func TestTrsrvSecdef(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.login()
	opt := e.sim.ListedOptions()[0]

	var out struct {
		Secdef []map[string]any `json:"secdef"`
	}
	c.decode("GET", fmt.Sprintf("/trsrv/secdef?conids=756733,%d,1", opt.Conid), nil, 200, &out)
	if len(out.Secdef) != 2 {
		t.Fatalf("secdef has %d entries, want 2 (the unknown conid left out)", len(out.Secdef))
	}
	if out.Secdef[1]["undConid"] != float64(756733) || out.Secdef[1]["putOrCall"] != opt.Right {
		t.Errorf("option entry = %v", out.Secdef[1])
	}

	ids := make([]string, 201)
	for i := range ids {
		ids[i] = "756733"
	}
	status, _ := c.do("GET", "/trsrv/secdef?conids="+strings.Join(ids, ","), nil)
	if status != http.StatusBadRequest {
		t.Errorf("201 conids: status %d, want 400", status)
	}
}

func TestSnapshotPreflight(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.startSession()
	opt := findOption(t, e.sim, "20250815", 600, "C")
	path := fmt.Sprintf("/iserver/marketdata/snapshot?conids=756733,%d&fields=31,84,86,85,88,7308,6509,7633", opt.Conid)

	var first []map[string]any
	c.decode("GET", path, nil, 200, &first)
	if len(first) != 2 {
		t.Fatalf("pre-flight returned %d rows, want 2", len(first))
	}
	for _, row := range first {
		if len(row) != 2 || row["conidEx"] == nil || row["conid"] == nil {
			t.Errorf("pre-flight row %v has more than conid and conidEx", row)
		}
	}

	var rows []map[string]any
	c.decode("GET", fmt.Sprintf("/iserver/marketdata/snapshot?conids=%d", opt.Conid), nil, 200, &rows)
	row := rows[0]
	for _, field := range []string{"31", "84", "86", "85", "88", "7308", "6509", "7633"} {
		if _, ok := row[field].(string); !ok {
			t.Errorf("field %s = %#v, want a string", field, row[field])
		}
	}
	if row["6509"] != "RpB" {
		t.Errorf("6509 = %v, want RpB", row["6509"])
	}
	bid, ask := parseCents(t, row["84"]), parseCents(t, row["86"])
	if bid <= 0 || ask <= bid {
		t.Errorf("bid %d, ask %d cents: not a two-sided market", bid, ask)
	}
	for _, cents := range []int64{bid, ask} {
		if cents >= 300 && cents%5 != 0 {
			t.Errorf("price %d cents at or above $3.00 is not on the $0.05 tick", cents)
		}
	}
	delta, err := strconv.ParseFloat(row["7308"].(string), 64)
	if err != nil || delta < 0.4 || delta > 0.65 {
		t.Errorf("at-the-money call delta = %v, want about 0.5", row["7308"])
	}

	// A new brokerage session starts with pre-flight again.
	e.sim.DropSession(vectorKey)
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true}, 200, nil)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
	var again []map[string]any
	c.decode("GET", path, nil, 200, &again)
	if len(again[0]) != 2 {
		t.Errorf("first snapshot of a new session = %v, want pre-flight", again[0])
	}
}

func parseCents(t *testing.T, v any) int64 {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("price %#v is not a string", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("price %q: %v", s, err)
	}
	return int64(math.Round(f * 100))
}

func findOption(t *testing.T, sim *ibsim.Server, expiry string, strike float64, right string) ibsim.Option {
	t.Helper()
	for _, o := range sim.ListedOptions() {
		if o.Expiry == expiry && o.Strike == strike && o.Right == right {
			return o
		}
	}
	t.Fatalf("no option %s %v %s listed", expiry, strike, right)
	return ibsim.Option{}
}

func TestUnsubscribeRestartsPreflight(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.startSession()
	path := "/iserver/marketdata/snapshot?conids=756733&fields=31"
	c.decode("GET", path, nil, 200, nil)
	c.decode("POST", "/iserver/marketdata/unsubscribe", map[string]int{"conid": 756733}, 200, nil)
	var rows []map[string]any
	c.decode("GET", path, nil, 200, &rows)
	if _, ok := rows[0]["31"]; ok {
		t.Error("snapshot after unsubscribe carried data, want pre-flight")
	}
	c.decode("GET", "/iserver/marketdata/unsubscribeall", nil, 200, nil)
}

func TestChainDeterministicFromSeed(t *testing.T) {
	clock1, clock2 := ibsim.NewManualClock(testStart), ibsim.NewManualClock(testStart)
	a := ibsim.New(ibsim.Options{Seed: 7, Clock: clock1})
	b := ibsim.New(ibsim.Options{Seed: 7, Clock: clock2})
	if !slices.Equal(a.ListedOptions(), b.ListedOptions()) {
		t.Fatal("two servers with the same seed list different options")
	}
	clock1.Advance(30 * time.Minute)
	clock2.Advance(30 * time.Minute)
	if a.Underlying() != b.Underlying() {
		t.Errorf("prices after 30 minutes differ: %v and %v", a.Underlying(), b.Underlying())
	}
	if a.Underlying() == ibsim.DefaultUnderlyingPrice {
		t.Error("the underlying did not move in 30 minutes")
	}
	other := ibsim.New(ibsim.Options{Seed: 8, Clock: ibsim.NewManualClock(testStart)})
	if other.ListedOptions()[0].Conid == a.ListedOptions()[0].Conid {
		t.Error("another seed gave the same conids")
	}
}

func TestSetUnderlyingMovesOptions(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	call := findOption(t, e.sim, "20250815", 600, "C")
	put := findOption(t, e.sim, "20250815", 600, "P")
	callBid, _, _ := e.sim.Quote(call.Conid)
	putBid, _, _ := e.sim.Quote(put.Conid)

	if err := e.sim.SetUnderlying(610); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Underlying(); got != 610 {
		t.Errorf("Underlying() = %v after SetUnderlying(610)", got)
	}
	newCall, _, _ := e.sim.Quote(call.Conid)
	newPut, _, _ := e.sim.Quote(put.Conid)
	if newCall <= callBid || newPut >= putBid {
		t.Errorf("after +10: call bid %v -> %v, put bid %v -> %v", callBid, newCall, putBid, newPut)
	}
	if err := e.sim.SetUnderlying(-1); err == nil {
		t.Error("SetUnderlying accepted a negative price")
	}
	if _, _, err := e.sim.Quote(42); err == nil {
		t.Error("Quote accepted an unknown conid")
	}
}
