package tui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/gateway"
	"github.com/ibdash/ibdash/tui/common"
)

// fixedNow is the clock of every test: a Friday afternoon in New York,
// so the daily and weekend resets are both ahead.
var fixedNow = time.Date(2026, 12, 4, 19, 30, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

func testOptions() Options {
	theme := common.DefaultTheme(true)
	return Options{
		Consumers:          []string{"BEARHEDGE", "NEWKEY01", "TESTCONS"},
		TradingConsumer:    "BEARHEDGE",
		GatewayPorts:       []int{4001},
		CloseWaitThreshold: 20,
		Demo:               true,
		Clock:              fixedClock,
		Theme:              &theme,
	}
}

// invalidConsumer is IB's answer for a key that is not active yet, as
// ibclient decodes it.
func invalidConsumer() error {
	return &ibclient.APIError{StatusCode: 401, Endpoint: "POST /oauth/live_session_token",
		RequestID: "1545", Message: "invalid consumer", Kind: ibclient.KindInvalidConsumer}
}

// feed sends messages straight to Update, as Program.Send would.
func feed(m *Model, msgs ...tea.Msg) []tea.Cmd {
	var cmds []tea.Cmd
	for _, msg := range msgs {
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
	}
	return cmds
}

// sampleData is one of each kind of live data, as the demo produces.
func sampleData() []tea.Msg {
	now := fixedNow
	history := []int{0, 1, 1, 2, 3, 3, 4, 6, 7, 9, 10, 12, 13, 14}
	return []tea.Msg{
		KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "BEARHEDGE", State: ibclient.KeyActive,
			CheckedAt: now.Add(-2 * time.Minute), NextCheck: now.Add(58 * time.Minute)}},
		KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "NEWKEY01", State: ibclient.KeyPending,
			CheckedAt: now.Add(-5 * time.Minute), NextCheck: now.Add(10 * time.Minute),
			ExpectedActivation: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), Err: invalidConsumer()}},
		KeyStatusMsg{ibclient.KeyStatus{ConsumerKey: "TESTCONS", State: ibclient.KeyActive,
			CheckedAt: now.Add(-90 * time.Second), NextCheck: now.Add(58*time.Minute + 30*time.Second)}},
		SessionMsg{ibclient.SessionEvent{Time: now.Add(-time.Minute), State: ibclient.SessionReady,
			Authenticated: true, Connected: true, LSTExpires: now.Add(23*time.Hour + 41*time.Minute),
			LastTickle: now.Add(-12 * time.Second), Account: "DU1234567"}},
		GatewayMsg{gateway.Snapshot{Time: now, Source: "netlink", Ports: []gateway.PortStats{{
			Port: 4001, Listening: true,
			Counts:           gateway.Counts{Established: 2, CloseWait: 14, TimeWait: 1},
			Probe:            &gateway.ProbeResult{OK: true, ServerVersion: 176, Latency: 3 * time.Millisecond},
			CloseWaitHistory: history,
		}}}},
		common.ErrorMsg{Source: "session", Err: &ibclient.APIError{StatusCode: 400,
			Endpoint: "POST /iserver/auth/ssodh/init", Message: "Bad Request: no bridge", Kind: ibclient.KindNoBridge}},
		OrdersMsg{Orders: []Order{{
			ID: "1183725", Ref: "ibd-20261204-a1", Description: "BUY 1 SPY 2026-12-18 600 C LMT 4.15",
			Placed: now.Add(-3 * time.Minute),
			Legs: []Leg{
				{Role: "parent", OrderID: "1183725", Status: "Filled", Filled: 1, Size: 1},
				{Role: "stop", OrderID: "1183726", Status: "PreSubmitted", Size: 1},
			},
		}}},
	}
}

var errBoom = errors.New("boom")
