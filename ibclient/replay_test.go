package ibclient_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// These tests fix the clock, the nonce and the DH randomness of the
// Authenticator and the signing Transport to the known-answer vectors,
// send the requests over HTTP to the simulator, and compare what arrived
// with the recorded headers and LSTs.

// ibBaseURL is the base the vectors were signed for. Requests signed for
// it are delivered to the simulator by loopbackTransport; none leaves
// 127.0.0.1.
const ibBaseURL = "https://api.ibkr.com/v1/api"

type replayVectors struct {
	LSTCases []struct {
		Name         string `json:"name"`
		ClientRandom string `json:"client_dh_random_hex"`
		ServerExp    string `json:"server_dh_exponent_hex"`
		Nonce        string `json:"oauth_nonce"`
		Timestamp    string `json:"oauth_timestamp"`
		Request      struct {
			Authorization string `json:"authorization_header"`
		} `json:"request"`
		Server struct {
			Response struct {
				Expiration int64 `json:"live_session_token_expiration"`
			} `json:"response_json"`
		} `json:"server"`
		ClientResult struct {
			LSTBase64 string `json:"live_session_token_b64"`
		} `json:"client_result"`
	} `json:"live_session_token_cases"`
	SignedRequests []struct {
		Name          string  `json:"name"`
		Method        string  `json:"method"`
		URLOnTheWire  string  `json:"url_on_the_wire"`
		QueryInBase   bool    `json:"query_params_in_base_string"`
		Body          *string `json:"body_as_requests_would_send_it"`
		LSTBase64     string  `json:"live_session_token_b64"`
		Nonce         string  `json:"oauth_nonce"`
		Timestamp     string  `json:"oauth_timestamp"`
		Authorization string  `json:"authorization_header"`
	} `json:"signed_requests"`
}

func loadReplayVectors(t *testing.T) *replayVectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v replayVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("vectors.json: %v", err)
	}
	if len(v.LSTCases) != 4 || len(v.SignedRequests) != 6 {
		t.Fatalf("vectors.json has %d LST cases and %d signed requests, want 4 and 6", len(v.LSTCases), len(v.SignedRequests))
	}
	return &v
}

// loopbackTransport sends each request to target (an httptest server on
// 127.0.0.1) while its URL, and so its signature, stays IB's.
type loopbackTransport struct {
	target *url.URL
	base   http.RoundTripper
}

func (l *loopbackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme = l.target.Scheme
	out.URL.Host = l.target.Host
	out.Host = ""
	return l.base.RoundTrip(out)
}

// fixedNonce is an oauth1.Noncer that always returns the same nonce.
type fixedNonce string

func (n fixedNonce) Nonce() string { return string(n) }

// replaySim is the simulator with the vectors' clock and server DH
// exponent, and the Authorization headers it received.
type replaySim struct {
	http *http.Client

	mu      sync.Mutex
	headers []string
}

func (r *replaySim) lastHeader(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.headers) == 0 {
		t.Fatal("the simulator received no request")
	}
	return r.headers[len(r.headers)-1]
}

func startReplaySim(t *testing.T, serverExpHex string) *replaySim {
	t.Helper()
	b, ok := new(big.Int).SetString(serverExpHex, 16)
	if !ok {
		t.Fatalf("server exponent %q is not hex", serverExpHex)
	}
	sim := ibsim.New(ibsim.Options{
		Clock:         ibsim.NewManualClock(time.Unix(1735689600, 0)),
		SignedBaseURL: ibBaseURL,
		// The four LST cases span 300 s from the clock.
		TimestampSkew: 10 * time.Minute,
		DHExponent:    func() (*big.Int, error) { return b, nil },
		BridgeDelay:   -1,
	})
	fx := loadFixture(t)
	if err := sim.AddConfigConsumer(simConsumer(t, fx.key, fx.token), ibsim.ActivationActive, time.Time{}); err != nil {
		t.Fatalf("AddConfigConsumer: %v", err)
	}

	r := &replaySim{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Get("Authorization"))
		r.mu.Unlock()
		sim.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.http = &http.Client{Transport: &loopbackTransport{target: target, base: srv.Client().Transport}, Timeout: 10 * time.Second}
	return r
}

func unixClock(t *testing.T, stamp string) func() time.Time {
	t.Helper()
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		t.Fatalf("timestamp %q: %v", stamp, err)
	}
	return func() time.Time { return time.Unix(sec, 0) }
}

// replayAuthenticator returns an Authenticator whose clock, nonce and DH
// randomness are the ones recorded for an LST case.
func replayAuthenticator(t *testing.T, r *replaySim, random, nonce, stamp string) *ibclient.Authenticator {
	t.Helper()
	fx := loadFixture(t)
	entry := simConsumer(t, fx.key, fx.token)
	consumer, _, err := entry.Load()
	if err != nil {
		t.Fatal(err)
	}
	randomBytes, err := hex.DecodeString(strings.Repeat("0", 64-len(random)) + random)
	if err != nil {
		t.Fatalf("client DH random %q: %v", random, err)
	}
	base, _ := url.Parse(ibBaseURL)
	return &ibclient.Authenticator{
		Consumer: consumer,
		BaseURL:  base,
		HTTP:     r.http,
		Now:      unixClock(t, stamp),
		Noncer:   fixedNonce(nonce),
		Rand:     bytes.NewReader(randomBytes),
	}
}

func TestReplayLSTHandshakes(t *testing.T) {
	v := loadReplayVectors(t)
	for _, tc := range v.LSTCases {
		t.Run(tc.Name, func(t *testing.T) {
			r := startReplaySim(t, tc.ServerExp)
			auth := replayAuthenticator(t, r, tc.ClientRandom, tc.Nonce, tc.Timestamp)

			lst, err := auth.LiveSessionToken(context.Background())
			if err != nil {
				t.Fatalf("LiveSessionToken: %v", err)
			}
			if got := r.lastHeader(t); got != tc.Request.Authorization {
				t.Errorf("Authorization header on the wire differs:\n got %.160s\nwant %.160s", got, tc.Request.Authorization)
			}
			if lst.Base64() != tc.ClientResult.LSTBase64 {
				t.Error("LST differs from the vector")
			}
			if want := time.UnixMilli(tc.Server.Response.Expiration); !lst.Expires.Equal(want) {
				t.Errorf("LST expires %s, want %s", lst.Expires, want)
			}
		})
	}
}

func TestReplaySignedRequests(t *testing.T) {
	v := loadReplayVectors(t)
	main := v.LSTCases[0]
	r := startReplaySim(t, main.ServerExp)
	lst, err := replayAuthenticator(t, r, main.ClientRandom, main.Nonce, main.Timestamp).LiveSessionToken(context.Background())
	if err != nil {
		t.Fatalf("LiveSessionToken: %v", err)
	}

	for _, tc := range v.SignedRequests {
		t.Run(tc.Name, func(t *testing.T) {
			if lst.Base64() != tc.LSTBase64 {
				t.Fatal("the request was signed with another LST than the main case's")
			}
			var body io.Reader
			if tc.Body != nil {
				body = strings.NewReader(*tc.Body)
			}
			req, err := http.NewRequest(tc.Method, tc.URLOnTheWire, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			transport := &ibclient.Transport{
				Base:      r.http.Transport,
				Source:    ibclient.StaticToken{LST: lst},
				SignQuery: tc.QueryInBase,
				Now:       unixClock(t, tc.Timestamp),
				Noncer:    fixedNonce(tc.Nonce),
			}
			resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			if got := r.lastHeader(t); got != tc.Authorization {
				t.Errorf("Authorization header on the wire differs:\n got %s\nwant %s", got, tc.Authorization)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("the simulator rejected the signature (status %d)", resp.StatusCode)
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the Transport changed the caller's request instead of a clone")
			}
		})
	}
}

// TestReplayTimestampsNeverGoBack checks that a Transport whose clock
// steps back keeps sending the latest timestamp it sent.
func TestReplayTimestampsNeverGoBack(t *testing.T) {
	v := loadReplayVectors(t)
	main := v.LSTCases[0]
	r := startReplaySim(t, main.ServerExp)
	lst, err := replayAuthenticator(t, r, main.ClientRandom, main.Nonce, main.Timestamp).LiveSessionToken(context.Background())
	if err != nil {
		t.Fatalf("LiveSessionToken: %v", err)
	}

	now := time.Unix(1735689700, 0)
	transport := &ibclient.Transport{Base: r.http.Transport, Source: ibclient.StaticToken{LST: lst}, Now: func() time.Time { return now }}
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var stamps []string
	// The clock steps back a minute, then two minutes forward.
	for _, step := range []time.Duration{0, -time.Minute, 2 * time.Minute} {
		now = now.Add(step)
		resp, err := hc.Get(ibBaseURL + "/iserver/auth/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, params, err := ibclient.ParseAuthorizationHeader(r.lastHeader(t))
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, params.Get("oauth_timestamp"))
	}
	want := []string{"1735689700", "1735689700", "1735689760"}
	if !slices.Equal(stamps, want) {
		t.Errorf("timestamps = %v, want %v", stamps, want)
	}
}
