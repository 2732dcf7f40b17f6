package ibsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// vectorDir holds the openssl-made keys of the known-answer vectors.
const vectorDir = "../testdata/ibkr-oauth"

// testStart is a Tuesday 10:00 America/New_York, inside market hours and
// away from every reset.
var testStart = time.Date(2025, 8, 5, 14, 0, 0, 0, time.UTC)

const vectorKey = "IBTESTKEY"

// logBuffer collects the simulator's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requests returns the "request" log lines as maps.
func (b *logBuffer) requests(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// lastRequest returns the last request log line.
func (b *logBuffer) lastRequest(t *testing.T) map[string]any {
	t.Helper()
	reqs := b.requests(t)
	if len(reqs) == 0 {
		t.Fatal("no request was logged")
	}
	return reqs[len(reqs)-1]
}

// env is a simulator behind httptest with a manual clock and the vector
// consumer registered.
type env struct {
	t      testing.TB
	sim    *ibsim.Server
	http   *httptest.Server
	clock  *ibsim.ManualClock
	logs   *logBuffer
	base   string // http://127.0.0.1:PORT/v1/api
	vector *ibclient.Consumer
}

func newEnv(t testing.TB, opts ibsim.Options) *env {
	t.Helper()
	clock := ibsim.NewManualClock(testStart)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	sim := ibsim.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)

	e := &env{t: t, sim: sim, http: ts, clock: clock, logs: logs, base: ts.URL + "/v1/api"}
	e.vector = loadVectorConsumer(t)
	e.addVectorConsumer(ibsim.ActivationActive)
	return e
}

func loadVectorConsumer(t testing.TB) *ibclient.Consumer {
	t.Helper()
	sigKey, err := ibclient.LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := ibclient.LoadRSAPrivateKey(filepath.Join(vectorDir, "private_encryption.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dh, err := ibclient.LoadDHParams(filepath.Join(vectorDir, "dhparam.pem"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := os.ReadFile(filepath.Join(vectorDir, "access_token_secret_encrypted.b64"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := ibclient.DecryptAccessTokenSecret(string(encrypted), encKey, "private_encryption.pem")
	if err != nil {
		t.Fatal(err)
	}
	return &ibclient.Consumer{
		ConsumerKey: vectorKey, AccessToken: "9f3c1e7a5b2d4f6081ac", Realm: ibclient.RealmLimitedPOA,
		Secret: secret, SignatureKey: sigKey, DH: dh,
	}
}

// addVectorConsumer registers the vector consumer and its token.
func (e *env) addVectorConsumer(activation ibsim.Activation) {
	e.t.Helper()
	cons, err := ibsim.NewConsumer(vectorKey, readFile(e.t, "public_signature.pem"), readFile(e.t, "public_encryption.pem"), readFile(e.t, "dhparam.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	cons.Activation = activation
	if err := e.sim.AddConsumer(*cons); err != nil {
		e.t.Fatal(err)
	}
	err = e.sim.AddAccessToken(ibsim.AccessToken{Token: e.vector.AccessToken, ConsumerKey: vectorKey, Secret: e.vector.Secret})
	if err != nil {
		e.t.Fatal(err)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// client is an ibdash client of the simulator for one consumer.
type client struct {
	e         *env
	consumer  *ibclient.Consumer
	lst       *ibclient.LiveSessionToken
	signQuery bool
}

func (e *env) client(c *ibclient.Consumer) *client {
	return &client{e: e, consumer: c}
}

// login runs the LST handshake and fails the test if it fails.
func (c *client) login() {
	c.e.t.Helper()
	lst, err := c.tryLogin()
	if err != nil {
		c.e.t.Fatalf("LST handshake for %s: %v", c.consumer.ConsumerKey, err)
	}
	c.lst = lst
}

func (c *client) tryLogin() (*ibclient.LiveSessionToken, error) {
	base, _ := url.Parse(c.e.base)
	auth := &ibclient.Authenticator{Consumer: c.consumer, BaseURL: base, HTTP: c.e.http.Client(), Now: c.e.clock.Now}
	return auth.LiveSessionToken(context.Background())
}

// do sends a signed request and returns the status and body. body, when
// not nil, is sent as JSON.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.e.t.Helper()
	resp, err := c.send(method, path, body)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, data
}

func (c *client) send(method, path string, body any) (*http.Response, error) {
	return c.sendWith(c.e.http.Client(), method, path, body)
}

func (c *client) sendWith(hc *http.Client, method, path string, body any) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			c.e.t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.e.base+path, reader)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	transport := &ibclient.Transport{Base: hc.Transport, Source: ibclient.StaticToken{LST: c.lst}, SignQuery: c.signQuery, Now: c.e.clock.Now}
	return (&http.Client{Transport: transport, Timeout: hc.Timeout}).Do(req)
}

// decode sends a signed request, checks the status and decodes the JSON.
func (c *client) decode(method, path string, body any, wantStatus int, out any) {
	c.e.t.Helper()
	status, data := c.do(method, path, body)
	if status != wantStatus {
		c.e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.e.t.Fatalf("%s %s: body is not the expected JSON: %v; body %s", method, path, err, data)
		}
	}
}

// startSession logs in, runs ssodh/init, waits out the bridge delay on
// the manual clock and primes /iserver/accounts.
func (c *client) startSession() {
	c.e.t.Helper()
	if c.lst == nil {
		c.login()
	}
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": true}, 200, nil)
	c.e.clock.Advance(ibsim.DefaultBridgeDelay)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
}

// errorText returns the "error" field of an IB error body.
func errorText(t *testing.T, body []byte) string {
	t.Helper()
	var eb struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	return eb.Error
}

// envelopeText returns the text after "id: N, error: " and checks the
// envelope's form.
func envelopeText(t *testing.T, status int, body []byte) (id, text string) {
	t.Helper()
	var eb struct {
		Error      string `json:"error"`
		StatusCode int    `json:"statusCode"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	if eb.StatusCode != status {
		t.Errorf("statusCode %d differs from HTTP status %d", eb.StatusCode, status)
	}
	id, text = ibclient.ParseEnvelope(eb.Error)
	if id == "" {
		t.Errorf("error %q lacks the id: N prefix", eb.Error)
	}
	return id, text
}
