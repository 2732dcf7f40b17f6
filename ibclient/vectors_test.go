package ibclient

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The vectors were computed by an independent implementation (ibind);
// testdata/ibkr-oauth/README.txt says how.
const vectorDir = "testdata/ibkr-oauth"

type lstCase struct {
	Name           string `json:"name"`
	ClientDHRandom string `json:"client_dh_random_hex"`
	ServerDHExp    string `json:"server_dh_exponent_hex"`
	Nonce          string `json:"oauth_nonce"`
	Timestamp      string `json:"oauth_timestamp"`
	DHChallenge    string `json:"dh_challenge_hex"`
	DHChallengeLen int    `json:"dh_challenge_hex_length"`
	Request        struct {
		URL                      string            `json:"url"`
		Params                   map[string]string `json:"oauth_params_in_header_and_base_string"`
		BaseString               string            `json:"signature_base_string"`
		BaseStringWithoutPrepend string            `json:"signature_base_string_without_prepend"`
		SignatureBase64          string            `json:"oauth_signature_base64"`
		SignatureURLEncoded      string            `json:"oauth_signature_urlencoded"`
		Authorization            string            `json:"authorization_header"`
	} `json:"request"`
	Server struct {
		KHex       string `json:"K_hex"`
		KBitLength int    `json:"K_bit_length"`
		KBytesHex  string `json:"K_bytes_hmac_key_hex"`
		KBytesLen  int    `json:"K_bytes_hmac_key_length"`
		Response   struct {
			DHResponse string `json:"diffie_hellman_response"`
			Signature  string `json:"live_session_token_signature"`
			Expiration int64  `json:"live_session_token_expiration"`
		} `json:"response_json"`
		LSTBase64 string `json:"live_session_token_b64"`
		LSTHex    string `json:"live_session_token_hex"`
	} `json:"server"`
	ClientResult struct {
		LSTBase64 string `json:"live_session_token_b64"`
	} `json:"client_result"`
	Negative struct {
		WrongPrefix string `json:"K_bytes_wrong_encoding_hex_prefix"`
		WrongLength int    `json:"K_bytes_wrong_encoding_length"`
		WrongLST    string `json:"live_session_token_with_wrong_K_encoding_b64"`
	} `json:"negative"`
}

type signedCase struct {
	Name                string            `json:"name"`
	Method              string            `json:"method"`
	URLSigned           string            `json:"url_signed"`
	URLOnTheWire        string            `json:"url_on_the_wire"`
	QueryParams         map[string]string `json:"query_params"`
	QueryInBase         bool              `json:"query_params_in_base_string"`
	LSTBase64           string            `json:"live_session_token_b64"`
	Nonce               string            `json:"oauth_nonce"`
	Timestamp           string            `json:"oauth_timestamp"`
	BaseString          string            `json:"signature_base_string"`
	SignatureBase64     string            `json:"oauth_signature_base64"`
	SignatureURLEncoded string            `json:"oauth_signature_urlencoded"`
	Authorization       string            `json:"authorization_header"`
}

type vectorFile struct {
	Inputs struct {
		ConsumerKey        string `json:"consumer_key"`
		AccessToken        string `json:"access_token"`
		Realm              string `json:"realm"`
		EncryptedSecretB64 string `json:"access_token_secret_encrypted_b64"`
		DHPrimeHex         string `json:"dh_prime_hex"`
		DHGenerator        int64  `json:"dh_generator"`
		BaseURL            string `json:"base_url"`
	} `json:"inputs"`
	Secret struct {
		DecryptedHex string `json:"decrypted_secret_hex"`
		Prepend      string `json:"prepend"`
	} `json:"access_token_secret"`
	LSTCases       []lstCase    `json:"live_session_token_cases"`
	SignedRequests []signedCase `json:"signed_requests"`
	RealmVariant   struct {
		Realm         string `json:"realm"`
		BasedOn       string `json:"based_on"`
		Authorization string `json:"authorization_header"`
	} `json:"realm_variant"`
}

func loadVectors(t testing.TB) *vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("vectors.json: %v", err)
	}
	if len(v.LSTCases) != 4 || len(v.SignedRequests) != 6 {
		t.Fatalf("vectors.json has %d LST cases and %d signed requests, want 4 and 6", len(v.LSTCases), len(v.SignedRequests))
	}
	return &v
}

// vectorConsumer loads the consumer of the vectors from the openssl files.
func vectorConsumer(t testing.TB, v *vectorFile) *Consumer {
	t.Helper()
	sigKey, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_encryption.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dh, err := LoadDHParams(filepath.Join(vectorDir, "dhparam.pem"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := os.ReadFile(filepath.Join(vectorDir, "access_token_secret_encrypted.b64"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := DecryptAccessTokenSecret(string(encrypted), encKey, "private_encryption.pem")
	if err != nil {
		t.Fatal(err)
	}
	return &Consumer{
		ConsumerKey:  v.Inputs.ConsumerKey,
		AccessToken:  v.Inputs.AccessToken,
		Realm:        v.Inputs.Realm,
		Secret:       secret,
		SignatureKey: sigKey,
		DH:           dh,
	}
}

func hexInt(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("not hex: %.20s", s)
	}
	return n
}

func TestVectorInputs(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)

	if got := hex.EncodeToString(c.Secret); got != v.Secret.DecryptedHex {
		t.Errorf("decrypted secret = %s, want %s", got, v.Secret.DecryptedHex)
	}
	if got := c.Prepend(); got != v.Secret.Prepend {
		t.Errorf("prepend = %s, want %s", got, v.Secret.Prepend)
	}
	if got := c.DH.P.Text(16); got != v.Inputs.DHPrimeHex {
		t.Errorf("dh prime = %.16s..., want %.16s...", got, v.Inputs.DHPrimeHex)
	}
	if got := c.DH.G.Int64(); got != v.Inputs.DHGenerator {
		t.Errorf("dh generator = %d, want %d", got, v.Inputs.DHGenerator)
	}
	encrypted, _ := os.ReadFile(filepath.Join(vectorDir, "access_token_secret_encrypted.b64"))
	if strings.TrimSpace(string(encrypted)) != v.Inputs.EncryptedSecretB64 {
		t.Error("access_token_secret_encrypted.b64 differs from vectors.json")
	}
}

func TestVectorLSTRequests(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)

	for _, tc := range v.LSTCases {
		t.Run(tc.Name, func(t *testing.T) {
			random, err := hex.DecodeString(padEven(tc.ClientDHRandom))
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewDHExponent(bytes.NewReader(leftPad(random, DHExponentBits/8)))
			if err != nil {
				t.Fatal(err)
			}
			if a.Cmp(hexInt(t, tc.ClientDHRandom)) != 0 {
				t.Fatalf("exponent from injected randomness = %x, want %s", a, tc.ClientDHRandom)
			}

			challenge := DHChallenge(c.DH, a)
			if challenge != tc.DHChallenge {
				t.Errorf("challenge = %.24s..., want %.24s...", challenge, tc.DHChallenge)
			}
			if len(challenge) != tc.DHChallengeLen {
				t.Errorf("challenge length = %d, want %d", len(challenge), tc.DHChallengeLen)
			}

			req, err := BuildLSTRequest(c, tc.Request.URL, a, tc.Nonce, tc.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range req.Params {
				if want := tc.Request.Params[p.Key]; p.Value != want {
					t.Errorf("param %s = %.24s, want %.24s", p.Key, p.Value, want)
				}
			}
			if len(req.Params) != len(tc.Request.Params) {
				t.Errorf("%d params, want %d", len(req.Params), len(tc.Request.Params))
			}
			if req.BaseString != tc.Request.BaseString {
				t.Errorf("base string differs:\n got %.120s\nwant %.120s", req.BaseString, tc.Request.BaseString)
			}
			if !strings.HasSuffix(req.BaseString, tc.Request.BaseStringWithoutPrepend) {
				t.Error("base string does not end with the base string without prepend")
			}
			if req.Signature != tc.Request.SignatureBase64 {
				t.Error("RSA-SHA256 signature differs from the vector")
			}
			if req.Authorization != tc.Request.Authorization {
				t.Errorf("authorization header differs:\n got %.150s\nwant %.150s", req.Authorization, tc.Request.Authorization)
			}
			if !strings.Contains(req.Authorization, `oauth_signature="`+tc.Request.SignatureURLEncoded+`"`) {
				t.Error("header does not carry the percent-encoded signature")
			}
		})
	}
}

func TestVectorLSTDerivation(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)

	for _, tc := range v.LSTCases {
		t.Run(tc.Name, func(t *testing.T) {
			a := hexInt(t, tc.ClientDHRandom)
			b := hexInt(t, tc.ServerDHExp)

			k := new(big.Int).Exp(hexInt(t, tc.Server.Response.DHResponse), a, c.DH.P)
			if k.Text(16) != tc.Server.KHex {
				t.Fatalf("K = B^a differs from the vector")
			}
			if k.BitLen() != tc.Server.KBitLength {
				t.Errorf("K bit length = %d, want %d", k.BitLen(), tc.Server.KBitLength)
			}
			serverK := new(big.Int).Exp(hexInt(t, tc.DHChallenge), b, c.DH.P)
			if serverK.Cmp(k) != 0 {
				t.Error("A^b differs from B^a")
			}
			serverB := new(big.Int).Exp(c.DH.G, b, c.DH.P)
			if serverB.Text(16) != tc.Server.Response.DHResponse {
				t.Error("g^b differs from diffie_hellman_response")
			}

			kBytes := JavaBigIntBytes(k)
			if hex.EncodeToString(kBytes) != tc.Server.KBytesHex {
				t.Error("Java-style K bytes differ from the vector")
			}
			if len(kBytes) != tc.Server.KBytesLen {
				t.Errorf("K bytes length = %d, want %d", len(kBytes), tc.Server.KBytesLen)
			}

			lst, err := CompleteLST(c, a, tc.Server.Response.DHResponse, tc.Server.Response.Signature, tc.Server.Response.Expiration)
			if err != nil {
				t.Fatal(err)
			}
			if lst.Base64() != tc.ClientResult.LSTBase64 || lst.Base64() != tc.Server.LSTBase64 {
				t.Error("LST differs from the vector")
			}
			if hex.EncodeToString(lst.token) != tc.Server.LSTHex {
				t.Error("LST hex differs from the vector")
			}
			if got := LSTSignature(lst.token, c.ConsumerKey); got != tc.Server.Response.Signature {
				t.Errorf("LST signature = %s, want %s", got, tc.Server.Response.Signature)
			}
			if !lst.Expires.Equal(time.UnixMilli(tc.Server.Response.Expiration)) {
				t.Errorf("expiry = %v, want %d ms", lst.Expires, tc.Server.Response.Expiration)
			}
		})
	}
}

// TestVectorLSTNegative checks that the K encodings ibind does not use
// give the recorded wrong LSTs, and that CompleteLST rejects them.
func TestVectorLSTNegative(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)

	for _, tc := range v.LSTCases {
		t.Run(tc.Name, func(t *testing.T) {
			k := hexInt(t, tc.Server.KHex)
			wrong := wrongKEncoding(k, tc.Negative.WrongLength)
			if !strings.HasPrefix(hex.EncodeToString(wrong), tc.Negative.WrongPrefix) {
				t.Fatalf("wrong encoding starts %x, want %s", wrong[:4], tc.Negative.WrongPrefix)
			}
			wrongLST := hmacSHA1(wrong, c.Secret)
			if got := b64(wrongLST); got != tc.Negative.WrongLST {
				t.Errorf("wrong-encoding LST = %s, want %s", got, tc.Negative.WrongLST)
			}
			if b64(DeriveLST(k, c.Secret)) == tc.Negative.WrongLST {
				t.Error("DeriveLST produced the wrong-encoding LST")
			}

			badSig := LSTSignature(wrongLST, c.ConsumerKey)
			a := hexInt(t, tc.ClientDHRandom)
			if _, err := CompleteLST(c, a, tc.Server.Response.DHResponse, badSig, tc.Server.Response.Expiration); err == nil {
				t.Error("CompleteLST accepted the signature of a wrong-encoding LST")
			}
		})
	}
}

func TestVectorSignedRequests(t *testing.T) {
	v := loadVectors(t)

	for _, tc := range v.SignedRequests {
		t.Run(tc.Name, func(t *testing.T) {
			lst := vectorLST(t, v, tc.LSTBase64)
			wire, err := url.Parse(tc.URLOnTheWire)
			if err != nil {
				t.Fatal(err)
			}
			if SignedURL(wire) != tc.URLSigned {
				t.Errorf("signed URL = %s, want %s", SignedURL(wire), tc.URLSigned)
			}
			if len(tc.QueryParams) != len(QueryParams(wire)) {
				t.Errorf("query has %d params, want %d", len(QueryParams(wire)), len(tc.QueryParams))
			}

			params := Params{
				{paramConsumerKey, v.Inputs.ConsumerKey},
				{paramNonce, tc.Nonce},
				{paramSignatureMethod, MethodHMACSHA256},
				{paramTimestamp, tc.Timestamp},
				{paramToken, v.Inputs.AccessToken},
			}
			if tc.QueryInBase {
				params = append(params, QueryParams(wire)...)
			}
			base := BaseString("", tc.Method, SignedURL(wire), params)
			if base != tc.BaseString {
				t.Errorf("base string differs:\n got %s\nwant %s", base, tc.BaseString)
			}
			sig, err := LSTSigner{}.Sign(lst.Base64(), base)
			if err != nil {
				t.Fatal(err)
			}
			if sig != tc.SignatureBase64 {
				t.Errorf("signature = %s, want %s", sig, tc.SignatureBase64)
			}

			header, err := SignRequest(tc.Method, wire, lst, tc.Nonce, tc.Timestamp, tc.QueryInBase)
			if err != nil {
				t.Fatal(err)
			}
			if header != tc.Authorization {
				t.Errorf("header differs:\n got %s\nwant %s", header, tc.Authorization)
			}
			if !strings.Contains(header, tc.SignatureURLEncoded) {
				t.Error("header lacks the percent-encoded signature")
			}
		})
	}
}

func TestVectorRealmVariant(t *testing.T) {
	v := loadVectors(t)
	var based *signedCase
	for i := range v.SignedRequests {
		if v.SignedRequests[i].Name == v.RealmVariant.BasedOn {
			based = &v.SignedRequests[i]
		}
	}
	if based == nil {
		t.Fatalf("no signed request named %s", v.RealmVariant.BasedOn)
	}
	lst := vectorLST(t, v, based.LSTBase64)
	lst.Realm = v.RealmVariant.Realm
	wire, _ := url.Parse(based.URLOnTheWire)

	header, err := SignRequest(based.Method, wire, lst, based.Nonce, based.Timestamp, false)
	if err != nil {
		t.Fatal(err)
	}
	if header != v.RealmVariant.Authorization {
		t.Errorf("header differs:\n got %s\nwant %s", header, v.RealmVariant.Authorization)
	}
}

// TestVectorsDetectWrongValues guards the tests above: a single changed
// input must change the outputs they compare.
func TestVectorsDetectWrongValues(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)
	tc := v.LSTCases[0]
	a := hexInt(t, tc.ClientDHRandom)

	req, err := BuildLSTRequest(c, tc.Request.URL, a, tc.Nonce+"x", tc.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if req.BaseString == tc.Request.BaseString || req.Signature == tc.Request.SignatureBase64 {
		t.Error("a changed nonce left the base string or signature unchanged")
	}

	other := *c
	other.Secret = append([]byte{}, c.Secret...)
	other.Secret[0] ^= 1
	if _, err := CompleteLST(&other, a, tc.Server.Response.DHResponse, tc.Server.Response.Signature, tc.Server.Response.Expiration); err == nil {
		t.Error("CompleteLST accepted a wrong secret")
	}

	s := v.SignedRequests[0]
	lst := vectorLST(t, v, s.LSTBase64)
	wire, _ := url.Parse(s.URLOnTheWire)
	header, _ := SignRequest("POST", wire, lst, s.Nonce, s.Timestamp, false)
	if header == s.Authorization {
		t.Error("a changed method left the header unchanged")
	}
}

func vectorLST(t testing.TB, v *vectorFile, lstB64 string) *LiveSessionToken {
	t.Helper()
	raw, err := decodeB64(lstB64)
	if err != nil {
		t.Fatal(err)
	}
	return NewLiveSessionToken(v.Inputs.ConsumerKey, v.Inputs.AccessToken, v.Inputs.Realm, raw, time.Time{})
}

// wrongKEncoding gives K as exactly n big-endian bytes: zero-padded or
// with a 0x00 added or dropped, the mistakes IB's form guards against.
func wrongKEncoding(k *big.Int, n int) []byte {
	b := k.Bytes()
	if len(b) >= n {
		return b[len(b)-n:]
	}
	return leftPad(b, n)
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

func padEven(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}

// TestCompleteLSTRejectsBadResponses feeds CompleteLST the malformed LST
// responses a broken or hostile server could send.
func TestCompleteLSTRejectsBadResponses(t *testing.T) {
	v := loadVectors(t)
	c := vectorConsumer(t, v)
	tc := v.LSTCases[0]
	a := hexInt(t, tc.ClientDHRandom)
	good := tc.Server.Response
	pMinus1 := new(big.Int).Sub(c.DH.P, big.NewInt(1))

	cases := []struct {
		name       string
		dhResponse string
		signature  string
		expiration int64
		want       string
	}{
		{"empty B", "", good.Signature, good.Expiration, "not a positive hex integer"},
		{"B not hex", "xyz", good.Signature, good.Expiration, `"xyz" is not a positive hex integer`},
		{"B zero", "0", good.Signature, good.Expiration, "not a positive hex integer"},
		{"B negative", "-5", good.Signature, good.Expiration, "not a positive hex integer"},
		{"B one", "1", good.Signature, good.Expiration, "outside (1, p-1)"},
		{"B p-1", pMinus1.Text(16), good.Signature, good.Expiration, "outside (1, p-1)"},
		{"B p", c.DH.P.Text(16), good.Signature, good.Expiration, "outside (1, p-1)"},
		{"signature missing", good.DHResponse, "", good.Expiration, "does not match live_session_token_signature"},
		{"signature wrong", good.DHResponse, strings.Repeat("0", 40), good.Expiration, "does not match live_session_token_signature"},
		{"expiration missing", good.DHResponse, good.Signature, 0, "is not a time in ms"},
	}
	for _, bad := range cases {
		t.Run(bad.name, func(t *testing.T) {
			lst, err := CompleteLST(c, a, bad.dhResponse, bad.signature, bad.expiration)
			if err == nil {
				t.Fatalf("accepted; LST %s", lst)
			}
			if !strings.Contains(err.Error(), bad.want) {
				t.Errorf("error %q does not say %q", err, bad.want)
			}
			if strings.Contains(err.Error(), c.Prepend()[:16]) {
				t.Error("error contains the access token secret")
			}
		})
	}

	// The recorded response itself passes, so the cases above fail for
	// their one change.
	if _, err := CompleteLST(c, a, good.DHResponse, strings.ToUpper(good.Signature), good.Expiration); err != nil {
		t.Errorf("recorded response with an upper-case signature: %v", err)
	}
}

func TestNewDHExponentRejectsZeros(t *testing.T) {
	_, err := NewDHExponent(bytes.NewReader(make([]byte, 8*DHExponentBits/8)))
	if err == nil || !strings.Contains(err.Error(), "only zeros") {
		t.Errorf("all-zero randomness: error %v, want one saying it returned only zeros", err)
	}
	_, err = NewDHExponent(bytes.NewReader(make([]byte, 5)))
	if err == nil || !strings.Contains(err.Error(), "reading DH randomness") {
		t.Errorf("short randomness: error %v, want a read error", err)
	}
}
