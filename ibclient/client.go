package ibclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the shared HTTP transport. IB is one host, so a handful of
// idle connections is enough. Idle ones are closed after 90 s, so that a
// connection IB or a NAT box dropped silently is not reused much later.
const (
	defaultIdleConnTimeout     = 90 * time.Second
	defaultMaxIdleConnsPerHost = 8
)

// Client calls the IB Web API below one base URL. Every method takes a
// context first; requests are rate-limited, signed by the Transport when a
// TokenSource is set, read through a size limit and checked with
// CheckResponse. A Client is safe for concurrent use.
type Client struct {
	baseURL   *url.URL
	http      *http.Client // signing transport when source is set
	unsigned  *http.Client // same connections, no signing: the LST request
	source    TokenSource
	signQuery bool
	limiter   *RateLimiter
	logger    *slog.Logger
	now       func() time.Time
	maxBytes  int64
	agent     string

	requestTimeout   time.Duration
	orderTimeout     time.Duration // bounds each placement and reply request
	snapshotAttempts int
	snapshotPause    time.Duration

	hooksMu        sync.RWMutex
	primer         func(ctx context.Context) error
	onUnauthorized func(err error)

	contracts contractCache
}

// Option configures a Client in NewClient. An option given an invalid
// value makes NewClient return an error.
type Option func(*clientSettings) error

// clientSettings collects the options before the Client is assembled.
type clientSettings struct {
	httpClient       *http.Client
	source           TokenSource
	signQuery        bool
	limiter          *RateLimiter
	logger           *slog.Logger
	now              func() time.Time
	maxBytes         int64
	agent            string
	requestTimeout   time.Duration
	snapshotAttempts int
	snapshotPause    time.Duration
}

// WithHTTPClient sets the HTTP client whose transport carries the
// requests. The client is copied: its Transport becomes the base of the
// signing transport, and the caller's value is not changed.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *clientSettings) error {
		if hc == nil {
			return errors.New("WithHTTPClient: client is nil; omit the option to use the default client")
		}
		s.httpClient = hc
		return nil
	}
}

// WithTokenSource signs every request with the LST that src returns. A
// *Session is a TokenSource. Without it requests go out unsigned, as the
// Client Portal Gateway on localhost wants them.
func WithTokenSource(src TokenSource) Option {
	return func(s *clientSettings) error {
		if src == nil {
			return errors.New("WithTokenSource: token source is nil")
		}
		s.source = src
		return nil
	}
}

// WithSignQuery also signs query parameters, the second signing form IB
// has accepted; by default only the OAuth parameters are signed.
func WithSignQuery(on bool) Option {
	return func(s *clientSettings) error {
		s.signQuery = on
		return nil
	}
}

// WithRateLimiter replaces the default client-side rate limiter.
func WithRateLimiter(l *RateLimiter) Option {
	return func(s *clientSettings) error {
		if l == nil {
			return errors.New("WithRateLimiter: limiter is nil; use NewRateLimiter(RateLimits{})")
		}
		s.limiter = l
		return nil
	}
}

// WithLogger sets the logger for requests, retries and back-offs. The
// default discards everything.
func WithLogger(logger *slog.Logger) Option {
	return func(s *clientSettings) error {
		if logger == nil {
			return errors.New("WithLogger: logger is nil; use slog.New(slog.DiscardHandler) to discard")
		}
		s.logger = logger
		return nil
	}
}

// WithClock sets the clock used for OAuth timestamps, caches and the
// rate-limit penalty window.
func WithClock(now func() time.Time) Option {
	return func(s *clientSettings) error {
		if now == nil {
			return errors.New("WithClock: clock is nil")
		}
		s.now = now
		return nil
	}
}

// WithMaxResponseBytes sets the largest response body read, in bytes.
func WithMaxResponseBytes(n int64) Option {
	return func(s *clientSettings) error {
		if n < 1024 {
			return fmt.Errorf("WithMaxResponseBytes: %d bytes is too small for IB's responses; use at least 1024", n)
		}
		s.maxBytes = n
		return nil
	}
}

// WithUserAgent sets the User-Agent header; IB wants a non-empty one.
func WithUserAgent(agent string) Option {
	return func(s *clientSettings) error {
		if strings.TrimSpace(agent) == "" {
			return errors.New("WithUserAgent: user agent is empty; IB rejects requests without one")
		}
		s.agent = agent
		return nil
	}
}

// WithRequestTimeout bounds each call, on top of the caller's context.
// Zero, the default, leaves calls bounded by the context alone.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *clientSettings) error {
		if d < 0 {
			return fmt.Errorf("WithRequestTimeout: %s is negative", d)
		}
		s.requestTimeout = d
		return nil
	}
}

// WithSnapshotRetry sets how often Snapshot repeats a market data request
// whose response is still the empty pre-flight one, and the pause between.
func WithSnapshotRetry(attempts int, pause time.Duration) Option {
	return func(s *clientSettings) error {
		if attempts < 1 || attempts > 20 {
			return fmt.Errorf("WithSnapshotRetry: %d attempts is outside 1 to 20", attempts)
		}
		if pause < 0 {
			return fmt.Errorf("WithSnapshotRetry: pause %s is negative", pause)
		}
		s.snapshotAttempts, s.snapshotPause = attempts, pause
		return nil
	}
}

// NewClient returns a client for the Web API at baseURL, such as
// https://api.ibkr.com/v1/api.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("ibclient: base URL %q is not an http(s) URL such as https://api.ibkr.com/v1/api", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""

	s := clientSettings{
		maxBytes:         DefaultMaxResponseBytes,
		agent:            DefaultUserAgent,
		now:              time.Now,
		logger:           slog.New(slog.DiscardHandler),
		snapshotAttempts: 4,
		snapshotPause:    500 * time.Millisecond,
	}
	for _, opt := range opts {
		if err := opt(&s); err != nil {
			return nil, fmt.Errorf("ibclient: %w", err)
		}
	}
	if s.limiter == nil {
		s.limiter, err = NewRateLimiter(RateLimits{Now: s.now})
		if err != nil {
			return nil, err
		}
	}

	base := http.RoundTripper(newTransport())
	unsigned := &http.Client{Transport: base}
	if s.httpClient != nil {
		copied := *s.httpClient
		unsigned = &copied
		if copied.Transport != nil {
			base = copied.Transport
		} else {
			unsigned.Transport = base
		}
	}
	if unsigned.CheckRedirect == nil {
		unsigned.CheckRedirect = stopAtRedirect
	}
	signed := *unsigned
	if s.source != nil {
		signed.Transport = &Transport{Base: base, Source: s.source, SignQuery: s.signQuery, Now: s.now, Agent: s.agent}
	}

	return &Client{
		baseURL:          u,
		http:             &signed,
		unsigned:         unsigned,
		source:           s.source,
		signQuery:        s.signQuery,
		limiter:          s.limiter,
		logger:           s.logger,
		now:              s.now,
		maxBytes:         s.maxBytes,
		agent:            s.agent,
		requestTimeout:   s.requestTimeout,
		orderTimeout:     defaultOrderTimeout,
		snapshotAttempts: s.snapshotAttempts,
		snapshotPause:    s.snapshotPause,
		contracts:        contractCache{entries: map[infoKey]cachedInfo{}},
	}, nil
}

// stopAtRedirect returns a 3xx response as it is. Go's client would
// otherwise send a 307 or 308 POST, such as an order, again to the new
// location, and IB's API does not redirect.
func stopAtRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newTransport clones Go's default transport with IB-sized idle settings.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = defaultIdleConnTimeout
	t.MaxIdleConnsPerHost = defaultMaxIdleConnsPerHost
	return t
}

// BaseURL returns a copy of the base URL.
func (c *Client) BaseURL() *url.URL {
	u := *c.baseURL
	return &u
}

// RateLimiter returns the limiter the client waits on.
func (c *Client) RateLimiter() *RateLimiter { return c.limiter }

// setHooks installs the session's callbacks: primer runs GET
// iserver/accounts when IB requires it, onUnauthorized hears every 401.
func (c *Client) setHooks(primer func(ctx context.Context) error, onUnauthorized func(error)) {
	c.hooksMu.Lock()
	defer c.hooksMu.Unlock()
	c.primer, c.onUnauthorized = primer, onUnauthorized
}

func (c *Client) hooks() (func(ctx context.Context) error, func(error)) {
	c.hooksMu.RLock()
	defer c.hooksMu.RUnlock()
	return c.primer, c.onUnauthorized
}

// NewRequest builds a request for path below the base URL, with query
// parameters and, when body is not nil, a JSON body.
func (c *Client) NewRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := c.baseURL.JoinPath(path)
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}

	var reader *bytes.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("ibclient: encoding %s %s body: %w", method, path, err)
		}
		reader = bytes.NewReader(data)
	}

	var req *http.Request
	var err error
	if reader != nil {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), reader)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("ibclient: building %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	return req, nil
}

// Do sends req after the rate limiter allows it, reads the body through
// the size limit, checks it with CheckResponse and decodes JSON into v
// when v is not nil. The response is returned with its body consumed and
// closed. Failures to reach IB are *NetworkError; IB's rejections are
// *APIError; a call held back by the 429 penalty is *PenaltyError.
func (c *Client) Do(req *http.Request, v any) (*http.Response, error) {
	resp, body, err := c.send(req)
	if err != nil {
		return resp, err
	}
	if err := CheckResponse(resp, body); err != nil {
		c.afterError(req.Method+" "+c.relativePath(req.URL), resp, err)
		return resp, err
	}
	return resp, c.decode(resp, body, v)
}

// send waits for the rate limiter, sends req and reads the body through
// the size limit, without judging the status.
func (c *Client) send(req *http.Request) (*http.Response, []byte, error) {
	rel := c.relativePath(req.URL)
	op := req.Method + " " + rel
	if err := c.limiter.Wait(req.Context(), req.Method, rel); err != nil {
		return nil, nil, err
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(op, err)
	}
	body, err := readBody(resp, c.maxBytes)
	if err != nil {
		return resp, nil, err
	}
	c.logger.Debug("ibclient: request", "op", op, "status", resp.StatusCode, "elapsed", time.Since(start))
	return resp, body, nil
}

// decode unmarshals a checked body into v; an empty body leaves v as is.
func (c *Client) decode(resp *http.Response, body []byte, v any) error {
	if v == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{StatusCode: resp.StatusCode, Endpoint: endpointOf(resp), Kind: KindMalformed,
			Message: "response is not the expected JSON: " + err.Error()}
	}
	return nil
}

// transportError unwraps the errors the signing transport raises itself
// (an LST that could not be had is not a network failure) and wraps the
// rest as *NetworkError.
func (c *Client) transportError(op string, err error) error {
	var apiErr *APIError
	var credErr *CredentialError
	var netErr *NetworkError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &credErr):
		return credErr
	case errors.As(err, &netErr):
		return netErr
	case errors.Is(err, ErrSessionClosed):
		return ErrSessionClosed
	}
	c.logger.Debug("ibclient: request failed", "op", op, "err", err)
	return &NetworkError{Op: op, Err: err}
}

// afterError starts the 429 penalty and reports a 401 to the session.
func (c *Client) afterError(op string, resp *http.Response, err error) {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		var retryAfter time.Duration
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			retryAfter = apiErr.RetryAfter
		}
		until := c.limiter.PenalizeFor(c.now(), retryAfter)
		c.logger.Warn("ibclient: IB returned 429; holding every call back", "op", op, "until", until)
	case resp.StatusCode == http.StatusUnauthorized:
		if _, onUnauthorized := c.hooks(); onUnauthorized != nil {
			onUnauthorized(err)
		}
	}
}

// relativePath returns the path of u below the base URL, without a
// leading slash, as the rate-limit rules name endpoints.
func (c *Client) relativePath(u *url.URL) string {
	p := strings.TrimPrefix(u.Path, c.baseURL.Path)
	return strings.TrimPrefix(p, "/")
}

// call builds, sends and decodes one request, with the accounts retry of
// retryUnprimed.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, v any) error {
	return c.retryUnprimed(ctx, path, func(ctx context.Context) error {
		return c.callOnce(ctx, method, path, query, body, v)
	})
}

// retryUnprimed runs fn. When IB returns "Please query /accounts first"
// and a session is attached, it queries accounts and runs fn once more,
// which is safe because IB rejected the first request before acting on it.
func (c *Client) retryUnprimed(ctx context.Context, path string, fn func(context.Context) error) error {
	err := fn(ctx)
	if !IsKind(err, KindAccountsNotQueried) {
		return err
	}
	primer, _ := c.hooks()
	if primer == nil {
		return err
	}
	c.logger.Info("ibclient: IB requires /iserver/accounts first; querying it and retrying", "path", path)
	if perr := primer(ctx); perr != nil {
		return fmt.Errorf("%w (querying accounts before the retry failed: %v)", err, perr)
	}
	return fn(ctx)
}

// withTimeout applies the per-request timeout, if one is set.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.requestTimeout > 0 {
		return context.WithTimeout(ctx, c.requestTimeout)
	}
	return ctx, func() {}
}

func (c *Client) callOnce(ctx context.Context, method, path string, query url.Values, body, v any) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req, err := c.NewRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	_, err = c.Do(req, v)
	return err
}

// IsTimeout reports whether err is a request that timed out or lost its
// connection, so that IB may or may not have acted on it.
func IsTimeout(err error) bool {
	var netErr *NetworkError
	if !errors.As(err, &netErr) {
		return false
	}
	var timeout net.Error
	if errors.As(netErr.Err, &timeout) && timeout.Timeout() {
		return true
	}
	return errors.Is(netErr.Err, context.DeadlineExceeded)
}

// FlexInt is an integer id that IB sends as a JSON number in some responses
// and as a string in others (conid, orderId).
type FlexInt int64

// UnmarshalJSON accepts 123, "123", "" and null (the last two as 0).
func (n *FlexInt) UnmarshalJSON(data []byte) error {
	text := strings.TrimSpace(string(data))
	if text == "null" {
		*n = 0
		return nil
	}
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		text = strings.TrimSpace(s)
		if text == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fmt.Errorf("ibclient: id %s is not an integer", truncate(text, 24))
	}
	*n = FlexInt(v)
	return nil
}

// FlexString is an id kept as text that IB sends as a string in some
// responses and as a JSON number in others (order_id).
type FlexString string

// UnmarshalJSON accepts "abc", 123 and null (as "").
func (s *FlexString) UnmarshalJSON(data []byte) error {
	text := strings.TrimSpace(string(data))
	switch {
	case text == "null":
		*s = ""
	case strings.HasPrefix(text, `"`):
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = FlexString(v)
	default:
		var num json.Number
		if err := json.Unmarshal(data, &num); err != nil {
			return fmt.Errorf("ibclient: id %s is neither a string nor a number", truncate(text, 24))
		}
		*s = FlexString(num.String())
	}
	return nil
}

// FlexFloat is a number that IB sends as a JSON number or as a string,
// possibly with thousands separators ("1,300").
type FlexFloat float64

// UnmarshalJSON accepts 1.5, "1.5", "1,300", "" and null (the last two as 0).
func (f *FlexFloat) UnmarshalJSON(data []byte) error {
	text := strings.TrimSpace(string(data))
	if text == "null" {
		*f = 0
		return nil
	}
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		text = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
		if text == "" {
			*f = 0
			return nil
		}
	}
	v, ok := parseDecimal(text)
	if !ok {
		return fmt.Errorf("ibclient: value %s is not a number", truncate(text, 24))
	}
	*f = FlexFloat(v)
	return nil
}

// parseDecimal reads a finite decimal number such as -1.5 or 2e3.
// strconv.ParseFloat alone would also take NaN, Inf, hex floats and
// underscores, none of which IB sends for a price or a size.
func parseDecimal(s string) (float64, bool) {
	if s == "" || strings.Trim(s, "0123456789.+-eE") != "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
