package ibclient

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dghubble/oauth1"
)

// DHExponentBits is the size of the client's secret DH exponent, as IB's
// own samples use.
const DHExponentBits = 256

// Consumer holds what one consumer key needs for the LST handshake. The
// secret fields never appear in String output, logs or errors.
type Consumer struct {
	ConsumerKey string
	AccessToken string
	Realm       string

	// Secret is the decrypted access token secret (raw bytes). Its
	// lower-case hex is the prepend of the LST base string.
	Secret       []byte
	SignatureKey *rsa.PrivateKey
	DH           *DHParams
}

// String names the consumer without any secret.
func (c *Consumer) String() string {
	return fmt.Sprintf("consumer %s (realm %s)", c.ConsumerKey, c.Realm)
}

// Prepend returns the lower-case hex of the decrypted access token secret.
func (c *Consumer) Prepend() string { return hex.EncodeToString(c.Secret) }

// LiveSessionToken is the LST and what it belongs to. String and the
// fmt verbs show no secret.
type LiveSessionToken struct {
	ConsumerKey string
	AccessToken string
	Realm       string
	Expires     time.Time

	token []byte
}

// NewLiveSessionToken wraps raw LST bytes, for a server or a test.
func NewLiveSessionToken(consumerKey, accessToken, realm string, token []byte, expires time.Time) *LiveSessionToken {
	return &LiveSessionToken{ConsumerKey: consumerKey, AccessToken: accessToken, Realm: realm, Expires: expires, token: token}
}

// Base64 returns the LST as IB's docs show it: standard base64, 28 chars.
// It is a secret: do not log it.
func (t *LiveSessionToken) Base64() string { return base64.StdEncoding.EncodeToString(t.token) }

// String describes the token without revealing it.
func (t *LiveSessionToken) String() string {
	return fmt.Sprintf("LST for %s (expires %s)", t.ConsumerKey, t.Expires.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the token bytes.
func (t *LiveSessionToken) GoString() string { return t.String() }

// NewDHExponent reads DHExponentBits random bits from r as the client's DH
// exponent a. A zero exponent is read again.
func NewDHExponent(r io.Reader) (*big.Int, error) {
	buf := make([]byte, DHExponentBits/8)
	for range 8 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("ibclient: reading DH randomness: %w", err)
		}
		a := new(big.Int).SetBytes(buf)
		if a.Sign() > 0 {
			return a, nil
		}
	}
	return nil, errors.New("ibclient: DH randomness source returned only zeros")
}

// DHChallenge returns the lower-case hex of g^a mod p, with no leading
// zeros, so its length may be odd.
func DHChallenge(params *DHParams, a *big.Int) string {
	return new(big.Int).Exp(params.G, a, params.P).Text(16)
}

// JavaBigIntBytes encodes a non-negative integer as Java's
// BigInteger.toByteArray does: minimal big-endian bytes, with a leading
// 0x00 when the top bit of the first byte is set. IB's server derives the
// LST from K in this form, so a 2048-bit K gives a 257-byte HMAC key.
func JavaBigIntBytes(k *big.Int) []byte {
	b := k.Bytes()
	if len(b) == 0 {
		return []byte{0}
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return b
}

// DeriveLST returns HMAC-SHA1(JavaBigIntBytes(K), secret), the LST bytes.
func DeriveLST(k *big.Int, secret []byte) []byte {
	mac := hmac.New(sha1.New, JavaBigIntBytes(k))
	mac.Write(secret)
	return mac.Sum(nil)
}

// LSTSignature returns hex(HMAC-SHA1(lst, consumerKey)), the value IB sends
// as live_session_token_signature.
func LSTSignature(lst []byte, consumerKey string) string {
	mac := hmac.New(sha1.New, lst)
	mac.Write([]byte(consumerKey))
	return hex.EncodeToString(mac.Sum(nil))
}

// LSTRequest is a built, signed LST request, kept apart from the HTTP call
// so tests can compare every intermediate value.
type LSTRequest struct {
	Params        Params // the signed OAuth parameters
	BaseString    string // contains the prepend: a secret
	Signature     string // base64 RSA-SHA256 signature: a secret
	Authorization string // the header value: contains the signature
}

// BuildLSTRequest builds the LST request for consumer c with DH exponent a.
func BuildLSTRequest(c *Consumer, signedURL string, a *big.Int, nonce, timestamp string) (*LSTRequest, error) {
	params := Params{
		{paramDHChallenge, DHChallenge(c.DH, a)},
		{paramConsumerKey, c.ConsumerKey},
		{paramNonce, nonce},
		{paramSignatureMethod, MethodRSASHA256},
		{paramTimestamp, timestamp},
		{paramToken, c.AccessToken},
	}
	base := BaseString(c.Prepend(), http.MethodPost, signedURL, params)
	sig, err := (&RSASHA256Signer{PrivateKey: c.SignatureKey}).Sign("", base)
	if err != nil {
		return nil, err
	}
	return &LSTRequest{
		Params:        params,
		BaseString:    base,
		Signature:     sig,
		Authorization: AuthorizationHeader(c.Realm, params, sig),
	}, nil
}

// lstResponse is the JSON body of a successful LST request.
type lstResponse struct {
	DHResponse string `json:"diffie_hellman_response"`
	Signature  string `json:"live_session_token_signature"`
	Expiration int64  `json:"live_session_token_expiration"`
}

// CompleteLST turns the server's DH response into the LST, checks it
// against the server's signature and returns it with its expiry.
func CompleteLST(c *Consumer, a *big.Int, dhResponseHex, signatureHex string, expirationMS int64) (*LiveSessionToken, error) {
	b, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(dhResponseHex), "0x"), 16)
	if !ok || b.Sign() <= 0 {
		return nil, fmt.Errorf("ibclient: diffie_hellman_response %q is not a positive hex integer", truncate(dhResponseHex, 16))
	}
	// 1 and p-1 generate subgroups of order 1 and 2, which would make K
	// guessable. A value of p or more is not in the group at all.
	pMinus1 := new(big.Int).Sub(c.DH.P, big.NewInt(1))
	if b.Cmp(pMinus1) >= 0 || b.Cmp(big.NewInt(1)) == 0 {
		return nil, errors.New("ibclient: diffie_hellman_response is outside (1, p-1); check dh_params against the file uploaded to the portal")
	}

	k := new(big.Int).Exp(b, a, c.DH.P)
	lst := DeriveLST(k, c.Secret)

	want := LSTSignature(lst, c.ConsumerKey)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(signatureHex))) {
		return nil, &CredentialError{
			Item: "live session token",
			Err:  errors.New("computed LST does not match live_session_token_signature"),
			Fix:  "the access token secret, encryption key or dh_params do not match what the portal holds for " + c.ConsumerKey,
		}
	}
	if expirationMS <= 0 {
		return nil, fmt.Errorf("ibclient: live_session_token_expiration %d is not a time in ms", expirationMS)
	}
	return NewLiveSessionToken(c.ConsumerKey, c.AccessToken, c.Realm, lst, time.UnixMilli(expirationMS)), nil
}

// Authenticator runs the LST handshake for one consumer. Clock, nonce and
// DH randomness are fields so tests can fix them.
type Authenticator struct {
	Consumer *Consumer
	BaseURL  *url.URL
	HTTP     *http.Client

	Now    func() time.Time // default time.Now
	Noncer oauth1.Noncer    // default 32 random bytes as hex
	Rand   io.Reader        // default crypto/rand
	Agent  string           // User-Agent

	stamps timestamper
}

// LiveSessionToken performs POST oauth/live_session_token and returns the
// validated LST. IB's error envelope comes back as an *APIError.
func (a *Authenticator) LiveSessionToken(ctx context.Context) (*LiveSessionToken, error) {
	endpoint := a.BaseURL.JoinPath("oauth", "live_session_token")

	exponent, err := NewDHExponent(randReader(a.Rand))
	if err != nil {
		return nil, err
	}
	lstReq, err := BuildLSTRequest(a.Consumer, SignedURL(endpoint), exponent, nonce(a.Noncer), a.stamps.next(clock(a.Now)))
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("ibclient: building LST request: %w", err)
	}
	req.Header.Set("Authorization", lstReq.Authorization)
	req.Header.Set("User-Agent", userAgent(a.Agent))
	req.Header.Set("Accept", "*/*")

	resp, err := httpClient(a.HTTP).Do(req)
	if err != nil {
		return nil, &NetworkError{Op: "POST oauth/live_session_token", Err: err}
	}
	body, err := readBody(resp, DefaultMaxResponseBytes)
	if err != nil {
		return nil, err
	}
	if err := CheckResponse(resp, body); err != nil {
		return nil, lowerCaseKeyError(a.Consumer.ConsumerKey, err)
	}

	var out lstResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, &APIError{StatusCode: resp.StatusCode, Endpoint: "oauth/live_session_token", Kind: KindMalformed,
			Message: "response is not the expected JSON: " + err.Error()}
	}
	return CompleteLST(a.Consumer, exponent, out.DHResponse, out.Signature, out.Expiration)
}

// lowerCaseKeyError turns IB's invalid consumer for a key with lower-case
// letters into a *CredentialError. The portal upper-cases every key, so
// such a key never becomes active, and waiting for IB's weekend
// activation would be in vain. Any other error is returned as it is.
func lowerCaseKeyError(key string, err error) error {
	var apiErr *APIError
	if key == strings.ToUpper(key) || !errors.As(err, &apiErr) || apiErr.Kind != KindInvalidConsumer {
		return err
	}
	// The *APIError is left out of the chain on purpose, so that the
	// dashboard and ibdash auth show this fix instead of the activation
	// wait that invalid consumer usually means.
	id := ""
	if apiErr.RequestID != "" {
		id = ", request id " + apiErr.RequestID
	}
	return &CredentialError{
		Item: "consumer_key",
		Err:  fmt.Errorf("IB returned invalid consumer (HTTP %d%s) for %q, which has lower-case letters", apiErr.StatusCode, id, key),
		Fix:  fmt.Sprintf("set consumer_key = %q, in upper case as the Self-Service Portal shows it", strings.ToUpper(key)),
	}
}
