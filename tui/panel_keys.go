package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui/common"
)

// keysPanel lists every configured consumer key with its activation
// state, the last and next check, the expected activation of a pending
// key and the last decoded error.
type keysPanel struct {
	common   common.Common
	focused  bool
	order    []string // consumer keys in config order
	trading  string
	statuses map[string]ibclient.KeyStatus
	checking map[string]bool // keys with a recheck task running
	selected int
}

func newKeysPanel(c common.Common, keys []string, trading string) *keysPanel {
	return &keysPanel{
		common:   c,
		order:    slices.Clone(keys),
		trading:  trading,
		statuses: map[string]ibclient.KeyStatus{},
		checking: map[string]bool{},
	}
}

// setStatus stores a finding and returns the state it replaced, or
// KeyUnchecked for a key seen for the first time. A key the config did
// not list is added at the end.
func (p *keysPanel) setStatus(s ibclient.KeyStatus) ibclient.KeyState {
	prev, ok := p.statuses[s.ConsumerKey]
	if !slices.Contains(p.order, s.ConsumerKey) {
		p.order = append(p.order, s.ConsumerKey)
	}
	p.statuses[s.ConsumerKey] = s
	if !ok {
		return ibclient.KeyUnchecked
	}
	return prev.State
}

func (p *keysPanel) setChecking(consumerKey string, on bool) {
	if on {
		p.checking[consumerKey] = true
	} else {
		delete(p.checking, consumerKey)
	}
}

func (p *keysPanel) selectedKey() (string, bool) {
	if p.selected < 0 || p.selected >= len(p.order) {
		return "", false
	}
	return p.order[p.selected], true
}

func (p *keysPanel) Init() tea.Cmd { return nil }

func (p *keysPanel) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	km := p.common.KeyMap
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(msg, km.Up):
			p.selected = max(p.selected-1, 0)
		case key.Matches(msg, km.Down):
			p.selected = min(p.selected+1, max(len(p.order)-1, 0))
		case key.Matches(msg, km.Top):
			p.selected = 0
		case key.Matches(msg, km.Bottom):
			p.selected = max(len(p.order)-1, 0)
		case key.Matches(msg, km.Recheck):
			if k, ok := p.selectedKey(); ok {
				return p, func() tea.Msg { return recheckRequestMsg{consumerKey: k} }
			}
		}
	}
	return p, nil
}

func (p *keysPanel) SetSize(width, height int) { p.common.SetSize(width, height) }
func (p *keysPanel) SetFocused(focused bool)   { p.focused = focused }
func (p *keysPanel) Title() string             { return "Consumer keys" }

func (p *keysPanel) ShortHelp() []key.Binding {
	km := p.common.KeyMap
	return []key.Binding{km.Move, km.Recheck}
}

func (p *keysPanel) FullHelp() [][]key.Binding {
	km := p.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Top, km.Bottom, km.Recheck}}
}

// keyLines returns the rows for one consumer key: its name and badge,
// then the checks, the expected activation and the last error.
func (p *keysPanel) keyLines(consumerKey string, selected bool, width int) []string {
	st := p.common.Styles
	now := p.common.Now()
	s, seen := p.statuses[consumerKey]
	if !seen {
		s = ibclient.KeyStatus{ConsumerKey: consumerKey}
	}

	name := common.PadRight(common.Truncate(consumerKey, 14), 14)
	if selected && p.focused {
		name = st.Selected.Render(name)
	} else {
		name = st.Value.Render(name)
	}
	head := name + " " + keyBadge(st, s.State)
	var tags []string
	if consumerKey == p.trading {
		tags = append(tags, "trading")
	}
	if p.checking[consumerKey] {
		tags = append(tags, "checking…")
	}
	if len(tags) > 0 {
		head += " " + st.Info.Render(strings.Join(tags, " · "))
	}

	indent := "  "
	inner := width - len(indent)
	checks := "checked " + common.Ago(now, s.CheckedAt)
	if !s.NextCheck.IsZero() {
		checks += " · next in " + common.Countdown(now, s.NextCheck)
	}
	lines := []string{head, indent + st.Muted.Render(common.Truncate(checks, inner))}

	if s.State == ibclient.KeyPending && !s.ExpectedActivation.IsZero() {
		when := fmt.Sprintf("expected active in %s (%s)",
			common.Countdown(now, s.ExpectedActivation), eastern(s.ExpectedActivation))
		lines = append(lines, indent+st.Warn.Render(common.Truncate(when, inner)))
	}
	if s.Err != nil {
		info := describeError(s.Err)
		text := info.Kind
		if info.Message != "" && info.Message != info.Kind {
			text += ": " + info.Message
		}
		lines = append(lines, indent+st.Bad.Render(common.Truncate(text, inner)))
	}
	return lines
}

func (p *keysPanel) Lines(width int) int {
	n := 1
	for i, k := range p.order {
		n += len(p.keyLines(k, i == p.selected, width))
	}
	return max(n, 2)
}

func (p *keysPanel) View() string {
	st := p.common.Styles
	width, height := p.common.Width, p.common.Height
	lines := []string{titleLine(st, p.Title(), p.focused, fmt.Sprintf("%d configured", len(p.order)))}
	if len(p.order) == 0 {
		lines = append(lines, st.Muted.Render(common.Truncate("No consumers in the config file.", width)))
		return strings.Join(lines, "\n")
	}

	// Show whole keys around the selection when they do not all fit.
	var rows [][]string
	for i, k := range p.order {
		rows = append(rows, p.keyLines(k, i == p.selected, width))
	}
	first := firstVisibleGroup(rows, p.selected, height-1)
	for _, row := range rows[first:] {
		if len(lines)+len(row) > height && len(lines) > 1 {
			break
		}
		lines = append(lines, row...)
	}
	return strings.Join(lines, "\n")
}

func (p *keysPanel) Summary(width int) string {
	st := p.common.Styles
	counts := map[ibclient.KeyState]int{}
	for _, k := range p.order {
		counts[p.statuses[k].State]++
	}
	var parts []string
	for _, state := range []ibclient.KeyState{ibclient.KeyActive, ibclient.KeyPending,
		ibclient.KeyLSTFailed, ibclient.KeyUnreachable, ibclient.KeyMisconfigured, ibclient.KeyUnchecked} {
		if counts[state] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[state], state))
		}
	}
	text := p.Title() + ": " + strings.Join(parts, " · ")
	if len(parts) == 0 {
		text = p.Title() + ": none configured"
	}
	return st.Summary.Render(common.Truncate(text, width))
}

// keyBadge renders a key state as a fixed-width word with its tone.
func keyBadge(st *common.Styles, s ibclient.KeyState) string {
	var label string
	tone := common.ToneNone
	switch s {
	case ibclient.KeyActive:
		label, tone = "ACTIVE", common.ToneOK
	case ibclient.KeyPending:
		label, tone = "PENDING", common.ToneWarn
	case ibclient.KeyLSTFailed:
		label, tone = "LST FAILED", common.ToneBad
	case ibclient.KeyUnreachable:
		label, tone = "UNREACHABLE", common.ToneBad
	case ibclient.KeyMisconfigured:
		label, tone = "MISCONFIG", common.ToneBad
	default:
		label = "UNCHECKED"
	}
	return st.ByTone(tone).Render(common.PadRight(label, 11))
}

// firstVisibleGroup returns the first group of rows to draw so that the
// selected group is inside a window of height rows.
func firstVisibleGroup(groups [][]string, selected, height int) int {
	first := 0
	for first < selected {
		used := 0
		for _, g := range groups[first : selected+1] {
			used += len(g)
		}
		if used <= height {
			break
		}
		first++
	}
	return first
}

// eastern formats t as a weekday and time in New York, as IB states its
// reset windows.
func eastern(t time.Time) string {
	return t.In(ibclient.NewYork()).Format("Mon 15:04") + " ET"
}
