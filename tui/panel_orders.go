package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// Order is one order of the orders panel: the parent and its legs (the
// attached stop-loss), as cmd/ibdash builds it from IB's live orders.
type Order struct {
	ID          string    // IB's order id of the parent
	Ref         string    // the client order id (cOID) ibdash gave it
	Description string    // such as "BUY 1 SPY 2025-08-15 500 C LMT 2.50"
	Placed      time.Time // zero when IB does not say
	Legs        []Leg
}

// Leg is one IB order inside an Order.
type Leg struct {
	Role    string // "parent" or "stop"
	OrderID string
	Status  string // IB's status, such as Submitted or Filled
	Filled  float64
	Size    float64
}

// OrdersMsg replaces the list of recent orders. Err, when set, is the
// failure of the refresh, and the previous list stays.
type OrdersMsg struct {
	Orders []Order
	Err    error
}

// cancelRequestMsg asks the root model to confirm and cancel an order.
type cancelRequestMsg struct {
	order Order
}

// ordersPanel lists recent orders with the status of each leg; n opens
// the ticket and c cancels the selected order.
type ordersPanel struct {
	common  common.Common
	focused bool
	orders  []Order // IB's order list as last refreshed
	// placed are the orders the ticket placed that IB's order list did
	// not include yet, newest first. Their legs have no status.
	placed    []Order
	updated   time.Time
	selected  int // index into list()
	refreshed bool
	// disabled is the reason orders are off (Options.OrdersDisabled),
	// or empty.
	disabled string
}

func newOrdersPanel(c common.Common, disabled string) *ordersPanel {
	return &ordersPanel{common: c, disabled: disabled}
}

// actionHint is the title's hint on how to place an order, or that
// orders are off.
func (p *ordersPanel) actionHint() string {
	if p.disabled != "" {
		return "orders off"
	}
	return "n new order"
}

// emptyText returns the text shown before there is any order.
func (p *ordersPanel) emptyText() string {
	if p.disabled != "" {
		return "No orders yet. " + p.disabled
	}
	return "No orders yet. Press n to open the order ticket."
}

// list returns the orders as shown: the placed ones IB does not list
// yet, then IB's.
func (p *ordersPanel) list() []Order {
	if len(p.placed) == 0 {
		return p.orders
	}
	return append(slices.Clone(p.placed), p.orders...)
}

// isPlaced reports whether row i of list() waits for IB's order list.
func (p *ordersPanel) isPlaced(i int) bool { return i < len(p.placed) }

// setOrders replaces IB's order list, drops the placed orders it now
// includes and keeps the selection on the same order when it is still
// there. A nil list with an error keeps the old one.
func (p *ordersPanel) setOrders(orders []Order, now time.Time) {
	if orders == nil && p.refreshed {
		return
	}
	selected := p.selectedID()
	p.orders, p.updated, p.refreshed = orders, now, true
	p.placed = slices.DeleteFunc(p.placed, func(o Order) bool { return listsOrder(orders, o.ID) })
	p.selectID(selected)
}

// addPlaced shows an order the ticket placed until IB's order list
// includes it.
func (p *ordersPanel) addPlaced(msg common.PlacedMsg, now time.Time) {
	if len(msg.OrderIDs) == 0 || listsOrder(p.orders, msg.OrderIDs[0]) || listsOrder(p.placed, msg.OrderIDs[0]) {
		return
	}
	o := Order{ID: msg.OrderIDs[0], Description: msg.Description, Placed: now}
	for i, id := range msg.OrderIDs {
		role := "stop"
		if i == 0 {
			role = "parent"
		}
		o.Legs = append(o.Legs, Leg{Role: role, OrderID: id})
	}
	selected := p.selectedID()
	p.placed = append([]Order{o}, p.placed...)
	p.selectID(selected)
}

func (p *ordersPanel) selectedID() string {
	if list := p.list(); p.selected < len(list) {
		return list[p.selected].ID
	}
	return ""
}

// selectID selects the order with id, or the first one when it is gone.
func (p *ordersPanel) selectID(id string) {
	p.selected = max(slices.IndexFunc(p.list(), func(o Order) bool { return o.ID == id }), 0)
}

// listsOrder reports whether an order in orders, or one of its legs,
// has the IB order id.
func listsOrder(orders []Order, id string) bool {
	for _, o := range orders {
		if o.ID == id || slices.ContainsFunc(o.Legs, func(l Leg) bool { return l.OrderID == id }) {
			return true
		}
	}
	return false
}

func (p *ordersPanel) Init() tea.Cmd { return nil }

func (p *ordersPanel) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	km := p.common.KeyMap
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(msg, km.Up):
			p.selected = max(p.selected-1, 0)
		case key.Matches(msg, km.Down):
			p.selected = min(p.selected+1, max(len(p.list())-1, 0))
		case key.Matches(msg, km.Top):
			p.selected = 0
		case key.Matches(msg, km.Bottom):
			p.selected = max(len(p.list())-1, 0)
		case key.Matches(msg, km.Cancel):
			if list := p.list(); p.selected < len(list) {
				o := list[p.selected]
				return p, func() tea.Msg { return cancelRequestMsg{order: o} }
			}
		}
	}
	return p, nil
}

func (p *ordersPanel) SetSize(width, height int) { p.common.SetSize(width, height) }
func (p *ordersPanel) SetFocused(focused bool)   { p.focused = focused }
func (p *ordersPanel) Title() string             { return "Orders" }

func (p *ordersPanel) ShortHelp() []key.Binding {
	km := p.common.KeyMap
	return []key.Binding{km.Move, km.Cancel}
}

func (p *ordersPanel) FullHelp() [][]key.Binding {
	km := p.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Top, km.Bottom, km.Cancel}}
}

func (p *ordersPanel) Lines(width int) int {
	n := 2 + 2*len(p.placed)
	for _, o := range p.orders {
		n += 1 + len(o.Legs)
	}
	return max(n, 3)
}

// orderRows returns the rows of one order: its description, then the
// status of each leg, or that IB's order list does not show it yet.
func (p *ordersPanel) orderRows(o Order, selected, placed bool) []textRow {
	st := p.common.Styles
	head := textRow{first: "  ", indent: "  "}
	if selected {
		head.first = st.Title.Render("›") + " "
	}
	text := fmt.Sprintf("#%s %s", o.ID, o.Description)
	if !o.Placed.IsZero() {
		text = o.Placed.Format("15:04:05") + " " + text
	}
	style := st.Value
	if selected && p.focused {
		style = st.Selected
	}
	head.spans = []span{{text, style}}

	rows := []textRow{head}
	if placed {
		return append(rows, textRow{first: "    ", indent: "    ", spans: []span{{placedStatus, st.Info}}})
	}
	for _, leg := range o.Legs {
		text := fmt.Sprintf("%-6s #%s %s", leg.Role, leg.OrderID, leg.Status)
		if leg.Size > 0 {
			text += fmt.Sprintf(" %g/%g filled", leg.Filled, leg.Size)
		}
		rows = append(rows, textRow{first: "    ", indent: "    ", spans: []span{{text, st.ByTone(orderTone(leg.Status))}}})
	}
	return rows
}

// View lists the orders around the selected one. When they all fit
// with rows to spare, long lines wrap, from the top down.
func (p *ordersPanel) View() string {
	st := p.common.Styles
	width, height := p.common.Width, p.common.Height
	extra := p.actionHint()
	if p.refreshed {
		extra += " · updated " + common.Ago(p.common.Now(), p.updated)
	}
	lines := []string{titleLine(st, p.Title(), p.focused, extra)}
	list := p.list()
	if len(list) == 0 {
		lines = append(lines, fitRows([]textRow{styledRow(st.Muted, p.emptyText())}, width, height-1)...)
		return strings.Join(lines[:min(len(lines), max(height, 1))], "\n")
	}

	rows := make([][]textRow, len(list))
	spare := height - 1
	for i, o := range list {
		rows[i] = p.orderRows(o, i == p.selected, p.isPlaced(i))
		spare -= len(rows[i])
	}
	groups := make([][]string, len(list))
	for i, r := range rows {
		groups[i] = fitRows(r, width, len(r)+max(spare, 0))
		spare -= len(groups[i]) - len(r)
	}
	first := firstVisibleGroup(groups, p.selected, height-1)
	for _, g := range groups[first:] {
		if len(lines)+len(g) > height && len(lines) > 1 {
			break
		}
		lines = append(lines, g...)
	}
	return strings.Join(lines, "\n")
}

func (p *ordersPanel) Summary(width int) string {
	list := p.list()
	text := fmt.Sprintf("%s: %d recent · %s", p.Title(), len(list), p.actionHint())
	if len(list) > 0 {
		o := list[0]
		status := ""
		switch {
		case p.isPlaced(0):
			status = " placed"
		case len(o.Legs) > 0:
			status = " " + o.Legs[0].Status
		}
		text = fmt.Sprintf("%s: %d · last #%s%s · %s", p.Title(), len(list), o.ID, status, p.actionHint())
	}
	return p.common.Styles.Summary.Render(common.Truncate(text, width))
}

// placedStatus is the status line of an order placed but not yet in
// IB's order list.
const placedStatus = "placed, waiting for IB's order list…"

// orderTone picks the tone of IB's order status words.
func orderTone(status string) common.Tone {
	switch strings.ToLower(status) {
	case "filled":
		return common.ToneOK
	case "cancelled", "inactive", "rejected":
		return common.ToneBad
	case "presubmitted", "pendingsubmit", "pendingcancel":
		return common.ToneWarn
	}
	return common.ToneInfo
}
