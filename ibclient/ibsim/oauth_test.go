package ibsim_test

import (
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// lstRequest builds a signed LST request header for consumer c.
func (e *env) lstHeader(c *ibclient.Consumer, nonce string, timestamp int64) string {
	e.t.Helper()
	req, err := ibclient.BuildLSTRequest(c, e.base+"/oauth/live_session_token", big.NewInt(0x1b5e1b5e), nonce, strconv.FormatInt(timestamp, 10))
	if err != nil {
		e.t.Fatal(err)
	}
	return req.Authorization
}

// postLST sends an LST request with the given Authorization header.
func (e *env) postLST(header string) (int, []byte) {
	e.t.Helper()
	resp, body := sendRecorded(e.t, e, "POST", e.base+"/oauth/live_session_token", header, nil)
	return resp.StatusCode, body
}

// wantEnvelope checks a 401 envelope whose text starts with prefix.
func wantEnvelope(t *testing.T, status int, body []byte, prefix string) {
	t.Helper()
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401; body %s", status, body)
	}
	if _, text := envelopeText(t, status, body); !strings.HasPrefix(text, prefix) {
		t.Errorf("error text = %q, want it to start with %q", text, prefix)
	}
}

func TestLSTHandshakeSucceeds(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	if !c.lst.Expires.Equal(testStart.Add(ibsim.DefaultLSTLifetime)) {
		t.Errorf("LST expires %v, want 24 h after the clock", c.lst.Expires)
	}
	var status map[string]any
	c.decode("GET", "/iserver/auth/status", nil, 200, &status)
	if status["authenticated"] != false {
		t.Errorf("authenticated = %v before ssodh/init, want false", status["authenticated"])
	}
	if line := e.logs.lastRequest(t); line["consumer"] != vectorKey || line["signing"] != "HMAC-SHA256 V1" {
		t.Errorf("log line = %v, want consumer %s signed with V1", line, vectorKey)
	}
}

func TestLSTInvalidConsumer(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	cases := map[string]string{
		"unknown":    "NOSUCHKEY",
		"lower case": strings.ToLower(vectorKey),
	}
	for name, key := range cases {
		t.Run(name, func(t *testing.T) {
			c := *e.vector
			c.ConsumerKey = key
			status, body := e.postLST(e.lstHeader(&c, "nonce-"+name, e.clock.Now().Unix()))
			wantEnvelope(t, status, body, "invalid consumer")
		})
	}
}

func TestLSTPendingConsumerActivates(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	if err := e.sim.SetActivation(vectorKey, ibsim.ActivationPending, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client(e.vector).tryLogin()
	if !ibclient.IsKind(err, ibclient.KindInvalidConsumer) {
		t.Fatalf("pending consumer: error %v, want invalid consumer", err)
	}

	// testStart is a Tuesday; the key turns active at Saturday 03:00 ET.
	activation := ibclient.NextWeekendMaintenance(testStart).End
	e.clock.Set(activation.Add(-time.Second))
	if _, err := e.client(e.vector).tryLogin(); !ibclient.IsKind(err, ibclient.KindInvalidConsumer) {
		t.Fatalf("one second before activation: error %v, want invalid consumer", err)
	}
	e.clock.Set(activation)
	if _, err := e.client(e.vector).tryLogin(); err != nil {
		t.Fatalf("at activation: %v", err)
	}
}

func TestLSTDisabledConsumer(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	if err := e.sim.SetActivation(vectorKey, ibsim.ActivationDisabled, time.Time{}); err != nil {
		t.Fatal(err)
	}
	status, body := e.postLST(e.lstHeader(e.vector, "nonce-disabled", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "invalid consumer")
}

func TestLSTUnknownToken(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := *e.vector
	c.AccessToken = "00000000000000000000"
	status, body := e.postLST(e.lstHeader(&c, "nonce-token", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "LST failed, error: No access secret key found for "+vectorKey)

	e.sim.RevokeAccessToken(e.vector.AccessToken)
	_, err := e.client(e.vector).tryLogin()
	if !ibclient.IsKind(err, ibclient.KindNoAccessSecret) {
		t.Errorf("revoked token: error %v, want no access secret key", err)
	}
}

func TestLSTInvalidSignature(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	encKey, err := ibclient.LoadRSAPrivateKey(vectorDir + "/private_encryption.pem")
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := *e.vector
	wrongKey.SignatureKey = encKey
	status, body := e.postLST(e.lstHeader(&wrongKey, "nonce-key", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "invalid signature")

	wrongSecret := *e.vector
	wrongSecret.Secret = append([]byte{1}, e.vector.Secret[1:]...)
	status, body = e.postLST(e.lstHeader(&wrongSecret, "nonce-prepend", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "invalid signature")
}

func TestLSTRealm(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := *e.vector
	c.Realm = ibclient.RealmTest
	status, body := e.postLST(e.lstHeader(&c, "nonce-realm", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "LST failed, error: realm")

	// TESTCONS is the one consumer whose realm is test_realm.
	testcons := *e.vector
	testcons.ConsumerKey = "TESTCONS"
	testcons.AccessToken = "aaaaaaaaaaaaaaaaaaaa"
	pub, err := ibsim.NewConsumer("TESTCONS", readFile(t, "public_signature.pem"), readFile(t, "public_encryption.pem"), readFile(t, "dhparam.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AddConsumer(*pub); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AddAccessToken(ibsim.AccessToken{Token: testcons.AccessToken, ConsumerKey: "TESTCONS", Secret: testcons.Secret}); err != nil {
		t.Fatal(err)
	}
	testcons.Realm = ibclient.RealmLimitedPOA
	status, body = e.postLST(e.lstHeader(&testcons, "nonce-tc1", e.clock.Now().Unix()))
	wantEnvelope(t, status, body, "LST failed, error: realm")
	testcons.Realm = ibclient.RealmTest
	if status, body := e.postLST(e.lstHeader(&testcons, "nonce-tc2", e.clock.Now().Unix())); status != 200 {
		t.Errorf("TESTCONS with test_realm: status %d, body %s", status, body)
	}

	pub.Key, pub.Realm = "OTHERKEY1", ibclient.RealmTest
	if err := e.sim.AddConsumer(*pub); err == nil {
		t.Error("AddConsumer accepted test_realm for a key other than TESTCONS")
	}
}

func TestLSTInvalidTimestamp(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	now := e.clock.Now().Unix()
	cases := []struct {
		name  string
		stamp int64
	}{
		{"nine digits", 999999999},
		{"milliseconds", now * 1000},
		{"too old", now - int64(ibsim.DefaultTimestampSkew/time.Second) - 1},
		{"too new", now + int64(ibsim.DefaultTimestampSkew/time.Second) + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.postLST(e.lstHeader(e.vector, "nonce-"+tc.name, tc.stamp))
			wantEnvelope(t, status, body, "invalid timestamp")
		})
	}

	if status, body := e.postLST(e.lstHeader(e.vector, "nonce-now", now)); status != 200 {
		t.Fatalf("current timestamp: status %d, body %s", status, body)
	}
	status, body := e.postLST(e.lstHeader(e.vector, "nonce-back", now-1))
	wantEnvelope(t, status, body, "invalid timestamp")
}

func TestLSTNonceReused(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	now := e.clock.Now().Unix()
	if status, body := e.postLST(e.lstHeader(e.vector, "nonce-once", now)); status != 200 {
		t.Fatalf("first use: status %d, body %s", status, body)
	}
	e.clock.Advance(time.Second)
	status, body := e.postLST(e.lstHeader(e.vector, "nonce-once", now+1))
	wantEnvelope(t, status, body, "nonce already used")

	e.clock.Advance(ibsim.DefaultNonceWindow)
	if status, body := e.postLST(e.lstHeader(e.vector, "nonce-once", e.clock.Now().Unix())); status != 200 {
		t.Errorf("after the nonce window: status %d, body %s", status, body)
	}
}

// TestLSTReplayShortNonceWindow replays an LST request after its nonce
// has been forgotten but while its timestamp is still within the skew.
func TestLSTReplayShortNonceWindow(t *testing.T) {
	e := newEnv(t, ibsim.Options{NonceWindow: time.Minute})
	header := e.lstHeader(e.vector, "nonce-replayed", e.clock.Now().Unix())
	if status, body := e.postLST(header); status != 200 {
		t.Fatalf("first use: status %d, body %s", status, body)
	}

	e.clock.Advance(2 * time.Minute)
	status, body := e.postLST(header)
	wantEnvelope(t, status, body, "nonce already used")
}

func TestLSTRequestIDsChange(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := *e.vector
	c.ConsumerKey = "NOSUCHKEY"
	status, body := e.postLST(e.lstHeader(&c, "nonce-a", e.clock.Now().Unix()))
	first, _ := envelopeText(t, status, body)
	status, body = e.postLST(e.lstHeader(&c, "nonce-b", e.clock.Now().Unix()))
	second, _ := envelopeText(t, status, body)
	if first == second {
		t.Errorf("two responses share request id %s", first)
	}
}

// TestLSTHeaderForms checks that pair order and quoting do not matter.
func TestLSTHeaderForms(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	header := e.lstHeader(e.vector, "nonce-forms", e.clock.Now().Unix())
	pairs := strings.Split(strings.TrimPrefix(header, "OAuth "), ", ")
	for i, j := 0, len(pairs)-1; i < j; i, j = i+1, j-1 {
		pairs[i], pairs[j] = pairs[j], pairs[i]
	}
	for i, p := range pairs {
		if strings.HasPrefix(p, "realm=") || strings.HasPrefix(p, "oauth_nonce=") {
			pairs[i] = strings.ReplaceAll(p, `"`, "")
		}
	}
	reordered := "OAuth " + strings.Join(pairs, ",")
	if status, body := e.postLST(reordered); status != 200 {
		t.Errorf("reversed, partly unquoted header: status %d, body %s", status, body)
	}
}

func TestLSTNeedsPOST(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	resp, _ := sendRecorded(t, e, "GET", e.base+"/oauth/live_session_token", e.lstHeader(e.vector, "n", e.clock.Now().Unix()), nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
}

func TestProtectedRequestErrors(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)

	t.Run("no header", func(t *testing.T) {
		resp, body := sendRecorded(t, e, "GET", e.base+"/iserver/auth/status", "", nil)
		wantEnvelope(t, resp.StatusCode, body, "not authenticated")
	})
	t.Run("no LST yet", func(t *testing.T) {
		c.lst = ibclient.NewLiveSessionToken(vectorKey, e.vector.AccessToken, ibclient.RealmLimitedPOA, make([]byte, 20), testStart.Add(time.Hour))
		status, body := c.do("GET", "/iserver/auth/status", nil)
		wantEnvelope(t, status, body, "invalid token")
	})

	c.login()
	t.Run("wrong LST", func(t *testing.T) {
		good := c.lst
		c.lst = ibclient.NewLiveSessionToken(vectorKey, e.vector.AccessToken, ibclient.RealmLimitedPOA, make([]byte, 20), good.Expires)
		defer func() { c.lst = good }()
		status, body := c.do("GET", "/iserver/auth/status", nil)
		wantEnvelope(t, status, body, "invalid signature")
	})
	t.Run("expired LST", func(t *testing.T) {
		e.clock.Advance(ibsim.DefaultLSTLifetime)
		status, body := c.do("GET", "/iserver/auth/status", nil)
		wantEnvelope(t, status, body, "live session token expired")

		c.login()
		if status, body := c.do("GET", "/iserver/auth/status", nil); status != 200 {
			t.Errorf("after a new LST: status %d, body %s", status, body)
		}
	})
	t.Run("ExpireLST", func(t *testing.T) {
		e.sim.ExpireLST(vectorKey)
		status, body := c.do("GET", "/iserver/auth/status", nil)
		wantEnvelope(t, status, body, "live session token expired")
	})
}

func TestProtectedSigningForms(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()

	for _, signQuery := range []bool{false, true} {
		c.signQuery = signQuery
		status, body := c.do("GET", "/iserver/secdef/search?symbol=SPY&secType=STK", nil)
		if status != 200 {
			t.Fatalf("signQuery %v: status %d, body %s", signQuery, status, body)
		}
		want := "HMAC-SHA256 V1"
		if signQuery {
			want = "HMAC-SHA256 V2"
		}
		if got := e.logs.lastRequest(t)["signing"]; got != want {
			t.Errorf("signQuery %v: logged %v, want %s", signQuery, got, want)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	if status, _ := c.do("GET", "/iserver/nothing/here", nil); status != http.StatusNotFound {
		t.Errorf("unknown endpoint: status %d, want 404", status)
	}
	resp, err := e.http.Client().Get(e.http.URL + "/v2/api/tickle")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("outside the prefix: status %d, want 404", resp.StatusCode)
	}
}

func TestLSTInvalidChallenge(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	header := e.lstHeader(e.vector, "nonce-dh", e.clock.Now().Unix())
	start := strings.Index(header, `diffie_hellman_challenge="`) + len(`diffie_hellman_challenge="`)
	end := start + strings.Index(header[start:], `"`)
	pMinus1 := new(big.Int).Sub(e.vector.DH.P, big.NewInt(1))
	for name, challenge := range map[string]string{"one": "1", "not hex": "xyz", "p": e.vector.DH.P.Text(16), "p-1": pMinus1.Text(16)} {
		t.Run(name, func(t *testing.T) {
			status, body := e.postLST(header[:start] + challenge + header[end:])
			wantEnvelope(t, status, body, "LST failed, error: diffie_hellman_challenge")
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, ibsim.Options{PenaltyAfter: 1000})
	c := e.client(e.vector)
	c.startSession()

	const workers, each = 8, 5
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := c.send("GET", "/iserver/auth/status", nil)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(e.logs.requests(t)); got < workers*each {
		t.Errorf("%d requests logged, want at least %d", got, workers*each)
	}
}
