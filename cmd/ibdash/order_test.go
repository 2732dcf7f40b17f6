package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"

	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/ibsim"
	"github.com/ibdash/ibdash/ibclient/orderform"
)

// orderSim is a simulator on 127.0.0.1 and a config file that reaches it,
// with the audit log in a temporary folder.
type orderSim struct {
	server     *ibsim.Server
	configPath string
	auditPath  string
}

// newOrderSim starts a simulator with no bridge delay and writes a config
// for it; keyDir holds the consumers' key files.
func newOrderSim(t *testing.T, keyDir string) *orderSim {
	t.Helper()
	server := ibsim.New(ibsim.Options{BridgeDelay: -1, Seed: 3})
	inst, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })

	cfg, err := ibsim.WriteDemoKeys(keyDir, inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.AddDemoConsumers(cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Orders.MaxQuantity = 5
	cfg.Orders.AuditLog = filepath.Join(dir, "state", "orders.jsonl")
	path := filepath.Join(dir, "config.toml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	return &orderSim{server: server, configPath: path, auditPath: cfg.Orders.AuditLog}
}

// put returns a listed put near the money that expires at least a week
// from now, and its expiry as YYYY-MM-DD.
func (s *orderSim) put(t *testing.T) (ibsim.Option, string) {
	t.Helper()
	return listedPut(t, s.server)
}

func listedPut(t *testing.T, server *ibsim.Server) (ibsim.Option, string) {
	t.Helper()
	return listedOption(t, server, "P")
}

// listedOption returns the listed option of right ("P" or "C") nearest
// the money on the first expiry at least a week from now, and its expiry
// as YYYY-MM-DD.
func listedOption(t *testing.T, server *ibsim.Server, right string) (ibsim.Option, string) {
	t.Helper()
	price := server.Underlying()
	weekOut := orderform.ToIBDate(orderform.NewYorkDate(time.Now()).AddDate(0, 0, 7))
	var best *ibsim.Option
	for _, o := range server.ListedOptions() {
		if o.Right != right || o.Expiry < weekOut {
			continue
		}
		if best == nil || o.Expiry < best.Expiry || (o.Expiry == best.Expiry && math.Abs(o.Strike-price) < math.Abs(best.Strike-price)) {
			best = &o
		}
	}
	if best == nil {
		t.Fatalf("the simulator lists no %s option a week out", right)
	}
	expiry, _ := orderform.FromIBDate(best.Expiry)
	return *best, expiry.Format(orderform.DateLayout)
}

// runOrderCommand runs `ibdash --config PATH order ARGS` in-process.
func runOrderCommand(t *testing.T, configPath, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{"--config", configPath, "order"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, all, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (s *orderSim) records(t *testing.T) []audit.Record {
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

func answersIn(records []audit.Record, coid string) []audit.Record {
	var out []audit.Record
	for _, r := range records {
		if r.Kind == audit.KindAnswer && r.COID == coid {
			out = append(out, r)
		}
	}
	return out
}

// ticketOrders returns the book's orders of one cOID: the entry and the
// orders linked to it by parentId.
func ticketOrders(server *ibsim.Server, coid string) (entries, children []ibsim.BookOrder) {
	for _, o := range server.Orders() {
		switch {
		case o.COID == coid:
			entries = append(entries, o)
		case o.ParentID == coid:
			children = append(children, o)
		}
	}
	return entries, children
}

// coidOf returns the cOID that the text output printed.
func coidOf(t *testing.T, stdout string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "cOID"); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no cOID line in the output:\n%s", stdout)
	return ""
}

func withTerminal(t *testing.T, terminal bool) {
	t.Helper()
	saved := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return terminal }
	t.Cleanup(func() { stdinIsTerminal = saved })
}

// TestOrderCommand shares one simulator and one set of key files among
// its subtests, since generating the RSA keys is the slow part.
func TestOrderCommand(t *testing.T) {
	keyDir := t.TempDir()
	s := newOrderSim(t, keyDir)
	opt, expiry := s.put(t)
	base := []string{"--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "1", "--stop-loss", "3x"}

	t.Run("yes answers two questions", func(t *testing.T) {
		_, ask, err := s.server.Quote(opt.Conid)
		if err != nil {
			t.Fatal(err)
		}
		// A SELL limit far above the market raises o163 before o10331.
		limit := orderform.FormatPrice(orderform.PennyTick.Round(ask*2+1, orderform.Up))
		code, stdout, stderr := runOrderCommand(t, s.configPath, "", append(base, "--limit", limit, "--yes")...)
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"What-if", "commission", "bid", "delta", "IB asks (o163", "IB asks (o10331", "Confirmed by --yes.", "Placed.", "entry", "stop"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		coid := coidOf(t, stdout)
		entries, children := ticketOrders(s.server, coid)
		if len(entries) != 1 || len(children) != 1 {
			t.Fatalf("book has %d entries and %d children for %s, want 1 and 1", len(entries), len(children), coid)
		}
		if children[0].Type != "STP" || children[0].Side != "BUY" || children[0].ParentID != coid {
			t.Errorf("stop in the book = %+v", children[0])
		}

		answers := answersIn(s.records(t), coid)
		var ids []string
		for _, a := range answers {
			ids = append(ids, a.MessageIDs...)
			if a.AnsweredBy != audit.AnsweredByFlag || a.Confirmed == nil || !*a.Confirmed {
				t.Errorf("answer %+v, want confirmed by the flag", a)
			}
		}
		if !slices.Equal(ids, []string{"o163", "o10331"}) {
			t.Errorf("audit answers = %v, want o163 then o10331", ids)
		}

		// Each request of the ticket is in the log with its response.
		steps := auditSteps(s.records(t), coid)
		for step, want := range map[string]int{
			"request whatif": 1, "response whatif": 1,
			"request order": 1, "response order": 1,
			"request reply": 2, "response reply": 2,
		} {
			if steps[step] != want {
				t.Errorf("audit log has %d %s records for %s, want %d (all: %v)", steps[step], step, coid, want, steps)
			}
		}
	})

	t.Run("BUY call at market GTC as JSON", func(t *testing.T) {
		call, callExpiry := listedOption(t, s.server, "C")
		args := []string{"--expiry", callExpiry, "--strike", orderform.FormatStrike(call.Strike), "--right", "C",
			"--side", "BUY", "--market", "--tif", "GTC", "--quantity", "2", "--stop-loss", "0.5x", "--yes", "--json"}
		code, stdout, stderr := runOrderCommand(t, s.configPath, "", args...)
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		var report orderReport
		if err := json.Unmarshal([]byte(stdout), &report); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
		}
		if !strings.Contains(stderr, "IB asks (o10331") {
			t.Errorf("with --json the question is not on stderr:\n%s", stderr)
		}
		if report.Outcome != "placed" || len(report.Legs) != 2 || report.Legs[0].OrderID == "" || report.Legs[1].OrderID == "" {
			t.Errorf("report outcome %q, legs %+v; want placed with two order ids", report.Outcome, report.Legs)
		}
		if len(report.Questions) == 0 || !report.Questions[len(report.Questions)-1].Confirmed {
			t.Errorf("report questions = %+v, want the stop question confirmed", report.Questions)
		}
		if report.AuditLog != s.auditPath {
			t.Errorf("report audit log = %q, want %q", report.AuditLog, s.auditPath)
		}

		entries, children := ticketOrders(s.server, report.COID)
		if len(entries) != 1 || len(children) != 1 {
			t.Fatalf("book has %d entries and %d children for %s, want 1 and 1", len(entries), len(children), report.COID)
		}
		entry, stop := entries[0], children[0]
		if entry.Conid != call.Conid || entry.Side != "BUY" || entry.Type != "MKT" || entry.TIF != "GTC" || entry.Quantity != 2 {
			t.Errorf("entry in the book = %+v, want BUY 2 MKT GTC of conid %d", entry, call.Conid)
		}
		if stop.Side != "SELL" || stop.Type != "STP" || stop.Quantity != 2 || stop.Price != report.Stop {
			t.Errorf("stop in the book = %+v, want SELL 2 STP at %v", stop, report.Stop)
		}
		if report.Quote == nil || report.Quote.Bid == nil || report.Stop >= *report.Quote.Bid {
			t.Errorf("stop %v is not below the BUY entry's market (quote %+v)", report.Stop, report.Quote)
		}
	})

	t.Run("terminal prompts", func(t *testing.T) {
		withTerminal(t, true)
		code, stdout, stderr := runOrderCommand(t, s.configPath, "y\nyes\n", base...)
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "Place this order? [y/N]") || !strings.Contains(stdout, "Confirm? [y/N]") {
			t.Errorf("output lacks the prompts:\n%s", stdout)
		}
		coid := coidOf(t, stdout)
		answers := answersIn(s.records(t), coid)
		if len(answers) != 1 || answers[0].AnsweredBy != audit.AnsweredByUser || !*answers[0].Confirmed {
			t.Errorf("answers = %+v, want one confirmed by the user", answers)
		}
		if entries, children := ticketOrders(s.server, coid); len(entries) != 1 || len(children) != 1 {
			t.Errorf("book has %d entries and %d children, want 1 and 1", len(entries), len(children))
		}
	})

	t.Run("declined question", func(t *testing.T) {
		withTerminal(t, true)
		before := len(s.server.Orders())
		code, stdout, _ := runOrderCommand(t, s.configPath, "y\nn\n", base...)
		if code != exitFailure {
			t.Fatalf("exit %d, want %d; stdout:\n%s", code, exitFailure, stdout)
		}
		if !strings.Contains(stdout, "Declined") {
			t.Errorf("output lacks the decline:\n%s", stdout)
		}
		if after := len(s.server.Orders()); after != before {
			t.Errorf("book grew from %d to %d orders after a decline", before, after)
		}
		answers := answersIn(s.records(t), coidOf(t, stdout))
		if len(answers) != 1 || *answers[0].Confirmed {
			t.Errorf("answers = %+v, want one declined", answers)
		}
	})

	t.Run("not placed at the prompt", func(t *testing.T) {
		withTerminal(t, true)
		before := len(s.server.Orders())
		code, stdout, _ := runOrderCommand(t, s.configPath, "\n", base...)
		if code != exitFailure || !strings.Contains(stdout, "Not placed.") {
			t.Fatalf("exit %d, output:\n%s", code, stdout)
		}
		if after := len(s.server.Orders()); after != before {
			t.Errorf("book grew from %d to %d orders", before, after)
		}
	})

	t.Run("no terminal without yes", func(t *testing.T) {
		before := len(s.server.Orders())
		code, _, stderr := runOrderCommand(t, s.configPath, "y\ny\n", base...)
		if code != exitUsage || !strings.Contains(stderr, "--yes") || !strings.Contains(stderr, "not a terminal") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		if after := len(s.server.Orders()); after != before {
			t.Errorf("book grew from %d to %d orders", before, after)
		}
	})

	t.Run("preview only as JSON", func(t *testing.T) {
		before := len(s.server.Orders())
		code, stdout, stderr := runOrderCommand(t, s.configPath, "", append(base, "--preview-only", "--json")...)
		if code != exitOK {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		var report orderReport
		if err := json.Unmarshal([]byte(stdout), &report); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if report.COID == "" || report.Conid != opt.Conid || report.Preview == nil || report.Preview.Commission == nil || report.Quote == nil || report.Quote.Bid == nil {
			t.Errorf("report = %+v", report)
		}
		if report.Outcome != "" || len(report.Legs) != 0 {
			t.Errorf("preview-only report has outcome %q and %d legs", report.Outcome, len(report.Legs))
		}
		if report.Stop <= report.Limit {
			t.Errorf("stop %v is not above the SELL limit %v", report.Stop, report.Limit)
		}
		if after := len(s.server.Orders()); after != before {
			t.Errorf("book grew from %d to %d orders in a preview", before, after)
		}
	})

	t.Run("invalid fields", func(t *testing.T) {
		oneField := "the ticket has 1 invalid field; nothing was sent"
		tests := []struct {
			name   string
			args   []string
			want   []string
			reject []string
		}{
			{"strike not listed", []string{"--strike", orderform.FormatStrike(opt.Strike + 0.5)},
				[]string{"strike", "is not listed for " + expiry, "nearest listed", oneField}, []string{"limit price"}},
			{"two fields", []string{"--quantity", "6", "--right", "X"}, []string{"the ticket has 2 invalid fields;"}, nil},
			{"quantity over max", []string{"--quantity", "6"}, []string{"over the maximum of 5"}, nil},
			{"stop wrong side", []string{"--stop-loss", "0.01"}, []string{"BUY stop above"}, nil},
			{"BUY stop wrong side", []string{"--side", "BUY", "--stop-loss", "1000"}, []string{"SELL stop below"}, nil},
			{"limit off tick", []string{"--limit", "1.005"}, []string{"tick"}, nil},
			{"expiry malformed", []string{"--expiry", "12/18/2026"}, []string{"YYYY-MM-DD"}, nil},
			{"expiry past", []string{"--expiry", "2020-01-17"}, []string{"in the past", "pick a listed expiry"}, []string{"limit price"}},
			{"expiry not listed", []string{"--expiry", "2099-01-01"}, []string{"not a listed expiry", oneField}, []string{"limit price"}},
			{"right", []string{"--right", "X"}, []string{"P for a put"}, nil},
			{"limit and market", []string{"--market", "--limit", "1.00"}, []string{"exclude each other"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(s.server.Orders())
				args := append(slices.Clone(base), append(tt.args, "--yes")...)
				code, stdout, stderr := runOrderCommand(t, s.configPath, "", args...)
				if code != exitUsage {
					t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitUsage, stdout, stderr)
				}
				for _, want := range tt.want {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr lacks %q:\n%s", want, stderr)
					}
				}
				for _, noise := range tt.reject {
					if strings.Contains(stderr, noise) {
						t.Errorf("stderr contains %q:\n%s", noise, stderr)
					}
				}
				if after := len(s.server.Orders()); after != before {
					t.Errorf("book grew from %d to %d orders", before, after)
				}
			})
		}
	})

	t.Run("lost reply is looked up", func(t *testing.T) {
		id, err := s.server.AddFault(ibsim.Fault{Kind: ibsim.FaultConnectionReset, PathPrefix: "/iserver/reply", Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.server.RemoveFault(id)
		code, stdout, stderr := runOrderCommand(t, s.configPath, "", append(base, "--yes")...)
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "looked cOID") || !strings.Contains(stdout, "the order exists") {
			t.Errorf("output lacks the lookup:\n%s", stdout)
		}
		coid := coidOf(t, stdout)
		entries, children := ticketOrders(s.server, coid)
		if len(entries) != 1 || len(children) != 1 {
			t.Fatalf("book has %d entries and %d children for %s, want exactly 1 and 1", len(entries), len(children), coid)
		}
		replies := 0
		for _, r := range s.records(t) {
			if r.COID == coid && r.Kind == audit.KindRequest && strings.Contains(r.Endpoint, "/iserver/reply/") {
				replies++
			}
		}
		if replies != 1 {
			t.Errorf("audit shows %d replies for %s, want 1 (never resent)", replies, coid)
		}
	})

	// The timeouts need simulators of their own, because their lookups
	// would otherwise share the 5 s limit of the live orders with the
	// lookup above, and the simulator responds to a second one with 429.
	t.Run("timed-out reply is looked up", func(t *testing.T) {
		ts := newOrderSim(t, keyDir)
		shortenRequestTimeout(t)
		opt, expiry := ts.put(t)
		// The reply that confirms the stop question places the order;
		// its response comes after the client has given up.
		if _, err := ts.server.AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse, PathPrefix: "/iserver/reply", Count: 1, Latency: 3 * orderRequestTimeout}); err != nil {
			t.Fatal(err)
		}
		args := []string{"--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "1", "--stop-loss", "3x", "--yes"}
		code, stdout, stderr := runOrderCommand(t, ts.configPath, "", args...)
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "the order exists") {
			t.Errorf("output lacks the lookup:\n%s", stdout)
		}
		coid := coidOf(t, stdout)
		if entries, children := ticketOrders(ts.server, coid); len(entries) != 1 || len(children) != 1 {
			t.Errorf("book has %d entries and %d children for %s, want exactly 1 and 1", len(entries), len(children), coid)
		}
		steps := auditSteps(ts.records(t), coid)
		if steps["request reply"] != 1 || steps["request order"] != 1 {
			t.Errorf("audit steps %v, want one order and one reply request (never resent)", steps)
		}
		if len(ts.server.Orders()) != 2 {
			t.Errorf("book has %d orders, want the one entry and its stop", len(ts.server.Orders()))
		}
	})

	t.Run("timed-out placement is not sent again", func(t *testing.T) {
		ts := newOrderSim(t, keyDir)
		shortenRequestTimeout(t)
		withTerminal(t, true)
		opt, expiry := ts.put(t)
		args := []string{"--config", ts.configPath, "order", "--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "1", "--stop-loss", "3x"}

		// The fault goes on at the prompt, after the what-if, so that it
		// holds back the placement's response only.
		stdin, answer := io.Pipe()
		defer answer.Close()
		stdout, stderr := &syncBuffer{}, &syncBuffer{}
		done := make(chan int, 1)
		go func() { done <- run(context.Background(), args, stdin, stdout, stderr) }()
		waitOutput(t, stdout, "Place this order? [y/N]")
		if _, err := ts.server.AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse, PathPrefix: "/iserver/account/" + ibsim.DefaultAccountID + "/orders", Count: 1, Latency: 3 * orderRequestTimeout}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(answer, "y\n"); err != nil {
			t.Fatal(err)
		}
		var code int
		select {
		case code = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("ibdash order still running; stdout:\n%s", stdout)
		}

		if code != exitFailure {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailure, stderr)
		}
		if !strings.Contains(stdout.String(), "is not among the live orders") {
			t.Errorf("output does not say the order was not placed:\n%s", stdout)
		}
		coid := coidOf(t, stdout.String())
		if entries, children := ticketOrders(ts.server, coid); len(entries) != 0 || len(children) != 0 {
			t.Errorf("book has %d entries and %d children for %s, want none", len(entries), len(children), coid)
		}
		if steps := auditSteps(ts.records(t), coid); steps["request order"] != 1 {
			t.Errorf("audit steps %v, want exactly one order request (never resent)", steps)
		}
	})

	t.Run("killed mid-order keeps the audit log", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary; skipped with -short")
		}
		ts := newOrderSim(t, keyDir)
		bin := buildIbdash(t)
		opt, expiry := ts.put(t)
		// The stop question's reply places the order, and its response is
		// held back for a minute, so the process is killed while it waits.
		if _, err := ts.server.AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse, PathPrefix: "/iserver/reply", Count: 1, Latency: time.Minute}); err != nil {
			t.Fatal(err)
		}
		args := []string{"--config", ts.configPath, "order", "--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "1", "--stop-loss", "3x", "--yes"}
		cmd := exec.Command(bin, args...)
		output := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = output, output
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		reply := waitAuditRecord(t, ts.auditPath, output, func(r audit.Record) bool {
			return r.Kind == audit.KindRequest && strings.Contains(r.Endpoint, "/iserver/reply/")
		})
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		coid := reply.COID
		steps := auditSteps(ts.records(t), coid)
		for step, want := range map[string]int{"request whatif": 1, "response whatif": 1, "request order": 1, "response order": 1, "request reply": 1, "response reply": 0} {
			if steps[step] != want {
				t.Errorf("after the kill the audit log has %d %s records, want %d (all: %v)", steps[step], step, want, steps)
			}
		}
		if answers := answersIn(ts.records(t), coid); len(answers) != 1 || answers[0].AnsweredBy != audit.AnsweredByFlag {
			t.Errorf("answers after the kill = %+v, want the one given by --yes", answers)
		}
		if entries, children := ticketOrders(ts.server, coid); len(entries) != 1 || len(children) != 1 {
			t.Errorf("book has %d entries and %d children for %s, want the order the reply placed", len(entries), len(children), coid)
		}

		// A crash in the middle of a write leaves a torn last line; the
		// next run starts a line of its own after it.
		before := len(ts.records(t))
		f, err := os.OpenFile(ts.auditPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(`{"time":"2026-12-04T15:04:05Z","kind":"requ`); err != nil {
			t.Fatal(err)
		}
		f.Close()
		code, stdout, stderr := runOrderCommand(t, ts.configPath, "", "--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "1", "--stop-loss", "3x", "--preview-only")
		if code != exitOK {
			t.Fatalf("run after the torn line: exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		records, warnings, err := audit.ReadFile(ts.auditPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || warnings[0].Line != before+1 {
			t.Errorf("warnings = %v, want one for the torn line %d", warnings, before+1)
		}
		if next := auditSteps(records, coidOf(t, stdout)); next["request whatif"] != 1 || next["response whatif"] != 1 {
			t.Errorf("the run after the torn line recorded %v, want its what-if", next)
		}
	})
}

// auditSteps counts the records of one cOID by kind and step, such as
// "request order" for the placement's POST or "response reply" for IB's
// response to an answered question.
func auditSteps(records []audit.Record, coid string) map[string]int {
	steps := map[string]int{}
	for _, r := range records {
		if r.COID != coid || (r.Kind != audit.KindRequest && r.Kind != audit.KindResponse) {
			continue
		}
		var step string
		switch {
		case strings.Contains(r.Endpoint, "/orders/whatif"):
			step = "whatif"
		case strings.Contains(r.Endpoint, "/iserver/reply/"):
			step = "reply"
		case r.Method == "POST" && strings.HasSuffix(r.Endpoint, "/orders"):
			step = "order"
		default:
			step = r.Method + " " + r.Endpoint
		}
		steps[string(r.Kind)+" "+step]++
	}
	return steps
}

// shortenRequestTimeout makes each request of `ibdash order` give up
// after 2 s for the rest of the test.
func shortenRequestTimeout(t *testing.T) {
	saved := orderRequestTimeout
	orderRequestTimeout = 2 * time.Second
	t.Cleanup(func() { orderRequestTimeout = saved })
}

// waitOutput polls out until it contains text.
func waitOutput(t *testing.T, out *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not in the output after a minute:\n%s", text, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAuditRecord polls the audit log at path until a record matches,
// and returns it; output is the command's, shown on failure.
func waitAuditRecord(t *testing.T, path string, output *syncBuffer, match func(audit.Record) bool) audit.Record {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		records, _, err := audit.ReadFile(path)
		if err == nil {
			for _, r := range records {
				if match(r) {
					return r
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching audit record after a minute (%v); output:\n%s", err, output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOrderDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the demo's RSA keys")
	}
	t.Cleanup(xdg.Reload)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	xdg.Reload()

	// The demo lists the same chain as a simulator with default options
	// started today.
	opt, expiry := listedPut(t, ibsim.New(ibsim.Options{}))
	args := []string{"--demo", "order", "--expiry", expiry, "--strike", orderform.FormatStrike(opt.Strike), "--quantity", "2", "--stop-loss", "2x", "--preview-only"}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"SELL 2 SPY " + expiry, "What-if", "Preview only"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	records, _, err := audit.ReadFile(filepath.Join(state, "ibdash", demoAuditLog))
	if err != nil {
		t.Fatalf("demo audit log: %v", err)
	}
	if len(records) == 0 {
		t.Error("demo audit log is empty")
	}

	stdout.Reset()
	stderr.Reset()
	args = []string{"--demo", "order", "--expiry", "2020-01-17", "--strike", "600", "--quantity", "1", "--stop-loss", "3x", "--yes"}
	code = run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "in the past") || !strings.Contains(stderr.String(), expiry[:4]) {
		t.Fatalf("past expiry: exit %d; stderr:\n%s", code, stderr.String())
	}
}
