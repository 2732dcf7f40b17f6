package ticket

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/ibsim"
	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/tui/common"
)

// fillPut loads the chain and fills in a put nearest the money on the
// first monthly expiry with the pickers, leaving the stop for the test.
func fillPut(t testing.TB, d *driver, e *simEnv) ibsim.Option {
	t.Helper()
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	put := e.NearPut(t, "20250815")

	d.set(orderform.FieldExpiry, "2025-08-15")
	d.press("enter")
	d.waitFor("the strikes", func() bool { return len(d.m.fields.get(orderform.FieldStrike).options) > 0 })
	d.press("ctrl+u", orderform.FormatStrike(put.Strike), "enter")
	d.waitFor("the quote", func() bool { return d.m.quote != nil })
	return put
}

func TestTicketPlacesBracketAfterTwoQuestions(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	put := fillPut(t, d, e)

	// A limit far above the mid raises o163 besides o10331 for the stop.
	bid, ask, _ := e.Server.Quote(put.Conid)
	limit := orderform.FormatPrice(math.Round((ask+bid)/2*1.5*20) / 20) // on the $0.05 tick
	d.set(orderform.FieldLimit, limit)
	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	for _, want := range []string{"What-if", "commission", "bid", "delta", "cOID"} {
		if !d.screenHas(want) {
			t.Errorf("preview lacks %q:\n%s", want, d.screen())
		}
	}

	d.press("enter")
	var asked [][]string
	for range 2 {
		d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
		asked = append(asked, d.m.question.question.MessageIDs)
		if !d.screenHas("IB asks") {
			t.Errorf("question not on screen:\n%s", d.screen())
		}
		if !d.m.Busy() {
			t.Error("Busy() = false while a question is open")
		}
		if r := d.m.BusyReason(); !strings.Contains(r, "question") || !strings.Contains(r, d.m.plan.COID) {
			t.Errorf("BusyReason() = %q, want the open question and cOID %s", r, d.m.plan.COID)
		}
		d.press("y")
	}
	d.waitFor("the result", func() bool { return d.m.step == stepResult })
	if got := strings.Join(append(asked[0], asked[1]...), ","); !strings.Contains(got, "o163") || !strings.Contains(got, "o10331") {
		t.Errorf("questions = %v, want o163 and o10331", asked)
	}
	if d.m.placement.Outcome != ibclient.OutcomePlaced {
		t.Fatalf("outcome = %v, err %v", d.m.placement.Outcome, d.m.placeErr)
	}
	d.waitFor("the legs' status", func() bool { return len(d.m.legs) == 2 })
	if !d.screenHas(" of 1 filled)") || d.screenHas("1.00 filled") {
		t.Errorf("leg status does not count contracts as whole numbers:\n%s", d.screen())
	}
	if d.m.Busy() || d.m.BusyReason() != "" {
		t.Errorf("Busy() = %v, BusyReason() = %q after the result", d.m.Busy(), d.m.BusyReason())
	}

	book := e.Server.Orders()
	if len(book) != 2 {
		t.Fatalf("book has %d orders, want entry and stop: %+v", len(book), book)
	}
	entry, stop := book[0], book[1]
	if stop.ParentID != entry.COID || entry.COID != d.m.plan.COID {
		t.Errorf("stop parent = %q, entry cOID = %q, ticket cOID = %q", stop.ParentID, entry.COID, d.m.plan.COID)
	}
	if entry.Side != "SELL" || stop.Side != "BUY" || stop.Type != "STP" {
		t.Errorf("entry %s %s, stop %s %s; want SELL entry and BUY STP", entry.Side, entry.Type, stop.Side, stop.Type)
	}
	if stop.Price <= entry.Price {
		t.Errorf("stop %v is not above the SELL entry %v", stop.Price, entry.Price)
	}

	answers := 0
	for _, r := range e.Records(t) {
		if r.Kind == audit.KindAnswer {
			answers++
			if r.AnsweredBy != audit.AnsweredByUser || r.Confirmed == nil || !*r.Confirmed || r.COID != entry.COID {
				t.Errorf("answer record = %+v", r)
			}
		}
	}
	if answers != 2 {
		t.Errorf("%d answers in the audit log, want 2", answers)
	}
}

func TestTicketDeclinedQuestionPlacesNothing(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	fillPut(t, d, e)
	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	d.press("enter")
	d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
	d.press("n")
	d.waitFor("the result", func() bool { return d.m.step == stepResult })

	if d.m.placement.Outcome != ibclient.OutcomeDeclined {
		t.Errorf("outcome = %v, want declined", d.m.placement.Outcome)
	}
	if n := len(e.Server.Orders()); n != 0 {
		t.Errorf("book has %d orders after a decline", n)
	}
	if !d.screenHas("Declined") {
		t.Errorf("screen does not say declined:\n%s", d.screen())
	}
}

func TestTicketInlineErrors(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	put := fillPut(t, d, e)

	cases := []struct {
		field orderform.Field
		value string
		want  string
	}{
		{orderform.FieldExpiry, "2025-08-01", "in the past"},
		{orderform.FieldExpiry, "2025-08-17", "2025-08-15"}, // a Sunday: the nearest listed are named
		{orderform.FieldQuantity, "11", "10"},
		{orderform.FieldLimit, "1.234", "tick"},
		{orderform.FieldStopLoss, "0.01", "above"}, // a SELL entry's stop must be above it
	}
	for _, c := range cases {
		t.Run(string(c.field)+" "+c.value, func(t *testing.T) {
			before := d.m.fields.get(c.field).value()
			d.set(c.field, c.value)
			d.press("tab")
			d.settle()
			fe := d.m.errs.For(c.field)
			if fe == nil {
				t.Fatalf("no error for %s %q; screen:\n%s", c.field, c.value, d.screen())
			}
			if !strings.Contains(fe.Message, c.want) {
				t.Errorf("error = %q, want it to mention %q", fe.Message, c.want)
			}
			if !d.screenHas(fe.Message[:min(len(fe.Message), 30)]) {
				t.Errorf("error not on screen:\n%s", d.screen())
			}
			d.set(c.field, before)
			d.press("tab")
			d.settle()
		})
	}

	t.Run("strike not listed", func(t *testing.T) {
		d.set(orderform.FieldStrike, orderform.FormatStrike(put.Strike+0.5))
		d.press("tab")
		d.settle()
		fe := d.m.errs.For(orderform.FieldStrike)
		if fe == nil {
			t.Fatalf("no strike error; screen:\n%s", d.screen())
		}
		if !strings.Contains(fe.Message, "not listed for 2025-08-15") || !strings.Contains(fe.Message, orderform.FormatStrike(put.Strike)) {
			t.Errorf("strike error = %q, want the expiry and the nearest listed strike %s", fe.Message, orderform.FormatStrike(put.Strike))
		}
		if !d.screenHas("✗ " + fe.Message[:min(len(fe.Message), 30)]) {
			t.Errorf("strike error not on screen:\n%s", d.screen())
		}
		d.set(orderform.FieldStrike, orderform.FormatStrike(put.Strike))
		d.press("tab")
		d.settle()
	})

	// A BUY entry's stop is a SELL stop below the entry: a stop above it
	// is wrong, one below it is right.
	t.Run("BUY stop above entry", func(t *testing.T) {
		d.focusField(orderform.FieldSide)
		d.press("b")
		d.set(orderform.FieldStopLoss, "100")
		d.press("tab")
		d.settle()
		fe := d.m.errs.For(orderform.FieldStopLoss)
		if fe == nil {
			t.Fatalf("no stop error for a BUY with a stop above; screen:\n%s", d.screen())
		}
		if !strings.Contains(fe.Message, "SELL stop below") {
			t.Errorf("stop error = %q, want it to ask for a SELL stop below", fe.Message)
		}
		if !d.screenHas("✗ " + fe.Message[:min(len(fe.Message), 30)]) {
			t.Errorf("stop error not on screen:\n%s", d.screen())
		}

		d.set(orderform.FieldStopLoss, "0.05")
		d.press("tab")
		d.settle()
		if fe := d.m.errs.For(orderform.FieldStopLoss); fe != nil {
			t.Errorf("a BUY stop below the entry is rejected: %v", fe)
		}
		d.focusField(orderform.FieldSide)
		d.press("s")
	})

	t.Run("preview blocked", func(t *testing.T) {
		d.press("ctrl+s")
		if d.m.step != stepEdit || !strings.Contains(d.m.status, "Fix the fields") {
			t.Errorf("step %v, status %q: want the preview refused", d.m.step, d.m.status)
		}
	})
}

func TestTicketSubmitDisabledWhileAnotherPending(t *testing.T) {
	e := newSimEnv(t)
	gate := &Gate{}
	gate.Acquire("other-ticket")
	d := newDriver(t, e, e.options(gate))
	fillPut(t, d, e)
	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	if !d.screenHas("Submit is disabled") {
		t.Errorf("preview does not say submit is disabled:\n%s", d.screen())
	}
	d.press("enter")
	d.settle()
	if d.m.step != stepPreview || !strings.Contains(d.m.status, "other-ticket") {
		t.Errorf("step %v, status %q: want submit refused naming the pending order", d.m.step, d.m.status)
	}
	if n := len(e.Server.Orders()); n != 0 {
		t.Errorf("book has %d orders", n)
	}

	gate.Release("other-ticket")
	d.press("enter")
	d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
	if gate.Holder() != d.m.plan.COID {
		t.Errorf("gate holder = %q while placing %q", gate.Holder(), d.m.plan.COID)
	}
	d.press("y")
	d.waitFor("the result", func() bool { return d.m.step == stepResult })
	if gate.Holder() != "" {
		t.Errorf("gate still held by %q after the result", gate.Holder())
	}
}

func TestTicketLostReplyLooksOrderUp(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	fillPut(t, d, e)
	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })

	// The reply that confirms the stop question places the order, and
	// its response is lost.
	if _, err := e.Server.AddFault(ibsim.Fault{Kind: ibsim.FaultConnectionReset, PathPrefix: "/iserver/reply", Count: 1}); err != nil {
		t.Fatal(err)
	}
	d.press("enter")
	d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
	d.press("y")
	d.waitFor("the result", func() bool { return d.m.step == stepResult })

	if d.m.placement.Outcome != ibclient.OutcomeFound {
		t.Errorf("outcome = %v (err %v), want found by lookup", d.m.placement.Outcome, d.m.placeErr)
	}
	parents := 0
	for _, o := range e.Server.Orders() {
		if o.ParentID == "" {
			parents++
		}
	}
	if parents != 1 {
		t.Errorf("book has %d entry orders, want exactly 1", parents)
	}
	if !d.screenHas("looked up instead of sent again") {
		t.Errorf("screen does not explain the lookup:\n%s", d.screen())
	}
}

func TestTicketEscClosesAndKeepsOpenWhileBusy(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	_, cmd := d.m.Update(namedKeys["esc"])
	if cmd == nil {
		t.Fatal("esc in the form returned no command")
	}
	if _, ok := cmd().(common.DoneMsg); !ok {
		t.Error("esc in the form did not close the ticket")
	}

	d.m.step = stepPlacing
	if _, cmd := d.m.Update(namedKeys["esc"]); cmd != nil {
		t.Error("esc while placing returned a command")
	}
	if !strings.Contains(d.m.status, "has not answered") {
		t.Errorf("status = %q, want why the ticket stays open", d.m.status)
	}
}

func TestTicketPickerFiltersListed(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	f := d.m.fields.get(orderform.FieldExpiry)
	if len(f.options) == 0 {
		t.Fatal("no expiries listed")
	}
	d.focusField(orderform.FieldExpiry)
	d.press("2025-08-1")
	for _, m := range f.matches() {
		if !strings.Contains(m, "2025-08-1") {
			t.Errorf("match %q does not contain the typed text", m)
		}
	}
	d.press("down", "enter")
	got := f.value()
	want := f.options[0]
	for _, o := range f.options {
		if strings.Contains(o, "2025-08-1") {
			want = o
			break
		}
	}
	if got == want || !strings.HasPrefix(got, "2025-08-1") {
		t.Errorf("down then enter took %q; want the second match after %q", got, want)
	}
}

func TestTicketNewSymbolReloadsChain(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	d.set(orderform.FieldSymbol, "QQQ")
	d.press("tab")
	if d.m.step != stepLoading || d.m.chain != nil {
		t.Fatalf("step %v after a new symbol, want loading with the old chain dropped", d.m.step)
	}
	d.waitFor("the failed load", func() bool { return d.m.step == stepFailed })
	if !d.screenHas("QQQ") {
		t.Errorf("failure does not name the symbol:\n%s", d.screen())
	}

	if d.m.fields.focused().id != orderform.FieldSymbol {
		t.Errorf("focus on %s after the failed load, want the symbol", d.m.fields.focused().id)
	}
	d.press("ctrl+u", "SPY", "tab")
	d.waitFor("the chain again", func() bool { return d.m.step == stepEdit })
	if len(d.m.fields.get(orderform.FieldExpiry).options) == 0 {
		t.Error("no expiries listed after the retry")
	}
}

func TestTicketBuyMarketGTCPlacesSellStop(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	put := fillPut(t, d, e)
	d.focusField(orderform.FieldSide)
	d.press("b")
	d.focusField(orderform.FieldOrderType)
	d.press("m")
	d.focusField(orderform.FieldTIF)
	d.press("g")
	d.set(orderform.FieldStopLoss, "0.5x")
	if !d.screenHas("(market)") {
		t.Errorf("the empty limit of a MKT order is not shown as market:\n%s", d.screen())
	}
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	if !d.screenHas("BUY 1 SPY 2025-08-15") || !d.screenHas("MKT GTC") {
		t.Errorf("preview does not show a BUY MKT GTC order:\n%s", d.screen())
	}

	d.press("enter")
	for d.m.step != stepResult {
		d.waitFor("a question or the result", func() bool { return d.m.step == stepQuestion || d.m.step == stepResult })
		if d.m.step == stepQuestion {
			d.press("y")
		}
	}
	if d.m.placement.Outcome != ibclient.OutcomePlaced {
		t.Fatalf("outcome = %v, err %v", d.m.placement.Outcome, d.m.placeErr)
	}
	book := e.Server.Orders()
	if len(book) != 2 {
		t.Fatalf("book has %d orders, want entry and stop: %+v", len(book), book)
	}
	entry, stop := book[0], book[1]
	if entry.Side != "BUY" || entry.Type != "MKT" || entry.TIF != "GTC" || entry.Conid != put.Conid {
		t.Errorf("entry = %+v, want BUY MKT GTC of conid %d", entry, put.Conid)
	}
	if stop.Side != "SELL" || stop.Type != "STP" || stop.ParentID != entry.COID {
		t.Errorf("stop = %+v, want a SELL STP linked to %s", stop, entry.COID)
	}
	if stop.Price != d.m.plan.Order.Stop {
		t.Errorf("stop price in the book %v, want the plan's %v", stop.Price, d.m.plan.Order.Stop)
	}
	if ask := d.m.plan.Quote.Ask.Value; d.m.plan.Order.Stop >= ask {
		t.Errorf("stop %v is not below the BUY entry's ask %v", d.m.plan.Order.Stop, ask)
	}
}

func TestTicketPickerListStaysWithError(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	put := fillPut(t, d, e)

	// Leaving the strike empty marks it; coming back, the listed strikes
	// must still be on screen next to the error.
	d.set(orderform.FieldStrike, "")
	d.press("tab")
	d.settle()
	d.focusField(orderform.FieldStrike)
	if d.m.errs.For(orderform.FieldStrike) == nil {
		t.Fatalf("no error for an empty strike; screen:\n%s", d.screen())
	}
	screen := d.screen()
	if !strings.Contains(screen, "listed  "+orderform.FormatStrike(put.Strike)) {
		t.Errorf("listed strikes not on screen while the field has an error:\n%s", screen)
	}
	if !strings.Contains(screen, "strike: is missing") {
		t.Errorf("the error is not on screen with the list:\n%s", screen)
	}

	d.press("enter")
	d.settle()
	if got := d.m.fields.get(orderform.FieldStrike).value(); got != orderform.FormatStrike(put.Strike) {
		t.Errorf("enter took %q, want the strike nearest the money %s", got, orderform.FormatStrike(put.Strike))
	}
}

func TestTicketChoiceShownWithoutColor(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	for _, want := range []string{"[P] C ", "[SELL] BUY ", "[LMT] MKT ", "[DAY] GTC "} {
		if !d.screenHas(want) {
			t.Errorf("default choice %q not marked in plain text:\n%s", want, d.screen())
		}
	}
	d.focusField(orderform.FieldSide)
	d.press("b")
	d.focusField(orderform.FieldTIF)
	d.press("space")
	for _, want := range []string{" SELL [BUY]", " DAY [GTC]"} {
		if !d.screenHas(want) {
			t.Errorf("changed choice %q not marked in plain text:\n%s", want, d.screen())
		}
	}
}

// TestTicketDrawsOnlyOnChange checks the ticket adds no timer of its
// own while the form is open: the text cursor does not blink, and a
// placed order's status is polled no faster than once a second.
func TestTicketDrawsOnlyOnChange(t *testing.T) {
	m := New(common.New(), Options{})
	for _, f := range m.fields.list {
		if f.kind == kindChoice {
			continue
		}
		if cmd := f.focus(); cmd != nil {
			t.Errorf("focusing %s returns a command (a cursor blink): %T", f.id, cmd())
		}
		f.blur()
	}
	if m.opts.StatusInterval < time.Second {
		t.Errorf("default status interval %s is under a second", m.opts.StatusInterval)
	}
}

// TestTicketErrorWaitsUntilFieldLeft types a filter into the untouched
// expiry picker: the list narrows without an error mark, and the error
// shows once the field is left with text that is not a date.
func TestTicketErrorWaitsUntilFieldLeft(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	d.waitFor("the chain", func() bool { return d.m.step == stepEdit })
	if d.m.fields.focused().id != orderform.FieldExpiry {
		t.Fatalf("focus on %s at start, want the expiry", d.m.fields.focused().id)
	}

	d.press("08-15")
	if d.m.errs.For(orderform.FieldExpiry) == nil {
		t.Fatal("no check error for the partial expiry 08-15; the test needs one")
	}
	if d.screenHas("✗") {
		t.Errorf("error marked while the expiry is typed for the first time:\n%s", d.screen())
	}
	if !d.screenHas("listed  2025-08-15") {
		t.Errorf("filtered list not on screen:\n%s", d.screen())
	}

	d.press("tab")
	if !d.screenHas("✗ is not a date") {
		t.Errorf("error not marked after the expiry was left:\n%s", d.screen())
	}
}

// TestTicketTextsMatchScreen follows a ticket to a declined question and
// checks each text against what the screen shows at that step.
func TestTicketTextsMatchScreen(t *testing.T) {
	e := newSimEnv(t)
	d := newDriver(t, e, e.options(nil))
	fillPut(t, d, e)

	d.press("ctrl+s")
	screen := d.screen()
	mark, status := strings.Index(screen, "✗"), strings.Index(screen, "Fix the fields")
	if mark < 0 || status < 0 {
		t.Fatalf("want a marked field and the reason the preview waits:\n%s", screen)
	}
	if status < mark {
		t.Errorf("status is above the marked fields:\n%s", screen)
	}
	if !strings.Contains(d.m.status, "marked above") {
		t.Errorf("status = %q, want it to point above, where the marks are", d.m.status)
	}

	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	for _, b := range d.m.ShortHelp() {
		if b.Help().Key == "esc" && b.Help().Desc != "back to form" {
			t.Errorf("preview help says esc %q, want back to form", b.Help().Desc)
		}
	}
	d.press("esc")
	if d.m.step != stepEdit {
		t.Fatalf("esc in the preview went to step %v, want the form", d.m.step)
	}

	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	d.press("enter")
	d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
	d.press("x")
	if !d.screenHas("IB waits for an answer") {
		t.Fatalf("no reminder after a key that is not an answer:\n%s", d.screen())
	}
	d.press("n")
	d.waitFor("the result", func() bool { return d.m.step == stepResult })
	if d.screenHas("IB waits for an answer") {
		t.Errorf("reminder of the question stays on the result:\n%s", d.screen())
	}
}

// TestTicketUnansweredQuestionFreesGate leaves IB's question on screen
// and stops delivering messages, as when an SSH viewer drops: the
// question is declined after QuestionTimeout and the gate is free again
// without the model ever seeing the result.
func TestTicketUnansweredQuestionFreesGate(t *testing.T) {
	e := newSimEnv(t)
	gate := &Gate{}
	opts := e.options(gate)
	opts.QuestionTimeout = 300 * time.Millisecond
	d := newDriver(t, e, opts)
	fillPut(t, d, e)
	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	d.press("enter")
	d.waitFor("a question", func() bool { return d.m.step == stepQuestion })
	coid := d.m.plan.COID
	if gate.Holder() != coid {
		t.Fatalf("gate holder = %q while the question is open, want %q", gate.Holder(), coid)
	}

	deadline := time.Now().Add(20 * time.Second)
	for gate.Holder() != "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if gate.Holder() != "" {
		t.Fatalf("gate still held by %q after the question timed out", gate.Holder())
	}
	if n := len(e.Server.Orders()); n != 0 {
		t.Errorf("book has %d orders after an unanswered question", n)
	}

	d.waitFor("the result", func() bool { return d.m.step == stepResult })
	if d.m.placement.Outcome != ibclient.OutcomeDeclined || d.m.placeErr == nil || !strings.Contains(d.m.placeErr.Error(), "not answered within") {
		t.Errorf("outcome %v, err %v; want declined for want of an answer", d.m.placement.Outcome, d.m.placeErr)
	}
}
