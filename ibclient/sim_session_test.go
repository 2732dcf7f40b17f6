package ibclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// More flows of the session, the watcher and order placement against the
// simulator over HTTP on 127.0.0.1.

func TestSimTimeoutResolvedByLookup(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.started(t, ibclient.WithRequestTimeout(300*time.Millisecond))
	ctx := context.Background()
	if err := s.Client().SuppressQuestions(ctx, []string{"o354", "o163", "o10331"}); err != nil {
		t.Fatalf("SuppressQuestions: %v", err)
	}
	ticket, _ := env.simTicket(t, s.Account())

	// The simulator places the order, then holds the response back past
	// the client's timeout.
	ordersPath := "/iserver/account/" + s.Account() + "/orders"
	if _, err := env.srv.AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse, PathPrefix: ordersPath, Count: 1, Latency: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Client().PlaceTicket(ctx, ticket, nil, nil)
	if err != nil {
		t.Fatalf("PlaceTicket: %v", err)
	}
	if p.Outcome != ibclient.OutcomeFound {
		t.Fatalf("outcome = %s (err %v), want found", p.Outcome, p.Err)
	}
	if !ibclient.IsTimeout(p.Err) {
		t.Errorf("placement error = %v, want the timeout that caused the lookup", p.Err)
	}
	parents, children := env.bookByCOID(p.COID)
	if parents != 1 {
		t.Errorf("book has %d orders with cOID %s, want exactly 1: the order must not be sent again", parents, p.COID)
	}
	if children != 1 {
		t.Errorf("book has %d stops under cOID %s, want 1", children, p.COID)
	}
	if len(p.OrderIDs) != 1 {
		t.Errorf("found order ids = %v, want one", p.OrderIDs)
	}
}

func TestSimRenewsLSTBeforeExpiry(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1, LSTLifetime: 10 * time.Second})
	cfg := fastSession()
	// Renewal is due one second after each LST is issued, so the first
	// tickle renews it.
	cfg.RenewMargin = 9 * time.Second
	s := env.session(t, cfg)
	log := collectEvents(t, s)
	runSession(t, s)

	ready, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })
	renewed, _ := log.waitFor(t, at, "renewal", func(ev ibclient.SessionEvent) bool { return ev.Message == "live session token renewed" })
	if !renewed.LSTExpires.After(ready.LSTExpires) {
		t.Errorf("LST expiry after the renewal %s is not later than before %s", renewed.LSTExpires, ready.LSTExpires)
	}
	if renewed.Err != nil {
		t.Errorf("renewal event carries error %v", renewed.Err)
	}
	// The renewed token signs the next calls.
	if _, err := s.Client().AuthStatus(context.Background()); err != nil {
		t.Errorf("auth/status after the renewal: %v", err)
	}
}

func TestSimCompetingSessionTakenOver(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.session(t, fastSession()) // Compete: true
	log := collectEvents(t, s)
	runSession(t, s)
	_, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	env.srv.SimulateCompetingLogin(env.cons.ConsumerKey)
	_, at = log.waitFor(t, at, "competing reported", func(ev ibclient.SessionEvent) bool {
		return ev.Competing && !ev.Authenticated
	})
	log.waitFor(t, at, "ready again", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "brokerage session ready again"
	})
	if view := env.srv.Session(env.cons.ConsumerKey); view.Competing || !view.Primed {
		t.Errorf("simulator session = %+v, want taken over (not competing) and primed", view)
	}
}

func TestSimCompetingSessionLeftAlone(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	cfg := fastSession()
	cfg.Compete = false
	cfg.InitAttempts = 2
	s := env.session(t, cfg)
	log := collectEvents(t, s)
	runSession(t, s)
	_, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	env.srv.SimulateCompetingLogin(env.cons.ConsumerKey)
	_, at = log.waitFor(t, at, "competing reported", func(ev ibclient.SessionEvent) bool {
		return ev.Competing && !ev.Authenticated
	})
	failed, _ := log.waitFor(t, at, "restart failed", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionDegraded && ev.Err != nil
	})
	if !strings.Contains(failed.Err.Error(), "not authenticated") {
		t.Errorf("restart error = %v, want IB's not-authenticated status", failed.Err)
	}
	if view := env.srv.Session(env.cons.ConsumerKey); !view.Competing {
		t.Errorf("simulator session = %+v: with compete false the other session must keep it", view)
	}
}

func TestSimLogoutOnShutdown(t *testing.T) {
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	s := env.session(t, fastSession())
	log := collectEvents(t, s)
	cancel := runSession(t, s)
	log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })
	if !env.srv.Session(env.cons.ConsumerKey).Initialized {
		t.Fatal("simulator session not initialized while the session is ready")
	}

	if err := cancel(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if env.srv.Session(env.cons.ConsumerKey).Initialized {
		t.Error("simulator session still open after shutdown: no logout was sent")
	}
	if got := s.State(); got.State != ibclient.SessionStopped || got.Message != "logged out" {
		t.Errorf("final state = %s (%s), want stopped after logging out", got.State, got.Message)
	}
}

func TestSimPendingKeyActivatesOnSchedule(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1})
	pending := simConsumer(t, "IBSOON001", "00112233445566778899")
	activeFrom := time.Now().Add(time.Second)
	if err := env.srv.AddConfigConsumer(pending, ibsim.ActivationPending, activeFrom); err != nil {
		t.Fatalf("AddConfigConsumer: %v", err)
	}
	base, err := url.Parse(env.inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	load := func() (*ibclient.Consumer, error) {
		c, _, err := pending.Load()
		return c, err
	}
	w, err := ibclient.NewWatcher(ibclient.WatcherConfig{BaseURL: base, PendingInterval: 200 * time.Millisecond},
		[]ibclient.WatchedConsumer{{ConsumerKey: "IBSOON001", Load: load}})
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	first := waitStatus(t, w, "IBSOON001", func(s ibclient.KeyStatus) bool { return s.State != ibclient.KeyUnchecked })
	if first.State != ibclient.KeyPending {
		t.Fatalf("state = %s (%v), want not yet activated", first.State, first.Err)
	}
	// No Recheck: the schedule alone must find the key active.
	active := waitStatus(t, w, "IBSOON001", func(s ibclient.KeyStatus) bool { return s.State != ibclient.KeyPending })
	if active.State != ibclient.KeyActive {
		t.Errorf("state after the activation time = %s (%v), want active", active.State, active.Err)
	}
	if active.CheckedAt.Before(activeFrom) {
		t.Errorf("key reported active at %s, before its activation at %s", active.CheckedAt, activeFrom)
	}
}

// TestSimFaultsDecoded checks the error each simulator fault gives the
// client: the kind a caller branches on, or a *NetworkError when the
// response never arrived whole.
func TestSimFaultsDecoded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fault   ibsim.Fault
		kind    ibclient.Kind
		network bool
		status  int
	}{
		{"server error", ibsim.Fault{Kind: ibsim.FaultServerError, Status: 502}, ibclient.KindServer, false, 502},
		{"malformed JSON", ibsim.Fault{Kind: ibsim.FaultMalformedJSON}, ibclient.KindMalformed, false, 200},
		{"truncated body", ibsim.Fault{Kind: ibsim.FaultTruncatedBody}, 0, true, 0},
		{"connection reset", ibsim.Fault{Kind: ibsim.FaultConnectionReset}, 0, true, 0},
		{"LST expired", ibsim.Fault{Kind: ibsim.FaultLSTExpired}, ibclient.KindUnauthenticated, false, 401},
		{"session dropped", ibsim.Fault{Kind: ibsim.FaultSessionDropped}, ibclient.KindNoBridge, false, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := startSim(t, ibsim.Options{BridgeDelay: -1})
			s := env.started(t)
			// Every request, because Go's transport sends an idempotent
			// GET again once when a reused connection fails before any
			// response byte.
			tc.fault.PathPrefix, tc.fault.Count = "/iserver/accounts", 0
			if _, err := env.srv.AddFault(tc.fault); err != nil {
				t.Fatal(err)
			}

			_, err := s.Client().Accounts(context.Background())
			checkFaultError(t, err, tc.kind, tc.network, tc.status)
		})
		t.Run(tc.name+" on the LST request", func(t *testing.T) {
			if tc.fault.Kind == ibsim.FaultLSTExpired || tc.fault.Kind == ibsim.FaultSessionDropped {
				t.Skip("this fault acts on signed requests only")
			}
			env := startSim(t, ibsim.Options{BridgeDelay: -1})
			tc.fault.PathPrefix, tc.fault.Count = "/oauth/live_session_token", 1
			if _, err := env.srv.AddFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			consumer, _, err := env.cons.Load()
			if err != nil {
				t.Fatal(err)
			}
			base, _ := url.Parse(env.inst.URL)
			_, err = (&ibclient.Authenticator{Consumer: consumer, BaseURL: base}).LiveSessionToken(context.Background())
			checkFaultError(t, err, tc.kind, tc.network, tc.status)
		})
	}
}

func checkFaultError(t *testing.T, err error, kind ibclient.Kind, network bool, status int) {
	t.Helper()
	if network {
		var netErr *ibclient.NetworkError
		if !errors.As(err, &netErr) {
			t.Fatalf("error = %v, want a NetworkError", err)
		}
		return
	}
	var apiErr *ibclient.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want an APIError", err)
	}
	if apiErr.Kind != kind {
		t.Errorf("kind = %s (%v), want %s", apiErr.Kind, err, kind)
	}
	if apiErr.StatusCode != status {
		t.Errorf("status = %d, want %d", apiErr.StatusCode, status)
	}
	if apiErr.Explanation() == "" {
		t.Error("error has no explanation")
	}
}

// TestSim429StartsPenalty provokes the simulator's penalty box with
// requests that bypass the client's limiter, then checks that the client
// holds every call back after IB's 429.
func TestSim429StartsPenalty(t *testing.T) {
	t.Parallel()
	env := startSim(t, ibsim.Options{BridgeDelay: -1, PenaltyAfter: 2, PenaltyDuration: time.Minute})
	s := env.started(t)

	// The session is a TokenSource, so a bare transport signs with its LST.
	raw := &http.Client{Transport: &ibclient.Transport{Source: s}, Timeout: 10 * time.Second}
	for range 3 {
		resp, err := raw.Get(env.inst.URL + "/iserver/account/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	_, err := s.Client().AuthStatus(context.Background())
	if !ibclient.IsKind(err, ibclient.KindRateLimited) {
		t.Fatalf("call inside the simulator's penalty = %v, want rate limited", err)
	}
	until := s.Client().RateLimiter().PenaltyUntil()
	if until.IsZero() {
		t.Fatal("the client set no penalty after the 429")
	}
	_, err = s.Client().AuthStatus(context.Background())
	var penalty *ibclient.PenaltyError
	if !errors.As(err, &penalty) {
		t.Errorf("call after the 429 = %v, want a PenaltyError held back by the client", err)
	}
}
