package ibclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// lstEndpoint is the LST request's path below the base URL.
const lstEndpoint = "oauth/live_session_token"

// ErrSessionClosed is returned for calls made after the session logged out.
var ErrSessionClosed = errors.New("ibclient: session is closed; start a new one")

// AuthStatus is the brokerage session status that ssodh/init, auth/status
// and tickle's iserver.authStatus return.
type AuthStatus struct {
	Authenticated bool   `json:"authenticated"`
	Competing     bool   `json:"competing"`
	Connected     bool   `json:"connected"`
	Established   bool   `json:"established"`
	Message       string `json:"message"`
	Fail          string `json:"fail"`
	ServerInfo    struct {
		ServerName    string `json:"serverName"`
		ServerVersion string `json:"serverVersion"`
	} `json:"serverInfo"`
}

// TickleResponse is the response of POST tickle.
type TickleResponse struct {
	// Session is the id for the WebSocket cookie "api"; treat it as a
	// credential and do not log it.
	Session string `json:"session"`
	// SSOExpires is the time left on the SSO session, in milliseconds.
	SSOExpires int64 `json:"ssoExpires"`
	// Collision is sent as "collission", IB's spelling on the wire.
	Collision bool    `json:"collission"`
	UserID    FlexInt `json:"userId"`
	IServer   struct {
		AuthStatus *AuthStatus `json:"authStatus"`
	} `json:"iserver"`
}

// Accounts is the response of GET iserver/accounts.
type Accounts struct {
	Accounts        []string          `json:"accounts"`
	Aliases         map[string]string `json:"aliases"`
	SelectedAccount string            `json:"selectedAccount"`
	IsPaper         bool              `json:"isPaper"`
	IsFT            bool              `json:"isFT"`
}

// InitBrokerageSession performs POST iserver/auth/ssodh/init. compete
// true takes over a brokerage session open elsewhere for the same user.
func (c *Client) InitBrokerageSession(ctx context.Context, compete bool) (*AuthStatus, error) {
	body := map[string]bool{"publish": true, "compete": compete}
	var status AuthStatus
	if err := c.callOnce(ctx, http.MethodPost, "iserver/auth/ssodh/init", nil, body, &status); err != nil {
		return nil, err
	}
	return &status, nil
}

// AuthStatus performs POST iserver/auth/status.
func (c *Client) AuthStatus(ctx context.Context) (*AuthStatus, error) {
	var status AuthStatus
	if err := c.callOnce(ctx, http.MethodPost, "iserver/auth/status", nil, nil, &status); err != nil {
		return nil, err
	}
	return &status, nil
}

// Tickle performs POST tickle, which keeps the session alive.
func (c *Client) Tickle(ctx context.Context) (*TickleResponse, error) {
	var out TickleResponse
	if err := c.callOnce(ctx, http.MethodPost, "tickle", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Accounts performs GET iserver/accounts, which IB also requires before
// market data and order calls.
func (c *Client) Accounts(ctx context.Context) (*Accounts, error) {
	var out Accounts
	if err := c.callOnce(ctx, http.MethodGet, "iserver/accounts", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout performs POST logout. Any 2xx response is success, because IB's
// documented body and the one seen in the wild differ.
func (c *Client) Logout(ctx context.Context) error {
	return c.callOnce(ctx, http.MethodPost, "logout", nil, nil, nil)
}

// MinTickleInterval is the shortest keepalive period: twice IB's limit of
// one tickle per second, so the keepalive's own tickles do not wait
// for the client-side rate limiter and use up their timeout.
const MinTickleInterval = 2 * time.Second

// SessionConfig configures a Session. Zero fields take the defaults.
type SessionConfig struct {
	// Compete is the compete flag of ssodh/init.
	Compete bool
	// AccountID is the account to trade; "" keeps IB's selectedAccount.
	// When set it must be among the accounts IB lists.
	AccountID string

	// TickleInterval is the keepalive period; IB recommends about 60 s.
	// It must be at least MinTickleInterval.
	TickleInterval time.Duration
	// CallTimeout bounds each session call (tickle, init, status,
	// accounts, logout). Default 15 s.
	CallTimeout time.Duration
	// RenewMargin is how long before the LST expires it is renewed.
	// Default 1 h of the LST's 24 h.
	RenewMargin time.Duration
	// InitBackoff is the first pause before retrying ssodh/init after
	// "no bridge"; it doubles up to 30 s. Default 1 s.
	InitBackoff time.Duration
	// InitAttempts bounds the ssodh/init attempts in one start. Default 8.
	InitAttempts int
	// RetryMax caps the pause between two failed starts in Run. Default 5 min.
	RetryMax time.Duration
	// EventBuffer is the capacity of the Events channel. Default 64.
	EventBuffer int

	// OnLST, when set, hears the outcome of every LST request the session
	// makes, such as the key watcher's Observe. It must not block, since
	// it runs while other LST requests wait.
	OnLST func(consumerKey string, err error)
}

func (cfg *SessionConfig) applyDefaults() error {
	defaults := []struct {
		value *time.Duration
		def   time.Duration
		name  string
	}{
		{&cfg.TickleInterval, 60 * time.Second, "TickleInterval"},
		{&cfg.CallTimeout, 15 * time.Second, "CallTimeout"},
		{&cfg.RenewMargin, time.Hour, "RenewMargin"},
		{&cfg.InitBackoff, time.Second, "InitBackoff"},
		{&cfg.RetryMax, 5 * time.Minute, "RetryMax"},
	}
	for _, d := range defaults {
		if *d.value < 0 {
			return fmt.Errorf("ibclient: SessionConfig.%s %s is negative", d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	if cfg.TickleInterval < MinTickleInterval {
		return fmt.Errorf("ibclient: SessionConfig.TickleInterval %s is under %s; IB allows one tickle per second and the keepalive must not wait on that limit", cfg.TickleInterval, MinTickleInterval)
	}
	if cfg.InitAttempts < 0 || cfg.EventBuffer < 0 {
		return errors.New("ibclient: SessionConfig.InitAttempts and EventBuffer must not be negative")
	}
	if cfg.InitAttempts == 0 {
		cfg.InitAttempts = 8
	}
	if cfg.EventBuffer == 0 {
		cfg.EventBuffer = 64
	}
	return nil
}

// Session keeps the brokerage session of the trading consumer alive: the
// LST, ssodh/init, the accounts priming, the keepalive, renewal and
// logout. It is the TokenSource of its Client's signing transport.
type Session struct {
	auth   *Authenticator
	cfg    SessionConfig
	client *Client

	lstMu sync.Mutex // serialises LST requests

	mu         sync.Mutex // guards the fields below
	lst        *LiveSessionToken
	last       SessionEvent
	account    string
	lastTickle time.Time
	ready      bool
	closed     bool

	emitMu  sync.Mutex
	events  chan SessionEvent
	dropped int

	rebuild chan struct{}
}

// NewSession returns a session for the consumer of auth, with a Client
// built from opts and signed by the session. auth.HTTP, auth.Now and
// auth.Agent are filled from the client's settings when unset.
func NewSession(auth *Authenticator, cfg SessionConfig, opts ...Option) (*Session, error) {
	if auth == nil || auth.Consumer == nil || auth.BaseURL == nil {
		return nil, errors.New("ibclient: NewSession needs an Authenticator with Consumer and BaseURL set")
	}
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}

	s := &Session{
		auth:    auth,
		cfg:     cfg,
		events:  make(chan SessionEvent, cfg.EventBuffer),
		rebuild: make(chan struct{}, 1),
	}
	client, err := NewClient(auth.BaseURL.String(), append(slices.Clone(opts), WithTokenSource(s))...)
	if err != nil {
		return nil, err
	}
	s.client = client
	if auth.HTTP == nil {
		auth.HTTP = client.unsigned
	}
	if auth.Now == nil {
		auth.Now = client.now
	}
	if auth.Agent == "" {
		auth.Agent = client.agent
	}
	client.setHooks(s.prime, s.onUnauthorized)
	s.last = SessionEvent{Time: client.now(), State: SessionStopped}
	return s, nil
}

// Client returns the signed client of the session.
func (s *Session) Client() *Client { return s.client }

// Events returns the channel of session events. It is buffered; when the
// reader falls behind, the oldest events are dropped so that the
// keepalive never blocks.
func (s *Session) Events() <-chan SessionEvent { return s.events }

// State returns the latest event.
func (s *Session) State() SessionEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Account returns the account the session trades, once primed.
func (s *Session) Account() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// Dropped returns how many events were dropped because the reader of
// Events fell behind.
func (s *Session) Dropped() int {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	return s.dropped
}

// Token returns the current LST, requesting one when there is none or it
// has expired. It implements TokenSource.
func (s *Session) Token(ctx context.Context) (*LiveSessionToken, error) {
	s.mu.Lock()
	lst, closed := s.lst, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrSessionClosed
	}
	if lst != nil && s.client.now().Before(lst.Expires) {
		return lst, nil
	}
	return s.refreshLST(ctx, lst)
}

// refreshLST requests a new LST unless another caller replaced stale with
// a valid one while this one waited for the lock.
func (s *Session) refreshLST(ctx context.Context, stale *LiveSessionToken) (*LiveSessionToken, error) {
	s.lstMu.Lock()
	defer s.lstMu.Unlock()

	s.mu.Lock()
	current := s.lst
	s.mu.Unlock()
	if current != nil && current != stale && s.client.now().Before(current.Expires) {
		return current, nil
	}

	// IB counts the LST request against its limits like any other. So it
	// waits for the rate limiter, and a 429 on it starts the penalty.
	if err := s.client.limiter.Wait(ctx, http.MethodPost, lstEndpoint); err != nil {
		return nil, err
	}
	lst, err := s.auth.LiveSessionToken(ctx)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
		until := s.client.limiter.PenalizeFor(s.client.now(), apiErr.RetryAfter)
		s.client.logger.Warn("ibclient: IB returned 429 to the LST request; holding every call back", "until", until)
	}
	if s.cfg.OnLST != nil {
		s.cfg.OnLST(s.auth.Consumer.ConsumerKey, err)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lst = lst
	s.mu.Unlock()
	s.client.logger.Info("ibclient: live session token obtained", "consumer", lst.ConsumerKey, "expires", lst.Expires)
	return lst, nil
}

// onUnauthorized hears a 401 from any call and signals the keepalive loop
// to rebuild the LST and the session. Repeated 401s coalesce into one.
func (s *Session) onUnauthorized(error) {
	select {
	case s.rebuild <- struct{}{}:
	default:
	}
}

// update records a new state and emits it as an event.
func (s *Session) update(state SessionState, message string, err error, status *AuthStatus) {
	s.mu.Lock()
	ev := s.last
	ev.Time = s.client.now()
	ev.State = state
	ev.Message = message
	ev.Err = err
	ev.Account = s.account
	ev.LastTickle = s.lastTickle
	if s.lst != nil {
		ev.LSTExpires = s.lst.Expires
	}
	if status != nil {
		ev.Authenticated, ev.Connected, ev.Competing = status.Authenticated, status.Connected, status.Competing
	}
	if state == SessionStopped || state == SessionAuthenticating {
		ev.Authenticated, ev.Connected, ev.Competing = false, false, false
	}
	s.last = ev
	s.mu.Unlock()

	level := s.client.logger.Info
	if err != nil {
		level = s.client.logger.Warn
	}
	level("ibclient: session "+state.String(), "message", message, "err", err)
	s.emit(ev)
}

// emit sends ev without ever blocking: when the buffer is full, the
// oldest event is taken out to make room.
func (s *Session) emit(ev SessionEvent) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	for {
		select {
		case s.events <- ev:
			return
		default:
		}
		select {
		case <-s.events:
			s.dropped++
		default:
		}
	}
}

// Start requests the LST, starts the brokerage session and queries the
// accounts, once; Run does the same with retries and keeps it alive.
func (s *Session) Start(ctx context.Context) error {
	err := s.establish(ctx, true)
	if err != nil {
		s.update(SessionFailed, "session start failed", err, nil)
	}
	return err
}

// establish brings the session to SessionReady. freshLST forces a new LST
// even when the current one has not expired, as after a 401.
func (s *Session) establish(ctx context.Context, freshLST bool) error {
	s.mu.Lock()
	s.ready = false
	current := s.lst
	s.mu.Unlock()

	s.update(SessionAuthenticating, "requesting a live session token", nil, nil)
	if freshLST || current == nil || !s.client.now().Before(current.Expires.Add(-s.cfg.RenewMargin)) {
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		_, err := s.refreshLST(callCtx, current)
		cancel()
		if err != nil {
			return err
		}
	}

	status, err := s.startBrokerage(ctx)
	if err != nil {
		return err
	}

	// A 401 seen while starting is already handled by this start.
	select {
	case <-s.rebuild:
	default:
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.update(SessionReady, "brokerage session ready", nil, status)
	return nil
}

// startBrokerage runs ssodh/init until IB has a bridge, then primes the
// accounts.
func (s *Session) startBrokerage(ctx context.Context) (*AuthStatus, error) {
	s.update(SessionConnecting, "starting the brokerage session (ssodh/init)", nil, nil)
	status, err := s.initWithRetry(ctx)
	if err != nil {
		return nil, err
	}
	s.update(SessionPriming, "querying /iserver/accounts", nil, status)
	if err := s.retryNoBridge(ctx, "GET iserver/accounts", s.prime); err != nil {
		return nil, err
	}
	return status, nil
}

// initWithRetry posts ssodh/init until IB reports an authenticated
// session. "no bridge" and an unauthenticated status are retried with a
// doubling pause, because IB needs a few seconds after init; any other
// error ends the attempt.
func (s *Session) initWithRetry(ctx context.Context) (*AuthStatus, error) {
	pause := s.cfg.InitBackoff
	var lastErr error
	for attempt := 1; attempt <= s.cfg.InitAttempts; attempt++ {
		status, err := s.sessionCall(ctx, func(ctx context.Context) (*AuthStatus, error) {
			return s.client.InitBrokerageSession(ctx, s.cfg.Compete)
		})
		if err == nil && !status.Authenticated {
			// IB may finish the login just after responding to init.
			if !sleepCtx(ctx, pause) {
				return nil, ctx.Err()
			}
			status, err = s.sessionCall(ctx, s.client.AuthStatus)
		}
		if err == nil && status.Authenticated {
			return status, nil
		}
		if err == nil {
			err = fmt.Errorf("ibclient: ssodh/init: IB reports the brokerage session not authenticated (message %q)", status.Message)
		} else if !IsKind(err, KindNoBridge) {
			return nil, err
		}
		lastErr = err
		if attempt == s.cfg.InitAttempts {
			break
		}
		s.update(SessionConnecting, fmt.Sprintf("brokerage session not up yet (attempt %d of %d); retrying in %s", attempt, s.cfg.InitAttempts, pause), err, nil)
		if !sleepCtx(ctx, pause) {
			return nil, ctx.Err()
		}
		pause = min(2*pause, 30*time.Second)
	}
	return nil, fmt.Errorf("ibclient: brokerage session did not come up after %d ssodh/init attempts: %w", s.cfg.InitAttempts, lastErr)
}

// retryNoBridge runs fn, retrying it with a doubling pause while IB
// returns "no bridge".
func (s *Session) retryNoBridge(ctx context.Context, what string, fn func(context.Context) error) error {
	pause := s.cfg.InitBackoff
	var err error
	for attempt := 1; attempt <= s.cfg.InitAttempts; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		err = fn(callCtx)
		cancel()
		if !IsKind(err, KindNoBridge) || attempt == s.cfg.InitAttempts {
			return err
		}
		s.update(SessionPriming, fmt.Sprintf("%s: no bridge yet (attempt %d of %d); retrying in %s", what, attempt, s.cfg.InitAttempts, pause), err, nil)
		if !sleepCtx(ctx, pause) {
			return ctx.Err()
		}
		pause = min(2*pause, 30*time.Second)
	}
	return err
}

// sessionCall runs one status-returning call under CallTimeout.
func (s *Session) sessionCall(ctx context.Context, fn func(context.Context) (*AuthStatus, error)) (*AuthStatus, error) {
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	return fn(callCtx)
}

// prime queries iserver/accounts and picks the account: the configured
// one, which must be listed, or IB's selectedAccount.
func (s *Session) prime(ctx context.Context) error {
	accounts, err := s.client.Accounts(ctx)
	if err != nil {
		return err
	}
	account, err := pickAccount(accounts, s.cfg.AccountID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.account = account
	s.mu.Unlock()
	return nil
}

func pickAccount(accounts *Accounts, configured string) (string, error) {
	if configured != "" {
		if !slices.Contains(accounts.Accounts, configured) {
			return "", &CredentialError{
				Item: "account_id",
				Err:  fmt.Errorf("account %q is not among the accounts IB lists for this login (%s)", configured, strings.Join(accounts.Accounts, ", ")),
				Fix:  "set account_id to one of them, or leave it empty to use the account IB selects",
			}
		}
		return configured, nil
	}
	if accounts.SelectedAccount != "" {
		return accounts.SelectedAccount, nil
	}
	if len(accounts.Accounts) > 0 {
		return accounts.Accounts[0], nil
	}
	return "", errors.New("ibclient: GET iserver/accounts listed no account for this login")
}

// Run starts the session, retrying with a doubling pause up to RetryMax,
// and keeps it alive until ctx ends; then it logs out. A 401 rebuilds the
// LST and the session. Run returns nil after ctx ends, or the error of a
// start that cannot succeed without a config change (*CredentialError).
func (s *Session) Run(ctx context.Context) error {
	defer s.shutdown(ctx)

	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	fresh := false
	pause := s.cfg.InitBackoff
	for {
		if !ready {
			err := s.establish(ctx, fresh)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				var credErr *CredentialError
				if errors.As(err, &credErr) {
					s.update(SessionFailed, "session start failed; fix the config and restart", err, nil)
					return err
				}
				wait := pause
				if until := s.client.limiter.PenaltyUntil(); !until.IsZero() {
					wait = max(wait, until.Sub(s.client.now()))
				}
				s.update(SessionFailed, fmt.Sprintf("session start failed; retrying in %s", wait.Round(time.Millisecond)), err, nil)
				if !sleepCtx(ctx, wait) {
					return nil
				}
				pause = min(2*pause, s.cfg.RetryMax)
				fresh = true
				continue
			}
			pause = s.cfg.InitBackoff
		}
		if !s.keepalive(ctx) {
			return nil
		}
		ready, fresh = false, true
	}
}

// keepalive tickles every TickleInterval until ctx ends (false) or a 401
// requests a rebuild (true).
func (s *Session) keepalive(ctx context.Context) bool {
	ticker := time.NewTicker(s.cfg.TickleInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-s.rebuild:
			s.update(SessionDegraded, "IB returned 401; rebuilding the live session token and the session", nil, nil)
			return true
		case <-ticker.C:
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return false
		}
		s.renewIfDue(ctx)
		s.tickle(ctx)
	}
}

// renewIfDue renews the LST when it is within RenewMargin of expiring.
func (s *Session) renewIfDue(ctx context.Context) {
	s.mu.Lock()
	current := s.lst
	s.mu.Unlock()
	if current != nil && s.client.now().Before(current.Expires.Add(-s.cfg.RenewMargin)) {
		return
	}
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	if _, err := s.refreshLST(callCtx, current); err != nil {
		s.update(SessionDegraded, "renewing the live session token failed; retrying at the next tickle", err, nil)
		return
	}
	s.update(s.State().State, "live session token renewed", nil, nil)
}

// tickle sends one keepalive and reports the outcome as an event. A
// failure never stops the loop; an unauthenticated session is started
// again with ssodh/init.
func (s *Session) tickle(ctx context.Context) {
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	resp, err := s.client.Tickle(callCtx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.update(SessionDegraded, fmt.Sprintf("tickle failed; retrying in %s", s.cfg.TickleInterval), err, nil)
		return
	}

	s.mu.Lock()
	s.lastTickle = s.client.now()
	s.mu.Unlock()

	status := resp.IServer.AuthStatus
	if status == nil {
		status, err = s.sessionCall(ctx, s.client.AuthStatus)
		if err != nil {
			s.update(SessionDegraded, "tickle returned no status and auth/status failed", err, nil)
			return
		}
	}
	if status.Authenticated {
		message := "tickle ok"
		if status.Competing {
			message = "tickle ok, but another session is competing for this login"
		}
		s.update(SessionReady, message, nil, status)
		return
	}

	// NOTE: with compete = true two programs that both restart on
	// "not authenticated" take the session from each other at most once
	// per tickle interval each; there is no further back-off.
	s.update(SessionConnecting, "IB reports the session not authenticated; starting it again", nil, status)
	status, err = s.startBrokerage(ctx)
	if err != nil {
		s.update(SessionDegraded, fmt.Sprintf("restarting the brokerage session failed; retrying in %s", s.cfg.TickleInterval), err, nil)
		return
	}
	s.update(SessionReady, "brokerage session ready again", nil, status)
}

// shutdown logs out with a fresh bounded context, since ctx has ended.
func (s *Session) shutdown(ctx context.Context) {
	logoutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	defer cancel()
	_ = s.Close(logoutCtx)
}

// Close logs out of IB when the session was started and marks it closed.
// Later calls through its client fail with ErrSessionClosed, and a
// running Run stops at its next tickle.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	hadToken := s.lst != nil
	s.mu.Unlock()

	var err error
	if hadToken {
		err = s.client.Logout(ctx)
	}
	s.mu.Lock()
	s.closed, s.ready = true, false
	s.mu.Unlock()
	message := "logged out"
	if err != nil {
		message = "logout failed; IB ends the session after a few idle minutes"
	}
	s.update(SessionStopped, message, err, nil)
	return err
}

// sleepCtx waits d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
