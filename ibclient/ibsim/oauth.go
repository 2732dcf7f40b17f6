package ibsim

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// lstPath is the LST endpoint below the prefix.
const lstPath = "/oauth/live_session_token"

// testConsumerKey is IB's demo consumer, the only one whose realm is
// test_realm.
const testConsumerKey = "TESTCONS"

// Activation is the state of a consumer key on IB's side.
type Activation int

// Activation states. A new key is pending until IB's weekend restart.
const (
	ActivationActive Activation = iota
	ActivationPending
	ActivationDisabled
)

func (a Activation) String() string {
	switch a {
	case ActivationActive:
		return "active"
	case ActivationPending:
		return "pending"
	case ActivationDisabled:
		return "disabled"
	}
	return "activation(" + strconv.Itoa(int(a)) + ")"
}

// Consumer is IB's record of one consumer key: the files uploaded to the
// Self-Service Portal and the key's activation state.
type Consumer struct {
	Key           string // case-sensitive, as IB compares it
	SignatureKey  *rsa.PublicKey
	EncryptionKey *rsa.PublicKey
	DH            *ibclient.DHParams
	// Realm defaults to test_realm for TESTCONS and limited_poa otherwise.
	Realm      string
	Activation Activation
	// ActiveFrom is when a pending key turns active. Zero: the end of the
	// next weekend maintenance after AddConsumer.
	ActiveFrom time.Time
}

// NewConsumer builds an active consumer from the PEM files a user uploads
// to the portal: public_signature.pem, public_encryption.pem and
// dhparam.pem.
func NewConsumer(key string, signaturePEM, encryptionPEM, dhPEM []byte) (*Consumer, error) {
	sig, err := ibclient.ParseRSAPublicKey(signaturePEM)
	if err != nil {
		return nil, fmt.Errorf("ibsim: consumer %s: public signature key: %w", key, err)
	}
	enc, err := ibclient.ParseRSAPublicKey(encryptionPEM)
	if err != nil {
		return nil, fmt.Errorf("ibsim: consumer %s: public encryption key: %w", key, err)
	}
	dh, err := ibclient.ParseDHParams(dhPEM)
	if err != nil {
		return nil, fmt.Errorf("ibsim: consumer %s: DH parameters: %w", key, err)
	}
	return &Consumer{Key: key, SignatureKey: sig, EncryptionKey: enc, DH: dh}, nil
}

// AccessToken is an access token as IB stores it. Secret is the plaintext
// access token secret; EncryptedSecret is its RSA PKCS#1 v1.5 ciphertext
// under the consumer's public encryption key, in base64, as the portal
// shows it. Both are secrets: String and %v show neither.
type AccessToken struct {
	Token           string
	ConsumerKey     string
	Secret          []byte
	EncryptedSecret string
}

// String names the token without its secret.
func (t AccessToken) String() string {
	return "access token " + t.Token + " of " + t.ConsumerKey
}

// GoString keeps %#v from printing the secret.
func (t AccessToken) GoString() string { return t.String() }

type consumerState struct {
	Consumer
	lastTimestamp int64 // the newest accepted LST oauth_timestamp
	announced     bool  // the pending key's activation was logged
}

func (c *consumerState) activeAt(now time.Time) bool {
	switch c.Activation {
	case ActivationActive:
		return true
	case ActivationPending:
		return !now.Before(c.ActiveFrom)
	}
	return false
}

type tokenState struct {
	AccessToken
	lst        []byte // nil until an LST request succeeds
	lstExpires time.Time
}

// AddConsumer registers a consumer key, replacing one of the same key.
func (s *Server) AddConsumer(c Consumer) error {
	if c.Key == "" {
		return errors.New("ibsim: consumer key is empty")
	}
	if c.SignatureKey == nil || c.EncryptionKey == nil || c.DH == nil {
		return fmt.Errorf("ibsim: consumer %s needs a public signature key, a public encryption key and DH parameters", c.Key)
	}
	if c.Realm == "" {
		c.Realm = ibclient.RealmLimitedPOA
		if c.Key == testConsumerKey {
			c.Realm = ibclient.RealmTest
		}
	}
	switch {
	case c.Realm == ibclient.RealmTest && c.Key != testConsumerKey:
		return fmt.Errorf("ibsim: consumer %s: realm test_realm is only for TESTCONS; use limited_poa", c.Key)
	case c.Realm != ibclient.RealmTest && c.Realm != ibclient.RealmLimitedPOA:
		return fmt.Errorf("ibsim: consumer %s: realm %q is not limited_poa or test_realm", c.Key, c.Realm)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Activation == ActivationPending && c.ActiveFrom.IsZero() {
		c.ActiveFrom = activationTime(s.clock.Now())
	}
	s.consumers[c.Key] = &consumerState{Consumer: c}
	return nil
}

// SetActivation changes a consumer's activation state. For
// ActivationPending a zero activeFrom means the end of the next weekend
// maintenance.
func (s *Server) SetActivation(key string, a Activation, activeFrom time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consumers[key]
	if !ok {
		return fmt.Errorf("ibsim: consumer %s not found", key)
	}
	if a == ActivationPending && activeFrom.IsZero() {
		activeFrom = activationTime(s.clock.Now())
	}
	c.Activation, c.ActiveFrom, c.announced = a, activeFrom, false
	return nil
}

// IssueAccessToken makes a new access token and secret for a consumer,
// as the portal's Generate Token does: 20 lower-case hex characters and
// 32 random bytes encrypted with the consumer's public encryption key.
func (s *Server) IssueAccessToken(consumerKey string) (AccessToken, error) {
	raw := make([]byte, 10)
	secret := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return AccessToken{}, fmt.Errorf("ibsim: reading randomness: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return AccessToken{}, fmt.Errorf("ibsim: reading randomness: %w", err)
	}
	t := AccessToken{Token: hex.EncodeToString(raw), ConsumerKey: consumerKey, Secret: secret}
	if err := s.AddAccessToken(t); err != nil {
		return AccessToken{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[t.Token].AccessToken, nil
}

// AddAccessToken registers an access token whose secret is known, such as
// one from a config file. An empty EncryptedSecret is filled in.
func (s *Server) AddAccessToken(t AccessToken) error {
	if t.Token == "" || len(t.Secret) == 0 {
		return errors.New("ibsim: access token and secret must not be empty")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consumers[t.ConsumerKey]
	if !ok {
		return fmt.Errorf("ibsim: access token for consumer %s, which is not registered; call AddConsumer first", t.ConsumerKey)
	}
	if t.EncryptedSecret == "" {
		enc, err := ibclient.EncryptAccessTokenSecret(t.Secret, c.EncryptionKey)
		if err != nil {
			return fmt.Errorf("ibsim: consumer %s: %w", t.ConsumerKey, err)
		}
		t.EncryptedSecret = enc
	}
	t.Secret = append([]byte(nil), t.Secret...)
	s.tokens[t.Token] = &tokenState{AccessToken: t}
	return nil
}

// RevokeAccessToken deletes a token, as regenerating it in the portal
// does. Its LST requests then get "No access secret key found".
func (s *Server) RevokeAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// ExpireLST makes every live session token of the consumer expire now,
// so its next signed request gets 401.
func (s *Server) ExpireLST(consumerKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, t := range s.tokens {
		if t.ConsumerKey == consumerKey && t.lst != nil {
			t.lstExpires = now
		}
	}
}

// liveSessionToken handles POST /oauth/live_session_token. It checks the
// consumer, token, realm, timestamp, nonce and RSA-SHA256 signature, then
// runs the server half of the Diffie-Hellman exchange.
func (s *Server) liveSessionToken(c *call) {
	c.info.signing = ibclient.MethodRSASHA256
	realm, params, err := ibclient.ParseAuthorizationHeader(c.r.Header.Get("Authorization"))
	if err != nil {
		// The parser's message may quote part of the header, so it is not
		// echoed.
		s.writeOAuthError(c, http.StatusUnauthorized, "missing or malformed OAuth Authorization header")
		return
	}

	key := params.Get("oauth_consumer_key")
	c.info.consumer = key
	cons, ok := s.consumers[key]
	if !ok || !cons.activeAt(c.now) {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid consumer")
		return
	}
	s.announceActivation(cons, c.now)

	if m := params.Get("oauth_signature_method"); m != ibclient.MethodRSASHA256 {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid signature: method %q is not RSA-SHA256", m))
		return
	}
	tok, ok := s.tokens[params.Get("oauth_token")]
	if !ok || tok.ConsumerKey != key {
		s.writeOAuthError(c, http.StatusUnauthorized, "LST failed, error: No access secret key found for "+key)
		return
	}
	// NOTE: IB's response to a wrong realm was never captured, so this
	// text is the simulator's.
	if realm != cons.Realm {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("LST failed, error: realm %q is not valid for consumer %s", realm, key))
		return
	}

	stamp, ok := s.checkTimestamp(c, cons, params.Get("oauth_timestamp"))
	if !ok {
		return
	}
	nonce := params.Get("oauth_nonce")
	nonceKey := key + "\x00" + nonce
	if _, used := s.nonces[nonceKey]; used || nonce == "" {
		s.writeOAuthError(c, http.StatusUnauthorized, "nonce already used")
		return
	}

	challenge, ok := new(big.Int).SetString(params.Get("diffie_hellman_challenge"), 16)
	pMinus1 := new(big.Int).Sub(cons.DH.P, big.NewInt(1))
	if !ok || challenge.Cmp(big.NewInt(1)) <= 0 || challenge.Cmp(pMinus1) >= 0 {
		s.writeOAuthError(c, http.StatusUnauthorized, "LST failed, error: diffie_hellman_challenge is not a hex number in (1, p-1)")
		return
	}

	signed := withoutSignature(params)
	base := ibclient.BaseString(hex.EncodeToString(tok.Secret), http.MethodPost, s.signedURL(c.r), signed)
	if !verifyRSA(cons.SignatureKey, base, params.Get("oauth_signature")) {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid signature")
		return
	}

	b, err := s.dhExponent()
	if err != nil {
		s.log.Error("DH exponent", "consumer", key, "error", err)
		s.writeOAuthError(c, http.StatusInternalServerError, "LST failed, error: ")
		return
	}
	response := new(big.Int).Exp(cons.DH.G, b, cons.DH.P)
	shared := new(big.Int).Exp(challenge, b, cons.DH.P)
	lst := ibclient.DeriveLST(shared, tok.Secret)

	cons.lastTimestamp = stamp
	s.nonces[nonceKey] = c.now
	tok.lst = lst
	tok.lstExpires = c.now.Add(s.opts.LSTLifetime)
	s.writeJSON(c, http.StatusOK, map[string]any{
		"diffie_hellman_response":       response.Text(16),
		"live_session_token_signature":  ibclient.LSTSignature(lst, key),
		"live_session_token_expiration": tok.lstExpires.UnixMilli(),
	})
}

// checkTimestamp accepts a 10-digit oauth_timestamp in seconds within
// TimestampSkew of the clock and not older than the consumer's last one.
func (s *Server) checkTimestamp(c *call, cons *consumerState, value string) (int64, bool) {
	stamp, err := strconv.ParseInt(value, 10, 64)
	if len(value) != 10 || err != nil {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid timestamp %q: use 10 digits of Unix seconds", value))
		return 0, false
	}
	skew := time.Duration(stamp-c.now.Unix()) * time.Second
	if skew > s.opts.TimestampSkew || -skew > s.opts.TimestampSkew {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid timestamp %s: %s away from server time", value, skew))
		return 0, false
	}
	if stamp < cons.lastTimestamp {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid timestamp %s: older than the last one accepted (%d)", value, cons.lastTimestamp))
		return 0, false
	}
	return stamp, true
}

func (s *Server) dhExponent() (*big.Int, error) {
	if s.opts.DHExponent != nil {
		return s.opts.DHExponent()
	}
	return ibclient.NewDHExponent(rand.Reader)
}

func (s *Server) announceActivation(cons *consumerState, now time.Time) {
	if cons.Activation == ActivationPending && !cons.announced {
		cons.announced = true
		s.log.Info("consumer key became active", "consumer", cons.Key, "active_from", cons.ActiveFrom.Format(time.RFC3339))
	}
}

// authenticate verifies the HMAC-SHA256 signature of a protected request
// and sets the call's consumer, token and session. When it rejects the
// request, it writes the error response itself and returns false.
func (s *Server) authenticate(c *call, rest string, faults []Fault) bool {
	header := c.r.Header.Get("Authorization")
	if header == "" {
		s.writeOAuthError(c, http.StatusUnauthorized, "not authenticated: no OAuth Authorization header")
		return false
	}
	realm, params, err := ibclient.ParseAuthorizationHeader(header)
	if err != nil {
		s.writeOAuthError(c, http.StatusUnauthorized, "missing or malformed OAuth Authorization header")
		return false
	}

	key := params.Get("oauth_consumer_key")
	c.info.consumer = key
	cons, ok := s.consumers[key]
	if !ok || !cons.activeAt(c.now) {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid consumer")
		return false
	}
	if m := params.Get("oauth_signature_method"); m != ibclient.MethodHMACSHA256 {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid signature: method %q is not HMAC-SHA256", m))
		return false
	}
	tok, ok := s.tokens[params.Get("oauth_token")]
	if !ok || tok.ConsumerKey != key {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid token")
		return false
	}
	if realm != cons.Realm {
		s.writeOAuthError(c, http.StatusUnauthorized, fmt.Sprintf("invalid consumer: realm %q is not valid for consumer %s", realm, key))
		return false
	}

	for _, f := range faults {
		switch f.Kind {
		case FaultLSTExpired:
			if tok.lst != nil {
				tok.lstExpires = c.now
			}
		case FaultSessionDropped:
			s.sessionFor(key).drop()
		}
	}

	if tok.lst == nil {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid token: no live session token issued; POST /oauth/live_session_token first")
		return false
	}
	// NOTE: IB's body for an expired LST is not published; this text is
	// the simulator's.
	if !c.now.Before(tok.lstExpires) {
		s.writeOAuthError(c, http.StatusUnauthorized, "live session token expired")
		return false
	}

	form, ok := verifyHMAC(tok.lst, c.r.Method, s.signedURL(c.r), c.r.URL, params)
	if !ok {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid signature")
		return false
	}
	c.info.signing = ibclient.MethodHMACSHA256 + " " + form
	c.consumer, c.token, c.session = cons, tok, s.sessionFor(key)
	return true
}

// Signing forms of protected requests that the simulator accepts.
const (
	// FormV1 signs the OAuth parameters only, with the URL without query.
	FormV1 = "V1"
	// FormV2 also signs the query parameters, merged with the OAuth ones
	// and sorted, joined raw and encoded once.
	FormV2 = "V2"
)

// verifyHMAC checks the request's signature under FormV1, then FormV2,
// and returns the form that matched.
func verifyHMAC(lst []byte, method, signedURL string, u *url.URL, params ibclient.Params) (string, bool) {
	got, err := base64.StdEncoding.DecodeString(params.Get("oauth_signature"))
	if err != nil || len(got) != sha256.Size {
		return "", false
	}
	signed := withoutSignature(params)
	forms := []struct {
		name   string
		params ibclient.Params
	}{
		{FormV1, signed},
		{FormV2, append(append(ibclient.Params(nil), signed...), ibclient.QueryParams(u)...)},
	}
	for _, f := range forms {
		mac := hmac.New(sha256.New, lst)
		mac.Write([]byte(ibclient.BaseString("", method, signedURL, f.params)))
		if hmac.Equal(mac.Sum(nil), got) {
			return f.name, true
		}
	}
	return "", false
}

func verifyRSA(key *rsa.PublicKey, base, signatureB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(base))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) == nil
}

// withoutSignature returns the parameters that go into the base string:
// all header parameters but oauth_signature (the parser already set realm
// apart).
func withoutSignature(params ibclient.Params) ibclient.Params {
	out := make(ibclient.Params, 0, len(params))
	for _, p := range params {
		if p.Key != "oauth_signature" {
			out = append(out, p)
		}
	}
	return out
}

// signedURL rebuilds the URL the client signed: SignedBaseURL plus the
// path below the prefix, or the URL the request reached.
func (s *Server) signedURL(r *http.Request) string {
	path := r.URL.EscapedPath()
	if s.opts.SignedBaseURL != "" {
		rest := strings.TrimPrefix(path, s.opts.PathPrefix)
		if u, err := url.Parse(s.opts.SignedBaseURL + rest); err == nil {
			return ibclient.SignedURL(u)
		}
		return s.opts.SignedBaseURL + rest
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return ibclient.SignedURL(&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath})
}

// clientID names the client for rate limits: its consumer key when the
// request carries one, else its remote address without the port.
func clientID(r *http.Request) string {
	if _, params, err := ibclient.ParseAuthorizationHeader(r.Header.Get("Authorization")); err == nil {
		if key := params.Get("oauth_consumer_key"); key != "" {
			return "consumer " + key
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return "address " + host
	}
	return "address " + r.RemoteAddr
}
