package ibclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func TestNewClientRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		base string
		opt  ibclient.Option
		want string
	}{
		{"ftp base", "ftp://example.invalid/v1/api", nil, "not an http(s) URL"},
		{"no host", "http:///v1/api", nil, "not an http(s) URL"},
		{"nil http client", "http://127.0.0.1:1", ibclient.WithHTTPClient(nil), "client is nil"},
		{"nil token source", "http://127.0.0.1:1", ibclient.WithTokenSource(nil), "token source is nil"},
		{"nil limiter", "http://127.0.0.1:1", ibclient.WithRateLimiter(nil), "limiter is nil"},
		{"nil logger", "http://127.0.0.1:1", ibclient.WithLogger(nil), "logger is nil"},
		{"nil clock", "http://127.0.0.1:1", ibclient.WithClock(nil), "clock is nil"},
		{"tiny body limit", "http://127.0.0.1:1", ibclient.WithMaxResponseBytes(10), "too small"},
		{"empty user agent", "http://127.0.0.1:1", ibclient.WithUserAgent(" "), "user agent is empty"},
		{"negative timeout", "http://127.0.0.1:1", ibclient.WithRequestTimeout(-1), "negative"},
		{"zero snapshot attempts", "http://127.0.0.1:1", ibclient.WithSnapshotRetry(0, 0), "attempts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []ibclient.Option
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			_, err := ibclient.NewClient(tc.base, opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewClient = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// plainServer serves handler on 127.0.0.1 and returns a client without
// signing, as for the Client Portal Gateway.
func plainServer(t *testing.T, handler http.HandlerFunc, opts ...ibclient.Option) *ibclient.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := ibclient.NewClient(srv.URL+"/v1/api", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientErrorIn200Body(t *testing.T) {
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"error": "failed to process request"})
	})
	_, err := c.Tickle(context.Background())
	var apiErr *ibclient.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Tickle = %v, want an APIError from the 200 body", err)
	}
	if apiErr.StatusCode != 200 || apiErr.Message != "failed to process request" {
		t.Errorf("error = %+v, want status 200 and IB's message", apiErr)
	}
}

func TestClientSendsHeaders(t *testing.T) {
	var got http.Header
	var length int64
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		got, length = r.Header.Clone(), r.ContentLength
		writeJSON(w, http.StatusOK, map[string]bool{"status": true})
	}, ibclient.WithUserAgent("ibdash-test/1"))
	if err := c.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if got.Get("User-Agent") != "ibdash-test/1" {
		t.Errorf("User-Agent = %q, want ibdash-test/1", got.Get("User-Agent"))
	}
	if got.Get("Authorization") != "" {
		t.Error("a client without a token source sent an Authorization header")
	}
	if length != 0 {
		t.Errorf("POST without a body sent Content-Length %d, want 0", length)
	}
}

func TestClientResponseTooLarge(t *testing.T) {
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"session":"` + strings.Repeat("a", 4096) + `"}`))
	}, ibclient.WithMaxResponseBytes(1024))
	_, err := c.Tickle(context.Background())
	var tooLarge *ibclient.ErrResponseTooLarge
	if !errors.As(err, &tooLarge) {
		t.Fatalf("Tickle = %v, want ErrResponseTooLarge", err)
	}
	if tooLarge.Limit != 1024 {
		t.Errorf("limit = %d, want 1024", tooLarge.Limit)
	}
}

func TestClientHTMLErrorPage(t *testing.T) {
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head></html>"))
	})
	_, err := c.Accounts(context.Background())
	var apiErr *ibclient.APIError
	if !errors.As(err, &apiErr) || apiErr.Kind != ibclient.KindServer {
		t.Fatalf("Accounts = %v, want a server error", err)
	}
	if !strings.Contains(apiErr.Message, "502 Bad Gateway") {
		t.Errorf("message %q does not carry the page title", apiErr.Message)
	}
}

func TestClientMalformedJSON(t *testing.T) {
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"accounts": "DU1"}`))
	})
	_, err := c.Accounts(context.Background())
	if !ibclient.IsKind(err, ibclient.KindMalformed) {
		t.Errorf("Accounts = %v, want KindMalformed", err)
	}
}

func TestClientSignsEveryRequest(t *testing.T) {
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	if _, err := s.Client().Tickle(context.Background()); err != nil {
		t.Fatalf("signed tickle: %v", err)
	}

	// The second signing form is accepted too.
	signQuery := newTestSession(t, ib, fastSession(), ibclient.WithSignQuery(true))
	if err := signQuery.Start(context.Background()); err != nil {
		t.Fatalf("Start with query signing: %v", err)
	}
	if _, err := signQuery.Client().Snapshot(context.Background(), 265598); err != nil {
		t.Fatalf("snapshot with query signing: %v", err)
	}
}

func TestFlexIDs(t *testing.T) {
	var row struct {
		A ibclient.FlexInt    `json:"a"`
		B ibclient.FlexInt    `json:"b"`
		C ibclient.FlexInt    `json:"c"`
		D ibclient.FlexString `json:"d"`
		E ibclient.FlexString `json:"e"`
		F ibclient.FlexFloat  `json:"f"`
		G ibclient.FlexFloat  `json:"g"`
		H ibclient.FlexFloat  `json:"h"`
	}
	data := `{"a": 756733, "b": "756733", "c": null, "d": 1837465502, "e": "1837465501", "f": "1,300.5", "g": 2.05, "h": ""}`
	if err := json.Unmarshal([]byte(data), &row); err != nil {
		t.Fatal(err)
	}
	if row.A != 756733 || row.B != 756733 || row.C != 0 {
		t.Errorf("FlexInt = %d, %d, %d, want 756733, 756733, 0", row.A, row.B, row.C)
	}
	if row.D != "1837465502" || row.E != "1837465501" {
		t.Errorf("FlexString = %q, %q", row.D, row.E)
	}
	if row.F != 1300.5 || row.G != 2.05 || row.H != 0 {
		t.Errorf("FlexFloat = %g, %g, %g, want 1300.5, 2.05, 0", row.F, row.G, row.H)
	}

	for _, text := range []string{`"NaN"`, `"Inf"`, `"-infinity"`, `"0x10"`, `"1_0"`} {
		var f ibclient.FlexFloat
		if err := json.Unmarshal([]byte(text), &f); err == nil {
			t.Errorf("FlexFloat of %s = %v, want an error", text, f)
		}
	}

	var bad struct {
		A ibclient.FlexInt `json:"a"`
	}
	if err := json.Unmarshal([]byte(`{"a": "12x"}`), &bad); err == nil || !strings.Contains(err.Error(), "12x") {
		t.Errorf("FlexInt of 12x = %v, want an error naming the value", err)
	}
}

func TestClientPenaltyAfter429(t *testing.T) {
	var hits atomic.Int32
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
	})
	_, err := c.AuthStatus(context.Background())
	if !ibclient.IsKind(err, ibclient.KindRateLimited) {
		t.Fatalf("first call = %v, want KindRateLimited", err)
	}
	_, err = c.AuthStatus(context.Background())
	var penalty *ibclient.PenaltyError
	if !errors.As(err, &penalty) {
		t.Fatalf("second call = %v, want a PenaltyError", err)
	}
	if !errors.Is(err, &ibclient.APIError{Kind: ibclient.KindRateLimited}) {
		t.Error("PenaltyError does not match KindRateLimited with errors.Is")
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("server hits = %d, want 1: the held-back call must not be sent", got)
	}
}

func TestClientRetryAfterLongerThanPenalty(t *testing.T) {
	cases := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"absent", "", ibclient.DefaultPenalty},
		{"shorter", "5", ibclient.DefaultPenalty},
		{"longer", "1800", 30 * time.Minute},
		{"http date", time.Now().Add(20 * time.Minute).UTC().Format(http.TimeFormat), 20 * time.Minute},
		{"beyond the cap", "86400", ibclient.MaxRetryAfter},
		{"garbage", "soon", ibclient.DefaultPenalty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
			})
			start := time.Now()
			if _, err := c.Tickle(context.Background()); !ibclient.IsKind(err, ibclient.KindRateLimited) {
				t.Fatalf("Tickle = %v, want KindRateLimited", err)
			}
			got := c.RateLimiter().PenaltyUntil().Sub(start)
			if got < tc.want-2*time.Second || got > tc.want+2*time.Second {
				t.Errorf("penalty = %s, want about %s", got.Round(time.Second), tc.want)
			}
		})
	}
}

// TestClientDoesNotFollowRedirects sends an order to a server that
// redirects it with 307, which would make Go's client send the POST
// again to the new location.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var posts atomic.Int32
	c := plainServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		if strings.HasSuffix(r.URL.Path, "/elsewhere") {
			writeJSON(w, http.StatusOK, []map[string]string{{"order_id": "1", "order_status": "Submitted"}})
			return
		}
		http.Redirect(w, r, "/v1/api/elsewhere", http.StatusTemporaryRedirect)
	})

	p, err := c.PlaceOrders(context.Background(), fakeAccount, "ibdash-redirect", testOrders(t, "ibdash-redirect"), nil, nil)
	if err == nil {
		t.Fatalf("PlaceOrders through a redirect succeeded: %+v", p)
	}
	if got := posts.Load(); got != 1 {
		t.Errorf("order POSTs = %d, want 1: a redirect must not send the order again", got)
	}
	if !strings.Contains(err.Error(), "redirect") || !strings.Contains(err.Error(), "/v1/api/elsewhere") {
		t.Errorf("error %q does not name the redirect and its target", err)
	}
}
