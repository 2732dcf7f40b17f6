package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui"
	"github.com/ibdash/ibdash/tui/common"
)

// recorder is a viewer's program as the broadcaster sees it: it keeps
// every message it is sent. When gate is set, Send waits on it first.
type recorder struct {
	gate chan struct{}

	mu   sync.Mutex
	msgs []tea.Msg
}

func (r *recorder) Send(msg tea.Msg) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

// waitCount waits until r holds n messages and returns them.
func (r *recorder) waitCount(t *testing.T, n int) []tea.Msg {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]tea.Msg(nil), r.msgs...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages, want %d: %v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func keyStatus(key string, state ibclient.KeyState) tui.KeyStatusMsg {
	return tui.KeyStatusMsg{Status: ibclient.KeyStatus{ConsumerKey: key, State: state}}
}

func TestBroadcasterReplaysLatestState(t *testing.T) {
	b := newBroadcaster()
	b.now = func() time.Time { return time.Date(2026, 12, 4, 14, 2, 3, 0, time.UTC) }
	b.Send(keyStatus("KEYA", ibclient.KeyPending))
	b.Send(keyStatus("KEYB", ibclient.KeyActive))
	b.Send(keyStatus("KEYA", ibclient.KeyActive))
	b.Send(tui.SessionMsg{Event: ibclient.SessionEvent{State: ibclient.SessionReady}})
	b.Send(common.ErrorMsg{Source: "gateway", Err: errors.New("scan failed")})

	r := &recorder{}
	q := b.add(r)
	defer b.remove(q)
	got := r.waitCount(t, 4)

	errMsg, ok := got[0].(common.ErrorMsg)
	if !ok || errMsg.Source != "gateway at 14:02:03" {
		t.Errorf("first replayed message = %#v, want the error with its time in the source", got[0])
	}
	if ks, ok := got[1].(tui.KeyStatusMsg); !ok || ks.Status.ConsumerKey != "KEYA" || ks.Status.State != ibclient.KeyActive {
		t.Errorf("second replayed message = %#v, want KEYA's latest status (active)", got[1])
	}
	if ks, ok := got[2].(tui.KeyStatusMsg); !ok || ks.Status.ConsumerKey != "KEYB" {
		t.Errorf("third replayed message = %#v, want KEYB's status", got[2])
	}
	if _, ok := got[3].(tui.SessionMsg); !ok {
		t.Errorf("fourth replayed message = %#v, want the session", got[3])
	}

	b.Send(tui.OrdersMsg{})
	got = r.waitCount(t, 5)
	if len(got) != 5 {
		t.Errorf("received %d messages, want 4 replayed and 1 live", len(got))
	}
	if _, ok := got[4].(tui.OrdersMsg); !ok {
		t.Errorf("live message = %#v, want the orders", got[4])
	}
}

func TestBroadcasterKeepsLastErrors(t *testing.T) {
	b := newBroadcaster()
	for i := range maxReplayedErrors + 5 {
		b.Send(common.ErrorMsg{Source: fmt.Sprint("source", i), Err: errors.New("failed")})
	}
	msgs := b.state.messages()
	if len(msgs) != maxReplayedErrors {
		t.Fatalf("replay has %d errors, want %d", len(msgs), maxReplayedErrors)
	}
	if first := msgs[0].(common.ErrorMsg).Source; !strings.HasPrefix(first, "source5 at ") {
		t.Errorf("oldest replayed error is %q, want source5", first)
	}
}

// TestBroadcasterStalledViewer checks that a viewer whose program does not
// take messages gets the current state in place of an endless backlog,
// and that other viewers are not held up by it.
func TestBroadcasterStalledViewer(t *testing.T) {
	b := newBroadcaster()
	stalled := &recorder{gate: make(chan struct{})}
	sq := b.add(stalled)
	defer b.remove(sq)
	live := &recorder{}
	lq := b.add(live)
	defer b.remove(lq)

	const sent = 3 * maxQueued
	for i := range sent {
		s := keyStatus("KEYA", ibclient.KeyActive)
		s.Status.CheckedAt = time.Unix(int64(i), 0)
		b.Send(s)
	}
	latest := time.Unix(sent-1, 0)
	if n := waitLatest(t, live, latest); n > sent {
		t.Errorf("live viewer got %d messages, want at most %d", n, sent)
	}

	// The stalled viewer is still blocked in its first Send.
	close(stalled.gate)
	if n := waitLatest(t, stalled, latest); n > maxQueued+1 {
		t.Errorf("stalled viewer got %d messages, want at most %d", n, maxQueued+1)
	}
}

// waitLatest waits until the last message r holds is a key status
// checked at latest, and returns how many messages r holds.
func waitLatest(t *testing.T, r *recorder, latest time.Time) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.msgs)
		var last tea.Msg
		if n > 0 {
			last = r.msgs[n-1]
		}
		r.mu.Unlock()
		if ks, ok := last.(tui.KeyStatusMsg); ok && ks.Status.CheckedAt.Equal(latest) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewer never got the status checked at %s; it has %d messages", latest, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stubTicket stands in for the order ticket; it shows one line.
type stubTicket struct{ common common.Common }

func (s stubTicket) Init() tea.Cmd                              { return nil }
func (s stubTicket) Update(tea.Msg) (common.Component, tea.Cmd) { return s, nil }
func (s stubTicket) View() string                               { return "STUB TICKET" }
func (s stubTicket) SetSize(width, height int)                  {}
func (s stubTicket) ShortHelp() []key.Binding                   { return nil }
func (s stubTicket) FullHelp() [][]key.Binding                  { return nil }

// newTestViewer returns one viewer's model as serve builds it, sized
// 120x40.
func newTestViewer(gate *orderGate, v *viewer, allowOrders bool) viewerModel {
	theme := common.DefaultTheme(true)
	opts := tui.Options{
		NewTicket:   func(c common.Common) common.Component { return stubTicket{common: c} },
		CancelOrder: func(context.Context, tui.Order) (string, error) { return "cancelled", nil },
		Theme:       &theme,
	}
	gate.orderOptions(&opts, v, allowOrders)
	m := viewerModel{dash: tui.New(opts), ticketClosed: func() { gate.release(v) }}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return m
}

// pressN presses n and feeds the message of the returned command back,
// as the program would.
func pressN(m viewerModel) {
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if cmd == nil {
		return
	}
	if msg := cmd(); msg != nil {
		m.Update(msg)
	}
}

func screenOf(m viewerModel) string { return ansi.Strip(m.View().Content) }

func TestOrderGateOneTicketAcrossViewers(t *testing.T) {
	gate := newOrderGate()
	alice := &viewer{id: "a", name: "alice@127.0.0.1:1000"}
	bob := &viewer{id: "b", name: "bob@127.0.0.1:2000"}
	ma, mb := newTestViewer(gate, alice, true), newTestViewer(gate, bob, true)

	pressN(ma)
	if !strings.Contains(screenOf(ma), "STUB TICKET") {
		t.Fatalf("alice's ticket did not open:\n%s", screenOf(ma))
	}
	pressN(mb)
	if screen := screenOf(mb); !strings.Contains(screen, "Another SSH session (alice@127.0.0.1:1000) has the order ticket open") {
		t.Errorf("bob was not told who has the ticket:\n%s", screen)
	}
	if strings.Contains(screenOf(mb), "STUB TICKET") {
		t.Error("bob's ticket opened while alice's was open")
	}

	// Alice's ticket closes: bob may open his.
	ma.Update(common.DoneMsg{Notice: "order placed"})
	pressN(mb)
	if !strings.Contains(screenOf(mb), "STUB TICKET") {
		t.Errorf("bob's ticket did not open after alice's closed:\n%s", screenOf(mb))
	}

	// Bob disconnects with his ticket open: serve releases it.
	gate.release(bob)
	pressN(ma)
	if !strings.Contains(screenOf(ma), "STUB TICKET") {
		t.Errorf("alice's ticket did not open after bob left:\n%s", screenOf(ma))
	}
}

func TestOrderGateReadOnly(t *testing.T) {
	gate := newOrderGate()
	v := &viewer{id: "a", name: "alice@127.0.0.1:1000"}
	m := newTestViewer(gate, v, false)
	if screen := screenOf(m); strings.Contains(screen, "new order") || !strings.Contains(screen, "orders off") {
		t.Errorf("read-only viewer is offered the order ticket:\n%s", screen)
	}
	pressN(m)
	if screen := screenOf(m); !strings.Contains(screen, "Orders are off over SSH") {
		t.Errorf("no read-only notice:\n%s", screen)
	}
	if holder, ok := gate.acquire(&viewer{name: "other"}); !ok {
		t.Errorf("a read-only viewer holds the ticket (%s)", holder.name)
	}

	opts := tui.Options{CancelOrder: func(context.Context, tui.Order) (string, error) { return "cancelled", nil }}
	gate.orderOptions(&opts, v, false)
	if _, err := opts.CancelOrder(context.Background(), tui.Order{ID: "1"}); !errors.Is(err, errReadOnly) {
		t.Errorf("cancel on a read-only server returned %v, want errReadOnly", err)
	}
}

func TestOrderGateOneCancelPerOrder(t *testing.T) {
	gate := newOrderGate()
	alice := &viewer{id: "a", name: "alice@127.0.0.1:1000"}
	bob := &viewer{id: "b", name: "bob@127.0.0.1:2000"}
	started, finish := make(chan struct{}), make(chan struct{})
	slow := func(context.Context, tui.Order) (string, error) {
		close(started)
		<-finish
		return "cancelled", nil
	}
	quick := func(context.Context, tui.Order) (string, error) { return "cancelled", nil }
	cancelA := gate.cancelOrder(alice, slow)
	cancelB := gate.cancelOrder(bob, quick)

	done := make(chan error, 1)
	go func() {
		_, err := cancelA(context.Background(), tui.Order{ID: "42"})
		done <- err
	}()
	<-started
	_, err := cancelB(context.Background(), tui.Order{ID: "42"})
	if err == nil || !strings.Contains(err.Error(), "already being cancelled") || !strings.Contains(err.Error(), alice.name) {
		t.Errorf("second cancel of order 42 returned %v, want a refusal naming alice", err)
	}
	if _, err := cancelB(context.Background(), tui.Order{ID: "43"}); err != nil {
		t.Errorf("cancel of another order was refused: %v", err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Errorf("first cancel failed: %v", err)
	}
	if _, err := cancelB(context.Background(), tui.Order{ID: "42"}); err != nil {
		t.Errorf("cancel after the first ended was refused: %v", err)
	}
}
