package ibclient_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func watched(fx *fixture, key string) ibclient.WatchedConsumer {
	return ibclient.WatchedConsumer{ConsumerKey: key, Load: func() (*ibclient.Consumer, error) { return fx.consumer(key), nil }}
}

func newTestWatcher(t *testing.T, baseURL string, now func() time.Time, consumers ...ibclient.WatchedConsumer) *ibclient.Watcher {
	t.Helper()
	base, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ibclient.NewWatcher(ibclient.WatcherConfig{BaseURL: base, Now: now}, consumers)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	return w
}

// waitStatus reads statuses until one for key matches.
func waitStatus(t *testing.T, w *ibclient.Watcher, key string, match func(ibclient.KeyStatus) bool) ibclient.KeyStatus {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case s := <-w.Statuses():
			if s.ConsumerKey == key && match(s) {
				return s
			}
		case <-deadline:
			latest, _ := w.Status(key)
			t.Fatalf("no matching status for %s within %s; latest %s (%v)", key, waitLimit, latest.State, latest.Err)
		}
	}
}

func TestWatcherPendingTurnsActive(t *testing.T) {
	ib := newFakeIB(t)
	const key = "NEWKEY001"
	activeFrom := ib.now().Add(3 * time.Hour)
	ib.set(func(ib *fakeIB) { ib.consumers[key] = &fakeConsumer{activeFrom: activeFrom} })
	w := newTestWatcher(t, ib.baseURL(), ib.now, watched(ib.fx, key))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	pending := waitStatus(t, w, key, func(s ibclient.KeyStatus) bool { return s.State != ibclient.KeyUnchecked })
	if pending.State != ibclient.KeyPending {
		t.Fatalf("state = %s (%v), want not yet activated", pending.State, pending.Err)
	}
	if !ibclient.IsKind(pending.Err, ibclient.KindInvalidConsumer) {
		t.Errorf("pending error = %v, want invalid consumer", pending.Err)
	}
	if want := ibclient.NextWeekendMaintenance(pending.CheckedAt).End; !pending.ExpectedActivation.Equal(want) {
		t.Errorf("expected activation = %s, want the end of the weekend maintenance %s", pending.ExpectedActivation, want)
	}
	if !pending.NextCheck.After(pending.CheckedAt) || pending.NextCheck.After(pending.CheckedAt.Add(ibclient.DefaultPendingInterval)) {
		t.Errorf("next check %s is not within the pending interval after %s", pending.NextCheck, pending.CheckedAt)
	}
	if !strings.Contains(pending.NextStep(), "weekend") {
		t.Errorf("next step %q does not mention the weekend restart", pending.NextStep())
	}

	// The activation time passes; a recheck finds the key active.
	ib.advance(4 * time.Hour)
	if err := w.Recheck(key); err != nil {
		t.Fatalf("Recheck: %v", err)
	}
	active := waitStatus(t, w, key, func(s ibclient.KeyStatus) bool { return s.State == ibclient.KeyActive })
	if active.Err != nil {
		t.Errorf("active status carries error %v", active.Err)
	}
	if got := active.NextCheck.Sub(active.CheckedAt); got != ibclient.DefaultActiveInterval {
		t.Errorf("next check of an active key in %s, want %s", got, ibclient.DefaultActiveInterval)
	}
}

func TestWatcherClassifiesFailures(t *testing.T) {
	ib := newFakeIB(t)
	fx := ib.fx
	ib.set(func(ib *fakeIB) { ib.consumers["TOKENGONE"] = &fakeConsumer{} })

	// A key whose access token IB no longer has.
	revoked := ibclient.WatchedConsumer{ConsumerKey: "TOKENGONE", Load: func() (*ibclient.Consumer, error) {
		c := fx.consumer("TOKENGONE")
		c.AccessToken = "0000000000000000dead"
		return c, nil
	}}
	// A key whose signature key file is missing.
	missing := ibclient.WatchedConsumer{ConsumerKey: "MISSING01", Load: func() (*ibclient.Consumer, error) {
		_, err := ibclient.LoadRSAPrivateKey(filepath.Join(t.TempDir(), "private_signature.pem"))
		return nil, err
	}}
	w := newTestWatcher(t, ib.baseURL(), ib.now, watched(fx, fx.key), revoked, missing)
	ctx := context.Background()

	if s := w.Check(ctx, fx.key); s.State != ibclient.KeyActive {
		t.Errorf("%s state = %s (%v), want active", fx.key, s.State, s.Err)
	}
	s := w.Check(ctx, "TOKENGONE")
	if s.State != ibclient.KeyLSTFailed || !ibclient.IsKind(s.Err, ibclient.KindNoAccessSecret) {
		t.Errorf("TOKENGONE = %s (%v), want LST failed with no access secret", s.State, s.Err)
	}
	if !strings.Contains(s.NextStep(), "access token") {
		t.Errorf("next step %q does not say to regenerate the access token", s.NextStep())
	}
	s = w.Check(ctx, "MISSING01")
	var credErr *ibclient.CredentialError
	if s.State != ibclient.KeyMisconfigured || !errors.As(s.Err, &credErr) {
		t.Errorf("MISSING01 = %s (%v), want misconfigured with a CredentialError", s.State, s.Err)
	}
	if err := w.Recheck("NOSUCHKEY"); err == nil {
		t.Error("Recheck of an unknown key returned no error")
	}
}

func TestWatcherUnreachableBacksOff(t *testing.T) {
	// A port that was open a moment ago and is closed now.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	fx := loadFixture(t)
	now := time.Now()
	w := newTestWatcher(t, "http://"+addr+"/v1/api", func() time.Time { return now }, watched(fx, fx.key))

	first := w.Check(context.Background(), fx.key)
	second := w.Check(context.Background(), fx.key)
	if first.State != ibclient.KeyUnreachable {
		t.Fatalf("state = %s (%v), want unreachable", first.State, first.Err)
	}
	var netErr *ibclient.NetworkError
	if !errors.As(first.Err, &netErr) {
		t.Errorf("error = %v, want a NetworkError", first.Err)
	}
	if a, b := first.NextCheck.Sub(now), second.NextCheck.Sub(now); b <= a {
		t.Errorf("retry after a second failure in %s, want longer than after the first (%s)", b, a)
	}
}

func TestWatcherObservesSessionLST(t *testing.T) {
	ib := newFakeIB(t)
	w := newTestWatcher(t, ib.baseURL(), ib.now, watched(ib.fx, ib.fx.key))
	cfg := fastSession()
	cfg.OnLST = w.Observe
	s := newTestSession(t, ib, cfg)

	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	status, _ := w.Status(ib.fx.key)
	if status.State != ibclient.KeyActive {
		t.Errorf("state after the session's LST = %s, want active", status.State)
	}
	if got := ib.count("POST oauth/live_session_token"); got != 1 {
		t.Errorf("LST requests = %d, want only the session's 1", got)
	}
}

func TestClassifyKeyError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want ibclient.KeyState
	}{
		{"nil", nil, ibclient.KeyActive},
		{"invalid consumer", &ibclient.APIError{StatusCode: 401, Kind: ibclient.KindInvalidConsumer}, ibclient.KeyPending},
		{"lst failed", &ibclient.APIError{StatusCode: 401, Kind: ibclient.KindLSTFailed}, ibclient.KeyLSTFailed},
		{"bad signature", &ibclient.APIError{StatusCode: 401, Kind: ibclient.KindInvalidSignature}, ibclient.KeyLSTFailed},
		{"server error", &ibclient.APIError{StatusCode: 503, Kind: ibclient.KindServer}, ibclient.KeyUnreachable},
		{"network", &ibclient.NetworkError{Op: "POST", Err: errors.New("connection refused")}, ibclient.KeyUnreachable},
		{"credential", &ibclient.CredentialError{Item: "x.pem", Err: errors.New("bad")}, ibclient.KeyMisconfigured},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ibclient.ClassifyKeyError(tc.err); got != tc.want {
				t.Errorf("ClassifyKeyError = %s, want %s", got, tc.want)
			}
		})
	}
}
