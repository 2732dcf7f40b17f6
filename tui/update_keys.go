package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// handleKey delegates a key press by mode.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.mode {
	case modeConfirm:
		return m.handleConfirmKey(msg)
	case modeTicket:
		return m.handleTicketKey(msg)
	case modeHelp:
		return m.handleHelpKey(msg)
	}
	return m.handleDashboardKey(msg)
}

func (m *Model) handleDashboardKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Quit, km.ForceQuit):
		return m.requestQuit()
	case key.Matches(msg, km.Help):
		m.mode = modeHelp
		return nil
	case key.Matches(msg, km.NextPanel):
		m.setFocus(m.focus + 1)
		return nil
	case key.Matches(msg, km.PrevPanel):
		m.setFocus(m.focus - 1)
		return nil
	case key.Matches(msg, km.NewOrder):
		return m.openTicket()
	case key.Matches(msg, km.Dismiss) && m.notice != nil:
		m.notice = nil
		return nil
	}

	var cmd tea.Cmd
	p := m.panels[m.focus]
	_, cmd = p.Update(msg)
	return cmd
}

func (m *Model) handleHelpKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.ForceQuit):
		return m.requestQuit()
	case key.Matches(msg, km.Help, km.Back, km.Quit):
		m.mode = modeDashboard
	}
	return nil
}

// handleTicketKey sends every key to the open ticket except ctrl+c, so
// that q and n can be typed into its fields.
func (m *Model) handleTicketKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.common.KeyMap.ForceQuit) {
		return m.requestQuit()
	}
	var cmd tea.Cmd
	m.ticket, cmd = m.ticket.Update(msg)
	return cmd
}

// inFlight reports whether quitting now could leave an order in an
// unknown state: the ticket is waiting for IB, or a cancel is running.
func (m *Model) inFlight() bool {
	if b, ok := m.ticket.(common.Busy); ok && b.Busy() {
		return true
	}
	return m.tasks.anyRunning(taskCancel)
}

func (m *Model) requestQuit() tea.Cmd {
	if !m.inFlight() {
		return tea.Quit
	}
	m.ask("An order is in flight and IB has not answered yet. Quit anyway? The order may still be placed or cancelled at IB; check live orders after.",
		"quit", func() tea.Cmd { return tea.Quit })
	return nil
}

func (m *Model) openTicket() tea.Cmd {
	if m.opts.NewTicket == nil {
		return m.setNotice("The order ticket is not available in this build.", common.ToneWarn, false)
	}
	c := m.common
	c.SetSize(m.common.Width, m.bodyHeight())
	m.ticket = m.opts.NewTicket(c)
	m.ticket.SetSize(c.Width, c.Height)
	m.mode = modeTicket
	return m.ticket.Init()
}

// closeTicket handles the ticket's DoneMsg: back to the dashboard with
// its notice and error.
func (m *Model) closeTicket(msg common.DoneMsg) tea.Cmd {
	if m.ticket == nil {
		return nil
	}
	m.ticket = nil
	if m.mode == modeTicket {
		m.mode = modeDashboard
	} else if m.confirm != nil && m.confirm.prev == modeTicket {
		m.confirm.prev = modeDashboard
	}
	if msg.Err != nil {
		m.errors.add(m.common.Now(), "order ticket", msg.Err)
	}
	if msg.Notice != "" {
		tone := common.ToneOK
		if msg.Err != nil {
			tone = common.ToneBad
		}
		return m.setNotice(msg.Notice, tone, false)
	}
	return nil
}

// askCancel confirms the cancel of an order before starting it.
func (m *Model) askCancel(o Order) tea.Cmd {
	if o.ID == "" {
		return m.setNotice("This order has no IB order id yet, so it cannot be cancelled.", common.ToneWarn, false)
	}
	question := "Cancel order " + o.ID + " (" + o.Description + ") and its attached stop at IB?"
	m.ask(question, "cancel the order", func() tea.Cmd { return m.startCancel(o) })
	return nil
}
