package ibsim_test

// This file is a client of the simulator written from IB's published
// rules with the standard library only, so that the simulator is checked
// against something other than ibdash's own client. It must not import
// package ibclient.

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// percentEncode is RFC 3986 encoding: only A-Z a-z 0-9 - . _ ~ stay, and
// hex digits are upper case.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// stdlibBaseString joins the sorted k=v pairs from raw values and encodes
// the whole string once, as IB does.
func stdlibBaseString(prepend, method, signedURL string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + params[k]
	}
	return prepend + method + "&" + percentEncode(signedURL) + "&" + percentEncode(strings.Join(pairs, "&"))
}

func stdlibHeader(realm string, params map[string]string, signature string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{`realm="` + realm + `"`}
	for _, k := range keys {
		parts = append(parts, k+`="`+params[k]+`"`)
	}
	parts = append(parts, `oauth_signature="`+percentEncode(signature)+`"`)
	return "OAuth " + strings.Join(parts, ", ")
}

func stdlibNonce(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func stdlibPrivateKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readFile(t, name))
	if block == nil {
		t.Fatalf("%s has no PEM block", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(*rsa.PrivateKey)
}

func TestStandardLibraryClient(t *testing.T) {
	const consumerKey = "STDLIBKEY"
	clock := ibsim.NewManualClock(testStart)
	sim := ibsim.New(ibsim.Options{Clock: clock, BridgeDelay: -1})
	ts := httptest.NewServer(sim)
	defer ts.Close()

	// The server gets what a user uploads to the portal.
	cons, err := ibsim.NewConsumer(consumerKey, readFile(t, "public_signature.pem"), readFile(t, "public_encryption.pem"), readFile(t, "dhparam.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddConsumer(*cons); err != nil {
		t.Fatal(err)
	}
	access, err := sim.IssueAccessToken(consumerKey)
	if err != nil {
		t.Fatal(err)
	}

	// Client side: decrypt the secret, as shown by the portal.
	ciphertext, err := base64.StdEncoding.DecodeString(access.EncryptedSecret)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := rsa.DecryptPKCS1v15(nil, stdlibPrivateKey(t, "private_encryption.pem"), ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	var dh struct{ P, G *big.Int }
	dhBlock, _ := pem.Decode(readFile(t, "dhparam.pem"))
	if _, err := asn1.Unmarshal(dhBlock.Bytes, &dh); err != nil {
		t.Fatal(err)
	}

	// The LST request.
	aBytes := make([]byte, 32)
	if _, err := rand.Read(aBytes); err != nil {
		t.Fatal(err)
	}
	a := new(big.Int).SetBytes(aBytes)
	lstURL := ts.URL + "/v1/api/oauth/live_session_token"
	params := map[string]string{
		"diffie_hellman_challenge": new(big.Int).Exp(dh.G, a, dh.P).Text(16),
		"oauth_consumer_key":       consumerKey,
		"oauth_nonce":              stdlibNonce(t),
		"oauth_signature_method":   "RSA-SHA256",
		"oauth_timestamp":          strconv.FormatInt(clock.Now().Unix(), 10),
		"oauth_token":              access.Token,
	}
	base := stdlibBaseString(hex.EncodeToString(secret), "POST", lstURL, params)
	digest := sha256.Sum256([]byte(base))
	rsaSig, err := rsa.SignPKCS1v15(nil, stdlibPrivateKey(t, "private_signature.pem"), crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", lstURL, nil)
	req.Header.Set("Authorization", stdlibHeader("limited_poa", params, base64.StdEncoding.EncodeToString(rsaSig)))
	req.Header.Set("User-Agent", "stdlib-client/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("LST request: status %d, body %s", resp.StatusCode, body)
	}
	var lstResp struct {
		DHResponse string `json:"diffie_hellman_response"`
		Signature  string `json:"live_session_token_signature"`
		Expiration int64  `json:"live_session_token_expiration"`
	}
	if err := json.Unmarshal(body, &lstResp); err != nil {
		t.Fatal(err)
	}

	// K = B^a mod p, as Java's BigInteger.toByteArray bytes.
	b, ok := new(big.Int).SetString(lstResp.DHResponse, 16)
	if !ok {
		t.Fatalf("diffie_hellman_response %q is not hex", lstResp.DHResponse)
	}
	k := new(big.Int).Exp(b, a, dh.P).Bytes()
	if k[0]&0x80 != 0 {
		k = append([]byte{0}, k...)
	}
	mac := hmac.New(sha1.New, k)
	mac.Write(secret)
	lst := mac.Sum(nil)
	check := hmac.New(sha1.New, lst)
	check.Write([]byte(consumerKey))
	if got := hex.EncodeToString(check.Sum(nil)); got != lstResp.Signature {
		t.Fatalf("LST signature %s, server sent %s", got, lstResp.Signature)
	}
	if lstResp.Expiration != testStart.Add(ibsim.DefaultLSTLifetime).UnixMilli() {
		t.Errorf("expiration %d ms is not 24 h after the clock", lstResp.Expiration)
	}

	// Protected requests, signed both ways.
	signed := func(method, rawURL string, signQuery bool) (int, []byte) {
		t.Helper()
		u, _ := url.Parse(rawURL)
		oauth := map[string]string{
			"oauth_consumer_key":     consumerKey,
			"oauth_nonce":            stdlibNonce(t),
			"oauth_signature_method": "HMAC-SHA256",
			"oauth_timestamp":        strconv.FormatInt(clock.Now().Unix(), 10),
			"oauth_token":            access.Token,
		}
		all := map[string]string{}
		for k, v := range oauth {
			all[k] = v
		}
		if signQuery {
			for k, v := range u.Query() {
				all[k] = v[0]
			}
		}
		plainURL := u.Scheme + "://" + u.Host + u.Path
		h := hmac.New(sha256.New, lst)
		h.Write([]byte(stdlibBaseString("", method, plainURL, all)))
		req, _ := http.NewRequest(method, rawURL, nil)
		req.Header.Set("Authorization", stdlibHeader("limited_poa", oauth, base64.StdEncoding.EncodeToString(h.Sum(nil))))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}

	status, data := signed("GET", ts.URL+"/v1/api/iserver/auth/status", false)
	if status != 200 || !strings.Contains(string(data), `"authenticated":false`) {
		t.Fatalf("auth status: status %d, body %s", status, data)
	}
	if status, data := signed("POST", ts.URL+"/v1/api/iserver/auth/ssodh/init?publish=true&compete=true", true); status != 200 {
		t.Fatalf("ssodh/init: status %d, body %s", status, data)
	}
	if status, data := signed("GET", ts.URL+"/v1/api/iserver/auth/status", false); status != 200 || !strings.Contains(string(data), `"authenticated":true`) {
		t.Fatalf("auth status after init: status %d, body %s", status, data)
	}
	if status, data := signed("GET", ts.URL+"/v1/api/iserver/secdef/search?symbol=SPY&secType=STK", true); status != 200 {
		t.Errorf("search signed with its query: status %d, body %s", status, data)
	}
}

// TestStandardLibraryClientImports keeps this file to the standard
// library and the simulator.
func TestStandardLibraryClientImports(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "stdlib_client_test.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(path, ".") && path != "github.com/ibdash/ibdash/ibclient/ibsim" {
			t.Errorf("stdlib_client_test.go imports %s", path)
		}
	}
}
