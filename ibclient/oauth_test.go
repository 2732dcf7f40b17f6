package ibclient

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseAuthorizationHeaderForms(t *testing.T) {
	headers := []string{
		`OAuth realm="limited_poa", oauth_consumer_key="ABC", oauth_nonce="n1", oauth_signature="a%2Bb%3D"`,
		`OAuth oauth_nonce="n1",realm=limited_poa,oauth_signature=a%2Bb%3D, oauth_consumer_key="ABC"`,
		`oauth oauth_consumer_key=ABC, oauth_signature="a%2Bb%3D", realm="limited_poa", oauth_nonce=n1`,
	}
	for _, h := range headers {
		realm, params, err := ParseAuthorizationHeader(h)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if realm != "limited_poa" {
			t.Errorf("%s: realm = %q", h, realm)
		}
		if params.Get("oauth_signature") != "a+b=" {
			t.Errorf("%s: signature = %q, want it percent-decoded", h, params.Get("oauth_signature"))
		}
		if params.Get("oauth_consumer_key") != "ABC" || params.Get("oauth_nonce") != "n1" {
			t.Errorf("%s: params = %v", h, params)
		}
	}
}

func TestParseAuthorizationHeaderRejects(t *testing.T) {
	for _, h := range []string{"", "Bearer abc", `OAuth realm`, `OAuth a="%zz"`} {
		if _, _, err := ParseAuthorizationHeader(h); err == nil {
			t.Errorf("%q was accepted", h)
		}
	}
}

func TestSignedURL(t *testing.T) {
	cases := map[string]string{
		"https://API.ibkr.com:443/v1/api/tickle?x=1": "https://api.ibkr.com/v1/api/tickle",
		"http://127.0.0.1:8080/v1/api/tickle":        "http://127.0.0.1:8080/v1/api/tickle",
		"http://[::1]:80/v1/api":                     "http://[::1]/v1/api",
		"https://api.ibkr.com":                       "https://api.ibkr.com/",
	}
	for in, want := range cases {
		u, _ := url.Parse(in)
		if got := SignedURL(u); got != want {
			t.Errorf("SignedURL(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzAuthorizationHeaderRoundTrip(f *testing.F) {
	f.Add("limited_poa", "IBTESTKEY", "9f3c1e7a5b2d4f6081ac", "nonce01", "1735689600", "DjUqjoskjKm8EiBLXU7/LpJXpSRriEmv6484fx/4A3o=")
	f.Add("test_realm", "TESTCONS", "tok", "n", "1", "+/=")
	f.Fuzz(func(t *testing.T, realm, key, token, nonce, ts, sig string) {
		// Header values other than the signature are not escaped, so the
		// round trip holds for IB's character set: unreserved characters.
		for _, s := range []string{realm, key, token, nonce, ts} {
			if s == "" || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
				return
			}
		}
		params := Params{{paramConsumerKey, key}, {paramToken, token}, {paramNonce, nonce}, {paramTimestamp, ts}}
		header := AuthorizationHeader(realm, params, sig)
		gotRealm, got, err := ParseAuthorizationHeader(header)
		if err != nil {
			t.Fatalf("parsing %q: %v", header, err)
		}
		if gotRealm != realm {
			t.Fatalf("realm %q, want %q", gotRealm, realm)
		}
		if got.Get(paramSignature) != sig {
			t.Fatalf("signature %q, want %q", got.Get(paramSignature), sig)
		}
		for _, p := range params {
			if got.Get(p.Key) != p.Value {
				t.Fatalf("%s = %q, want %q", p.Key, got.Get(p.Key), p.Value)
			}
		}
	})
}

func FuzzParseAuthorizationHeader(f *testing.F) {
	f.Add(`OAuth realm="limited_poa", oauth_consumer_key="ABC"`)
	f.Add(`OAuth ,,,=,"`)
	f.Fuzz(func(t *testing.T, header string) {
		_, params, err := ParseAuthorizationHeader(header)
		if err != nil && params != nil {
			t.Fatal("params returned with an error")
		}
	})
}
