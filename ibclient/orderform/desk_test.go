package orderform

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// simStart is a Tuesday, 10:00 in New York: market hours, away from IB's
// resets. The simulator lists its chain from this date.
var simStart = time.Date(2025, 8, 5, 14, 0, 0, 0, time.UTC)

// keyDir holds the demo consumers' key files for every test of the
// package, so the RSA keys are generated once.
var keyDir = struct {
	once sync.Once
	path string
	err  error
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	if keyDir.path != "" {
		os.RemoveAll(keyDir.path)
	}
	os.Exit(code)
}

func sharedKeyDir(t *testing.T) string {
	t.Helper()
	keyDir.once.Do(func() { keyDir.path, keyDir.err = os.MkdirTemp("", "orderform-keys-") })
	if keyDir.err != nil {
		t.Fatal(keyDir.err)
	}
	return keyDir.path
}

// simDesk is a desk on a session with a simulator over real HTTP on
// 127.0.0.1, with the audit log in a temporary folder.
type simDesk struct {
	*Desk
	server    *ibsim.Server
	clock     *ibsim.ManualClock
	auditPath string
}

func newSimDesk(t *testing.T) *simDesk {
	t.Helper()
	clock := ibsim.NewManualClock(simStart)
	server := ibsim.New(ibsim.Options{Clock: clock, BridgeDelay: -1, Seed: 7})
	inst, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })

	cfg, err := ibsim.WriteDemoKeys(sharedKeyDir(t), inst.URL)
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

	auditPath := filepath.Join(t.TempDir(), "state", "orders.jsonl")
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
		ibclient.WithHTTPClient(hc), ibclient.WithClock(clock.Now), ibclient.WithSnapshotRetry(5, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := session.Start(ctx); err != nil {
		t.Fatalf("session start: %v", err)
	}
	desk := &Desk{Client: session.Client(), Account: session.Account(), Audit: log, MaxQuantity: 10, Now: clock.Now}
	return &simDesk{Desk: desk, server: server, clock: clock, auditPath: auditPath}
}

// monthlyPut returns the simulator's put nearest the money on the first
// monthly expiry (the third Friday), as a ticket input.
func (s *simDesk) monthlyPut(t *testing.T) (Input, ibsim.Option) {
	t.Helper()
	price := s.server.Underlying()
	var best *ibsim.Option
	for _, o := range s.server.ListedOptions() {
		if o.Expiry != "20250815" || o.Right != "P" {
			continue
		}
		if best == nil || abs(o.Strike-price) < abs(best.Strike-price) {
			best = &o
		}
	}
	if best == nil {
		t.Fatal("the simulator lists no put on 2025-08-15")
	}
	in := Defaults()
	in.Expiry = "2025-08-15"
	in.Strike = FormatStrike(best.Strike)
	in.StopLoss = "3x"
	return in, *best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func (s *simDesk) records(t *testing.T) []audit.Record {
	t.Helper()
	records, warnings, err := audit.ReadFile(s.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("audit warnings: %v", warnings)
	}
	return records
}

// yes answers every question with yes and counts them.
type answerer struct {
	mu        sync.Mutex
	questions []ibclient.Question
	answer    bool
}

func (a *answerer) ask(_ context.Context, q ibclient.Question) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.questions = append(a.questions, q)
	return a.answer, nil
}

func TestDeskPlacesTicketWithStop(t *testing.T) {
	s := newSimDesk(t)
	in, opt := s.monthlyPut(t)
	ctx := context.Background()

	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if int64(plan.Contract.Conid) != opt.Conid {
		t.Errorf("contract conid = %d, want %d", plan.Contract.Conid, opt.Conid)
	}
	bid, ask, _ := s.server.Quote(opt.Conid)
	if !plan.Order.LimitFromMid || plan.Order.Limit < bid || plan.Order.Limit > ask {
		t.Errorf("limit %v (from mid %v) is not between bid %v and ask %v", plan.Order.Limit, plan.Order.LimitFromMid, bid, ask)
	}
	if !strings.Contains(plan.TickNote, "incrementRules") {
		t.Errorf("tick note = %q, want the rule from IB", plan.TickNote)
	}

	preview, err := s.Preview(ctx, plan)
	if err != nil {
		t.Fatalf("Preview: %v", err)
	}
	if !preview.Commission.Valid || preview.Commission.Value <= 0 {
		t.Errorf("preview commission = %+v", preview.Commission)
	}

	a := &answerer{answer: true}
	placement, err := s.Place(ctx, plan, a.ask, audit.AnsweredByUser)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if placement.Outcome != ibclient.OutcomePlaced || len(placement.Acks) != 2 {
		t.Fatalf("placement = %+v, want placed with two acks", placement)
	}
	if len(a.questions) == 0 || !slices.Contains(a.questions[0].MessageIDs, "o10331") {
		t.Errorf("questions = %+v, want the stop order warning o10331", a.questions)
	}

	book := s.server.Orders()
	if len(book) != 2 {
		t.Fatalf("book has %d orders, want entry and stop", len(book))
	}
	entry, stop := book[0], book[1]
	if entry.COID != plan.COID || entry.Side != "SELL" || entry.Type != "LMT" || entry.Price != plan.Order.Limit {
		t.Errorf("entry in the book = %+v", entry)
	}
	if stop.ParentID != plan.COID || stop.Side != "BUY" || stop.Type != "STP" || stop.Price != plan.Order.Stop {
		t.Errorf("stop in the book = %+v, want a BUY STP linked by parentId %s", stop, plan.COID)
	}

	legs := s.Status(ctx, plan, OrderIDs(placement))
	if len(legs) != 2 || legs[0].Leg != "entry" || legs[1].Leg != "stop" {
		t.Fatalf("legs = %+v", legs)
	}
	for _, leg := range legs {
		if leg.Err != nil || leg.Status == "" {
			t.Errorf("leg %s: status %q, error %v", leg.Leg, leg.Status, leg.Err)
		}
	}

	records := s.records(t)
	var endpoints []string
	for _, r := range records {
		if r.COID != plan.COID {
			t.Errorf("record %+v is not filed under %s", r, plan.COID)
		}
		if r.Kind == audit.KindRequest {
			endpoints = append(endpoints, r.Method+" "+r.Endpoint)
		}
	}
	for _, want := range []string{"GET /v1/api/iserver/marketdata/snapshot", "POST /v1/api/iserver/account/DU1234567/orders/whatif",
		"POST /v1/api/iserver/account/DU1234567/orders", "POST /v1/api/iserver/reply/", "GET /v1/api/iserver/account/order/status/"} {
		if !slices.ContainsFunc(endpoints, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("audit log has no request %s; it has %v", want, endpoints)
		}
	}
	answers := filterKind(records, audit.KindAnswer)
	if len(answers) != len(a.questions) || answers[0].AnsweredBy != audit.AnsweredByUser || !*answers[0].Confirmed {
		t.Errorf("answers = %+v, want one confirmed by the user per question", answers)
	}
	events := filterKind(records, audit.KindEvent)
	if len(events) != 1 || !strings.Contains(events[0].Note, "placement placed") {
		t.Errorf("events = %+v, want the placement outcome", events)
	}
}

func filterKind(records []audit.Record, kind audit.Kind) []audit.Record {
	var out []audit.Record
	for _, r := range records {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func TestDeskAnswersTwoQuestions(t *testing.T) {
	s := newSimDesk(t)
	in, opt := s.monthlyPut(t)
	_, ask, _ := s.server.Quote(opt.Conid)
	// A SELL limit far above the market raises o163 before the stop's
	// o10331.
	in.Limit = FormatPrice(PennyTick.Round(ask*2+1, Up))
	ctx := context.Background()

	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	a := &answerer{answer: true}
	placement, err := s.Place(ctx, plan, a.ask, audit.AnsweredByFlag)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if placement.Outcome != ibclient.OutcomePlaced {
		t.Fatalf("outcome = %v", placement.Outcome)
	}
	var ids []string
	for _, q := range a.questions {
		ids = append(ids, q.MessageIDs...)
	}
	if !slices.Equal(ids, []string{"o163", "o10331"}) {
		t.Fatalf("questions asked = %v, want o163 then o10331", ids)
	}
	answers := filterKind(s.records(t), audit.KindAnswer)
	if len(answers) != 2 {
		t.Fatalf("audit has %d answers, want 2", len(answers))
	}
	for i, r := range answers {
		if r.AnsweredBy != audit.AnsweredByFlag || r.Confirmed == nil || !*r.Confirmed || r.QuestionID != a.questions[i].ID {
			t.Errorf("answer %d = %+v, want question %s confirmed by the flag", i, r, a.questions[i].ID)
		}
	}
	if got := len(s.server.Orders()); got != 2 {
		t.Errorf("book has %d orders, want 2", got)
	}
}

func TestDeskDeclinedQuestionPlacesNothing(t *testing.T) {
	s := newSimDesk(t)
	in, _ := s.monthlyPut(t)
	ctx := context.Background()
	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	placement, err := s.Place(ctx, plan, (&answerer{answer: false}).ask, audit.AnsweredByUser)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if placement.Outcome != ibclient.OutcomeDeclined {
		t.Errorf("outcome = %v, want declined", placement.Outcome)
	}
	if got := len(s.server.Orders()); got != 0 {
		t.Errorf("book has %d orders after a decline", got)
	}
	answers := filterKind(s.records(t), audit.KindAnswer)
	if len(answers) != 1 || answers[0].Confirmed == nil || *answers[0].Confirmed {
		t.Errorf("answers = %+v, want one declined", answers)
	}
}

func TestDeskSuppressedQuestionIsRecorded(t *testing.T) {
	s := newSimDesk(t)
	s.Suppress = []string{"o10331"}
	in, _ := s.monthlyPut(t)
	ctx := context.Background()
	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	a := &answerer{answer: false}
	placement, err := s.Place(ctx, plan, a.ask, audit.AnsweredByUser)
	if err != nil {
		t.Fatal(err)
	}
	if placement.Outcome != ibclient.OutcomePlaced || len(a.questions) != 0 {
		t.Fatalf("outcome %v after %d questions put to the user, want placed with none", placement.Outcome, len(a.questions))
	}
	answers := filterKind(s.records(t), audit.KindAnswer)
	if len(answers) != 1 || answers[0].AnsweredBy != audit.AnsweredBySuppress {
		t.Errorf("answers = %+v, want one from the suppress list", answers)
	}
}

func TestDeskPrepareErrors(t *testing.T) {
	s := newSimDesk(t)
	in, opt := s.monthlyPut(t)
	ctx := context.Background()

	// A strike of August that the weekly 2025-08-08 does not list.
	weekly := "20250808"
	var listed []float64
	pooled := map[float64]bool{}
	for _, o := range s.server.ListedOptions() {
		if o.Month == opt.Month && o.Right == "P" {
			pooled[o.Strike] = true
			if o.Expiry == weekly {
				listed = append(listed, o.Strike)
			}
		}
	}
	missing := 0.0
	for k := range pooled {
		if !slices.Contains(listed, k) && (missing == 0 || abs(k-opt.Strike) < abs(missing-opt.Strike)) {
			missing = k
		}
	}
	if missing == 0 || len(listed) == 0 {
		t.Fatalf("the simulator's chain has no strike pooled in %s but missing from %s", opt.Month, weekly)
	}

	tests := []struct {
		name   string
		change func(*Input)
		field  Field
		want   []string
	}{
		{"expiry past", func(in *Input) { in.Expiry = "2025-08-01" }, FieldExpiry, []string{"in the past", "2025-08-05"}},
		{"expiry not listed", func(in *Input) { in.Expiry = "2025-08-16" }, FieldExpiry, []string{"not a listed expiry", "2025-08-15"}},
		{"strike pooled only", func(in *Input) { in.Expiry, in.Strike = "2025-08-08", FormatStrike(missing) },
			FieldStrike, []string{"not listed for 2025-08-08", "nearest listed"}},
		{"quantity over max", func(in *Input) { in.Quantity = "11" }, FieldQuantity, []string{"over the maximum of 10"}},
		{"stop wrong side", func(in *Input) { in.StopLoss = "0.01" }, FieldStopLoss, []string{"BUY stop above"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := in
			tt.change(&changed)
			_, err := s.Prepare(ctx, changed)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Prepare error = %v, want field errors", err)
			}
			fe := errs.For(tt.field)
			if fe == nil {
				t.Fatalf("no error on %s: %v", tt.field, errs)
			}
			for _, part := range tt.want {
				if !strings.Contains(fe.Error(), part) {
					t.Errorf("%s error %q does not contain %q", tt.field, fe, part)
				}
			}
			if len(errs) != 1 {
				t.Errorf("got %d errors, want only the one on %s: %v", len(errs), tt.field, errs)
			}
		})
	}
	if got := len(s.server.Orders()); got != 0 {
		t.Errorf("book has %d orders after invalid tickets", got)
	}
}

func TestDeskLostReplyLeavesOneOrder(t *testing.T) {
	s := newSimDesk(t)
	in, _ := s.monthlyPut(t)
	ctx := context.Background()
	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatal(err)
	}

	// The confirmed reply books the order, then the connection is reset
	// before the ack arrives.
	if _, err := s.server.AddFault(ibsim.Fault{Kind: ibsim.FaultConnectionReset, PathPrefix: "/iserver/reply", Count: 1}); err != nil {
		t.Fatal(err)
	}
	placement, err := s.Place(ctx, plan, (&answerer{answer: true}).ask, audit.AnsweredByUser)
	if err != nil {
		t.Fatalf("Place: %v (placement %+v)", err, placement)
	}
	s.checkFoundOnce(t, plan, placement, "/iserver/reply/")
}

func TestDeskLostPlacementLeavesOneOrder(t *testing.T) {
	s := newSimDesk(t)
	in, _ := s.monthlyPut(t)
	ctx := context.Background()
	// With the stop warning suppressed on IB's side, the placement
	// request itself books the order.
	if err := s.Client.SuppressQuestions(ctx, []string{"o10331"}); err != nil {
		t.Fatal(err)
	}
	plan, err := s.Prepare(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.server.AddFault(ibsim.Fault{Kind: ibsim.FaultConnectionReset,
		PathPrefix: "/iserver/account/" + s.Account + "/orders", Count: 1}); err != nil {
		t.Fatal(err)
	}
	placement, err := s.Place(ctx, plan, (&answerer{answer: true}).ask, audit.AnsweredByUser)
	if err != nil {
		t.Fatalf("Place: %v (placement %+v)", err, placement)
	}
	s.checkFoundOnce(t, plan, placement, "/DU1234567/orders")
}

// checkFoundOnce checks that the lookup found the order, that the book
// holds exactly this ticket's entry and stop, and that the request whose
// answer was lost (its endpoint ending in lost) went out once.
func (s *simDesk) checkFoundOnce(t *testing.T, plan *Plan, placement *ibclient.Placement, lost string) {
	t.Helper()
	if placement.Outcome != ibclient.OutcomeFound || len(placement.OrderIDs) == 0 {
		t.Fatalf("placement = %+v, want found by the cOID lookup", placement)
	}

	book := s.server.Orders()
	parents := 0
	for _, o := range book {
		if o.COID == plan.COID {
			parents++
		}
		if o.COID != plan.COID && o.ParentID != plan.COID {
			t.Errorf("book order %+v is not part of this ticket", o)
		}
	}
	if parents != 1 || len(book) != 2 {
		t.Fatalf("book = %+v, want exactly one entry and its stop", book)
	}

	records := s.records(t)
	sent := 0
	for _, r := range records {
		if r.Kind == audit.KindRequest && r.Method == "POST" && strings.Contains(r.Endpoint, lost) && !strings.Contains(r.Endpoint, "whatif") {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("audit shows %d requests to %s, want 1 (never resent)", sent, lost)
	}
	events := filterKind(records, audit.KindEvent)
	if len(events) != 1 || !strings.Contains(events[0].Note, "found") {
		t.Errorf("events = %+v, want the lookup's outcome", events)
	}
}

func TestDeskNeedsAuditLog(t *testing.T) {
	d := &Desk{Client: &ibclient.Client{}, Account: "DU1"}
	if _, err := d.Prepare(context.Background(), Defaults()); err == nil || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("Prepare without an audit log: %v", err)
	}
}

func TestTickNote(t *testing.T) {
	note := TickNote(PennyTick, fmt.Errorf("no rules"))
	if !strings.Contains(note, "$0.01 from $0.00") || !strings.Contains(note, "penny rule") {
		t.Errorf("TickNote = %q", note)
	}
}
