// Package ticket is the dashboard's order ticket for SPY options with an
// attached stop-loss. Its form takes the expiry and strike from what IB
// lists and shows orderform's checks inline. Then come a what-if
// preview, IB's confirmation questions put to the user one at a time,
// and the live status of each leg once placed.
//
// Every request goes through an orderform.Desk, so the ticket and
// `ibdash order` share the checks, the audit log and the rule that a
// placement whose answer is lost is looked up by its cOID, never sent
// again.
package ticket

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/tui/common"
)

// Messages. Each carries the id of the ticket that started the work, so
// a late result for a closed ticket is dropped by the next one, and the
// loads also carry a version so that only the newest one is kept.
type (
	chainMsg struct {
		ticket     int64
		desk       *orderform.Desk
		chain      *orderform.Chain
		underlying float64
		err        error
	}
	strikesMsg struct {
		ticket  int64
		version int
		key     orderform.StrikeKey
		strikes []float64
		err     error
	}
	contractMsg struct {
		ticket   int64
		version  int
		contract *ibclient.OptionContract
		quote    *ibclient.Quote
		tick     orderform.TickRule
		tickErr  error
		err      error
	}
	previewMsg struct {
		ticket  int64
		plan    *orderform.Plan
		preview *ibclient.Preview
		err     error
	}
	questionMsg struct {
		ticket   int64
		question ibclient.Question
		reply    chan<- bool
	}
	placedMsg struct {
		ticket    int64
		placement *ibclient.Placement
		err       error
	}
	statusMsg struct {
		ticket int64
		legs   []orderform.LegStatus
	}
	statusDueMsg struct{ ticket int64 }
)

// step is the ticket's position in its flow.
type step int

const (
	stepLoading   step = iota // loading the chain
	stepEdit                  // filling in the form
	stepPreparing             // fresh quote, checks and what-if running
	stepPreview               // showing the what-if, waiting for submit
	stepPlacing               // order sent, waiting for IB
	stepQuestion              // one of IB's questions is on screen
	stepResult                // placed or not; live status of each leg
	stepFailed                // the chain could not be loaded
)

// Options configures a ticket.
type Options struct {
	// Desk returns the trading desk, waiting until the trading session is
	// up or ctx ends.
	Desk func(ctx context.Context) (*orderform.Desk, error)
	// Gate is shared by every ticket of one IB session; nil gives the
	// ticket a gate of its own.
	Gate *Gate
	// Defaults are the starting values; empty fields take
	// orderform.Defaults.
	Defaults orderform.Input
	// RequestTimeout bounds each load and the preview; 0 means 30 s.
	// Placing has no overall deadline because it waits for the user's
	// answers; each request in it is bounded by the client.
	RequestTimeout time.Duration
	// StatusInterval is how often a placed order's legs are refreshed;
	// 0 means 2 s.
	StatusInterval time.Duration
	// QuestionTimeout is how long one of IB's questions waits for the
	// user before the ticket declines it, so that an abandoned ticket
	// cannot hold the gate; 0 means 5 minutes.
	QuestionTimeout time.Duration
	// OnPlaced runs after IB accepted an order, to refresh other views.
	OnPlaced func()
}

var ticketIDs atomic.Int64

// Model is the order ticket.
type Model struct {
	common common.Common
	opts   Options
	keys   keyMap
	id     int64
	step   step

	desk   *orderform.Desk
	fields *fieldSet
	market orderform.Market
	chain  *orderform.Chain
	under  float64 // the underlying's price when the chain was loaded
	errs   orderform.Errors
	status string // one line under the form: what runs, or what failed

	// Loads in flight, so a stale reply is dropped.
	strikesVersion  int
	pendingStrikes  orderform.StrikeKey
	contractVersion int
	loadingContract contractKey
	contract        *ibclient.OptionContract
	quote           *ibclient.Quote
	tickNote        string

	plan      *orderform.Plan
	preview   *ibclient.Preview
	placing   string // cOID holding the gate
	questions chan questionMsg
	question  *questionMsg
	answers   []answer
	placement *ibclient.Placement
	placeErr  error
	legs      []orderform.LegStatus
}

// answer is one of IB's questions and the user's reply.
type answer struct {
	ids       []string
	confirmed bool
}

// New returns a ticket that starts loading the chain on Init.
func New(c common.Common, opts Options) *Model {
	if opts.Gate == nil {
		opts.Gate = &Gate{}
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = 2 * time.Second
	}
	if opts.QuestionTimeout <= 0 {
		opts.QuestionTimeout = 5 * time.Minute
	}
	in := withDefaults(opts.Defaults)
	m := &Model{
		common: c,
		opts:   opts,
		keys:   newKeyMap(c.KeyMap),
		id:     ticketIDs.Add(1),
		fields: newFieldSet(in),
	}
	m.market.Today = orderform.NewYorkDate(c.Now())
	return m
}

func withDefaults(in orderform.Input) orderform.Input {
	d := orderform.Defaults()
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&in.Symbol, d.Symbol)
	fill(&in.Right, d.Right)
	fill(&in.Side, d.Side)
	fill(&in.Quantity, d.Quantity)
	fill(&in.OrderType, d.OrderType)
	fill(&in.TIF, d.TIF)
	return in
}

// Init starts loading the chain of the symbol.
func (m *Model) Init() tea.Cmd {
	m.step = stepLoading
	m.status = "Loading the " + m.fields.input().Symbol + " option chain…"
	return tea.Batch(m.fields.focused().focus(), m.loadChain())
}

// SetSize sets the box the ticket draws into.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Busy reports whether an order may be on its way to IB: quitting now
// could leave it in a state the user has not seen.
func (m *Model) Busy() bool { return m.step == stepPlacing || m.step == stepQuestion }

// BusyReason describes what quitting now would interrupt. While a question
// is open nothing is placed yet, because IB submits the order only once
// every question is confirmed; while waiting, the order may be placed.
func (m *Model) BusyReason() string {
	switch m.step {
	case stepQuestion:
		return "IB's question about order " + m.placing + " is still open. Quitting leaves it unanswered, and IB places no order without the answer."
	case stepPlacing:
		return "Order " + m.placing + " was sent and IB has not answered yet. It may still be placed after you quit; check the live orders."
	}
	return ""
}

// Update handles keys by step and the results of the ticket's commands.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case chainMsg:
		return m, m.onChain(msg)
	case strikesMsg:
		return m, m.onStrikes(msg)
	case contractMsg:
		return m, m.onContract(msg)
	case previewMsg:
		return m, m.onPreview(msg)
	case questionMsg:
		return m, m.onQuestion(msg)
	case placedMsg:
		return m, m.onPlaced(msg)
	case statusMsg:
		return m, m.onStatus(msg)
	case statusDueMsg:
		if msg.ticket == m.id && m.step == stepResult {
			return m, m.refreshStatus()
		}
	}
	return m, nil
}

func (m *Model) onChain(msg chainMsg) tea.Cmd {
	if msg.ticket != m.id {
		return nil
	}
	if msg.err != nil {
		m.step = stepFailed
		m.status = "Loading the chain failed: " + msg.err.Error() + " Fix the symbol, or press ctrl+r to retry."
		m.fields.blurAll()
		m.fields.focus = 0
		return m.fields.focused().focus()
	}
	m.step = stepEdit
	m.desk = msg.desk
	m.chain = msg.chain
	m.under = msg.underlying
	m.market.Expiries = msg.chain.Expiries
	dates := make([]string, len(msg.chain.Expiries))
	for i, e := range msg.chain.Expiries {
		dates[i] = e.Format(orderform.DateLayout)
	}
	m.fields.get(orderform.FieldExpiry).setOptions(dates)
	m.status = fmt.Sprintf("%d expiries listed; %s at %s.", len(dates), msg.chain.Underlying.Symbol, orderform.FormatPrice(msg.underlying))
	return m.changed()
}

func (m *Model) onStrikes(msg strikesMsg) tea.Cmd {
	if msg.ticket != m.id || msg.version != m.strikesVersion {
		return nil
	}
	if msg.err != nil {
		m.status = "Loading the strikes of " + msg.key.Expiry.Format(orderform.DateLayout) + " failed: " + msg.err.Error()
		return nil
	}
	m.market.SetStrikes(msg.key.Expiry, msg.key.Right, msg.strikes)
	options := make([]string, len(msg.strikes))
	for i, k := range msg.strikes {
		options[i] = orderform.FormatStrike(k)
	}
	m.fields.get(orderform.FieldStrike).setOptions(options)
	m.status = fmt.Sprintf("%d strikes listed for %s %s, nearest the money first.", len(options), msg.key.Expiry.Format(orderform.DateLayout), msg.key.Right)
	return m.changed()
}

func (m *Model) onContract(msg contractMsg) tea.Cmd {
	if msg.ticket != m.id || msg.version != m.contractVersion {
		return nil
	}
	if msg.err != nil {
		m.status = "Loading the contract failed: " + msg.err.Error()
		return nil
	}
	m.contract, m.quote = msg.contract, msg.quote
	m.market.Quote = msg.quote
	m.market.Tick = msg.tick
	m.tickNote = orderform.TickNote(msg.tick, msg.tickErr)
	m.recheck()
	return nil
}

// changed runs after any field changed: it starts the loads the new
// values need and checks the form again.
func (m *Model) changed() tea.Cmd {
	var cmds []tea.Cmd
	expiry, right, ok := m.expiryAndRight()
	key := orderform.StrikeKey{Expiry: expiry, Right: right}
	if ok {
		if _, loaded := m.market.Strikes[key]; !loaded && m.pendingStrikes != key {
			cmds = append(cmds, m.loadStrikes(key))
		}
	}
	if cmd := m.maybeLoadContract(); cmd != nil {
		cmds = append(cmds, cmd)
	}
	m.recheck()
	return tea.Batch(cmds...)
}

// recheck runs every check of the form against what is loaded.
func (m *Model) recheck() {
	_, err := orderform.Check(m.fields.input(), m.market)
	m.errs = nil
	var errs orderform.Errors
	if errors.As(err, &errs) {
		m.errs = errs
	}
}

// expiryAndRight returns the typed expiry and right when both are valid
// and the expiry is listed.
func (m *Model) expiryAndRight() (time.Time, ibclient.Right, bool) {
	in := m.fields.input()
	expiry, err := orderform.ParseExpiry(in.Expiry)
	if err != nil || orderform.CheckExpiry(expiry, m.market.Today, m.market.Expiries) != nil || m.market.Expiries == nil {
		return time.Time{}, "", false
	}
	right, err := orderform.ParseRight(in.Right)
	if err != nil {
		return time.Time{}, "", false
	}
	return expiry, right, true
}

// maybeLoadContract starts loading the contract, quote and tick rule
// when expiry, strike and right pick a listed option other than the one
// loaded.
func (m *Model) maybeLoadContract() tea.Cmd {
	expiry, right, ok := m.expiryAndRight()
	if !ok {
		return m.dropContract()
	}
	listed, loaded := m.market.Strikes[orderform.StrikeKey{Expiry: expiry, Right: right}]
	strike, err := orderform.ParseStrike(m.fields.input().Strike)
	if !loaded || err != nil || orderform.CheckStrike(strike, expiry, listed) != nil {
		return m.dropContract()
	}
	want := contractKey{expiry, strike, right}
	if m.loadingContract == want {
		return nil
	}
	m.loadingContract = want
	m.contract, m.quote = nil, nil
	m.market.Quote, m.market.Tick = nil, nil
	return m.loadContract(want)
}

func (m *Model) dropContract() tea.Cmd {
	if m.loadingContract != (contractKey{}) {
		m.loadingContract = contractKey{}
		m.contractVersion++
		m.contract, m.quote = nil, nil
		m.market.Quote, m.market.Tick = nil, nil
	}
	return nil
}

// contractKey picks one option.
type contractKey struct {
	expiry time.Time
	strike float64
	right  ibclient.Right
}

func (m *Model) onPreview(msg previewMsg) tea.Cmd {
	if msg.ticket != m.id || m.step != stepPreparing {
		return nil
	}
	if msg.err != nil {
		m.step = stepEdit
		var errs orderform.Errors
		if errors.As(msg.err, &errs) {
			m.errs = errs
			m.fields.touchAll()
			m.status = "The fresh quote changed the checks; fix the fields marked above."
			return nil
		}
		m.status = "Preview failed: " + msg.err.Error()
		return nil
	}
	m.plan, m.preview = msg.plan, msg.preview
	m.step = stepPreview
	m.status = ""
	return nil
}

func (m *Model) onQuestion(msg questionMsg) tea.Cmd {
	if msg.ticket != m.id {
		return nil
	}
	m.question = &msg
	m.step = stepQuestion
	m.status = ""
	return nil
}

// answerQuestion sends the user's reply to the placement and waits for
// IB's next question or its result.
func (m *Model) answerQuestion(confirmed bool) tea.Cmd {
	q := m.question
	m.question = nil
	m.answers = append(m.answers, answer{ids: q.question.MessageIDs, confirmed: confirmed})
	q.reply <- confirmed
	m.step = stepPlacing
	m.status = ""
	return waitQuestion(m.questions)
}

func (m *Model) onPlaced(msg placedMsg) tea.Cmd {
	if msg.ticket != m.id {
		return nil
	}
	m.placing = "" // the placement released the gate when it ended
	m.placement, m.placeErr = msg.placement, msg.err
	m.step = stepResult
	// A status from the placing step, such as the reminder to answer
	// IB's question, no longer applies.
	m.status = ""
	if msg.placement == nil {
		return nil
	}
	switch msg.placement.Outcome {
	case ibclient.OutcomePlaced, ibclient.OutcomeFound:
		if m.opts.OnPlaced != nil {
			m.opts.OnPlaced()
		}
		return tea.Batch(m.refreshStatus(), m.announcePlaced())
	}
	return nil
}

// announcePlaced sends the dashboard the orders IB accepted, so its
// orders panel shows them before its next refresh.
func (m *Model) announcePlaced() tea.Cmd {
	ids := orderform.OrderIDs(m.placement)
	if len(ids) == 0 {
		return nil
	}
	placed := common.PlacedMsg{OrderIDs: ids, Description: m.plan.Order.String()}
	return func() tea.Msg { return placed }
}

func (m *Model) onStatus(msg statusMsg) tea.Cmd {
	if msg.ticket != m.id {
		return nil
	}
	m.legs = msg.legs
	for _, leg := range msg.legs {
		if !leg.Terminal() {
			return m.statusDue()
		}
	}
	return nil
}

// done closes the ticket with a notice of how it ended.
func (m *Model) done() tea.Cmd {
	if m.step != stepResult || m.placement == nil {
		return common.DoneCmd("", nil)
	}
	return common.DoneCmd(m.outcomeLine(), m.placeErr)
}

// keyMap is the ticket's bindings. The ticket takes every key while it
// is open, so letters are free for typing, and moves with arrows only.
type keyMap struct {
	Next    key.Binding
	Prev    key.Binding
	Accept  key.Binding
	Toggle  key.Binding
	Preview key.Binding
	Submit  key.Binding
	Yes     key.Binding
	No      key.Binding
	Retry   key.Binding
	Back    key.Binding
	// BackToForm is esc in the preview, which returns to the form
	// rather than closing the ticket.
	BackToForm key.Binding
}

func newKeyMap(common *common.KeyMap) keyMap {
	return keyMap{
		Next:    key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		Prev:    key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		Accept:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "take")),
		Toggle:  key.NewBinding(key.WithKeys("space", "left", "right"), key.WithHelp("←→/space", "change")),
		Preview: key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "preview")),
		Submit:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "submit to IB")),
		Yes:     common.Yes,
		No:      key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n", "no")),
		Retry:   key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "retry")),
		Back:    common.Back,

		BackToForm: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to form")),
	}
}
