package ibclient_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func TestRateLimit200RequestsNo429(t *testing.T) {
	t.Parallel()
	ib := newFakeIB(t)
	s := startedSession(t, ib)
	ctx := context.Background()

	// The fake IB allows 10 requests/s with a burst of 10; without the
	// client's limiter this loop would send hundreds per second.
	for i := range 200 {
		if _, err := s.Client().AuthStatus(ctx); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.tooManyRequests != 0 {
		t.Errorf("fake IB answered 429 %d times", ib.tooManyRequests)
	}
}

func TestRateLimitLiveOrdersSpacing(t *testing.T) {
	t.Parallel()
	ib := newFakeIB(t)
	s := startedSession(t, ib)

	// IB allows one live-orders call per 5 s; the second call waits.
	for i := range 2 {
		if _, err := s.Client().LiveOrders(context.Background(), fakeAccount); err != nil {
			t.Fatalf("live orders call %d: %v", i, err)
		}
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.tooManyRequests != 0 {
		t.Errorf("fake IB answered 429 %d times", ib.tooManyRequests)
	}
}

func TestRateLimitWaitHonoursContext(t *testing.T) {
	l, err := ibclient.NewRateLimiter(ibclient.RateLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(context.Background(), "GET", "iserver/account/orders"); err != nil {
		t.Fatalf("first wait: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, "GET", "iserver/account/orders"); err == nil {
		t.Error("second live-orders wait within 100 ms returned no error")
	}
}

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimitPenaltyWindow(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)}
	l, err := ibclient.NewRateLimiter(ibclient.RateLimits{Penalty: 2 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	until := l.Penalize(clock.Now())
	if want := clock.Now().Add(2 * time.Minute); !until.Equal(want) {
		t.Errorf("penalty until %s, want %s", until, want)
	}

	err = l.Wait(context.Background(), "GET", "iserver/accounts")
	var penalty *ibclient.PenaltyError
	if !errors.As(err, &penalty) || !penalty.Until.Equal(until) {
		t.Fatalf("wait during the penalty = %v, want a PenaltyError until %s", err, until)
	}

	clock.Advance(2 * time.Minute)
	if err := l.Wait(context.Background(), "GET", "iserver/accounts"); err != nil {
		t.Errorf("wait after the penalty: %v", err)
	}
	if !l.PenaltyUntil().IsZero() {
		t.Errorf("penalty still in force until %s", l.PenaltyUntil())
	}
}

func TestNewRateLimiterBounds(t *testing.T) {
	for _, limits := range []ibclient.RateLimits{{Global: 51}, {Global: -1}, {Penalty: -time.Second}} {
		if _, err := ibclient.NewRateLimiter(limits); err == nil {
			t.Errorf("NewRateLimiter(%+v) returned no error", limits)
		}
	}
	if _, err := ibclient.NewRateLimiter(ibclient.RateLimits{Global: 50}); err != nil {
		t.Errorf("global 50: %v", err)
	}
}

// TestRateLimitEndpointSpacingUnderLoad keeps other requests queued on
// the global limit while two live-orders calls go out: the second must
// still follow the first by the endpoint's own limit, which fails when
// the endpoint's token is taken before the wait for the global one.
func TestRateLimitEndpointSpacingUnderLoad(t *testing.T) {
	t.Parallel()
	l, err := ibclient.NewRateLimiter(ibclient.RateLimits{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 3 {
				if err := l.Wait(ctx, "GET", "iserver/accounts"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let the others take the global limit first

	var sent [2]time.Time
	for i := range sent {
		if err := l.Wait(ctx, "GET", "iserver/account/orders"); err != nil {
			t.Fatalf("live orders %d: %v", i, err)
		}
		sent[i] = time.Now()
	}
	wg.Wait()

	// IB allows one live-orders call per 5 s.
	if gap := sent[1].Sub(sent[0]); gap < 5*time.Second {
		t.Errorf("second live-orders call left %s after the first, closer than IB's 5 s limit", gap)
	}
}
