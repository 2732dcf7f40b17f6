package ibsim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options. IB documents the LST lifetime (about 24 h), the
// idle timeout (about 5 minutes) and the penalty box (10 minutes). The
// other windows are the simulator's choice.
const (
	DefaultPathPrefix      = "/v1/api"
	DefaultAccountID       = "DU1234567"
	DefaultBridgeDelay     = 2 * time.Second
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultLSTLifetime     = 24 * time.Hour
	DefaultTimestampSkew   = 5 * time.Minute
	DefaultNonceWindow     = 15 * time.Minute
	DefaultSubmitDelay     = time.Second
	DefaultPenaltyDuration = 10 * time.Minute
	DefaultPenaltyAfter    = 3
	DefaultUnderlyingPrice = 600.0
	DefaultReplyLifetime   = 10 * time.Minute
)

// Options configure a Server. The zero value of every field selects its
// default; for BridgeDelay and SubmitDelay a negative value means none.
type Options struct {
	// PathPrefix is the path under which the API is served, like IB's
	// /v1/api. Requests outside it get 404.
	PathPrefix string
	// SignedBaseURL, when set, replaces scheme://host/prefix of each
	// request when the simulator rebuilds the signed URL, so requests
	// signed for https://api.ibkr.com/v1/api verify. Empty: the URL the
	// request reached (http://HOST/prefix).
	SignedBaseURL string

	Clock  Clock        // default the wall clock
	Seed   uint64       // drives the price walk, sizes and ids
	Logger *slog.Logger // one line per request; default discards

	AccountID   string        // the paper account of every consumer
	BridgeDelay time.Duration // from ssodh/init until /iserver responds
	IdleTimeout time.Duration // without requests, the brokerage session drops
	LSTLifetime time.Duration // live_session_token_expiration minus now

	// TimestampSkew is how far an LST request's oauth_timestamp may be
	// from the clock, either way. NonceWindow is how long a nonce stays
	// used. A shorter NonceWindow than twice TimestampSkew is raised to
	// that, so that a replayed request cannot outlive its nonce.
	TimestampSkew time.Duration
	NonceWindow   time.Duration

	// SubmitDelay is how long an order stays PreSubmitted (and a cancel
	// PendingCancel) before the next state.
	SubmitDelay time.Duration
	// ReplyLifetime is how long an unanswered confirmation question stays
	// valid.
	ReplyLifetime time.Duration

	// PenaltyAfter rate-limit violations within a minute put the client
	// into the penalty box for PenaltyDuration, where every request gets
	// 429.
	PenaltyAfter    int
	PenaltyDuration time.Duration

	// UnderlyingPrice is SPY's price when the server starts; the option
	// chain is listed around it.
	UnderlyingPrice float64

	// DHExponent returns the server's secret DH exponent b for one LST
	// request. Default: 256 fresh bits from crypto/rand.
	DHExponent func() (*big.Int, error)

	// Faults are switched on from the start, as the sim command's flags do.
	Faults []Fault
}

func (o Options) withDefaults() Options {
	if o.PathPrefix == "" {
		o.PathPrefix = DefaultPathPrefix
	}
	o.PathPrefix = "/" + strings.Trim(o.PathPrefix, "/")
	if o.PathPrefix == "/" {
		o.PathPrefix = ""
	}
	o.SignedBaseURL = strings.TrimRight(o.SignedBaseURL, "/")

	if o.Clock == nil {
		o.Clock = ClockFunc(time.Now)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}

	o.BridgeDelay = durationOr(o.BridgeDelay, DefaultBridgeDelay)
	o.SubmitDelay = durationOr(o.SubmitDelay, DefaultSubmitDelay)
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.LSTLifetime <= 0 {
		o.LSTLifetime = DefaultLSTLifetime
	}
	if o.TimestampSkew <= 0 {
		o.TimestampSkew = DefaultTimestampSkew
	}
	if o.NonceWindow <= 0 {
		o.NonceWindow = DefaultNonceWindow
	}
	// A request dated up to TimestampSkew ahead stays acceptable until
	// twice the skew after it arrives, so its nonce must be kept as long.
	o.NonceWindow = max(o.NonceWindow, 2*o.TimestampSkew)
	if o.ReplyLifetime <= 0 {
		o.ReplyLifetime = DefaultReplyLifetime
	}

	if o.PenaltyAfter <= 0 {
		o.PenaltyAfter = DefaultPenaltyAfter
	}
	if o.PenaltyDuration <= 0 {
		o.PenaltyDuration = DefaultPenaltyDuration
	}
	if o.UnderlyingPrice <= 0 {
		o.UnderlyingPrice = DefaultUnderlyingPrice
	}
	return o
}

// durationOr maps 0 to def and a negative value to 0.
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// Server is the simulated Web API. It is an http.Handler and safe for
// concurrent use. One mutex serialises all state, because the handlers
// are short and do no I/O while holding it.
type Server struct {
	opts  Options
	clock Clock
	log   *slog.Logger
	mux   *http.ServeMux

	mu        sync.Mutex
	consumers map[string]*consumerState
	tokens    map[string]*tokenState
	nonces    map[string]time.Time // consumer key + "\x00" + nonce -> first use
	sessions  map[string]*session  // by consumer key
	market    *market
	book      *book
	limits    *rateLimiter
	faults    faultSet
	idRand    *rand.Rand
	requestID int64
	nextReset time.Time
}

// New returns a server with no consumers; add them with AddConsumer.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	now := opts.Clock.Now()
	s := &Server{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		consumers: map[string]*consumerState{},
		tokens:    map[string]*tokenState{},
		nonces:    map[string]time.Time{},
		sessions:  map[string]*session{},
		market:    newMarket(opts.Seed, opts.UnderlyingPrice, now),
		book:      newBook(opts.Seed),
		limits:    newRateLimiter(opts.PenaltyAfter, opts.PenaltyDuration),
		idRand:    rand.New(rand.NewPCG(opts.Seed, 0x1b5e)),
		nextReset: nextNightlyReset(now),
	}
	s.requestID = 1000 + int64(s.idRand.IntN(90000))
	s.limits.onPenalty = func(client string, until time.Time) {
		s.log.Warn("rate limit penalty", "client", client, "until", until.Format(time.RFC3339))
	}
	for _, f := range opts.Faults {
		s.faults.add(f)
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Now returns the simulator's clock reading.
func (s *Server) Now() time.Time { return s.clock.Now() }

// nextRequestID returns a fresh id for IB's "id: N, error: ..." envelope.
// Like IB's, it changes on every response and carries no meaning.
func (s *Server) nextRequestID() int64 {
	s.requestID += 1 + int64(s.idRand.IntN(97))
	return s.requestID
}

// call is one request while the server lock is held.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	now      time.Time
	info     *requestInfo
	consumer *consumerState
	token    *tokenState
	session  *session
}

// requestInfo is the content of one request log line, which contains no
// secret.
type requestInfo struct {
	method   string
	path     string
	consumer string
	signing  string
	status   int
	errText  string
	faults   []string
}

type callKey struct{}

// ServeHTTP handles one API request: faults first, then rate limits,
// authentication, session checks and the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := &requestInfo{method: r.Method, path: r.URL.Path}
	faults := s.takeFaults(r)
	for _, f := range faults {
		info.faults = append(info.faults, f.Kind.String())
	}

	if !waitFault(r.Context(), latencyOf(faults, FaultLatency)) {
		info.status = 499
		info.errText = "client went away during injected latency"
		s.logRequest(info)
		return
	}
	if status := serverErrorOf(faults); status != 0 {
		writeServerErrorPage(w, status)
		info.status = status
		s.logRequest(info)
		return
	}

	rec := &recorder{header: http.Header{}}
	s.handle(rec, r, info, faults)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	info.status = rec.status
	if !waitFault(r.Context(), latencyOf(faults, FaultSlowResponse)) {
		info.status = 499
		info.errText = "client went away while the response was held back; the request took effect"
		s.logRequest(info)
		return
	}
	// The line is logged before the response goes out, so that a client
	// that sees a reset or a cut body can already read it in the log.
	s.logRequest(info)
	s.deliver(w, rec, faults, info)
}

// waitFault waits d of wall time and reports whether it passed before
// the client went away.
func waitFault(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handle runs the request under the server lock and records the response.
func (s *Server) handle(w *recorder, r *http.Request, info *requestInfo, faults []Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c := &call{w: w, r: r, now: s.clock.Now(), info: info}
	s.syncLocked(c.now)

	rest, ok := s.apiPath(r.URL.Path)
	if !ok {
		s.writeError(c, http.StatusNotFound, fmt.Sprintf("no API at %s; the simulator serves paths under %s", r.URL.Path, s.opts.PathPrefix+"/"))
		return
	}

	client := clientID(r)
	if key, ok := strings.CutPrefix(client, "consumer "); ok {
		info.consumer = key
	}
	if !s.limits.allow(client, r.Method, rest, c.now) {
		// IB sends no Retry-After header with its 429.
		s.writeError(c, http.StatusTooManyRequests, "Too Many Requests")
		return
	}

	if rest == lstPath {
		if r.Method != http.MethodPost {
			s.writeError(c, http.StatusMethodNotAllowed, "use POST for "+lstPath)
			return
		}
		s.liveSessionToken(c)
		return
	}

	if !s.authenticate(c, rest, faults) {
		return
	}
	s.touchSession(c)

	inner := r.Clone(context.WithValue(r.Context(), callKey{}, c))
	inner.URL.Path = rest
	inner.URL.RawPath = ""
	s.mux.ServeHTTP(w, inner)
}

// apiPath returns path below the prefix.
func (s *Server) apiPath(path string) (string, bool) {
	if s.opts.PathPrefix == "" {
		return path, true
	}
	rest, ok := strings.CutPrefix(path, s.opts.PathPrefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", false
	}
	return rest, true
}

// syncLocked brings time-driven state up to now: the price walk, order
// states, idle sessions, activations and the nightly reset.
func (s *Server) syncLocked(now time.Time) {
	s.market.advance(now)
	for !now.Before(s.nextReset) {
		s.resetSessionsLocked("nightly reset")
		s.nextReset = nextNightlyReset(s.nextReset)
	}
	for key, sess := range s.sessions {
		if sess.initialized && now.Sub(sess.lastActivity) > s.opts.IdleTimeout {
			s.log.Info("brokerage session timed out", "consumer", key, "idle", now.Sub(sess.lastActivity).String())
			sess.drop()
		}
	}
	s.book.advance(now, s.market, s.opts.SubmitDelay)
	for k, t := range s.nonces {
		if now.Sub(t) > s.opts.NonceWindow {
			delete(s.nonces, k)
		}
	}
}

// route registers an endpoint below the prefix. Handlers run with the
// server lock held and the call in the request context.
func (s *Server) route(pattern string, needs requirement, h func(*call)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(callKey{}).(*call)
		c.r = r
		if !s.checkSession(c, needs) {
			return
		}
		h(c)
	})
}

func (s *Server) routes() {
	// Session.
	s.route("POST /iserver/auth/ssodh/init", needAuth, s.handleInit)
	s.route("GET /iserver/auth/status", needAuth, s.handleAuthStatus)
	s.route("POST /iserver/auth/status", needAuth, s.handleAuthStatus)
	s.route("GET /tickle", needAuth, s.handleTickle)
	s.route("POST /tickle", needAuth, s.handleTickle)
	s.route("POST /logout", needAuth, s.handleLogout)
	s.route("GET /iserver/accounts", needBridge, s.handleAccounts)

	// Contracts and market data.
	s.route("GET /iserver/secdef/search", needBridge, s.handleSecdefSearch)
	s.route("POST /iserver/secdef/search", needBridge, s.handleSecdefSearch)
	s.route("GET /iserver/secdef/strikes", needBridge, s.handleStrikes)
	s.route("GET /iserver/secdef/info", needBridge, s.handleSecdefInfo)
	s.route("GET /trsrv/secdef", needAuth, s.handleTrsrvSecdef)
	s.route("GET /iserver/marketdata/snapshot", needPrimed, s.handleSnapshot)
	s.route("POST /iserver/marketdata/unsubscribe", needBridge, s.handleUnsubscribe)
	s.route("GET /iserver/marketdata/unsubscribeall", needBridge, s.handleUnsubscribeAll)

	// Orders.
	s.route("POST /iserver/account/{account}/orders", needPrimed, s.handlePlaceOrders)
	s.route("POST /iserver/account/{account}/orders/whatif", needPrimed, s.handleWhatIf)
	s.route("POST /iserver/reply/{id}", needPrimed, s.handleReply)
	s.route("POST /iserver/questions/suppress", needBridge, s.handleSuppress)
	s.route("POST /iserver/questions/suppress/reset", needBridge, s.handleSuppressReset)
	s.route("GET /iserver/account/orders", needPrimed, s.handleLiveOrders)
	s.route("GET /iserver/account/order/status/{id}", needBridge, s.handleOrderStatus)
	s.route("DELETE /iserver/account/{account}/order/{id}", needPrimed, s.handleCancel)
}

// recorder buffers a response so faults can rewrite it and the log can
// report its status.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// writeTo sends the buffered response whole.
func (r *recorder) writeTo(w http.ResponseWriter, body []byte) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(body)
}

func (s *Server) logRequest(info *requestInfo) {
	attrs := []any{
		"method", info.method,
		"path", info.path,
		"consumer", info.consumer,
		"signing", info.signing,
		"status", info.status,
	}
	if info.errText != "" {
		attrs = append(attrs, "error", info.errText)
	}
	if len(info.faults) > 0 {
		attrs = append(attrs, "faults", strings.Join(info.faults, ","))
	}
	s.log.Info("request", attrs...)
}
