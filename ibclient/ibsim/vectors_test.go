package ibsim_test

import (
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// vectorFile is the part of vectors.json the simulator is checked with.
type vectorFile struct {
	LSTCases []struct {
		Name      string `json:"name"`
		ServerExp string `json:"server_dh_exponent_hex"`
		Request   struct {
			URL           string `json:"url"`
			Authorization string `json:"authorization_header"`
		} `json:"request"`
		Server struct {
			Response struct {
				DHResponse string `json:"diffie_hellman_response"`
				Signature  string `json:"live_session_token_signature"`
				Expiration int64  `json:"live_session_token_expiration"`
			} `json:"response_json"`
		} `json:"server"`
	} `json:"live_session_token_cases"`
	SignedRequests []struct {
		Name          string  `json:"name"`
		Method        string  `json:"method"`
		URLOnTheWire  string  `json:"url_on_the_wire"`
		QueryInBase   bool    `json:"query_params_in_base_string"`
		Body          *string `json:"body_as_requests_would_send_it"`
		Authorization string  `json:"authorization_header"`
	} `json:"signed_requests"`
	RealmVariant struct {
		BasedOn       string `json:"based_on"`
		Authorization string `json:"authorization_header"`
	} `json:"realm_variant"`
}

func loadVectors(t *testing.T) *vectorFile {
	t.Helper()
	var v vectorFile
	if err := json.Unmarshal(readFile(t, "vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.LSTCases) != 4 || len(v.SignedRequests) != 6 {
		t.Fatalf("vectors.json has %d LST cases and %d signed requests, want 4 and 6", len(v.LSTCases), len(v.SignedRequests))
	}
	return &v
}

// vectorClock is the time of the first vector request. The fake server
// of the vectors returned an expiration 24 hours after it.
var vectorClock = time.Unix(1735689600, 0)

// newVectorEnv returns a simulator that checks signatures against IB's
// base URL, with its clock and DH exponent fixed to the vectors'.
func newVectorEnv(t *testing.T, serverExponentHex string) *env {
	t.Helper()
	b, ok := new(big.Int).SetString(serverExponentHex, 16)
	if !ok {
		t.Fatalf("server exponent %q is not hex", serverExponentHex)
	}
	e := newEnv(t, ibsim.Options{
		Clock:         ibsim.NewManualClock(vectorClock),
		SignedBaseURL: "https://api.ibkr.com/v1/api",
		// The four cases span 300 s from the clock.
		TimestampSkew: 10 * time.Minute,
		DHExponent:    func() (*big.Int, error) { return b, nil },
	})
	return e
}

// sendRecorded sends a recorded request with its exact Authorization
// header to the simulator, at the path and query of wireURL.
func sendRecorded(t testing.TB, e *env, method, wireURL, authorization string, body *string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(wireURL)
	if err != nil {
		t.Fatal(err)
	}
	text := ""
	if body != nil {
		text = *body
	}

	req, err := http.NewRequest(method, e.http.URL+u.RequestURI(), strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("User-Agent", "vector-replay")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return resp, data
}

func TestVectorLSTRequestsAccepted(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.LSTCases {
		t.Run(tc.Name, func(t *testing.T) {
			e := newVectorEnv(t, tc.ServerExp)
			resp, body := sendRecorded(t, e, "POST", tc.Request.URL, tc.Request.Authorization, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			var got struct {
				DHResponse string `json:"diffie_hellman_response"`
				Signature  string `json:"live_session_token_signature"`
				Expiration int64  `json:"live_session_token_expiration"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := tc.Server.Response
			if got.DHResponse != want.DHResponse {
				t.Errorf("diffie_hellman_response = %.16s..., want %.16s...", got.DHResponse, want.DHResponse)
			}
			if got.Signature != want.Signature {
				t.Errorf("live_session_token_signature = %s, want %s", got.Signature, want.Signature)
			}
			if got.Expiration != want.Expiration {
				t.Errorf("live_session_token_expiration = %d, want %d", got.Expiration, want.Expiration)
			}
			if form := e.logs.lastRequest(t)["signing"]; form != "RSA-SHA256" {
				t.Errorf("logged signing = %v, want RSA-SHA256", form)
			}
		})
	}
}

func TestVectorSignedRequestsAccepted(t *testing.T) {
	v := loadVectors(t)
	main := v.LSTCases[0]
	if main.Name != "main" {
		t.Fatalf("first LST case is %s, want main (the signed requests use its LST)", main.Name)
	}
	e := newVectorEnv(t, main.ServerExp)
	if resp, body := sendRecorded(t, e, "POST", main.Request.URL, main.Request.Authorization, nil); resp.StatusCode != 200 {
		t.Fatalf("LST request: status %d, body %s", resp.StatusCode, body)
	}

	for _, tc := range v.SignedRequests {
		t.Run(tc.Name, func(t *testing.T) {
			resp, body := sendRecorded(t, e, tc.Method, tc.URLOnTheWire, tc.Authorization, tc.Body)
			if resp.StatusCode == http.StatusUnauthorized {
				t.Fatalf("signature rejected: %s", body)
			}
			want := "HMAC-SHA256 " + ibsim.FormV1
			if tc.QueryInBase {
				want = "HMAC-SHA256 " + ibsim.FormV2
			}
			if form := e.logs.lastRequest(t)["signing"]; form != want {
				t.Errorf("logged signing = %v, want %s", form, want)
			}
		})
	}

	t.Run("realm_variant_rejected", func(t *testing.T) {
		// The realm is outside the base string, so only the realm check
		// can reject this header for a limited_poa consumer.
		resp, body := sendRecorded(t, e, "GET", "https://api.ibkr.com/v1/api/iserver/auth/status", v.RealmVariant.Authorization, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401; body %s", resp.StatusCode, body)
		}
		if _, text := envelopeText(t, resp.StatusCode, body); !strings.Contains(text, "realm") {
			t.Errorf("error %q does not name the realm", text)
		}
	})

	t.Run("changed_signature_rejected", func(t *testing.T) {
		tc := v.SignedRequests[0]
		header := strings.Replace(tc.Authorization, `oauth_signature="D`, `oauth_signature="E`, 1)
		if header == tc.Authorization {
			t.Fatal("test vector signature does not start with D")
		}
		resp, body := sendRecorded(t, e, tc.Method, tc.URLOnTheWire, header, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
		if _, text := envelopeText(t, resp.StatusCode, body); text != "invalid signature" {
			t.Errorf("error = %q, want invalid signature", text)
		}
	})

	t.Run("other_path_rejected", func(t *testing.T) {
		tc := v.SignedRequests[0]
		resp, _ := sendRecorded(t, e, tc.Method, "https://api.ibkr.com/v1/api/iserver/accounts", tc.Authorization, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a signature for auth/status was accepted for /iserver/accounts (status %d)", resp.StatusCode)
		}
	})
}
