package ibclient

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/dghubble/oauth1"
)

// OAuth parameter names and signature methods used by IB.
const (
	paramConsumerKey     = "oauth_consumer_key"
	paramToken           = "oauth_token"
	paramSignatureMethod = "oauth_signature_method"
	paramSignature       = "oauth_signature"
	paramTimestamp       = "oauth_timestamp"
	paramNonce           = "oauth_nonce"
	paramDHChallenge     = "diffie_hellman_challenge"
	paramRealm           = "realm"

	MethodRSASHA256  = "RSA-SHA256"
	MethodHMACSHA256 = "HMAC-SHA256"

	// RealmLimitedPOA is the realm of a self-service consumer key.
	RealmLimitedPOA = "limited_poa"
	// RealmTest is the realm of IB's demo consumer TESTCONS, and of no other.
	RealmTest = "test_realm"
)

// Param is one signed OAuth or query parameter.
type Param struct {
	Key, Value string
}

// Params is a list of parameters; keys may repeat, as query keys can.
type Params []Param

// Get returns the value of the first parameter named key.
func (ps Params) Get(key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// sorted returns a copy ordered byte-wise by key, then by value.
func (ps Params) sorted() Params {
	out := append(Params(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// BaseString builds IB's signature base string:
//
//	prepend + METHOD + "&" + pct(url) + "&" + pct("k=v&k=v...")
//
// The pairs are sorted by key and joined from raw values, then the whole
// string is encoded once (not RFC 5849's encode-each-then-join). url must
// be scheme://host/path with no query; realm and oauth_signature must not
// be among params. prepend is "" for every request but the LST request.
func BaseString(prepend, method, signedURL string, params Params) string {
	pairs := make([]string, 0, len(params))
	for _, p := range params.sorted() {
		pairs = append(pairs, p.Key+"="+p.Value)
	}

	var b strings.Builder
	b.WriteString(prepend)
	b.WriteString(strings.ToUpper(method))
	b.WriteByte('&')
	b.WriteString(oauth1.PercentEncode(signedURL))
	b.WriteByte('&')
	b.WriteString(oauth1.PercentEncode(strings.Join(pairs, "&")))
	return b.String()
}

// SignedURL returns u as it goes into the base string: scheme and host in
// lower case, the default port dropped, the path kept, no query or
// fragment.
func SignedURL(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// QueryParams returns the query of u as Params, for the signing form that
// also signs query parameters.
func QueryParams(u *url.URL) Params {
	var ps Params
	for key, values := range u.Query() {
		for _, v := range values {
			ps = append(ps, Param{Key: key, Value: v})
		}
	}
	return ps
}

// AuthorizationHeader formats the Authorization header IB expects:
//
//	OAuth realm="R", k="v", ...
//
// with realm first and the other pairs (oauth_signature among them) sorted
// by key. signature is the base64 signature; it is percent-encoded here.
// No other value is escaped, since IB's values are all unreserved
// characters.
func AuthorizationHeader(realm string, params Params, signature string) string {
	all := append(Params(nil), params...)
	all = append(all, Param{Key: paramSignature, Value: oauth1.PercentEncode(signature)})

	var b strings.Builder
	b.WriteString("OAuth ")
	b.WriteString(paramRealm + `="` + realm + `"`)
	for _, p := range all.sorted() {
		b.WriteString(", ")
		b.WriteString(p.Key + `="` + p.Value + `"`)
	}
	return b.String()
}

// ParseAuthorizationHeader splits an OAuth Authorization header into its
// realm and its other parameters, percent-decoded. Pairs may come in any
// order and values may be quoted or bare, and a comma inside a quoted
// value does not end the pair. A name that is not an HTTP token, a stray
// or unterminated quote and a repeated name are errors (RFC 5849, section
// 3.1, allows each parameter once per request). Errors name parameters
// but never values, because a value may be a signature.
func ParseAuthorizationHeader(header string) (realm string, params Params, err error) {
	const prefix = "oauth "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", nil, errors.New("authorization header does not start with OAuth")
	}
	parts, err := splitAuthorizationPairs(header[len(prefix):])
	if err != nil {
		return "", nil, err
	}

	seen := map[string]bool{}
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return "", nil, fmt.Errorf("authorization header item %d has no =", i+1)
		}
		key = strings.TrimSpace(key)
		if !isToken(key) {
			return "", nil, fmt.Errorf("authorization header item %d has a name that is not a token", i+1)
		}
		if seen[key] {
			return "", nil, fmt.Errorf("authorization header repeats %s", key)
		}
		seen[key] = true

		value, err = unquoteAuthorizationValue(strings.TrimSpace(value))
		if err != nil {
			return "", nil, fmt.Errorf("authorization header value of %s: %w", key, err)
		}
		decoded, err := url.PathUnescape(value)
		if err != nil {
			return "", nil, fmt.Errorf("authorization header value of %s is not percent-encoded correctly", key)
		}
		if key == paramRealm {
			realm = decoded
			continue
		}
		params = append(params, Param{Key: key, Value: decoded})
	}
	return realm, params, nil
}

// splitAuthorizationPairs splits s at the commas outside double quotes.
func splitAuthorizationPairs(s string) ([]string, error) {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if quoted {
		return nil, errors.New("authorization header has an unterminated quoted value")
	}
	return append(parts, s[start:]), nil
}

// unquoteAuthorizationValue removes the double quotes around v. A quote
// anywhere else is an error.
func unquoteAuthorizationValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, `"`) {
		return "", errors.New("stray double quote")
	}
	return v, nil
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110, 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// RSASHA256Signer signs LST requests with RSASSA-PKCS1-v1_5 over SHA-256.
// It implements oauth1.Signer; the key argument of Sign is unused because
// the private signature key is held by the signer.
type RSASHA256Signer struct {
	PrivateKey *rsa.PrivateKey
}

var _ oauth1.Signer = (*RSASHA256Signer)(nil)

// Name returns "RSA-SHA256".
func (s *RSASHA256Signer) Name() string { return MethodRSASHA256 }

// Sign returns the standard base64 of the signature of message.
func (s *RSASHA256Signer) Sign(_ string, message string) (string, error) {
	digest := sha256.Sum256([]byte(message))
	sig, err := rsa.SignPKCS1v15(nil, s.PrivateKey, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("ibclient: RSA-SHA256 signing failed: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// LSTSigner signs ordinary requests with HMAC-SHA256 keyed by the live
// session token. It implements oauth1.Signer; the key argument of Sign is
// the LST in base64, as IB returns it.
type LSTSigner struct{}

var _ oauth1.Signer = LSTSigner{}

// Name returns "HMAC-SHA256".
func (LSTSigner) Name() string { return MethodHMACSHA256 }

// Sign returns the standard base64 of HMAC-SHA256(base64decode(key), message).
func (LSTSigner) Sign(key string, message string) (string, error) {
	lst, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return "", errors.New("ibclient: live session token is not valid base64")
	}
	return base64.StdEncoding.EncodeToString(hmacSHA256(lst, message)), nil
}

func hmacSHA256(key []byte, message string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
