package ticket

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient/orderform"
)

// handleKey delegates a key press by step.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.step {
	case stepEdit:
		return m.handleEditKey(msg)
	case stepFailed:
		return m.handleFailedKey(msg)
	case stepPreview:
		return m.handlePreviewKey(msg)
	case stepQuestion:
		return m.handleQuestionKey(msg)
	case stepPlacing:
		if key.Matches(msg, m.keys.Back) {
			m.status = "IB has not answered yet; the ticket stays open until it does."
		}
		return nil
	}
	// Loading, preparing and the result: esc closes.
	if key.Matches(msg, m.keys.Back) {
		return m.done()
	}
	return nil
}

func (m *Model) handleEditKey(msg tea.KeyPressMsg) tea.Cmd {
	f := m.fields.focused()
	switch {
	case key.Matches(msg, m.keys.Back):
		return m.done()
	case key.Matches(msg, m.keys.Preview):
		return m.tryPreview()
	case f.kind == kindPicker && msg.String() == "up" && f.pick > 0:
		f.movePick(-1)
		return nil
	case f.kind == kindPicker && msg.String() == "down" && f.pick < len(f.matches())-1:
		f.movePick(1)
		return nil
	case key.Matches(msg, m.keys.Accept):
		return m.acceptField()
	case key.Matches(msg, m.keys.Next):
		return m.leaveField(1)
	case key.Matches(msg, m.keys.Prev):
		return m.leaveField(-1)
	}

	if f.kind == kindChoice {
		return m.handleChoiceKey(f, msg)
	}
	cmd, changed := f.update(msg)
	if !changed {
		return cmd
	}
	return tea.Batch(cmd, m.changed())
}

// handleChoiceKey changes a choice field with space, the arrows or the
// first letter of an option.
func (m *Model) handleChoiceKey(f *field, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case msg.String() == "left":
		f.cycle(-1)
	case key.Matches(msg, m.keys.Toggle):
		f.cycle(1)
	case f.chooseByLetter(msg.Text):
	default:
		return nil
	}
	return m.changed()
}

// acceptField takes a picker's highlighted value and moves on; on the
// last field it opens the preview.
func (m *Model) acceptField() tea.Cmd {
	f := m.fields.focused()
	var cmds []tea.Cmd
	if f.kind == kindPicker && f.acceptPick() {
		cmds = append(cmds, m.changed())
	}
	if m.fields.last() {
		return tea.Batch(append(cmds, m.tryPreview())...)
	}
	return tea.Batch(append(cmds, m.leaveField(1))...)
}

// leaveField moves the focus and checks the field that was left. A new
// symbol loads its chain afresh.
func (m *Model) leaveField(step int) tea.Cmd {
	left := m.fields.focused()
	cmd := m.fields.move(step)
	if left.id == orderform.FieldSymbol && (m.step == stepFailed || m.symbolChanged()) {
		return tea.Batch(cmd, m.reload())
	}
	m.recheck()
	return cmd
}

// symbolChanged reports whether the typed symbol is valid and not the
// one whose chain is loaded.
func (m *Model) symbolChanged() bool {
	symbol, err := orderform.ParseSymbol(m.fields.input().Symbol)
	return err == nil && m.chain != nil && symbol != m.chain.Underlying.Symbol
}

// reload drops everything loaded for the old symbol and loads the
// chain of the new one.
func (m *Model) reload() tea.Cmd {
	m.chain, m.contract, m.quote = nil, nil, nil
	m.market = orderform.Market{Today: m.market.Today}
	m.loadingContract, m.pendingStrikes = contractKey{}, orderform.StrikeKey{}
	m.strikesVersion++
	m.contractVersion++
	for _, id := range []orderform.Field{orderform.FieldExpiry, orderform.FieldStrike} {
		m.fields.get(id).setOptions(nil)
	}
	m.step = stepLoading
	m.status = "Loading the " + m.fields.input().Symbol + " option chain…"
	return m.loadChain()
}

// tryPreview starts the preview when every field is valid; otherwise it
// shows every error and the reason the preview waits.
func (m *Model) tryPreview() tea.Cmd {
	m.fields.touchAll()
	m.recheck()
	switch {
	case len(m.errs) > 0:
		m.status = "Fix the fields marked above before the preview."
		return nil
	case m.contract == nil:
		m.status = "Waiting for the contract and its quote; try again in a moment."
		return nil
	}
	return m.startPreview()
}

func (m *Model) handlePreviewKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.BackToForm):
		// Back to the form; the next preview gets a new cOID and quote.
		m.step = stepEdit
		m.plan, m.preview = nil, nil
		m.status = "Preview discarded; nothing was sent."
	case key.Matches(msg, m.keys.Submit, m.keys.Yes):
		if m.preview.Error != "" {
			m.status = "IB's what-if rejects this order, so it cannot be submitted; press esc to change it."
			return nil
		}
		return m.startPlace()
	}
	return nil
}

func (m *Model) handleQuestionKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Yes):
		return m.answerQuestion(true)
	case key.Matches(msg, m.keys.No):
		return m.answerQuestion(false)
	default:
		m.status = "IB waits for an answer: y confirms, n declines and IB discards the order."
	}
	return nil
}

// handleFailedKey retries the chain, or lets the user fix the symbol,
// whose field a failed load focuses.
func (m *Model) handleFailedKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Retry) {
		return m.reload()
	}
	return m.handleEditKey(msg)
}

// ShortHelp lists the keys of the current step.
func (m *Model) ShortHelp() []key.Binding {
	k := m.keys
	switch m.step {
	case stepEdit:
		// Preview and close come first, because the help bar cuts what
		// does not fit (at 80 columns) from the end.
		return []key.Binding{k.Preview, k.Back, k.Next, k.Accept, k.Toggle}
	case stepPreview:
		return []key.Binding{k.Submit, k.BackToForm}
	case stepQuestion:
		return []key.Binding{k.Yes, k.No}
	case stepFailed:
		return []key.Binding{k.Retry, k.Next, k.Back}
	case stepPlacing:
		return nil
	}
	return []key.Binding{k.Back}
}

// FullHelp lists the keys of the current step in one column.
func (m *Model) FullHelp() [][]key.Binding {
	if m.step == stepEdit {
		return [][]key.Binding{{m.keys.Next, m.keys.Prev, m.keys.Accept}, {m.keys.Toggle, m.keys.Preview, m.keys.Back}}
	}
	return [][]key.Binding{m.ShortHelp()}
}
