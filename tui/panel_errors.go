package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// maxErrors is how many errors the panel keeps; older ones are dropped.
const maxErrors = 200

// errorEntry is one row of the IB errors panel. Repeats of the same error
// from the same source fold into one row with a count.
type errorEntry struct {
	time   time.Time
	source string
	info   errorInfo
	count  int
}

// errorsPanel lists the errors of every source, newest first; the
// selected one is shown with its explanation and next step.
type errorsPanel struct {
	common   common.Common
	focused  bool
	entries  []errorEntry // newest first
	selected int
}

func newErrorsPanel(c common.Common) *errorsPanel { return &errorsPanel{common: c} }

// add records an error. The same kind and message from the same source
// as the newest row only bumps that row's count and time.
func (p *errorsPanel) add(at time.Time, source string, err error) {
	info := describeError(err)
	if len(p.entries) > 0 {
		top := &p.entries[0]
		if top.source == source && top.info.Kind == info.Kind && top.info.Message == info.Message {
			top.count++
			top.time = at
			top.info.RequestID = info.RequestID
			return
		}
	}
	p.entries = append([]errorEntry{{time: at, source: source, info: info, count: 1}}, p.entries...)
	if len(p.entries) > maxErrors {
		p.entries = p.entries[:maxErrors]
	}
	// Keep the selection on the row it was on, unless it was the newest.
	if p.selected > 0 {
		p.selected = min(p.selected+1, len(p.entries)-1)
	}
}

func (p *errorsPanel) Init() tea.Cmd { return nil }

func (p *errorsPanel) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	km := p.common.KeyMap
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		last := max(len(p.entries)-1, 0)
		switch {
		case key.Matches(msg, km.Up):
			p.selected = max(p.selected-1, 0)
		case key.Matches(msg, km.Down):
			p.selected = min(p.selected+1, last)
		case key.Matches(msg, km.Top):
			p.selected = 0
		case key.Matches(msg, km.Bottom):
			p.selected = last
		}
	}
	return p, nil
}

func (p *errorsPanel) SetSize(width, height int) { p.common.SetSize(width, height) }
func (p *errorsPanel) SetFocused(focused bool)   { p.focused = focused }
func (p *errorsPanel) Title() string             { return "IB errors" }

func (p *errorsPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.common.KeyMap.Move}
}

func (p *errorsPanel) FullHelp() [][]key.Binding {
	km := p.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Top, km.Bottom}}
}

// Lines asks for a few rows plus the explanation of the selected error.
func (p *errorsPanel) Lines(width int) int {
	if len(p.entries) == 0 {
		return 2
	}
	rows := min(len(p.entries), 6)
	return 1 + rows + 1 + len(p.detail(width))
}

func (p *errorsPanel) row(e errorEntry, width int) string {
	st := p.common.Styles
	head := e.time.Format("15:04:05") + " "
	id := "        "
	if e.info.RequestID != "" {
		id = common.PadRight("id "+e.info.RequestID, 8)
	}
	text := e.source + " " + e.info.Kind
	if e.count > 1 {
		text += fmt.Sprintf(" ×%d", e.count)
	}
	if e.info.Message != "" && e.info.Message != e.info.Kind {
		text += ": " + e.info.Message
	}
	rest := common.Truncate(text, width-len(head)-len(id)-1)
	return st.Muted.Render(head) + st.Label.Render(id) + " " + st.Bad.Render(rest)
}

// detail wraps the selected error's message and explanation.
func (p *errorsPanel) detail(width int) []string {
	if p.selected >= len(p.entries) {
		return nil
	}
	e := p.entries[p.selected]
	var out []string
	if e.info.Message != "" {
		out = append(out, common.Wrap(e.info.Message, width)...)
	}
	return append(out, common.Wrap(e.info.Explanation, width)...)
}

func (p *errorsPanel) View() string {
	st := p.common.Styles
	width, height := p.common.Width, p.common.Height
	lines := []string{titleLine(st, p.Title(), p.focused, fmt.Sprintf("%d", len(p.entries)))}
	if len(p.entries) == 0 {
		lines = append(lines, st.OK.Render("No errors."))
		return strings.Join(lines, "\n")
	}

	detail := p.detail(width)
	// The list gets at least two rows; the explanation takes what is left
	// and is cut at a whole line when the panel is short.
	listRows := max(min(len(p.entries), height-1-1-len(detail)), min(2, len(p.entries)))
	first := scrollWindow(p.selected, len(p.entries), listRows)
	for i := first; i < first+listRows && i < len(p.entries); i++ {
		line := p.row(p.entries[i], width-2)
		if i == p.selected {
			line = st.Title.Render("›") + " " + line
		} else {
			line = "  " + line
		}
		lines = append(lines, line)
	}
	room := height - len(lines) - 1
	if room > 0 {
		lines = append(lines, st.Muted.Render(strings.Repeat("─", width)))
		for i, d := range detail {
			if i >= room {
				break
			}
			lines = append(lines, st.Value.Render(d))
		}
	}
	return strings.Join(lines, "\n")
}

func (p *errorsPanel) Summary(width int) string {
	st := p.common.Styles
	if len(p.entries) == 0 {
		return st.Summary.Render(common.Truncate(p.Title()+": none", width))
	}
	e := p.entries[0]
	text := fmt.Sprintf("%s: %d · last %s %s %s", p.Title(), len(p.entries), e.time.Format("15:04:05"), e.source, e.info.Kind)
	return st.Summary.Render(common.Truncate(text, width))
}
