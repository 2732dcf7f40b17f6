package ibclient_test

import (
	"context"
	"errors"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// These tests run the client against the project's simulator, which
// checks signatures, runs the DH exchange and keeps a session, a chain
// and an order book of its own.

type simEnv struct {
	srv  *ibsim.Server
	inst *ibsim.Instance
	cons config.Consumer
}

// simConsumer is a config entry that uses the vector key files.
func simConsumer(t *testing.T, key, token string) config.Consumer {
	t.Helper()
	fx := loadFixture(t)
	dir, err := filepath.Abs(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	return config.Consumer{
		ConsumerKey:       key,
		Realm:             ibclient.RealmLimitedPOA,
		AccessToken:       token,
		AccessTokenSecret: fx.encSecret,
		SignatureKey:      filepath.Join(dir, "private_signature.pem"),
		EncryptionKey:     filepath.Join(dir, "private_encryption.pem"),
		DHParams:          filepath.Join(dir, "dhparam.pem"),
	}
}

func startSim(t *testing.T, opts ibsim.Options) *simEnv {
	t.Helper()
	fx := loadFixture(t)
	env := &simEnv{srv: ibsim.New(opts), cons: simConsumer(t, fx.key, fx.token)}
	if err := env.srv.AddConfigConsumer(env.cons, ibsim.ActivationActive, time.Time{}); err != nil {
		t.Fatalf("AddConfigConsumer: %v", err)
	}
	inst, err := env.srv.Start()
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	env.inst = inst
	t.Cleanup(func() { _ = inst.Close() })
	return env
}

func (env *simEnv) session(t *testing.T, cfg ibclient.SessionConfig, opts ...ibclient.Option) *ibclient.Session {
	t.Helper()
	consumer, _, err := env.cons.Load()
	if err != nil {
		t.Fatalf("loading the consumer: %v", err)
	}
	base, err := url.Parse(env.inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ibclient.NewSession(&ibclient.Authenticator{Consumer: consumer, BaseURL: base}, cfg, opts...)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	return s
}

func (env *simEnv) started(t *testing.T, opts ...ibclient.Option) *ibclient.Session {
	t.Helper()
	s := env.session(t, fastSession(), opts...)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// simTicket returns a ticket for a listed call near the money, with a
// limit at the mid so the price question (o163) is not raised.
func (env *simEnv) simTicket(t *testing.T, account string) (ibclient.Ticket, ibsim.Option) {
	t.Helper()
	under := env.srv.Underlying()
	var pick ibsim.Option
	best := math.Inf(1)
	for _, o := range env.srv.ListedOptions() {
		if o.Right == "C" && math.Abs(o.Strike-under) < best {
			pick, best = o, math.Abs(o.Strike-under)
		}
	}
	bid, ask, err := env.srv.Quote(pick.Conid)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	limit := math.Round((bid+ask)/2*100) / 100
	return ibclient.Ticket{Account: account, Conid: pick.Conid, Side: ibclient.Buy, Quantity: 1,
		OrderType: ibclient.Limit, LimitPrice: limit, StopPrice: math.Round(limit*50) / 100}, pick
}

func (env *simEnv) bookByCOID(coid string) (parents, children int) {
	for _, o := range env.srv.Orders() {
		switch {
		case o.COID == coid:
			parents++
		case o.ParentID == coid:
			children++
		}
	}
	return parents, children
}

func TestSimNoBridgeThenReady(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: 300 * time.Millisecond})
	s := env.session(t, fastSession())
	log := collectEvents(t, s)

	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	log.waitFor(t, 0, "no bridge retry", func(ev ibclient.SessionEvent) bool {
		return ibclient.IsKind(ev.Err, ibclient.KindNoBridge)
	})
	log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })
	view := env.srv.Session(env.cons.ConsumerKey)
	if !view.BridgeUp || !view.Primed {
		t.Errorf("simulator session = %+v, want bridge up and primed", view)
	}
	if got := s.Account(); got != ibsim.DefaultAccountID {
		t.Errorf("account = %q, want %q", got, ibsim.DefaultAccountID)
	}
}

func TestSimAccountsNotQueried(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.session(t, fastSession())
	ctx := context.Background()

	// A session started by hand, without the accounts priming.
	if _, err := s.Client().InitBrokerageSession(ctx, true); err != nil {
		t.Fatalf("InitBrokerageSession: %v", err)
	}
	if env.srv.Session(env.cons.ConsumerKey).Primed {
		t.Fatal("simulator session primed before any accounts call")
	}
	ticket, _ := env.simTicket(t, ibsim.DefaultAccountID)
	if _, err := s.Client().Snapshot(ctx, ticket.Conid); err != nil {
		t.Fatalf("Snapshot without priming: %v", err)
	}
	if !env.srv.Session(env.cons.ConsumerKey).Primed {
		t.Error("the accounts retry did not prime the simulator session")
	}
}

func TestSimRecoversAfterNightlyReset(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: 100 * time.Millisecond})
	s := env.session(t, fastSession())
	log := collectEvents(t, s)
	runSession(t, s)
	_, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	env.srv.NightlyReset()
	_, at = log.waitFor(t, at, "restart after the reset", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionConnecting && !ev.Authenticated
	})
	log.waitFor(t, at, "ready after the reset", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "brokerage session ready again"
	})
	if !env.srv.Session(env.cons.ConsumerKey).Primed {
		t.Error("simulator session not primed after the restart")
	}
}

func TestSimRebuildsAfter401(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.session(t, fastSession())
	log := collectEvents(t, s)
	runSession(t, s)
	first, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	env.srv.ExpireLST(env.cons.ConsumerKey)
	_, at = log.waitFor(t, at, "rebuild", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionAuthenticating
	})
	again, _ := log.waitFor(t, at, "ready with a new LST", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "brokerage session ready"
	})
	if !again.LSTExpires.After(first.LSTExpires) {
		t.Errorf("LST expiry after the rebuild %s is not later than before %s", again.LSTExpires, first.LSTExpires)
	}
}

func TestSimTickleFailuresReported(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	cfg := fastSession()
	cfg.CallTimeout = 300 * time.Millisecond
	s := env.session(t, cfg)
	log := collectEvents(t, s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	if _, err := env.srv.AddFault(ibsim.Fault{Kind: ibsim.FaultLatency, PathPrefix: "/tickle", Count: 1, Latency: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	runSession(t, s)

	timedOut, at := log.waitFor(t, 0, "timed-out tickle", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionDegraded && ibclient.IsTimeout(ev.Err)
	})
	if timedOut.Message == "" {
		t.Error("failed tickle event has no message")
	}
	if _, err := env.srv.AddFault(ibsim.Fault{Kind: ibsim.FaultServerError, PathPrefix: "/tickle", Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, at = log.waitFor(t, at, "tickle answered 503", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionDegraded && ibclient.IsKind(ev.Err, ibclient.KindServer)
	})
	log.waitFor(t, at, "tickle ok afterwards", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "tickle ok"
	})
}

func TestSimPendingKeyActivates(t *testing.T) {
	start := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // a Wednesday
	clock := ibsim.NewManualClock(start)
	env := startSim(t, ibsim.Options{Clock: clock, BridgeDelay: -1})
	pending := simConsumer(t, "IBPENDING", "0123456789abcdef0123")
	if err := env.srv.AddConfigConsumer(pending, ibsim.ActivationPending, time.Time{}); err != nil {
		t.Fatalf("AddConfigConsumer: %v", err)
	}

	load := func() (*ibclient.Consumer, error) {
		c, _, err := pending.Load()
		return c, err
	}
	w := newTestWatcher(t, env.inst.URL, clock.Now, ibclient.WatchedConsumer{ConsumerKey: "IBPENDING", Load: load})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	first := waitStatus(t, w, "IBPENDING", func(s ibclient.KeyStatus) bool { return s.State != ibclient.KeyUnchecked })
	if first.State != ibclient.KeyPending {
		t.Fatalf("state = %s (%v), want not yet activated", first.State, first.Err)
	}
	// Saturday 5 December 2026, 03:00 EST.
	if want := utc("2026-12-05T08:00:00Z"); !first.ExpectedActivation.Equal(want) {
		t.Errorf("expected activation %s, want %s", first.ExpectedActivation, want)
	}

	clock.Set(first.ExpectedActivation.Add(time.Minute))
	if err := w.Recheck("IBPENDING"); err != nil {
		t.Fatal(err)
	}
	active := waitStatus(t, w, "IBPENDING", func(s ibclient.KeyStatus) bool { return s.State != ibclient.KeyPending })
	if active.State != ibclient.KeyActive {
		t.Errorf("state after the activation time = %s (%v), want active", active.State, active.Err)
	}
}

// TestSimLowerCaseKeyMisconfigured runs a key typed in lower case, which
// the simulator, like IB, does not know: the key must come out as
// misconfigured with the upper-case fix, never as waiting for activation.
func TestSimLowerCaseKeyMisconfigured(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	upper := env.cons.ConsumerKey
	lower := env.cons
	lower.ConsumerKey = strings.ToLower(upper)
	load := func() (*ibclient.Consumer, error) {
		c, _, err := lower.Load()
		return c, err
	}

	w := newTestWatcher(t, env.inst.URL, time.Now, ibclient.WatchedConsumer{ConsumerKey: lower.ConsumerKey, Load: load})
	status := w.Check(context.Background(), lower.ConsumerKey)
	if status.State != ibclient.KeyMisconfigured {
		t.Errorf("watcher state = %s (%v), want misconfigured", status.State, status.Err)
	}
	if !status.ExpectedActivation.IsZero() {
		t.Errorf("expected activation = %s, want none for a misconfigured key", status.ExpectedActivation)
	}
	var credErr *ibclient.CredentialError
	if !errors.As(status.Err, &credErr) {
		t.Fatalf("error = %v, want a CredentialError", status.Err)
	}
	if credErr.Item != "consumer_key" {
		t.Errorf("error item = %q, want consumer_key", credErr.Item)
	}
	if !strings.Contains(credErr.Fix, `"`+upper+`"`) {
		t.Errorf("fix %q does not name the upper-case key %s", credErr.Fix, upper)
	}
	if !strings.Contains(status.NextStep(), upper) || strings.Contains(status.NextStep(), "weekend") {
		t.Errorf("next step %q should name %s and not the weekend activation", status.NextStep(), upper)
	}

	// The trading session gives up at once instead of retrying a key that
	// cannot work, and reports the same finding to its OnLST hook.
	sessionEnv := *env
	sessionEnv.cons = lower
	var observed []error
	cfg := fastSession()
	cfg.OnLST = func(_ string, err error) { observed = append(observed, err) }
	s := sessionEnv.session(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Run(ctx); !errors.As(err, &credErr) {
		t.Errorf("session Run = %v, want a CredentialError", err)
	}
	if len(observed) == 0 {
		t.Fatal("OnLST was not called")
	}
	if got := ibclient.ClassifyKeyError(observed[0]); got != ibclient.KeyMisconfigured {
		t.Errorf("session LST outcome classified as %s (%v), want misconfigured", got, observed[0])
	}
}

func TestSimReplyLoopTwoQuestions(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t)
	ticket, _ := env.simTicket(t, s.Account())
	asker := &recordingAsker{answer: true}

	// No snapshot yet (o354) and an attached stop (o10331).
	p, err := s.Client().PlaceTicket(context.Background(), ticket, asker.ask, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomePlaced {
		t.Fatalf("outcome = %s, want placed", p.Outcome)
	}
	var ids []string
	for _, q := range asker.asked {
		ids = append(ids, q.MessageIDs...)
	}
	if !slices.Equal(ids, []string{"o354", "o10331"}) {
		t.Errorf("questions asked = %v, want o354 then o10331", ids)
	}
	if parents, children := env.bookByCOID(p.COID); parents != 1 || children != 1 {
		t.Errorf("book has %d parents and %d stops for %s, want 1 and 1", parents, children, p.COID)
	}
	for _, o := range env.srv.Orders() {
		if o.ParentID == p.COID && (o.Type != ibsim.TypeStop || o.Side != "SELL" || o.Price != ticket.StopPrice) {
			t.Errorf("stop in the book = %+v, want SELL STP at %g", o, ticket.StopPrice)
		}
	}
}

func TestSimDuplicateCOID(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t)
	ticket, _ := env.simTicket(t, s.Account())
	orders, err := ticket.Orders("ibdash-sim-dup")
	if err != nil {
		t.Fatal(err)
	}
	yes := &recordingAsker{answer: true}
	ctx := context.Background()

	if _, err := s.Client().PlaceOrders(ctx, s.Account(), "ibdash-sim-dup", orders, yes.ask, nil); err != nil {
		t.Fatalf("first placement: %v", err)
	}
	_, err = s.Client().PlaceOrders(ctx, s.Account(), "ibdash-sim-dup", orders, yes.ask, nil)
	if !ibclient.IsKind(err, ibclient.KindDuplicateOrder) {
		t.Fatalf("second placement = %v, want KindDuplicateOrder", err)
	}
	if parents, _ := env.bookByCOID("ibdash-sim-dup"); parents != 1 {
		t.Errorf("book has %d orders with the cOID, want 1", parents)
	}

	live, err := s.Client().LiveOrders(ctx, s.Account())
	if err != nil {
		t.Fatalf("LiveOrders: %v", err)
	}
	for _, o := range live {
		if o.OrderRef == "ibdash-sim-dup" && !strings.HasPrefix(o.Contract, "SPY ") {
			t.Errorf("live order contract = %q, want IB's description1 naming the option", o.Contract)
		}
	}
}

func TestSimLostConnectionResolvedByLookup(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t)
	ctx := context.Background()
	if err := s.Client().SuppressQuestions(ctx, []string{"o354", "o163", "o10331"}); err != nil {
		t.Fatalf("SuppressQuestions: %v", err)
	}
	ticket, _ := env.simTicket(t, s.Account())

	// The order is placed, then the connection is reset before the response.
	if _, err := env.srv.AddFault(ibsim.Fault{Kind: ibsim.FaultConnectionReset, PathPrefix: "/iserver/account/" + s.Account() + "/orders", Count: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Client().PlaceTicket(ctx, ticket, nil, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomeFound {
		t.Fatalf("outcome = %s (err %v), want found", p.Outcome, p.Err)
	}
	parents, _ := env.bookByCOID(p.COID)
	if parents != 1 {
		t.Errorf("book has %d orders with cOID %s, want exactly 1", parents, p.COID)
	}
	if len(p.OrderIDs) != 1 {
		t.Errorf("found order ids = %v, want one", p.OrderIDs)
	}
}

func TestSimTimeoutNotPlaced(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t, ibclient.WithRequestTimeout(300*time.Millisecond))
	ctx := context.Background()
	if err := s.Client().SuppressQuestions(ctx, []string{"o354", "o163", "o10331"}); err != nil {
		t.Fatalf("SuppressQuestions: %v", err)
	}
	ticket, _ := env.simTicket(t, s.Account())

	// The simulator holds the request back past the client's timeout and
	// drops it when the client goes away, so nothing is placed.
	if _, err := env.srv.AddFault(ibsim.Fault{Kind: ibsim.FaultLatency, PathPrefix: "/iserver/account/" + s.Account() + "/orders", Count: 1, Latency: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Client().PlaceTicket(ctx, ticket, nil, nil)
	if p == nil || p.Outcome != ibclient.OutcomeNotFound {
		t.Fatalf("placement = %+v, want not found", p)
	}
	if !ibclient.IsTimeout(err) {
		t.Errorf("error = %v, want the timeout", err)
	}
	if parents, _ := env.bookByCOID(p.COID); parents != 0 {
		t.Errorf("book has %d orders with cOID %s, want 0: the order must not be sent again", parents, p.COID)
	}
}

func TestSim200RequestsNo429(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	limiter, err := ibclient.NewRateLimiter(ibclient.RateLimits{Global: ibclient.MaxGlobalRate})
	if err != nil {
		t.Fatal(err)
	}
	s := env.started(t, ibclient.WithRateLimiter(limiter))
	ctx := context.Background()
	for i := range 200 {
		if _, err := s.Client().AuthStatus(ctx); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if until := limiter.PenaltyUntil(); !until.IsZero() {
		t.Errorf("penalty in force until %s", until)
	}
}

func TestSimSnapshotAndChain(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t, ibclient.WithSnapshotRetry(5, 50*time.Millisecond))
	ctx := context.Background()
	c := s.Client()

	u, err := c.SearchStock(ctx, "SPY")
	if err != nil {
		t.Fatalf("SearchStock: %v", err)
	}
	if u.Conid != ibsim.SPYConid || len(u.Months) == 0 {
		t.Fatalf("underlying = %+v, want conid %d with months", u, ibsim.SPYConid)
	}

	_, pick := env.simTicket(t, s.Account())
	quotes, err := c.Snapshot(ctx, pick.Conid)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if len(quotes) != 1 || !quotes[0].Bid.Valid || !quotes[0].Ask.Valid {
		t.Fatalf("quotes = %v, want one with bid and ask after the pre-flight", quotes)
	}
	if quotes[0].Bid.Value > quotes[0].Ask.Value {
		t.Errorf("bid %v above ask %v", quotes[0].Bid, quotes[0].Ask)
	}

	contract, err := c.OptionContract(ctx, u.Conid, pick.Expiry, pick.Strike, ibclient.Call)
	if err != nil {
		t.Fatalf("OptionContract: %v", err)
	}
	if int64(contract.Conid) != pick.Conid {
		t.Errorf("contract conid = %d, want the simulator's %d", contract.Conid, pick.Conid)
	}

	// The strikes of one expiry, checked against the simulator's list.
	strikes, err := c.ExpiryStrikes(ctx, u.Conid, pick.Expiry, ibclient.Call, pick.Strike, 12)
	if err != nil {
		t.Fatalf("ExpiryStrikes: %v", err)
	}
	pooled, err := c.Strikes(ctx, u.Conid, pick.Month)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[float64]bool{}
	for _, o := range env.srv.ListedOptions() {
		if o.Expiry == pick.Expiry && o.Right == "C" {
			listed[o.Strike] = true
		}
	}
	for _, k := range strikes {
		if !listed[k] {
			t.Errorf("strike %g returned for %s but not listed by the simulator", k, pick.Expiry)
		}
	}
	if !slices.Contains(strikes, pick.Strike) {
		t.Errorf("strikes %v lack the listed %g", strikes, pick.Strike)
	}
	if len(pooled.Call) == 0 {
		t.Error("no pooled call strikes")
	}
}
