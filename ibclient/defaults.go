package ibclient

import (
	"crypto/rand"
	"io"
	"net/http"
	"time"

	"github.com/dghubble/oauth1"
)

// DefaultUserAgent is sent when no other is set; IB wants a non-empty one.
const DefaultUserAgent = "ibdash/0.1"

func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

func randReader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

func nonce(n oauth1.Noncer) string {
	if n == nil {
		n = oauth1.HexNoncer{}
	}
	return n.Nonce()
}

func userAgent(agent string) string {
	if agent == "" {
		return DefaultUserAgent
	}
	return agent
}

func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return http.DefaultClient
	}
	return c
}
