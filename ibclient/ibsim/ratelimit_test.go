package ibsim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

func TestGlobalRateLimit(t *testing.T) {
	e := newEnv(t, ibsim.Options{PenaltyAfter: 100})
	c := e.client(e.vector)
	c.login() // the LST request takes one token

	for i := 1; i < 50; i++ {
		if status, body := c.do("GET", "/iserver/auth/status", nil); status != 200 {
			t.Fatalf("request %d of 50 in one second: status %d, body %s", i+1, status, body)
		}
	}
	resp, err := c.send("GET", "/iserver/auth/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request 51: status %d, want 429", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "" {
		t.Errorf("429 carries Retry-After %q; IB sends none", got)
	}

	e.clock.Advance(time.Second)
	if status, _ := c.do("GET", "/iserver/auth/status", nil); status != 200 {
		t.Errorf("a second later: status %d, want 200", status)
	}
}

func TestEndpointRateLimits(t *testing.T) {
	e := newEnv(t, ibsim.Options{PenaltyAfter: 100})
	c := e.client(e.vector)
	c.startSession()

	c.decode("GET", "/tickle", nil, 200, nil)
	if status, _ := c.do("POST", "/tickle", nil); status != http.StatusTooManyRequests {
		t.Errorf("second tickle within a second: status %d, want 429", status)
	}

	for i := range 10 {
		if status, _ := c.do("GET", "/iserver/marketdata/snapshot?conids=756733", nil); status != 200 {
			t.Fatalf("snapshot %d of 10 in one second: status %d", i+1, status)
		}
	}
	if status, _ := c.do("GET", "/iserver/marketdata/snapshot?conids=756733", nil); status != http.StatusTooManyRequests {
		t.Errorf("snapshot 11: status %d, want 429", status)
	}
	// Other endpoints keep working while one is limited.
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
}

func TestRateLimitPenaltyBox(t *testing.T) {
	e := newEnv(t, ibsim.Options{PenaltyAfter: 3, PenaltyDuration: time.Minute})
	c := e.client(e.vector)
	c.startSession()

	c.decode("GET", "/iserver/account/orders", nil, 200, nil)
	for range 3 {
		if status, _ := c.do("GET", "/iserver/account/orders", nil); status != http.StatusTooManyRequests {
			t.Fatalf("live orders within 5 s: status %d, want 429", status)
		}
	}
	// Three violations: every endpoint now returns 429 for the penalty.
	e.clock.Advance(30 * time.Second)
	if status, _ := c.do("POST", "/tickle", nil); status != http.StatusTooManyRequests {
		t.Errorf("tickle inside the penalty: status %d, want 429", status)
	}
	if _, err := c.tryLogin(); err == nil {
		t.Error("an LST request inside the penalty succeeded")
	}

	e.clock.Advance(30 * time.Second)
	c.decode("POST", "/tickle", nil, 200, nil)
	if logs := e.logs.String(); !containsAll(logs, `"msg":"rate limit penalty"`, `"client":"consumer IBTESTKEY"`) {
		t.Errorf("the penalty was not logged: %s", logs)
	}

	e.sim.ClearRateLimits()
	c.decode("GET", "/iserver/account/orders", nil, 200, nil)
}

func TestRateLimitPerClient(t *testing.T) {
	e := newEnv(t, ibsim.Options{PenaltyAfter: 1, PenaltyDuration: time.Hour})
	c := e.client(e.vector)
	c.login()
	c.decode("GET", "/tickle", nil, 200, nil)
	if status, _ := c.do("GET", "/tickle", nil); status != http.StatusTooManyRequests {
		t.Fatalf("second tickle: status %d, want 429", status)
	}

	// A request without a consumer key is counted by address instead.
	resp, err := e.http.Client().Get(e.base + "/tickle")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned tickle while the consumer is penalised: status %d, want 401", resp.StatusCode)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
