package tui

import (
	"fmt"
	"slices"
	"strings"

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
	case m.ordersKeyDisabled(msg):
		return m.setNotice(m.opts.OrdersDisabled, common.ToneWarn, false)
	case key.Matches(msg, km.Dismiss) && m.notice != nil:
		m.notice = nil
		return nil
	}

	var cmd tea.Cmd
	p := m.panels[m.focus]
	_, cmd = p.Update(msg)
	return cmd
}

// ordersKeyDisabled reports whether msg is the key of an order action
// that Options.OrdersDisabled turned off: n anywhere, or c in the
// orders panel. key.Matches never matches a disabled binding, so the
// keys are compared here.
func (m *Model) ordersKeyDisabled(msg tea.KeyPressMsg) bool {
	if m.opts.OrdersDisabled == "" {
		return false
	}
	km := m.common.KeyMap
	pressed := msg.String()
	if slices.Contains(km.NewOrder.Keys(), pressed) {
		return true
	}
	return m.panels[m.focus] == m.orders && slices.Contains(km.Cancel.Keys(), pressed)
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

// inFlight returns what quitting now could leave in an unknown state:
// the ticket's order on its way to IB, or a cancel that is running. It
// returns "" when nothing is in flight.
func (m *Model) inFlight() string {
	if b, ok := m.ticket.(common.Busy); ok && b.Busy() {
		if reason := b.BusyReason(); reason != "" {
			return reason
		}
		return "An order is in flight and IB has not answered yet. It may still be placed after you quit; check the live orders."
	}
	if m.tasks.anyRunning(taskCancel) {
		return "A cancel is running and IB has not answered yet. The order may still be cancelled after you quit; check the live orders."
	}
	return ""
}

func (m *Model) requestQuit() tea.Cmd {
	reason := m.inFlight()
	if reason == "" {
		return tea.Quit
	}
	m.ask(reason+" Quit anyway?", "quit", func() tea.Cmd { return tea.Quit })
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

// askCancel confirms the cancel of an order before starting it. The
// cancel goes to the leg that still works: the parent while it is live,
// since IB cancels its attached stop with it, or else the stop, which
// keeps working after the entry has filled.
func (m *Model) askCancel(o Order) tea.Cmd {
	if o.ID == "" {
		return m.setNotice("This order has no IB order id yet, so it cannot be cancelled.", common.ToneWarn, false)
	}
	leg, ok := cancelTarget(o)
	if !ok {
		return m.setNotice("Order "+o.ID+" is done ("+legStatuses(o)+"); there is nothing left to cancel.", common.ToneInfo, false)
	}

	var question string
	switch {
	case leg.orderID != o.ID:
		question = fmt.Sprintf("Order %s (%s) is %s. Cancel its stop, order %s, at IB? The position then has no stop-loss.", o.ID, o.Description, leg.parentStatus, leg.orderID)
	case leg.hasStop:
		question = "Cancel order " + o.ID + " (" + o.Description + ") and its attached stop at IB?"
	default:
		question = "Cancel order " + o.ID + " (" + o.Description + ") at IB?"
	}
	target := o
	target.ID = leg.orderID
	m.ask(question, "cancel the order", func() tea.Cmd { return m.startCancel(target) })
	return nil
}

// cancelLeg is the leg a cancel goes to.
type cancelLeg struct {
	orderID      string
	parentStatus string
	hasStop      bool // the parent has a stop that is still working
}

// cancelTarget returns the leg of o that a cancel should go to, and
// false when no leg is working any more.
func cancelTarget(o Order) (cancelLeg, bool) {
	if len(o.Legs) == 0 {
		return cancelLeg{orderID: o.ID}, true
	}
	parent := o.Legs[0]
	var stop *Leg
	for i := range o.Legs[1:] {
		if leg := &o.Legs[i+1]; leg.Role == "stop" && !legDone(leg.Status) {
			stop = leg
			break
		}
	}
	switch {
	case !legDone(parent.Status):
		return cancelLeg{orderID: parent.OrderID, parentStatus: parent.Status, hasStop: stop != nil}, true
	case stop != nil:
		return cancelLeg{orderID: stop.OrderID, parentStatus: parent.Status}, true
	}
	return cancelLeg{}, false
}

// legDone reports whether IB will not change an order with this status
// any more, so there is nothing to cancel.
func legDone(status string) bool {
	switch strings.ToLower(status) {
	case "filled", "cancelled", "apicancelled", "inactive", "rejected":
		return true
	}
	return false
}

// legStatuses lists the status of each leg, such as "Filled, Cancelled".
func legStatuses(o Order) string {
	statuses := make([]string, len(o.Legs))
	for i, leg := range o.Legs {
		statuses[i] = leg.Status
	}
	return strings.Join(statuses, ", ")
}
