package ibclient_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ibdash/ibdash/ibclient"
)

// The fake IB below is the server side of the Web API over real HTTP on
// 127.0.0.1. It verifies the RSA-SHA256 LST request and the
// HMAC-SHA256 signature of every later request, runs the DH exchange,
// responds with IB's JSON shapes and error envelopes, and keeps a small
// session, chain and order book. Its switches inject the faults the
// tests need.

const (
	vectorDir   = "testdata/ibkr-oauth"
	fakeAccount = "DU7654321"
	spyConid    = 756733
)

// fixture holds the key files of the known-answer vectors.
type fixture struct {
	key, token string
	sigKey     *rsa.PrivateKey
	encKey     *rsa.PrivateKey
	dh         *ibclient.DHParams
	encSecret  string
	secret     []byte
}

var (
	fixtureOnce sync.Once
	fixtureData *fixture
	fixtureErr  error
)

func loadFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		f := &fixture{key: "IBTESTKEY", token: "9f3c1e7a5b2d4f6081ac"}
		if f.sigKey, fixtureErr = ibclient.LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pem")); fixtureErr != nil {
			return
		}
		if f.encKey, fixtureErr = ibclient.LoadRSAPrivateKey(filepath.Join(vectorDir, "private_encryption.pem")); fixtureErr != nil {
			return
		}
		if f.dh, fixtureErr = ibclient.LoadDHParams(filepath.Join(vectorDir, "dhparam.pem")); fixtureErr != nil {
			return
		}
		var raw []byte
		if raw, fixtureErr = os.ReadFile(filepath.Join(vectorDir, "access_token_secret_encrypted.b64")); fixtureErr != nil {
			return
		}
		f.encSecret = strings.TrimSpace(string(raw))
		f.secret, fixtureErr = ibclient.DecryptAccessTokenSecret(f.encSecret, f.encKey, "private_encryption.pem")
		fixtureData = f
	})
	if fixtureErr != nil {
		t.Fatalf("loading the vector key files: %v", fixtureErr)
	}
	return fixtureData
}

// consumer returns the client-side consumer for key, sharing the vector
// key files and access token.
func (f *fixture) consumer(key string) *ibclient.Consumer {
	return &ibclient.Consumer{ConsumerKey: key, AccessToken: f.token + key, Realm: ibclient.RealmLimitedPOA,
		Secret: f.secret, SignatureKey: f.sigKey, DH: f.dh}
}

type fakeConsumer struct {
	activeFrom time.Time // zero: active
}

type fakeOrder struct {
	id       int64
	coid     string
	parentID string
	order    ibclient.Order
	status   string
}

type pendingPlacement struct {
	orders    []ibclient.Order
	questions []string // message ids still to ask
}

type fakeIB struct {
	t   testing.TB
	fx  *fixture
	srv *httptest.Server

	mu        sync.Mutex
	offset    time.Duration // added to the wall clock: the fake's time
	consumers map[string]*fakeConsumer
	lsts      map[string][]byte // access token -> LST
	calls     map[string]int    // "METHOD path" -> count
	requestID int

	// Session state and fault switches.
	authenticated   bool
	primed          bool
	noBridge        int           // ssodh/init returns "no bridge" this many times
	tickleHang      int           // tickles that hang for hangFor
	hangFor         time.Duration // how long a hanging response waits
	placeHang       bool          // place the order, then hang instead of answering
	placeLose       bool          // hang without placing, as if the request was lost
	questionIDs     []string      // questions each placement raises, in order
	seenPreflight   map[int64]bool
	book            []fakeOrder
	nextOrderID     int64
	pending         map[string]*pendingPlacement
	usedCOIDs       map[string]bool
	global          *rate.Limiter
	ordersLimit     *rate.Limiter
	tooManyRequests int
}

func newFakeIB(t testing.TB) *fakeIB {
	t.Helper()
	ib := &fakeIB{
		t:             t,
		fx:            loadFixture(t),
		consumers:     map[string]*fakeConsumer{},
		lsts:          map[string][]byte{},
		calls:         map[string]int{},
		seenPreflight: map[int64]bool{},
		pending:       map[string]*pendingPlacement{},
		usedCOIDs:     map[string]bool{},
		nextOrderID:   1837465500,
		hangFor:       2 * time.Second,
		// IB's global limit with a burst of one second's worth.
		global:      rate.NewLimiter(10, 10),
		ordersLimit: rate.NewLimiter(rate.Every(5*time.Second), 1),
	}
	ib.consumers[ib.fx.key] = &fakeConsumer{}
	ib.srv = httptest.NewServer(ib)
	t.Cleanup(ib.srv.Close)
	return ib
}

func (ib *fakeIB) baseURL() string { return ib.srv.URL + "/v1/api" }

func (ib *fakeIB) now() time.Time {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return time.Now().Add(ib.offset)
}

func (ib *fakeIB) advance(d time.Duration) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	ib.offset += d
}

func (ib *fakeIB) set(fn func(ib *fakeIB)) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	fn(ib)
}

func (ib *fakeIB) count(call string) int {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.calls[call]
}

func (ib *fakeIB) orders() []fakeOrder {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return append([]fakeOrder(nil), ib.book...)
}

// envelope writes IB's error JSON with a fresh request id.
func (ib *fakeIB) envelope(w http.ResponseWriter, status int, text string) {
	ib.requestID++
	writeJSON(w, status, map[string]any{"error": fmt.Sprintf("id: %d, error: %s", 1000+ib.requestID, text), "statusCode": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (ib *fakeIB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodPost && r.ContentLength < 0 {
		http.Error(w, "Length Required", http.StatusLengthRequired)
		return
	}

	ib.mu.Lock()
	ib.calls[r.Method+" "+path]++
	if !ib.global.Allow() {
		ib.tooManyRequests++
		ib.mu.Unlock()
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		return
	}
	if path == "oauth/live_session_token" {
		ib.serveLST(w, r)
		ib.mu.Unlock()
		return
	}
	if !ib.verify(w, r) {
		ib.mu.Unlock()
		return
	}
	hang := ib.route(w, r, path)
	ib.mu.Unlock()
	if hang > 0 {
		select {
		case <-r.Context().Done():
		case <-time.After(hang):
		}
	}
}

// serveLST answers POST oauth/live_session_token as IB does.
func (ib *fakeIB) serveLST(w http.ResponseWriter, r *http.Request) {
	realm, params, err := ibclient.ParseAuthorizationHeader(r.Header.Get("Authorization"))
	if err != nil || realm != ibclient.RealmLimitedPOA {
		ib.envelope(w, http.StatusUnauthorized, "invalid consumer")
		return
	}
	key := params.Get("oauth_consumer_key")
	consumer, known := ib.consumers[key]
	if !known || time.Now().Add(ib.offset).Before(consumer.activeFrom) {
		ib.envelope(w, http.StatusUnauthorized, "invalid consumer")
		return
	}
	if params.Get("oauth_token") != ib.fx.token+key {
		ib.envelope(w, http.StatusUnauthorized, "LST failed, error: No access secret key found for "+key)
		return
	}

	var signed ibclient.Params
	for _, p := range params {
		if p.Key != "oauth_signature" {
			signed = append(signed, p)
		}
	}
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	base := ibclient.BaseString(hex.EncodeToString(ib.fx.secret), r.Method, ibclient.SignedURL(u), signed)
	sig, err := base64.StdEncoding.DecodeString(params.Get("oauth_signature"))
	digest := sha256.Sum256([]byte(base))
	if err != nil || rsa.VerifyPKCS1v15(&ib.fx.sigKey.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		ib.envelope(w, http.StatusUnauthorized, "invalid signature")
		return
	}

	a, ok := new(big.Int).SetString(params.Get("diffie_hellman_challenge"), 16)
	if !ok {
		ib.envelope(w, http.StatusBadRequest, "invalid diffie_hellman_challenge")
		return
	}
	b := big.NewInt(rand.Int64N(1<<62) + 2)
	k := new(big.Int).Exp(a, b, ib.fx.dh.P)
	lst := ibclient.DeriveLST(k, ib.fx.secret)
	ib.lsts[params.Get("oauth_token")] = lst
	writeJSON(w, http.StatusOK, map[string]any{
		"diffie_hellman_response":       new(big.Int).Exp(ib.fx.dh.G, b, ib.fx.dh.P).Text(16),
		"live_session_token_signature":  ibclient.LSTSignature(lst, key),
		"live_session_token_expiration": time.Now().Add(24 * time.Hour).UnixMilli(),
	})
}

// verify checks the HMAC-SHA256 signature of a protected request in
// either signing form IB accepts.
func (ib *fakeIB) verify(w http.ResponseWriter, r *http.Request) bool {
	realm, params, err := ibclient.ParseAuthorizationHeader(r.Header.Get("Authorization"))
	if err != nil {
		ib.envelope(w, http.StatusUnauthorized, "not authenticated")
		return false
	}
	token := params.Get("oauth_token")
	lst, ok := ib.lsts[token]
	if !ok {
		ib.envelope(w, http.StatusUnauthorized, "invalid token")
		return false
	}
	if r.Header.Get("User-Agent") == "" {
		ib.envelope(w, http.StatusBadRequest, "User-Agent missing")
		return false
	}
	ts, err := strconv.ParseInt(params.Get("oauth_timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		ib.envelope(w, http.StatusUnauthorized, "invalid timestamp")
		return false
	}

	tok := ibclient.NewLiveSessionToken(params.Get("oauth_consumer_key"), token, realm, lst, time.Now().Add(time.Hour))
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	for _, signQuery := range []bool{false, true} {
		want, err := ibclient.SignRequest(r.Method, u, tok, params.Get("oauth_nonce"), params.Get("oauth_timestamp"), signQuery)
		if err != nil {
			ib.t.Errorf("fake IB: SignRequest: %v", err)
			return false
		}
		_, wantParams, _ := ibclient.ParseAuthorizationHeader(want)
		if wantParams.Get("oauth_signature") == params.Get("oauth_signature") {
			return true
		}
	}
	ib.envelope(w, http.StatusUnauthorized, "invalid signature")
	return false
}

func (ib *fakeIB) status() map[string]any {
	return map[string]any{"authenticated": ib.authenticated, "competing": false, "connected": ib.authenticated,
		"message": "", "MAC": "AA:BB:CC:11:22:33", "serverInfo": map[string]string{"serverName": "FakeIB", "serverVersion": "test"}}
}

// route serves one verified request and returns how long to hang before
// closing, for the hang faults.
func (ib *fakeIB) route(w http.ResponseWriter, r *http.Request, path string) time.Duration {
	switch {
	case path == "tickle":
		if ib.tickleHang > 0 {
			ib.tickleHang--
			return ib.hangFor
		}
		writeJSON(w, http.StatusOK, map[string]any{"session": "3f9d2c7b1a0e4d5c6b7a8f9e0d1c2b3a", "ssoExpires": 567000,
			"collission": false, "userId": 12345678, "hmds": map[string]string{"error": "no bridge"},
			"iserver": map[string]any{"authStatus": ib.status()}})
	case path == "logout":
		ib.authenticated, ib.primed = false, false
		writeJSON(w, http.StatusOK, map[string]bool{"status": true})
	case path == "iserver/auth/ssodh/init":
		var body struct{ Publish, Compete bool }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !body.Publish {
			ib.envelope(w, http.StatusBadRequest, "publish must be true")
			return 0
		}
		if ib.noBridge > 0 {
			ib.noBridge--
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Bad Request: no bridge", "statusCode": 400})
			return 0
		}
		ib.authenticated, ib.primed = true, false
		writeJSON(w, http.StatusOK, ib.status())
	case path == "iserver/auth/status":
		writeJSON(w, http.StatusOK, ib.status())
	case !ib.authenticated && strings.HasPrefix(path, "iserver/"):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Bad Request: no bridge", "statusCode": 400})
	case path == "iserver/accounts":
		ib.primed = true
		writeJSON(w, http.StatusOK, map[string]any{"accounts": []string{fakeAccount, "DU0000002"}, "selectedAccount": fakeAccount,
			"aliases": map[string]string{fakeAccount: fakeAccount}, "isPaper": true})
	case strings.HasPrefix(path, "iserver/secdef/"):
		ib.routeSecdef(w, r, path)
	case !ib.primed:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Please query /accounts first", "statusCode": 500})
	case path == "iserver/marketdata/snapshot":
		ib.routeSnapshot(w, r)
	default:
		return ib.routeOrders(w, r, path)
	}
	return 0
}

// The fake chain: month JAN27 with expiries 20270108 and 20270115. The
// pooled strikes are 590-610, but 590 and 610 exist only on the 15th.
var fakeChain = map[string][]float64{
	"20270108": {595, 600, 605},
	"20270115": {590, 595, 600, 605, 610},
}

func fakeOptionConid(expiry string, strike float64, right string) int64 {
	day, _ := strconv.Atoi(expiry[6:])
	n := int64(800000000) + int64(day)*10000 + int64(strike)*10
	if right == "P" {
		n++
	}
	return n
}

func (ib *fakeIB) routeSecdef(w http.ResponseWriter, r *http.Request, path string) {
	q := r.URL.Query()
	switch path {
	case "iserver/secdef/search":
		if q.Get("symbol") != "SPY" {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		writeJSON(w, http.StatusOK, []any{
			map[string]any{"conid": "9999001", "symbol": "SPY", "companyName": "SPY ON MEXI", "description": "MEXI",
				"sections": []any{map[string]string{"secType": "STK"}}},
			map[string]any{"conid": strconv.Itoa(spyConid), "symbol": "SPY", "companyName": "SPDR S&P 500 ETF TRUST",
				"description": "ARCA", "opt": "20270108;20270115", "restricted": nil,
				"sections": []any{
					map[string]string{"secType": "STK"},
					map[string]string{"secType": "OPT", "months": "JAN27;FEB27", "exchange": "SMART;CBOE"},
					map[string]string{"secType": "BAG"},
				}},
		})
	case "iserver/secdef/strikes":
		if q.Get("month") != "JAN27" {
			writeJSON(w, http.StatusOK, map[string][]float64{"call": {}, "put": {}})
			return
		}
		pooled := []float64{610, 590, 595, 600, 605}
		writeJSON(w, http.StatusOK, map[string][]float64{"call": pooled, "put": pooled})
	case "iserver/secdef/info":
		strike, _ := strconv.ParseFloat(q.Get("strike"), 64)
		right := q.Get("right")
		rows := []any{}
		for _, expiry := range []string{"20270108", "20270115"} {
			for _, s := range fakeChain[expiry] {
				if s == strike && q.Get("month") == "JAN27" {
					rows = append(rows, map[string]any{"conid": fakeOptionConid(expiry, s, right), "symbol": "SPY", "secType": "OPT",
						"exchange": "SMART", "right": right, "strike": s, "currency": "USD", "maturityDate": expiry,
						"multiplier": "100", "tradingClass": "SPY", "desc2": expiry + " " + q.Get("strike") + " " + right})
				}
			}
		}
		writeJSON(w, http.StatusOK, rows)
	default:
		http.NotFound(w, r)
	}
}

func (ib *fakeIB) routeSnapshot(w http.ResponseWriter, r *http.Request) {
	var rows []any
	for _, id := range strings.Split(r.URL.Query().Get("conids"), ",") {
		conid, _ := strconv.ParseInt(id, 10, 64)
		if !ib.seenPreflight[conid] {
			ib.seenPreflight[conid] = true
			rows = append(rows, map[string]any{"conid": conid, "conidEx": id})
			continue
		}
		rows = append(rows, map[string]any{"conid": conid, "conidEx": id, "server_id": "q0", "_updated": 1754486431123,
			"6119": "q0", "6509": "RpB", "31": "C3.12", "84": "3.10", "86": "3.14", "85": "1,300", "88": "38",
			"7059": "2", "7308": "0.412", "7633": "14.8%"})
	}
	writeJSON(w, http.StatusOK, rows)
}

func (ib *fakeIB) routeOrders(w http.ResponseWriter, r *http.Request, path string) time.Duration {
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodGet && path == "iserver/account/orders":
		if !ib.ordersLimit.Allow() {
			ib.tooManyRequests++
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
			return 0
		}
		rows := []any{}
		for _, o := range ib.book {
			rows = append(rows, map[string]any{"acct": fakeAccount, "conid": strconv.FormatInt(o.order.Conid, 10), "orderId": o.id,
				"order_ref": o.coid, "status": o.status, "orderType": o.order.OrderType, "side": o.order.Side,
				"price": o.order.Price, "totalSize": o.order.Quantity, "timeInForce": o.order.TIF})
		}
		writeJSON(w, http.StatusOK, map[string]any{"orders": rows, "snapshot": true})
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "account" && parts[3] == "orders":
		return ib.place(w, r, parts[2])
	case r.Method == http.MethodPost && len(parts) == 5 && parts[3] == "orders" && parts[4] == "whatif":
		writeJSON(w, http.StatusOK, map[string]any{
			"amount":      map[string]string{"amount": "630.00 USD", "commission": "1.30 USD", "total": "631.30 USD"},
			"equity":      map[string]string{"current": "1,002,345", "change": "-631", "after": "1,001,714"},
			"initial":     map[string]string{"current": "0", "change": "631", "after": "631"},
			"maintenance": map[string]string{"current": "0", "change": "631", "after": "631"},
			"position":    map[string]string{"current": "0", "change": "2", "after": "2"},
			"warn":        "21/You are trading outside regular hours", "error": nil})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[1] == "reply":
		ib.reply(w, r, parts[2])
	case r.Method == http.MethodGet && strings.HasPrefix(path, "iserver/account/order/status/"):
		id, _ := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		for _, o := range ib.book {
			if o.id == id {
				writeJSON(w, http.StatusOK, map[string]any{"order_id": o.id, "conid": o.order.Conid, "symbol": "SPY",
					"side": string(o.order.Side)[:1], "order_status": o.status, "total_size": strconv.FormatFloat(o.order.Quantity, 'f', 1, 64),
					"cum_fill": "0.0", "order_type": o.order.OrderType, "tif": o.order.TIF, "cannot_cancel_order": false})
				return 0
			}
		}
		ib.envelope(w, http.StatusBadRequest, "order not found")
	case r.Method == http.MethodDelete && len(parts) == 5 && parts[3] == "order":
		id, _ := strconv.ParseInt(parts[4], 10, 64)
		for i := range ib.book {
			if ib.book[i].id == id {
				ib.book[i].status = "PendingCancel"
				writeJSON(w, http.StatusOK, map[string]any{"msg": "Request was submitted", "order_id": id, "conid": ib.book[i].order.Conid, "account": parts[2]})
				return 0
			}
		}
		ib.envelope(w, http.StatusBadRequest, "order not found")
	default:
		http.NotFound(w, r)
	}
	return 0
}

func (ib *fakeIB) place(w http.ResponseWriter, r *http.Request, account string) time.Duration {
	var body struct {
		Orders []ibclient.Order `json:"orders"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Orders) == 0 {
		ib.envelope(w, http.StatusBadRequest, "orders missing")
		return 0
	}
	if account != fakeAccount {
		ib.envelope(w, http.StatusBadRequest, "account "+account+" is not among the accounts")
		return 0
	}
	coid := body.Orders[0].COID
	if ib.usedCOIDs[coid] {
		writeJSON(w, http.StatusOK, map[string]string{"error": "Order couldn't be submitted: Local order ID=" + coid + " is already registered."})
		return 0
	}
	if ib.placeLose {
		return ib.hangFor
	}
	ib.usedCOIDs[coid] = true

	if len(ib.questionIDs) > 0 {
		ib.ask(w, &pendingPlacement{orders: body.Orders, questions: append([]string(nil), ib.questionIDs...)})
		return 0
	}
	acks := ib.commit(body.Orders)
	if ib.placeHang {
		return ib.hangFor
	}
	writeJSON(w, http.StatusOK, acks)
	return 0
}

func (ib *fakeIB) ask(w http.ResponseWriter, p *pendingPlacement) {
	ib.requestID++
	id := fmt.Sprintf("5b0f3e8a-91c2-4d7e-a6b1-%012d", ib.requestID)
	ib.pending[id] = p
	messageID := p.questions[0]
	writeJSON(w, http.StatusOK, []any{map[string]any{"id": id, "message": []string{"Question " + messageID + ". Are you sure you want to submit this order?"},
		"isSuppressed": false, "messageIds": []string{messageID}}})
}

func (ib *fakeIB) reply(w http.ResponseWriter, r *http.Request, id string) {
	p, ok := ib.pending[id]
	if !ok {
		ib.envelope(w, http.StatusBadRequest, "reply id not found")
		return
	}
	delete(ib.pending, id)
	var body struct{ Confirmed bool }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		ib.envelope(w, http.StatusBadRequest, "confirmed missing")
		return
	}
	if !body.Confirmed {
		writeJSON(w, http.StatusOK, []any{map[string]any{"order_id": "0", "order_status": "Cancelled"}})
		return
	}
	p.questions = p.questions[1:]
	if len(p.questions) > 0 {
		ib.ask(w, p)
		return
	}
	writeJSON(w, http.StatusOK, ib.commit(p.orders))
}

func (ib *fakeIB) commit(orders []ibclient.Order) []any {
	var acks []any
	for _, o := range orders {
		ib.nextOrderID++
		ib.book = append(ib.book, fakeOrder{id: ib.nextOrderID, coid: o.COID, parentID: o.ParentID, order: o, status: "PreSubmitted"})
		acks = append(acks, map[string]any{"order_id": strconv.FormatInt(ib.nextOrderID, 10), "order_status": "PreSubmitted", "encrypt_message": "1"})
	}
	return acks
}
