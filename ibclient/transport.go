package ibclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/dghubble/oauth1"
)

// TokenSource returns the live session token to sign with. The session
// layer implements it and renews the token before it expires.
type TokenSource interface {
	Token(ctx context.Context) (*LiveSessionToken, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken struct{ LST *LiveSessionToken }

// Token returns the wrapped token.
func (s StaticToken) Token(context.Context) (*LiveSessionToken, error) {
	if s.LST == nil {
		return nil, errors.New("ibclient: no live session token")
	}
	return s.LST, nil
}

// SignRequest returns the Authorization header for an HMAC-SHA256 signed
// request. With signQuery false only the OAuth parameters are signed (the
// form IB documents today); with signQuery true the query parameters of u
// are signed with them (the form of IB's 2018 guide, also accepted).
func SignRequest(method string, u *url.URL, lst *LiveSessionToken, nonce, timestamp string, signQuery bool) (string, error) {
	params := Params{
		{paramConsumerKey, lst.ConsumerKey},
		{paramNonce, nonce},
		{paramSignatureMethod, MethodHMACSHA256},
		{paramTimestamp, timestamp},
		{paramToken, lst.AccessToken},
	}
	signed := params
	if signQuery {
		signed = append(append(Params(nil), params...), QueryParams(u)...)
	}
	base := BaseString("", method, SignedURL(u), signed)
	sig, err := LSTSigner{}.Sign(lst.Base64(), base)
	if err != nil {
		return "", err
	}
	return AuthorizationHeader(lst.Realm, params, sig), nil
}

// Transport is an http.RoundTripper that signs each request with the
// current LST. It clones the request and never changes the caller's.
type Transport struct {
	Base      http.RoundTripper // default http.DefaultTransport
	Source    TokenSource
	SignQuery bool

	Now    func() time.Time
	Noncer oauth1.Noncer
	Agent  string

	stamps timestamper
}

// RoundTrip signs a clone of req and sends it through Base.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.Source == nil {
		closeBody()
		return nil, errors.New("ibclient: Transport has no TokenSource")
	}
	lst, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody()
		return nil, err
	}

	signed := req.Clone(req.Context())
	auth, err := SignRequest(signed.Method, signed.URL, lst, nonce(t.Noncer), t.stamps.next(clock(t.Now)), t.SignQuery)
	if err != nil {
		closeBody()
		return nil, err
	}
	signed.Header.Set("Authorization", auth)
	if signed.Header.Get("User-Agent") == "" {
		signed.Header.Set("User-Agent", userAgent(t.Agent))
	}

	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(signed)
}

// timestamper hands out whole-second timestamps that never go backwards,
// because IB rejects a timestamp older than one it has seen.
type timestamper struct {
	mu   sync.Mutex
	last int64
}

func (s *timestamper) next(now func() time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now().Unix()
	if t < s.last {
		t = s.last
	}
	s.last = t
	return strconv.FormatInt(t, 10)
}
