// Package common holds what every ibdash TUI component shares: the
// component contract, the Common value (size, styles, key map, clock,
// logger) and the messages a component sends to the root model.
package common

import (
	tea "charm.land/bubbletea/v2"

	"charm.land/bubbles/v2/help"
)

// Component is the contract of every dashboard component: a Bubble Tea
// model that renders into a box of a given size and lists its own keys.
//
// Update returns the component itself (or a replacement) so the parent
// needs no type assertion. View returns the content for the box last set
// with SetSize; it must not be wider or taller than that box.
type Component interface {
	help.KeyMap

	Init() tea.Cmd
	Update(msg tea.Msg) (Component, tea.Cmd)
	View() string
	SetSize(width, height int)
}

// Busy is implemented by a component that can have work in flight, such
// as an order ticket waiting for IB. While Busy reports true, the root
// model asks before it quits, and BusyReason, when not empty, is the
// sentence that says what quitting would interrupt.
type Busy interface {
	Busy() bool
	BusyReason() string
}

// DoneMsg is sent by a component opened over the dashboard (the order
// ticket) when it is finished and wants to be closed. Notice, when not
// empty, is shown on the dashboard; Err, when not nil, goes to the IB
// errors panel.
type DoneMsg struct {
	Notice string
	Err    error
}

// DoneCmd returns a command that sends DoneMsg with the given notice and
// error.
func DoneCmd(notice string, err error) tea.Cmd {
	return func() tea.Msg { return DoneMsg{Notice: notice, Err: err} }
}

// PlacedMsg is sent by a component that placed an order once IB has
// accepted it, so that the orders panel lists the order before IB's
// order list includes it: IB allows one read of that list per 5 s.
type PlacedMsg struct {
	// OrderIDs are IB's order ids, the parent first and then its
	// attached orders, such as the stop-loss.
	OrderIDs []string
	// Description is the order in one line, such as
	// "SELL 1 SPY 2026-12-18 599 P LMT 8.10 DAY, stop BUY STP 24.30".
	Description string
}

// ErrorMsg reports an error from any source (key watcher, session,
// orders, a component) for the IB errors panel. Source is a short label
// such as "orders" or a consumer key.
type ErrorMsg struct {
	Source string
	Err    error
}

// ErrorCmd returns a command that sends ErrorMsg.
func ErrorCmd(source string, err error) tea.Cmd {
	return func() tea.Msg { return ErrorMsg{Source: source, Err: err} }
}
