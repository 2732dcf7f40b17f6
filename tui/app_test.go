package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/gateway"
	"github.com/ibdash/ibdash/tui/common"
)

func press(m *Model, keys ...tea.KeyPressMsg) []tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		_, cmd := m.Update(k)
		cmds = append(cmds, cmd)
	}
	return cmds
}

func keyRune(r rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: r, Text: string(r)} }

var (
	keyTab      = tea.KeyPressMsg{Code: tea.KeyTab}
	keyShiftTab = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	keyDown     = tea.KeyPressMsg{Code: tea.KeyDown}
	keyEsc      = tea.KeyPressMsg{Code: tea.KeyEscape}
	keyCtrlC    = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
)

// run executes cmd and the commands it batches, and returns the messages
// they produce. It must not be given the clock tick, which waits for the
// next second.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, run(c)...)
		}
		return out
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

// drive runs cmd, feeds what it produces back into the model and does
// the same with the commands those messages return, as the program
// would. It returns every message seen.
func drive(m *Model, cmd tea.Cmd) []tea.Msg {
	var seen []tea.Msg
	for _, msg := range run(cmd) {
		seen = append(seen, msg)
		if _, ok := msg.(tea.QuitMsg); ok {
			continue
		}
		_, next := m.Update(msg)
		seen = append(seen, drive(m, next)...)
	}
	return seen
}

func isQuit(cmd tea.Cmd) bool {
	for _, msg := range run(cmd) {
		if _, ok := msg.(tea.QuitMsg); ok {
			return true
		}
	}
	return false
}

func rings(cmd tea.Cmd) bool {
	for _, msg := range run(cmd) {
		if raw, ok := msg.(tea.RawMsg); ok && raw.Msg == bell {
			return true
		}
	}
	return false
}

func newSized(t *testing.T, opts Options, width, height int) *Model {
	t.Helper()
	m := New(opts)
	feed(m, tea.WindowSizeMsg{Width: width, Height: height})
	return m
}

func screen(m *Model) string { return ansi.Strip(m.View().Content) }

func TestFocusCyclesWithTab(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	want := []panel{m.session, m.gateway, m.errors, m.orders, m.keys}
	for i, p := range want {
		press(m, keyTab)
		if m.panels[m.focus] != p {
			t.Fatalf("after %d tabs focus is %s, want %s", i+1, m.panels[m.focus].Title(), p.Title())
		}
	}
	press(m, keyShiftTab)
	if m.panels[m.focus] != m.orders {
		t.Errorf("shift+tab from keys focused %s, want Orders", m.panels[m.focus].Title())
	}
}

func TestArrowsMoveOnlyFocusedPanel(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	feed(m, sampleData()...)
	press(m, keyDown, keyRune('j'))
	if m.keys.selected != 2 {
		t.Errorf("keys selection = %d after down and j, want 2", m.keys.selected)
	}
	if m.errors.selected != 0 {
		t.Errorf("errors selection moved to %d while keys had focus", m.errors.selected)
	}
	press(m, keyRune('k'))
	if m.keys.selected != 1 {
		t.Errorf("keys selection = %d after k, want 1", m.keys.selected)
	}
}

// TestListKeysInEveryPanel presses the movement keys in each panel with
// a list: arrows and vim keys move by one, g/home and G/end jump to the
// ends, and the selection stops at the first and last row.
func TestListKeysInEveryPanel(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	feed(m, sampleData()...)
	feed(m, common.ErrorMsg{Source: "orders", Err: errBoom})
	feed(m, OrdersMsg{Orders: []Order{liveBracket(), sampleData()[6].(OrdersMsg).Orders[0]}})
	panels := []struct {
		panel    panel
		selected func() int
		rows     int
	}{
		{m.keys, func() int { return m.keys.selected }, 3},
		{m.errors, func() int { return m.errors.selected }, 3},
		{m.orders, func() int { return m.orders.selected }, 2},
	}
	keyEnd := tea.KeyPressMsg{Code: tea.KeyEnd}
	keyHome := tea.KeyPressMsg{Code: tea.KeyHome}
	keyUp := tea.KeyPressMsg{Code: tea.KeyUp}
	steps := []struct {
		name string
		key  tea.KeyPressMsg
		want func(rows int) int
	}{
		{"G", keyRune('G'), func(rows int) int { return rows - 1 }},
		{"j at the end", keyRune('j'), func(rows int) int { return rows - 1 }},
		{"k", keyRune('k'), func(rows int) int { return rows - 2 }},
		{"g", keyRune('g'), func(int) int { return 0 }},
		{"up at the top", keyUp, func(int) int { return 0 }},
		{"down", keyDown, func(int) int { return 1 }},
		{"end", keyEnd, func(rows int) int { return rows - 1 }},
		{"home", keyHome, func(int) int { return 0 }},
	}
	for _, p := range panels {
		for m.panels[m.focus] != p.panel {
			press(m, keyTab)
		}
		for _, step := range steps {
			press(m, step.key)
			if got, want := p.selected(), step.want(p.rows); got != want {
				t.Errorf("%s: %s selects row %d, want %d", p.panel.Title(), step.name, got, want)
			}
		}
	}
}

// recorder is the Recheck and CancelOrder funcs of a test: it records
// each call and returns the configured error.
type recorder struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *recorder) recheck(_ context.Context, consumerKey string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, consumerKey)
	return r.err
}

func (r *recorder) cancel(_ context.Context, o Order) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, o.ID)
	if r.err != nil {
		return "", r.err
	}
	return "cancelled", nil
}

func TestRecheckIsTaskEndedByStatus(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.Recheck = rec.recheck
	m := newSized(t, opts, 120, 40)
	feed(m, sampleData()...)

	press(m, keyDown) // NEWKEY01
	drive(m, press(m, keyRune('r'))[0])
	if len(rec.calls) != 1 || rec.calls[0] != "NEWKEY01" {
		t.Fatalf("Recheck calls = %q, want [NEWKEY01]", rec.calls)
	}
	if got := screen(m); !strings.Contains(got, "⟳ recheck NEWKEY01") {
		t.Fatalf("running task not shown:\n%s", got)
	}
	if !strings.Contains(screen(m), "checking…") {
		t.Errorf("keys panel does not mark NEWKEY01 as checking")
	}

	feed(m, KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "NEWKEY01", State: ibclient.KeyActive, CheckedAt: fixedNow}})
	got := screen(m)
	if !strings.Contains(got, "✓ recheck NEWKEY01: active") {
		t.Errorf("finished task not shown:\n%s", got)
	}
	if strings.Contains(got, "checking…") {
		t.Errorf("checking mark stays after the status arrived")
	}
}

func TestRecheckFailureReported(t *testing.T) {
	rec := &recorder{err: &ibclient.NetworkError{Op: "POST /oauth/live_session_token", Err: errors.New("connection refused")}}
	opts := testOptions()
	opts.Recheck = rec.recheck
	m := newSized(t, opts, 120, 40)

	drive(m, press(m, keyRune('r'))[0])
	got := screen(m)
	if !strings.Contains(got, "✗ recheck BEARHEDGE") {
		t.Errorf("failed task not shown:\n%s", got)
	}
	if len(m.errors.entries) != 1 || m.errors.entries[0].info.Kind != "network" {
		t.Errorf("errors panel = %+v, want one network error", m.errors.entries)
	}
}

func TestRecheckTimesOut(t *testing.T) {
	now := fixedNow
	opts := testOptions()
	opts.Clock = func() time.Time { return now }
	opts.Recheck = (&recorder{}).recheck
	opts.TaskTimeout = 10 * time.Second
	m := newSized(t, opts, 120, 40)

	drive(m, press(m, keyRune('r'))[0])
	now = now.Add(11 * time.Second)
	feed(m, tickMsg(now))
	if got := screen(m); !strings.Contains(got, "✗ recheck BEARHEDGE: no answer in time") {
		t.Errorf("timed-out task not shown:\n%s", got)
	}
	if m.keys.checking["BEARHEDGE"] {
		t.Errorf("key still marked as checking after the timeout")
	}
}

func TestRecheckWithoutWatcherExplains(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	drive(m, press(m, keyRune('r'))[0])
	if m.notice == nil || !strings.Contains(m.notice.text, "no key watcher") {
		t.Errorf("notice = %+v, want one about the missing key watcher", m.notice)
	}
}

func TestKeyTurningActiveRings(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	first := feed(m, KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "BEARHEDGE", State: ibclient.KeyActive}})
	if rings(first[0]) || m.notice != nil {
		t.Errorf("first finding of an active key rang or raised a notice")
	}

	feed(m, KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "NEWKEY01", State: ibclient.KeyPending, Err: invalidConsumer()}})
	cmds := feed(m, KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "NEWKEY01", State: ibclient.KeyActive}})
	if !rings(cmds[0]) {
		t.Errorf("pending key turning active did not ring the bell")
	}
	if m.notice == nil || !strings.Contains(m.notice.text, "NEWKEY01 is now active") {
		t.Errorf("notice = %+v, want NEWKEY01 is now active", m.notice)
	}
	if !strings.Contains(screen(m), "» Consumer key NEWKEY01 is now active") {
		t.Errorf("notice not on screen:\n%s", screen(m))
	}
}

func TestSessionDropRings(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	up := ibclient.SessionEvent{State: ibclient.SessionReady, Authenticated: true, Connected: true}
	if cmds := feed(m, SessionMsg{up}); rings(cmds[0]) {
		t.Errorf("first ready event rang the bell")
	}
	down := ibclient.SessionEvent{State: ibclient.SessionDegraded, Authenticated: true,
		Message: "tickle timed out; retrying", Err: context.DeadlineExceeded}
	cmds := feed(m, SessionMsg{down})
	if !rings(cmds[0]) {
		t.Errorf("session drop did not ring the bell")
	}
	if m.notice == nil || !strings.Contains(m.notice.text, "Session dropped: now degraded (tickle timed out; retrying)") {
		t.Errorf("notice = %+v", m.notice)
	}
	if len(m.errors.entries) != 1 || m.errors.entries[0].source != "session" {
		t.Errorf("session error not recorded: %+v", m.errors.entries)
	}
}

func TestReplayedRestartIsQuiet(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	r := gateway.Restart{Time: fixedNow, Reason: "port 4001: CLOSE_WAIT 21 >= 20 for 3 scans",
		Ports: []gateway.PortCounts{{Port: 4001, Listening: true}}, Command: []string{"leaky-restart"}}
	cmds := feed(m, GatewayRestartMsg{Restart: r, Replayed: true})
	if cmds[0] != nil {
		t.Errorf("replayed restart returned a command (bell or notice)")
	}
	if m.notice != nil {
		t.Errorf("replayed restart raised notice %q", m.notice.text)
	}
	if got := screen(m); !strings.Contains(got, "last restart 19:30:00 :4001: exit 0") {
		t.Errorf("gateway panel does not show the replayed restart:\n%s", got)
	}
}

func TestGatewayRestartRings(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	r := gateway.Restart{Time: fixedNow, Reason: "port 4001: CLOSE_WAIT 21 >= 20 for 3 scans",
		Ports: []gateway.PortCounts{{Port: 4001, Listening: true}}, Command: []string{"leaky-restart"}}
	cmds := feed(m, GatewayRestartMsg{Restart: r})
	if !rings(cmds[0]) {
		t.Errorf("gateway restart did not ring the bell")
	}
	got := screen(m)
	if !strings.Contains(got, "Gateway :4001 was restarted (exit 0)") {
		t.Errorf("restart notice missing:\n%s", got)
	}
	if !strings.Contains(got, "last restart 19:30:00 :4001: exit 0") {
		t.Errorf("gateway panel does not show the restart:\n%s", got)
	}

	failed := r
	failed.Error, failed.ExitStatus = "exit status 1", 1
	feed(m, GatewayRestartMsg{Restart: failed})
	if m.notice == nil || m.notice.tone != common.ToneBad {
		t.Errorf("failed restart notice = %+v, want a bad-tone notice", m.notice)
	}
}

func TestEscDismissesNotice(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	m.setNotice("hello", common.ToneInfo, false)
	press(m, keyEsc)
	if m.notice != nil {
		t.Errorf("esc left the notice %q", m.notice.text)
	}
}

func TestNoticeExpires(t *testing.T) {
	now := fixedNow
	opts := testOptions()
	opts.Clock = func() time.Time { return now }
	m := newSized(t, opts, 120, 40)
	m.setNotice("hello", common.ToneInfo, false)
	now = now.Add(noticeTTL + time.Second)
	feed(m, tickMsg(now))
	if m.notice != nil {
		t.Errorf("notice still shown after %s", noticeTTL)
	}
}

func TestQuitWithoutOrderInFlight(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	if !isQuit(press(m, keyRune('q'))[0]) {
		t.Errorf("q did not quit")
	}
	if !isQuit(press(m, keyCtrlC)[0]) {
		t.Errorf("ctrl+c did not quit")
	}
}

// testTicket is an order ticket for the tests: it records the keys it
// gets, reports busy (with reason) while its order is "in flight" and
// sends DoneMsg on esc.
type testTicket struct {
	common common.Common
	keys   []string
	busy   bool
	reason string
}

func (tk *testTicket) Init() tea.Cmd { return nil }

func (tk *testTicket) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		tk.keys = append(tk.keys, k.String())
		if key.Matches(k, tk.common.KeyMap.Back) {
			return tk, common.DoneCmd("Order ticket closed.", nil)
		}
	}
	return tk, nil
}

func (tk *testTicket) View() string              { return "TICKET " + strings.Join(tk.keys, ",") }
func (tk *testTicket) SetSize(width, height int) { tk.common.SetSize(width, height) }
func (tk *testTicket) ShortHelp() []key.Binding  { return []key.Binding{tk.common.KeyMap.Back} }
func (tk *testTicket) FullHelp() [][]key.Binding { return [][]key.Binding{tk.ShortHelp()} }
func (tk *testTicket) Busy() bool                { return tk.busy }
func (tk *testTicket) BusyReason() string        { return tk.reason }

func ticketOptions(tk **testTicket) Options {
	opts := testOptions()
	opts.NewTicket = func(c common.Common) common.Component {
		*tk = &testTicket{common: c}
		return *tk
	}
	return opts
}

func TestTicketGetsKeysUntilDone(t *testing.T) {
	var tk *testTicket
	m := newSized(t, ticketOptions(&tk), 80, 24)

	drive(m, press(m, keyRune('n'))[0])
	if m.mode != modeTicket || tk == nil {
		t.Fatalf("n did not open the ticket (mode %d)", m.mode)
	}
	if tk.common.Width != 80 || tk.common.Height != 24-chromeRows {
		t.Errorf("ticket size = %dx%d, want 80x%d", tk.common.Width, tk.common.Height, 24-chromeRows)
	}
	cmds := press(m, keyRune('q'), keyTab)
	for _, c := range cmds {
		if isQuit(c) {
			t.Fatalf("q quit while the ticket was open")
		}
	}
	if strings.Join(tk.keys, ",") != "q,tab" {
		t.Errorf("ticket got keys %q, want q,tab", tk.keys)
	}
	if !strings.Contains(screen(m), "TICKET q,tab") {
		t.Errorf("ticket view not on screen:\n%s", screen(m))
	}

	drive(m, press(m, keyEsc)[0])
	if m.mode != modeDashboard || m.ticket != nil {
		t.Errorf("DoneMsg did not close the ticket (mode %d)", m.mode)
	}
	if m.notice == nil || m.notice.text != "Order ticket closed." {
		t.Errorf("notice = %+v, want the ticket's notice", m.notice)
	}
}

func TestQuitAsksWhileOrderInFlight(t *testing.T) {
	var tk *testTicket
	m := newSized(t, ticketOptions(&tk), 80, 24)
	drive(m, press(m, keyRune('n'))[0])
	tk.busy = true

	if isQuit(press(m, keyCtrlC)[0]) {
		t.Fatalf("ctrl+c quit at once with an order in flight")
	}
	if m.mode != modeConfirm || !strings.Contains(screen(m), "An order is in flight") {
		t.Fatalf("no quit question (mode %d):\n%s", m.mode, screen(m))
	}
	press(m, keyRune('n'))
	if m.mode != modeTicket {
		t.Errorf("n in the question went to mode %d, want back to the ticket", m.mode)
	}
	if len(tk.keys) != 0 {
		t.Errorf("the ticket saw the answer keys %q", tk.keys)
	}

	press(m, keyCtrlC)
	if !isQuit(press(m, keyRune('y'))[0]) {
		t.Errorf("y in the quit question did not quit")
	}
}

func TestQuitQuestionNamesTicketReason(t *testing.T) {
	var tk *testTicket
	m := newSized(t, ticketOptions(&tk), 120, 40)
	drive(m, press(m, keyRune('n'))[0])
	tk.busy, tk.reason = true, "IB's question about order X-1 is still open."

	press(m, keyCtrlC)
	got := screen(m)
	if !strings.Contains(got, "IB's question about order X-1 is still open. Quit anyway?") {
		t.Errorf("quit question does not give the ticket's reason:\n%s", got)
	}
	if strings.Contains(got, "An order is in flight") {
		t.Errorf("quit question gives the generic reason next to the ticket's:\n%s", got)
	}
}

func TestQuitAsksWhileCancelRuns(t *testing.T) {
	opts := testOptions()
	opts.CancelOrder = (&recorder{}).cancel
	m := newSized(t, opts, 120, 40)
	feed(m, OrdersMsg{Orders: []Order{liveBracket()}})
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}
	drive(m, press(m, keyRune('c'))[0])
	// The cancel's command is not run, so the task stays running.
	if press(m, keyRune('y'))[0] == nil {
		t.Fatal("y in the cancel question started nothing")
	}

	if isQuit(press(m, keyRune('q'))[0]) {
		t.Fatal("q quit at once while a cancel was running")
	}
	if !strings.Contains(screen(m), "A cancel is running") {
		t.Errorf("quit question does not mention the cancel:\n%s", screen(m))
	}
}

// liveBracket is an order whose entry and stop both still work.
func liveBracket() Order {
	return Order{ID: "2001", Description: "SELL 1 SPY 2026-12-18 580 P LMT 2.10", Legs: []Leg{
		{Role: "parent", OrderID: "2001", Status: "Submitted", Size: 1},
		{Role: "stop", OrderID: "2002", Status: "PreSubmitted", Size: 1},
	}}
}

func TestCancelAsksThenRuns(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.CancelOrder = rec.cancel
	m := newSized(t, opts, 120, 40)
	feed(m, sampleData()...)
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}

	drive(m, press(m, keyRune('c'))[0])
	if m.mode != modeConfirm {
		t.Fatalf("c did not ask first (mode %d)", m.mode)
	}
	if !strings.Contains(screen(m), "Cancel its stop, order 1183726") {
		t.Errorf("question does not name the stop of the filled order:\n%s", screen(m))
	}
	if len(rec.calls) != 0 {
		t.Fatalf("cancel ran before the answer: %q", rec.calls)
	}

	// The sample's entry is filled, so only its stop can be cancelled.
	drive(m, press(m, keyRune('y'))[0])
	if len(rec.calls) != 1 || rec.calls[0] != "1183726" {
		t.Fatalf("CancelOrder calls = %q, want the stop [1183726]", rec.calls)
	}
	if got := screen(m); !strings.Contains(got, "✓ cancel order 1183726: cancelled") {
		t.Errorf("cancel result not shown:\n%s", got)
	}
}

func TestCancelLiveEntryCancelsBracket(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.CancelOrder = rec.cancel
	m := newSized(t, opts, 120, 40)
	feed(m, OrdersMsg{Orders: []Order{liveBracket()}})
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}

	drive(m, press(m, keyRune('c'))[0])
	if q := m.confirm; q == nil || q.question != "Cancel order 2001 (SELL 1 SPY 2026-12-18 580 P LMT 2.10) and its attached stop at IB?" {
		t.Errorf("question does not name the entry and its stop:\n%s", screen(m))
	}
	drive(m, press(m, keyRune('y'))[0])
	if len(rec.calls) != 1 || rec.calls[0] != "2001" {
		t.Errorf("CancelOrder calls = %q, want the entry [2001]", rec.calls)
	}
}

func TestCancelDoneOrderExplains(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.CancelOrder = rec.cancel
	m := newSized(t, opts, 120, 40)
	done := liveBracket()
	done.Legs[0].Status, done.Legs[1].Status = "Filled", "Cancelled"
	feed(m, OrdersMsg{Orders: []Order{done}})
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}

	drive(m, press(m, keyRune('c'))[0])
	if m.mode != modeDashboard {
		t.Errorf("c on a finished order opened mode %d, want no question", m.mode)
	}
	if len(rec.calls) != 0 {
		t.Errorf("CancelOrder calls = %q, want none", rec.calls)
	}
	if got := screen(m); !strings.Contains(got, "Order 2001 is done (Filled, Cancelled)") {
		t.Errorf("notice does not say why nothing is cancelled:\n%s", got)
	}
}

func TestCancelDeclinedDoesNothing(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.CancelOrder = rec.cancel
	m := newSized(t, opts, 120, 40)
	feed(m, sampleData()...)
	press(m, keyShiftTab) // orders
	drive(m, press(m, keyRune('c'))[0])
	press(m, keyEsc)
	if m.mode != modeDashboard || len(rec.calls) != 0 {
		t.Errorf("esc in the cancel question: mode %d, calls %q", m.mode, rec.calls)
	}
}

func TestHelpToggles(t *testing.T) {
	m := newSized(t, testOptions(), 80, 24)
	press(m, keyRune('?'))
	if m.mode != modeHelp || !strings.Contains(screen(m), "next panel") {
		t.Fatalf("? did not show the full help:\n%s", screen(m))
	}
	press(m, keyRune('?'))
	if m.mode != modeDashboard {
		t.Errorf("second ? left mode %d", m.mode)
	}
}

func TestLayoutFitsEverySize(t *testing.T) {
	sizes := [][2]int{{80, 24}, {100, 30}, {120, 40}, {200, 60}, {60, 20}}
	m := New(testOptions())
	feed(m, sampleData()...)
	for _, size := range sizes {
		feed(m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for focus := range m.panels {
			m.setFocus(focus)
			lines := strings.Split(m.View().Content, "\n")
			if len(lines) != size[1] {
				t.Errorf("%dx%d focus %d: %d lines", size[0], size[1], focus, len(lines))
			}
			for i, line := range lines {
				if w := ansi.StringWidth(line); w > size[0] {
					t.Errorf("%dx%d focus %d: line %d is %d wide: %q", size[0], size[1], focus, i, w, ansi.Strip(line))
				}
			}
		}
	}
}

func TestResizeSwitchesColumns(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	feed(m, sampleData()...)
	wide := screen(m)
	if !strings.Contains(wide, "Consumer keys  3 configured") || !strings.Contains(wide, "IB errors  2") {
		t.Fatalf("120x40 does not show keys and errors in full:\n%s", wide)
	}
	feed(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	narrow := screen(m)
	if !strings.Contains(narrow, "IB errors: 2") {
		t.Errorf("80x24 does not collapse the errors panel to its summary:\n%s", narrow)
	}
	if strings.Contains(narrow, "╮╭") {
		t.Errorf("80x24 still has two columns:\n%s", narrow)
	}
}

// TestPlacedOrderWaitsForIBList shows an order the ticket placed until a
// refresh of IB's order list includes it; a failed refresh keeps it.
func TestPlacedOrderWaitsForIBList(t *testing.T) {
	rec := &recorder{}
	opts := testOptions()
	opts.CancelOrder = rec.cancel
	m := newSized(t, opts, 120, 40)
	feed(m, OrdersMsg{Orders: []Order{}})
	feed(m, common.PlacedMsg{OrderIDs: []string{"2001", "2002"}, Description: "SELL 1 SPY 2026-12-18 580 P LMT 2.10"})

	got := screen(m)
	if strings.Contains(got, "No orders yet") {
		t.Errorf("orders panel says no orders after a placement:\n%s", got)
	}
	if !strings.Contains(got, "#2001 SELL 1 SPY") || !strings.Contains(got, placedStatus) {
		t.Errorf("placed order not shown as waiting for IB's list:\n%s", got)
	}
	if s := ansi.Strip(m.orders.Summary(80)); !strings.Contains(s, "last #2001 placed") {
		t.Errorf("summary = %q, want the placed order", s)
	}

	feed(m, OrdersMsg{Err: errBoom})
	if !strings.Contains(screen(m), placedStatus) {
		t.Errorf("a failed refresh dropped the placed order:\n%s", screen(m))
	}

	// The placed order can be cancelled before IB lists it.
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}
	drive(m, press(m, keyRune('c'))[0])
	if q := m.confirm; q == nil || !strings.Contains(q.question, "Cancel order 2001") || !strings.Contains(q.question, "attached stop") {
		t.Errorf("cancel question does not name order 2001 and its stop:\n%s", screen(m))
	}
	press(m, keyEsc)

	feed(m, OrdersMsg{Orders: []Order{liveBracket()}})
	got = screen(m)
	if strings.Contains(got, placedStatus) {
		t.Errorf("placed order still waits after IB listed it:\n%s", got)
	}
	if !strings.Contains(got, "parent #2001 Submitted") {
		t.Errorf("IB's status of order 2001 not shown:\n%s", got)
	}
}

// TestOrdersDisabledShowsReason turns orders off as a read-only viewer
// of ibdash serve has them: nothing offers n or c, and pressing either
// shows the reason instead of opening the ticket or a cancel question.
func TestOrdersDisabledShowsReason(t *testing.T) {
	const reason = "Orders are off over SSH: ibdash serve was started without --allow-orders."
	var tk *testTicket
	rec := &recorder{}
	opts := ticketOptions(&tk)
	opts.CancelOrder = rec.cancel
	opts.OrdersDisabled = reason
	m := newSized(t, opts, 120, 40)

	got := screen(m)
	for _, offer := range []string{"n new order", "Press n"} {
		if strings.Contains(got, offer) {
			t.Errorf("screen offers %q while orders are off:\n%s", offer, got)
		}
	}
	if !strings.Contains(got, "orders off") {
		t.Errorf("orders panel does not say orders are off:\n%s", got)
	}
	if s := ansi.Strip(m.orders.Summary(80)); !strings.Contains(s, "orders off") || strings.Contains(s, "new order") {
		t.Errorf("summary = %q, want orders off", s)
	}

	drive(m, press(m, keyRune('n'))[0])
	if m.mode != modeDashboard || tk != nil {
		t.Errorf("n opened mode %d (ticket built: %v), want the dashboard", m.mode, tk != nil)
	}
	if m.notice == nil || m.notice.text != reason {
		t.Errorf("notice after n = %+v, want the reason", m.notice)
	}

	feed(m, OrdersMsg{Orders: []Order{liveBracket()}})
	for m.panels[m.focus] != m.orders {
		press(m, keyTab)
	}
	m.notice = nil
	drive(m, press(m, keyRune('c'))[0])
	if m.mode != modeDashboard || len(rec.calls) != 0 {
		t.Errorf("c asked or cancelled (mode %d, calls %q)", m.mode, rec.calls)
	}
	if m.notice == nil || m.notice.text != reason {
		t.Errorf("notice after c = %+v, want the reason", m.notice)
	}
	if bar := ansi.Strip(m.renderHelpBar(120)); strings.Contains(bar, "cancel order") || strings.Contains(bar, "new order") {
		t.Errorf("help bar offers order keys: %q", bar)
	}

	press(m, keyRune('?'))
	if got := screen(m); !strings.Contains(got, "Orders are off over SSH") || strings.Contains(got, "cancel order") {
		t.Errorf("full help does not give the reason, or lists c:\n%s", got)
	}
}
