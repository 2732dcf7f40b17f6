// Package tui is the ibdash dashboard: a Bubble Tea model with panels for
// the consumer keys, the brokerage session, IB's errors, the gateway
// sockets and the orders, and the order ticket opened over them.
//
// Live data arrives as messages (KeyStatusMsg, SessionMsg, GatewayMsg,
// GatewayRestartMsg, OrdersMsg, common.ErrorMsg) that cmd/ibdash sends
// with Program.Send; the model never reads shared state.
package tui

import (
	"context"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// FrameRate is the frame rate, in frames per second, to run the
// dashboard's program with (tea.WithFPS). Bubble Tea's default of 60
// wakes the process 60 times a second even when nothing changed, which
// took an idle dashboard over 1% of a core; at 20 a key press still shows
// within 50 ms.
const FrameRate = 20

// Options configures the dashboard. Every func field may be nil, which
// turns its action off with a notice saying why.
type Options struct {
	// Consumers lists the configured consumer keys in config order, so
	// the keys panel shows them before their first check.
	Consumers       []string
	TradingConsumer string

	GatewayPorts       []int
	CloseWaitThreshold int

	// Demo marks the header, so a screen of the simulator is never taken
	// for a live account.
	Demo bool

	// Recheck asks the key watcher to check one consumer key now; the
	// result arrives later as a KeyStatusMsg.
	Recheck func(ctx context.Context, consumerKey string) error
	// CancelOrder cancels one order at IB and returns IB's answer in a
	// few words.
	CancelOrder func(ctx context.Context, order Order) (string, error)
	// NewTicket builds the order ticket opened with n.
	NewTicket func(common.Common) common.Component
	// OrdersDisabled, when not empty, turns the order ticket and cancel
	// off and is the sentence shown to explain why. Their keys stay bound
	// but disabled, so the help leaves them out and pressing one shows
	// the sentence.
	OrdersDisabled string

	// TaskTimeout bounds each network action; 0 means one minute.
	TaskTimeout time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Theme fixes the colors; nil picks the default for the terminal's
	// background, which the model asks the terminal for.
	Theme  *common.Theme
	Logger *slog.Logger
}

// mode is what the keyboard drives.
type mode int

const (
	modeDashboard mode = iota
	modeHelp
	modeTicket
	modeConfirm
)

// Model is the root model of the dashboard.
type Model struct {
	common common.Common
	opts   Options

	keys    *keysPanel
	session *sessionPanel
	errors  *errorsPanel
	gateway *gatewayPanel
	orders  *ordersPanel
	panels  []panel // in focus order
	focus   int

	mode    mode
	ticket  common.Component
	confirm *confirmDialog
	help    help.Model

	notice *notice
	tasks  taskList
	ready  bool // a window size arrived
}

// New returns the dashboard model for the given options.
func New(opts Options) *Model {
	c := common.New()
	if opts.Clock != nil {
		c.Clock = opts.Clock
	}
	if opts.Logger != nil {
		c.Logger = opts.Logger
	}
	if opts.Theme != nil {
		c.Styles = common.NewStyles(*opts.Theme)
	}
	if opts.TaskTimeout <= 0 {
		opts.TaskTimeout = time.Minute
	}
	if opts.OrdersDisabled != "" {
		c.KeyMap.NewOrder.SetEnabled(false)
		c.KeyMap.Cancel.SetEnabled(false)
	}

	m := &Model{common: c, opts: opts, help: help.New()}
	m.keys = newKeysPanel(c, opts.Consumers, opts.TradingConsumer)
	m.session = newSessionPanel(c, opts.TradingConsumer)
	m.errors = newErrorsPanel(c)
	m.gateway = newGatewayPanel(c, opts.GatewayPorts, opts.CloseWaitThreshold)
	m.orders = newOrdersPanel(c, opts.OrdersDisabled)
	m.panels = []panel{m.keys, m.session, m.gateway, m.errors, m.orders}
	m.help.Styles = c.Styles.Help
	m.setFocus(0)
	return m
}

// Init asks for the terminal's background color and starts the clock.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tick()}
	if m.opts.Theme == nil {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// Update routes a message: sizes and ticks to the model, keys by mode,
// live data to the panel it belongs to, and anything else to the order
// ticket when it is open.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.BackgroundColorMsg:
		m.restyle(msg.IsDark())
		return m, nil
	case tickMsg:
		return m, m.onTick(time.Time(msg))
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case common.DoneMsg:
		return m, m.closeTicket(msg)
	}

	if cmd, handled := m.handleData(msg); handled {
		return m, cmd
	}
	if m.ticket != nil {
		var cmd tea.Cmd
		m.ticket, cmd = m.ticket.Update(msg)
		return m, cmd
	}
	return m, nil
}

// View renders the whole screen in the alternate screen buffer.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "ibdash"
	return v
}

func (m *Model) resize(width, height int) {
	m.ready = true
	m.common.SetSize(width, height)
	m.help.SetWidth(width)
	if m.ticket != nil {
		m.ticket.SetSize(width, m.bodyHeight())
	}
}

// restyle rebuilds the styles in place for a dark or light background;
// every panel holds the same *Styles, so all of them change at once.
func (m *Model) restyle(isDark bool) {
	if m.opts.Theme != nil {
		return
	}
	*m.common.Styles = *common.NewStyles(common.DefaultTheme(isDark))
	m.help.Styles = m.common.Styles.Help
}

func (m *Model) setFocus(i int) {
	n := len(m.panels)
	m.focus = ((i % n) + n) % n
	for j, p := range m.panels {
		p.SetFocused(j == m.focus)
	}
}

// tick sends a tickMsg on every whole second of the wall clock, the
// fastest the dashboard redraws on its own.
func tick() tea.Cmd {
	return tea.Every(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *Model) onTick(time.Time) tea.Cmd {
	now := m.common.Now()
	if m.notice != nil && now.Sub(m.notice.at) > noticeTTL {
		m.notice = nil
	}
	for _, id := range m.tasks.expire(now, m.opts.TaskTimeout) {
		m.finishTask(id, "", errTaskTimeout)
	}
	return tick()
}
