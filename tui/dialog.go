package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// confirmDialog is a yes/no question drawn over the dashboard. Only the
// yes key runs the action; any other answer closes the dialog.
type confirmDialog struct {
	question string
	yes      string // label of the action, such as "quit"
	onYes    func() tea.Cmd
	prev     mode // the mode to go back to
}

// ask opens a confirmation over the current mode.
func (m *Model) ask(question, yes string, onYes func() tea.Cmd) {
	m.confirm = &confirmDialog{question: question, yes: yes, onYes: onYes, prev: m.mode}
	m.mode = modeConfirm
}

func (m *Model) handleConfirmKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.common.KeyMap
	d := m.confirm
	switch {
	case key.Matches(msg, km.Yes):
		m.confirm, m.mode = nil, d.prev
		return d.onYes()
	case key.Matches(msg, km.No), key.Matches(msg, km.Quit):
		m.confirm, m.mode = nil, d.prev
	}
	return nil
}

func (m *Model) renderConfirm(width int) string {
	st := m.common.Styles
	d := m.confirm
	inner := max(min(width-borderCols, 60), 10)
	lines := common.Wrap(d.question, inner)
	lines = append(lines, "", st.Warn.Render("y")+" "+d.yes+"   "+st.Label.Render("n/esc")+" go back")
	return st.Dialog.Render(strings.Join(lines, "\n"))
}

func (m *Model) confirmHelp() []key.Binding {
	km := m.common.KeyMap
	return []key.Binding{km.Yes, km.No}
}
