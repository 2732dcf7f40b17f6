package ibsim_test

import (
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// benchStep is one request's share of IB's 50 requests a second, so the
// global limit never decides a benchmark.
const benchStep = 20 * time.Millisecond

// BenchmarkLSTHandshake measures one full LST handshake over loopback
// HTTP: RSA-SHA256 signing and verification and both halves of the
// 2048-bit DH exchange.
func BenchmarkLSTHandshake(b *testing.B) {
	e := newEnv(b, ibsim.Options{PenaltyAfter: 1 << 30})
	c := e.client(e.vector)
	for b.Loop() {
		e.clock.Advance(benchStep)
		if _, err := c.tryLogin(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignedRequest measures a signed GET /iserver/auth/status over
// loopback HTTP: HMAC-SHA256 signing and verification, and the handler.
func BenchmarkSignedRequest(b *testing.B) {
	e := newEnv(b, ibsim.Options{PenaltyAfter: 1 << 30})
	c := e.client(e.vector)
	c.login()
	for b.Loop() {
		e.clock.Advance(benchStep)
		resp, err := c.send("GET", "/iserver/auth/status", nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
