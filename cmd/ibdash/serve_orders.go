package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui"
	"github.com/ibdash/ibdash/tui/common"
)

// readOnlyNotice tells a viewer of a read-only server why orders are
// off, in the orders panel, the full help and when n or c is pressed.
const readOnlyNotice = "Orders are off over SSH: ibdash serve was started without --allow-orders."

// errReadOnly is returned by a cancel on a read-only server.
var errReadOnly = errors.New("orders are off over SSH; restart ibdash serve with --allow-orders to place or cancel orders")

// viewer is one SSH session that shows the dashboard.
type viewer struct {
	id   string // a short form of the SSH session id, for logs
	name string // user@remote address, shown to other viewers
}

// orderGate makes the viewers of one IB session take turns with orders:
// one viewer at a time may have the order ticket open, and one cancel of
// each order may run. Because a ticket can only place an order while it
// is open, at most one order is in flight across all viewers.
type orderGate struct {
	mu      sync.Mutex
	holder  *viewer // the viewer with the ticket open; nil when none
	cancels map[string]*viewer
}

func newOrderGate() *orderGate { return &orderGate{cancels: map[string]*viewer{}} }

// acquire gives v the ticket, or returns the viewer that has it.
func (g *orderGate) acquire(v *viewer) (holder *viewer, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder != nil && g.holder != v {
		return g.holder, false
	}
	g.holder = v
	return v, true
}

// release frees the ticket if v has it.
func (g *orderGate) release(v *viewer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder == v {
		g.holder = nil
	}
}

// newTicket wraps build so that v opens a ticket only while no other
// viewer has one open. The viewer's model releases the ticket when the
// ticket sends common.DoneMsg, and serve releases it when v disconnects.
func (g *orderGate) newTicket(v *viewer, build func(common.Common) common.Component) func(common.Common) common.Component {
	return func(c common.Common) common.Component {
		holder, ok := g.acquire(v)
		if !ok {
			return noticeTicket{common: c, text: "Another SSH session (" + holder.name + ") has the order ticket open; one viewer at a time."}
		}
		return build(c)
	}
}

// cancelOrder wraps cancel so that two viewers never cancel the same
// order at the same time.
func (g *orderGate) cancelOrder(v *viewer, cancel func(context.Context, tui.Order) (string, error)) func(context.Context, tui.Order) (string, error) {
	return func(ctx context.Context, o tui.Order) (string, error) {
		g.mu.Lock()
		if other, busy := g.cancels[o.ID]; busy {
			g.mu.Unlock()
			return "", fmt.Errorf("order %s is already being cancelled from another SSH session (%s)", o.ID, other.name)
		}
		g.cancels[o.ID] = v
		g.mu.Unlock()

		defer func() {
			g.mu.Lock()
			delete(g.cancels, o.ID)
			g.mu.Unlock()
		}()
		return cancel(ctx, o)
	}
}

// orderOptions sets the order actions of one viewer's dashboard: off
// unless allowOrders, otherwise behind the gate. A nil NewTicket (no
// ticket in this build) stays nil.
func (g *orderGate) orderOptions(opts *tui.Options, v *viewer, allowOrders bool) {
	if !allowOrders {
		// The dashboard hides n and c and shows readOnlyNotice when they
		// are pressed; the actions below turn orders off even so.
		opts.OrdersDisabled = readOnlyNotice
		opts.NewTicket = func(c common.Common) common.Component { return noticeTicket{common: c, text: readOnlyNotice} }
		opts.CancelOrder = func(context.Context, tui.Order) (string, error) { return "", errReadOnly }
		return
	}
	if opts.NewTicket != nil {
		opts.NewTicket = g.newTicket(v, opts.NewTicket)
	}
	if opts.CancelOrder != nil {
		opts.CancelOrder = g.cancelOrder(v, opts.CancelOrder)
	}
}

// noticeTicket replaces the order ticket when the viewer may not open
// it. It closes itself at once, and the dashboard shows text as a notice.
type noticeTicket struct {
	common common.Common
	text   string
}

func (t noticeTicket) Init() tea.Cmd                              { return common.DoneCmd(t.text, nil) }
func (t noticeTicket) Update(tea.Msg) (common.Component, tea.Cmd) { return t, nil }
func (t noticeTicket) View() string                               { return common.Truncate(t.text, t.common.Width) }
func (t noticeTicket) SetSize(width, height int)                  {}
func (t noticeTicket) ShortHelp() []key.Binding                   { return nil }
func (t noticeTicket) FullHelp() [][]key.Binding                  { return nil }

// viewerModel is one viewer's dashboard. It calls ticketClosed when the
// viewer's order ticket closes, an event tui.Model does not report.
type viewerModel struct {
	dash         *tui.Model
	ticketClosed func()
}

func (m viewerModel) Init() tea.Cmd { return m.dash.Init() }

func (m viewerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.dash.Update(msg)
	if _, ok := msg.(common.DoneMsg); ok {
		m.ticketClosed()
	}
	return m, cmd
}

func (m viewerModel) View() tea.View { return m.dash.View() }
