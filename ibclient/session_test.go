package ibclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// waitLimit bounds how long a test waits for an event before it fails;
// it is a hang guard, never a timing assertion.
const waitLimit = 15 * time.Second

// fastSession is a SessionConfig with test-sized pauses.
func fastSession() ibclient.SessionConfig {
	return ibclient.SessionConfig{
		Compete:        true,
		TickleInterval: ibclient.MinTickleInterval,
		CallTimeout:    2 * time.Second,
		InitBackoff:    10 * time.Millisecond,
		RetryMax:       50 * time.Millisecond,
	}
}

func newTestSession(t *testing.T, ib *fakeIB, cfg ibclient.SessionConfig, opts ...ibclient.Option) *ibclient.Session {
	t.Helper()
	base, err := url.Parse(ib.baseURL())
	if err != nil {
		t.Fatal(err)
	}
	auth := &ibclient.Authenticator{Consumer: ib.fx.consumer(ib.fx.key), BaseURL: base}
	s, err := ibclient.NewSession(auth, cfg, opts...)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	return s
}

// eventLog collects session events from the channel in the background.
type eventLog struct {
	mu     sync.Mutex
	events []ibclient.SessionEvent
	added  chan struct{}
}

func collectEvents(t *testing.T, s *ibclient.Session) *eventLog {
	log := &eventLog{added: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-s.Events():
				log.mu.Lock()
				log.events = append(log.events, ev)
				log.mu.Unlock()
				select {
				case log.added <- struct{}{}:
				default:
				}
			}
		}
	}()
	return log
}

func (l *eventLog) all() []ibclient.SessionEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ibclient.SessionEvent(nil), l.events...)
}

// waitFor returns the first event, from index from on, that matches.
func (l *eventLog) waitFor(t *testing.T, from int, what string, match func(ibclient.SessionEvent) bool) (ibclient.SessionEvent, int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		events := l.all()
		for i := from; i < len(events); i++ {
			if match(events[i]) {
				return events[i], i
			}
		}
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no event %s within %s; got %d events: %v", what, waitLimit, len(events), summarize(events))
		}
	}
}

// summarize describes the last 20 events for a failure message.
func summarize(events []ibclient.SessionEvent) []string {
	if len(events) > 20 {
		events = events[len(events)-20:]
	}
	var out []string
	for _, ev := range events {
		text := ev.State.String() + ": " + ev.Message
		if ev.Err != nil {
			text += " (" + ev.Err.Error() + ")"
		}
		out = append(out, text)
	}
	return out
}

func runSession(t *testing.T, s *ibclient.Session) (cancel func() error) {
	ctx, stop := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- s.Run(ctx) }()
	var once sync.Once
	var err error
	cancel = func() error {
		once.Do(func() {
			stop()
			err = <-result
		})
		return err
	}
	t.Cleanup(func() { _ = cancel() })
	return cancel
}

func TestSessionNoBridgeThenReady(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.noBridge = 2 })
	s := newTestSession(t, ib, fastSession())
	log := collectEvents(t, s)

	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := ib.count("POST iserver/auth/ssodh/init"); got != 3 {
		t.Errorf("ssodh/init calls = %d, want 3 (two no bridge, then up)", got)
	}
	if got := s.Account(); got != fakeAccount {
		t.Errorf("account = %q, want selectedAccount %q", got, fakeAccount)
	}
	retry, _ := log.waitFor(t, 0, "retrying after no bridge", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionConnecting && ibclient.IsKind(ev.Err, ibclient.KindNoBridge)
	})
	if retry.Message == "" {
		t.Error("no-bridge retry event has no message")
	}
	ready, _ := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })
	if !ready.Authenticated || !ready.Connected {
		t.Errorf("ready event flags authenticated=%v connected=%v, want both true", ready.Authenticated, ready.Connected)
	}
	if ready.LSTExpires.IsZero() {
		t.Error("ready event has no LST expiry")
	}
	if ready.Account != fakeAccount {
		t.Errorf("ready event account = %q, want %q", ready.Account, fakeAccount)
	}
}

func TestSessionNoBridgeGivesUp(t *testing.T) {
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.noBridge = 100 })
	cfg := fastSession()
	cfg.InitAttempts = 3
	s := newTestSession(t, ib, cfg)

	err := s.Start(context.Background())
	if !ibclient.IsKind(err, ibclient.KindNoBridge) {
		t.Fatalf("Start error = %v, want a no bridge APIError", err)
	}
	if got := ib.count("POST iserver/auth/ssodh/init"); got != 3 {
		t.Errorf("ssodh/init calls = %d, want 3", got)
	}
}

func TestSessionAccountsNotQueried(t *testing.T) {
	ib := newFakeIB(t)
	s := newTestSession(t, ib, fastSession())
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	// The nightly reset clears the priming.
	ib.set(func(ib *fakeIB) { ib.primed = false })
	preview, err := s.Client().WhatIf(context.Background(), s.Account(), testOrders(t, "coid-primed"))
	if err != nil {
		t.Fatalf("WhatIf after the reset: %v", err)
	}
	if !preview.Commission.Valid {
		t.Error("preview after the retry has no commission")
	}
	if got := ib.count("GET iserver/accounts"); got != 2 {
		t.Errorf("accounts calls = %d, want 2 (start and the retry)", got)
	}
	if got := ib.count("POST iserver/account/" + fakeAccount + "/orders/whatif"); got != 2 {
		t.Errorf("what-if calls = %d, want 2 (refused, then retried once)", got)
	}
}

func TestSessionConfiguredAccount(t *testing.T) {
	ib := newFakeIB(t)
	cfg := fastSession()
	cfg.AccountID = "DU0000002"
	s := newTestSession(t, ib, cfg)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := s.Account(); got != "DU0000002" {
		t.Errorf("account = %q, want the configured DU0000002", got)
	}
}

func TestSessionUnlistedAccount(t *testing.T) {
	ib := newFakeIB(t)
	cfg := fastSession()
	cfg.AccountID = "U9999999"
	s := newTestSession(t, ib, cfg)

	err := s.Run(context.Background())
	var credErr *ibclient.CredentialError
	if !errors.As(err, &credErr) {
		t.Fatalf("Run error = %v, want a CredentialError", err)
	}
	if credErr.Item != "account_id" {
		t.Errorf("error item = %q, want account_id", credErr.Item)
	}
}

func TestSessionRebuildsAfter401(t *testing.T) {
	t.Parallel()
	ib := newFakeIB(t)
	s := newTestSession(t, ib, fastSession())
	log := collectEvents(t, s)
	runSession(t, s)
	_, at := log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	// IB drops the LST mid-session, so the next signed call gets 401.
	ib.set(func(ib *fakeIB) { clear(ib.lsts) })
	_, at = log.waitFor(t, at, "rebuild after 401", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionDegraded && ev.Err == nil
	})
	log.waitFor(t, at, "ready again", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "brokerage session ready"
	})
	if got := ib.count("POST oauth/live_session_token"); got != 2 {
		t.Errorf("LST requests = %d, want 2 (start and rebuild)", got)
	}
	if got := ib.count("POST iserver/auth/ssodh/init"); got != 2 {
		t.Errorf("ssodh/init calls = %d, want 2", got)
	}
}

func TestSessionTickleTimeoutKeepsGoing(t *testing.T) {
	t.Parallel()
	ib := newFakeIB(t)
	ib.set(func(ib *fakeIB) { ib.tickleHang = 1 })
	cfg := fastSession()
	cfg.CallTimeout = 300 * time.Millisecond
	s := newTestSession(t, ib, cfg)
	log := collectEvents(t, s)
	runSession(t, s)

	failed, at := log.waitFor(t, 0, "failed tickle", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionDegraded && ev.Err != nil
	})
	if !ibclient.IsTimeout(failed.Err) {
		t.Errorf("failed tickle error = %v, want a timeout", failed.Err)
	}
	ok, _ := log.waitFor(t, at, "tickle after the failure", func(ev ibclient.SessionEvent) bool {
		return ev.State == ibclient.SessionReady && ev.Message == "tickle ok"
	})
	if ok.LastTickle.IsZero() {
		t.Error("tickle event has no LastTickle")
	}
	if got := ib.count("POST tickle"); got < 2 {
		t.Errorf("tickles = %d, want at least 2", got)
	}
}

func TestSessionLogoutOnCancel(t *testing.T) {
	t.Parallel()
	ib := newFakeIB(t)
	s := newTestSession(t, ib, fastSession())
	log := collectEvents(t, s)
	cancel := runSession(t, s)
	log.waitFor(t, 0, "ready", func(ev ibclient.SessionEvent) bool { return ev.State == ibclient.SessionReady })

	if err := cancel(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if got := ib.count("POST logout"); got != 1 {
		t.Errorf("logout calls = %d, want 1", got)
	}
	if got := s.State().State; got != ibclient.SessionStopped {
		t.Errorf("final state = %s, want stopped", got)
	}
	if _, err := s.Client().Tickle(context.Background()); !errors.Is(err, ibclient.ErrSessionClosed) {
		t.Errorf("tickle after logout = %v, want ErrSessionClosed", err)
	}
}

func TestSessionEventsDropOldest(t *testing.T) {
	ib := newFakeIB(t)
	cfg := fastSession()
	cfg.EventBuffer = 2
	s := newTestSession(t, ib, cfg)

	// No reader: Start must not block on the full channel.
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if s.Dropped() == 0 {
		t.Error("no events dropped with a buffer of 2 and no reader")
	}
	var last ibclient.SessionEvent
	for range 2 {
		last = <-s.Events()
	}
	if last.State != ibclient.SessionReady {
		t.Errorf("newest buffered event = %s, want ready", last.State)
	}
}

func TestSessionReportsLST(t *testing.T) {
	ib := newFakeIB(t)
	var mu sync.Mutex
	var seen []string
	cfg := fastSession()
	cfg.OnLST = func(key string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			seen = append(seen, key)
		}
	}
	s := newTestSession(t, ib, cfg)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != ib.fx.key {
		t.Errorf("OnLST successes = %v, want [%s]", seen, ib.fx.key)
	}
}

func TestNewSessionRejectsBadConfig(t *testing.T) {
	if _, err := ibclient.NewSession(nil, ibclient.SessionConfig{}); err == nil {
		t.Error("NewSession(nil) returned no error")
	}
	base, _ := url.Parse("http://127.0.0.1:1/v1/api")
	auth := &ibclient.Authenticator{Consumer: &ibclient.Consumer{ConsumerKey: "X"}, BaseURL: base}
	if _, err := ibclient.NewSession(auth, ibclient.SessionConfig{TickleInterval: -time.Second}); err == nil {
		t.Error("negative TickleInterval accepted")
	}
}

// hangingLSTSession returns a session with the given CallTimeout for a
// server on which every request hangs until the client gives up.
func hangingLSTSession(t *testing.T, callTimeout time.Duration) *ibclient.Session {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL + "/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	fx := loadFixture(t)
	cfg := fastSession()
	cfg.CallTimeout = callTimeout
	s, err := ibclient.NewSession(&ibclient.Authenticator{Consumer: fx.consumer(fx.key), BaseURL: base}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionStartLSTTimeout(t *testing.T) {
	s := hangingLSTSession(t, 200*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- s.Start(context.Background()) }()

	select {
	case err := <-done:
		if !ibclient.IsTimeout(err) {
			t.Errorf("Start = %v, want a timeout error", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Start still waits for the LST after %s with CallTimeout 200ms", waitLimit)
	}
}

func TestSessionLST429HoldsBack(t *testing.T) {
	var lstCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/live_session_token") {
			lstCalls.Add(1)
		}
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL + "/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	fx := loadFixture(t)
	s, err := ibclient.NewSession(&ibclient.Authenticator{Consumer: fx.consumer(fx.key), BaseURL: base}, fastSession())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil after the context ends", err)
	}
	if got := lstCalls.Load(); got != 1 {
		t.Errorf("LST requests = %d, want 1: after a 429 none may be sent during the penalty", got)
	}
	if until := s.Client().RateLimiter().PenaltyUntil(); until.IsZero() {
		t.Error("a 429 on the LST request started no penalty")
	}
}

func TestSessionLSTHeldDuringPenalty(t *testing.T) {
	ib := newFakeIB(t)
	s := newTestSession(t, ib, fastSession())
	s.Client().RateLimiter().Penalize(time.Now())

	_, err := s.Token(context.Background())
	var penalty *ibclient.PenaltyError
	if !errors.As(err, &penalty) {
		t.Fatalf("Token during a penalty = %v, want a PenaltyError", err)
	}
	if got := ib.count("POST oauth/live_session_token"); got != 0 {
		t.Errorf("LST requests during the penalty = %d, want 0", got)
	}
}
