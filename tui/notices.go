package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui/common"
)

// noticeTTL is how long a notice stays on screen unless dismissed.
const noticeTTL = 30 * time.Second

// bell is the terminal bell, written as is past the renderer.
const bell = "\a"

// notice is the one-line message shown above the help bar.
type notice struct {
	text string
	tone common.Tone
	at   time.Time
}

// part is a piece of plain text with its tone, styled only after it has
// been shortened to fit.
type part struct {
	text string
	tone common.Tone
}

// setNotice shows a notice and, when ring is true, returns the command
// that rings the terminal bell.
func (m *Model) setNotice(text string, tone common.Tone, ring bool) tea.Cmd {
	m.notice = &notice{text: text, tone: tone, at: m.common.Now()}
	m.common.Logger.Info("notice", "text", text)
	if ring {
		return tea.Raw(bell)
	}
	return nil
}

// handleData routes live data to its panel, records its errors and
// raises the notices the user must not miss: a key turning active, the
// session dropping, the gateway being restarted.
func (m *Model) handleData(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case KeyStatusMsg:
		return m.onKeyStatus(msg.Status), true
	case SessionMsg:
		return m.onSession(msg.Event), true
	case GatewayMsg:
		m.gateway.setSnapshot(msg.Snapshot)
		return nil, true
	case GatewayRestartMsg:
		return m.onRestart(msg), true
	case OrdersMsg:
		m.orders.setOrders(msg.Orders, m.common.Now())
		if msg.Err != nil {
			m.errors.add(m.common.Now(), "orders", msg.Err)
		}
		return nil, true
	case common.PlacedMsg:
		m.orders.addPlaced(msg, m.common.Now())
		return nil, true
	case common.ErrorMsg:
		if msg.Err != nil {
			m.errors.add(m.common.Now(), msg.Source, msg.Err)
		}
		return nil, true
	case recheckRequestMsg:
		return m.startRecheck(msg.consumerKey), true
	case cancelRequestMsg:
		return m.askCancel(msg.order), true
	case taskDoneMsg:
		m.finishTask(msg.id, msg.result, msg.err)
		return nil, true
	}
	return nil, false
}

func (m *Model) onKeyStatus(s ibclient.KeyStatus) tea.Cmd {
	prev := m.keys.setStatus(s)
	if t := m.tasks.runningFor(taskRecheck, s.ConsumerKey); t != nil {
		m.finishTask(t.id, s.State.String(), nil)
	}
	if s.Err != nil {
		at := s.CheckedAt
		if at.IsZero() {
			at = m.common.Now()
		}
		m.errors.add(at, s.ConsumerKey, s.Err)
	}

	// The first finding of a run is no change; ringing for every key
	// that was already active at start would train users to ignore it.
	if s.State == ibclient.KeyActive && prev != ibclient.KeyActive && prev != ibclient.KeyUnchecked {
		return m.setNotice(fmt.Sprintf("Consumer key %s is now active (was %s).", s.ConsumerKey, prev), common.ToneOK, true)
	}
	return nil
}

func (m *Model) onSession(e ibclient.SessionEvent) tea.Cmd {
	prev, hadPrev := m.session.setEvent(e)
	if e.Err != nil {
		at := e.Time
		if at.IsZero() {
			at = m.common.Now()
		}
		m.errors.add(at, "session", e.Err)
	}
	if hadPrev && sessionUp(prev) && !sessionUp(e) {
		text := "Session dropped: now " + e.State.String()
		if e.Message != "" {
			text += " (" + strings.TrimSuffix(e.Message, ".") + ")"
		}
		return m.setNotice(text+".", common.ToneBad, true)
	}
	return nil
}

// sessionUp reports whether a session can serve requests.
func sessionUp(e ibclient.SessionEvent) bool {
	return e.State == ibclient.SessionReady && e.Authenticated && e.Connected
}

func (m *Model) onRestart(msg GatewayRestartMsg) tea.Cmd {
	r := msg.info()
	m.gateway.restart = &r
	if msg.Replayed {
		return nil
	}
	ports := portList(r.ports)
	if r.dryRun {
		return m.setNotice(fmt.Sprintf("Gateway %s is due a restart (dry run, not run).", ports), common.ToneWarn, true)
	}
	if !r.ok {
		m.errors.add(r.time, "gateway", errors.New("restart failed: "+r.result))
		return m.setNotice(fmt.Sprintf("Gateway %s restart failed: %s.", ports, r.result), common.ToneBad, true)
	}
	return m.setNotice(fmt.Sprintf("Gateway %s was restarted (%s).", ports, r.result), common.ToneWarn, true)
}
