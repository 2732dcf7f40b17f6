// Package simtest starts the IB Web API simulator for tests of the
// packages above ibclient. It serves real HTTP on 127.0.0.1 with the demo
// consumers. The trading consumer gets a brokerage session whose traffic
// goes through an audit log, and an order desk on that session.
package simtest

import (
	"context"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/ibsim"
	"github.com/ibdash/ibdash/ibclient/orderform"
)

// Start is a Tuesday, 10:00 in New York, away from IB's resets; the
// simulator lists its chain from this date.
var Start = time.Date(2025, 8, 5, 14, 0, 0, 0, time.UTC)

// keys holds the demo consumers' key files for every test of a package,
// so the RSA keys are generated once per test binary.
var keys struct {
	once sync.Once
	path string
	err  error
}

// Cleanup removes the shared key folder; call it from TestMain after
// the tests ran.
func Cleanup() {
	if keys.path != "" {
		os.RemoveAll(keys.path)
	}
}

// Env is a running simulator with a desk on the trading session.
type Env struct {
	Desk      *orderform.Desk
	Server    *ibsim.Server
	Clock     *ibsim.ManualClock
	AuditPath string
}

// New starts the simulator at Start with seed 7 and a session on it. The
// simulator and the audit log close when the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	keys.once.Do(func() { keys.path, keys.err = os.MkdirTemp("", "ibdash-simtest-keys-") })
	if keys.err != nil {
		t.Fatal(keys.err)
	}
	clock := ibsim.NewManualClock(Start)
	server := ibsim.New(ibsim.Options{Clock: clock, BridgeDelay: -1, Seed: 7})
	inst, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	cfg, err := ibsim.WriteDemoKeys(keys.path, inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.AddDemoConsumers(cfg); err != nil {
		t.Fatal(err)
	}
	trading, _ := cfg.TradingConsumer()
	consumer, _, err := trading.Load()
	if err != nil {
		t.Fatal(err)
	}

	auditPath := filepath.Join(t.TempDir(), "orders.jsonl")
	log, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	hc, err := audit.NewHTTPClient(log, nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(inst.URL)
	session, err := ibclient.NewSession(&ibclient.Authenticator{Consumer: consumer, BaseURL: base},
		ibclient.SessionConfig{Compete: true},
		ibclient.WithHTTPClient(hc), ibclient.WithClock(clock.Now),
		ibclient.WithSnapshotRetry(5, 10*time.Millisecond),
		ibclient.WithRequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := session.Start(ctx); err != nil {
		t.Fatalf("session start: %v", err)
	}
	desk := &orderform.Desk{Client: session.Client(), Account: session.Account(), Audit: log, MaxQuantity: 10, Now: clock.Now}
	return &Env{Desk: desk, Server: server, Clock: clock, AuditPath: auditPath}
}

// NearPut returns the listed put of expiry (YYYYMMDD) nearest the money.
func (e *Env) NearPut(t testing.TB, expiry string) ibsim.Option {
	t.Helper()
	price := e.Server.Underlying()
	var best *ibsim.Option
	for _, o := range e.Server.ListedOptions() {
		if o.Expiry != expiry || o.Right != "P" {
			continue
		}
		if best == nil || math.Abs(o.Strike-price) < math.Abs(best.Strike-price) {
			best = &o
		}
	}
	if best == nil {
		t.Fatalf("the simulator lists no put on %s", expiry)
	}
	return *best
}

// Records returns the audit log's records, failing the test on a torn
// or unreadable line.
func (e *Env) Records(t testing.TB) []audit.Record {
	t.Helper()
	records, warnings, err := audit.ReadFile(e.AuditPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("audit warnings: %v", warnings)
	}
	return records
}
