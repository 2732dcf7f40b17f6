package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// wideMin is the narrowest terminal, in columns, that gets two columns
// of panels; below it the panels stack.
const wideMin = 100

// chromeRows is the rows outside the panels: the header, the status line
// and the help bar.
const chromeRows = 3

func (m *Model) bodyHeight() int { return max(m.common.Height-chromeRows, 1) }

func (m *Model) render() string {
	if !m.ready {
		return "ibdash: starting…"
	}
	width, bodyH := m.common.Width, m.bodyHeight()

	var body []string
	switch {
	case m.mode == modeConfirm:
		body = fitBlock(lipgloss.Place(width, bodyH, lipgloss.Center, lipgloss.Center, m.renderConfirm(width)), width, bodyH)
	case m.mode == modeHelp:
		body = fitLines(m.renderFullHelp(width, bodyH), width, bodyH)
	case m.mode == modeTicket && m.ticket != nil:
		body = fitBlock(m.ticket.View(), width, bodyH)
	default:
		body = m.renderPanels(width, bodyH)
	}

	lines := make([]string, 0, bodyH+chromeRows)
	lines = append(lines, m.renderHeader(width))
	lines = append(lines, body...)
	lines = append(lines, m.renderStatus(width), m.renderHelpBar(width))
	return strings.Join(lines, "\n")
}

// fitBlock splits s into exactly height lines of width cells.
func fitBlock(s string, width, height int) []string {
	return fitLines(strings.Split(s, "\n"), width, height)
}

// fitLines makes lines exactly width by height cells: lines are padded
// or cut, and missing lines are blank.
func fitLines(lines []string, width, height int) []string {
	out := make([]string, height)
	for i := range out {
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		out[i] = common.FitWidth(line, width)
	}
	return out
}

func (m *Model) renderHeader(width int) string {
	st := m.common.Styles
	left := st.Header.Render("ibdash")
	leftW := len("ibdash")
	if m.opts.Demo {
		left += " " + st.Warn.Render("DEMO (simulator)")
		leftW += len(" DEMO (simulator)")
	}
	if c := m.opts.TradingConsumer; c != "" {
		text := "  trading " + c
		if a := m.session.event.Account; a != "" {
			text += " · " + a
		}
		left += st.Muted.Render(text)
		leftW += common.Width(text)
	}
	clock := m.common.Now().Format("Mon 15:04:05 MST")
	gap := width - leftW - len(clock)
	if gap < 1 {
		return common.FitWidth(left, width)
	}
	return left + strings.Repeat(" ", gap) + st.Muted.Render(clock)
}

// renderStatus draws the notice and the tasks on one line.
func (m *Model) renderStatus(width int) string {
	var parts []part
	if n := m.notice; n != nil {
		parts = append(parts, part{"» " + n.text, n.tone})
	}
	parts = append(parts, m.taskParts()...)
	return fitParts(m.common.Styles, parts, width)
}

// fitParts joins parts with two spaces, shortening at a word boundary
// the part that reaches the edge and leaving out those after it.
func fitParts(st *common.Styles, parts []part, width int) string {
	var b strings.Builder
	used := 0
	for i, p := range parts {
		sep := 0
		if i > 0 {
			sep = 2
		}
		room := width - used - sep
		if room < 4 {
			break
		}
		text := common.Truncate(p.text, room)
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(st.ByTone(p.tone).Render(text))
		used += sep + common.Width(text)
		if text != p.text {
			break
		}
	}
	return b.String()
}

func (m *Model) renderHelpBar(width int) string {
	km := m.common.KeyMap
	var bindings []key.Binding
	switch m.mode {
	case modeConfirm:
		bindings = m.confirmHelp()
	case modeHelp:
		bindings = []key.Binding{km.Help, km.Back, km.ForceQuit}
	case modeTicket:
		bindings = append(m.ticket.ShortHelp(), km.ForceQuit)
	default:
		bindings = append(bindings, km.NextPanel)
		bindings = append(bindings, m.panels[m.focus].ShortHelp()...)
		bindings = append(bindings, km.Help, km.Quit, km.NewOrder)
	}
	m.help.SetWidth(width)
	return m.help.ShortHelpView(bindings)
}

func (m *Model) renderFullHelp(width, height int) []string {
	km := m.common.KeyMap
	groups := [][]key.Binding{
		{km.NextPanel, km.PrevPanel, km.Help, km.Dismiss, km.Quit, km.ForceQuit},
		{km.Up, km.Down, km.Top, km.Bottom},
		{km.Recheck, km.NewOrder, km.Cancel},
	}
	st := m.common.Styles
	lines := []string{titleLine(st, "Keys", true, "? or esc to close")}
	lines = append(lines, strings.Split(m.help.FullHelpView(groups), "\n")...)
	lines = append(lines, "")
	notes := []string{
		"r rechecks the selected consumer key; c cancels the selected order after a confirmation.",
		"Countdowns are in IB's time zone, America/New_York (ET).",
	}
	if reason := m.opts.OrdersDisabled; reason != "" {
		notes[0] = "r rechecks the selected consumer key."
		notes = append(notes, reason)
	}
	for _, text := range notes {
		for _, l := range common.Wrap(text, width-borderCols) {
			lines = append(lines, st.Muted.Render(l))
		}
	}
	return renderBox(st.BorderFocus, width, min(height, len(lines)+borderRows), lines)
}

// columns returns the panels of each column at this width.
func (m *Model) columns(width int) [][]panel {
	if width >= wideMin {
		return [][]panel{{m.keys, m.session, m.gateway}, {m.errors, m.orders}}
	}
	return [][]panel{m.panels}
}

func (m *Model) renderPanels(width, height int) []string {
	cols := m.columns(width)
	if len(cols) == 1 {
		return m.renderColumn(cols[0], width, height)
	}
	leftW := width / 2
	left := m.renderColumn(cols[0], leftW, height)
	right := m.renderColumn(cols[1], width-leftW, height)
	for i := range left {
		left[i] += right[i]
	}
	return left
}

// renderColumn stacks panels in a column of exactly width by height
// cells. When their natural heights do not fit, panels collapse to their
// one-line summary from the bottom up, never the focused one, and the
// last panel shown whole takes any rows left over.
func (m *Model) renderColumn(ps []panel, width, height int) []string {
	heights := m.columnHeights(ps, width, height)
	focused := m.panels[m.focus]
	innerW := width - borderCols

	lines := make([]string, 0, height)
	for i, p := range ps {
		h := heights[i]
		if h == 1 {
			lines = append(lines, common.FitWidth("  "+p.Summary(width-2), width))
			continue
		}
		p.SetSize(innerW, h-borderRows)
		style := m.common.Styles.Border
		if p == focused {
			style = m.common.Styles.BorderFocus
		}
		lines = append(lines, renderBox(style, width, h, strings.Split(p.View(), "\n"))...)
	}
	return fitLines(lines, width, height)
}

// columnHeights picks the height of each panel in a column; 1 means the
// panel shows as its summary line.
func (m *Model) columnHeights(ps []panel, width, height int) []int {
	focused := m.panels[m.focus]
	innerW := width - borderCols
	heights := make([]int, len(ps))
	total := 0
	for i, p := range ps {
		heights[i] = p.Lines(innerW) + borderRows
		total += heights[i]
	}
	for i := len(ps) - 1; i >= 0 && total > height; i-- {
		if ps[i] == focused {
			continue
		}
		total -= heights[i] - 1
		heights[i] = 1
	}

	// Hand the surplus (or the shortfall, when even the focused panel
	// alone is too tall) to the last panel shown whole.
	for i := len(ps) - 1; i >= 0; i-- {
		if heights[i] > 1 {
			heights[i] = max(heights[i]+height-total, borderRows+1)
			break
		}
	}
	return heights
}
