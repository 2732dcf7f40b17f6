package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui/common"
)

// resetWindow is one of IB's scheduled resets, as the session panel
// counts down to it.
type resetWindow struct {
	name       string
	start, end time.Time // equal for an instant such as the token reset
}

// nextResets returns IB's next daily reset, weekend maintenance and IB
// Gateway token reset after now, in that order.
func nextResets(now time.Time) []resetWindow {
	daily := ibclient.NextDailyReset(now)
	weekend := ibclient.NextWeekendMaintenance(now)
	token := ibclient.NextGatewayTokenReset(now)
	return []resetWindow{
		{name: "daily reset", start: daily.Start, end: daily.End},
		{name: "weekend maintenance", start: weekend.Start, end: weekend.End},
		{name: "gateway token reset", start: token, end: token},
	}
}

// sessionPanel shows the brokerage session of the trading consumer and
// the next of IB's resets.
type sessionPanel struct {
	common   common.Common
	focused  bool
	consumer string
	event    ibclient.SessionEvent
	seen     bool
	cache    rowCache
}

func newSessionPanel(c common.Common, consumer string) *sessionPanel {
	return &sessionPanel{common: c, consumer: consumer}
}

// setEvent stores a session event and returns the one it replaced.
func (p *sessionPanel) setEvent(e ibclient.SessionEvent) (prev ibclient.SessionEvent, hadPrev bool) {
	prev, hadPrev = p.event, p.seen
	p.event, p.seen = e, true
	return prev, hadPrev
}

func (p *sessionPanel) Init() tea.Cmd                              { return nil }
func (p *sessionPanel) Update(tea.Msg) (common.Component, tea.Cmd) { return p, nil }
func (p *sessionPanel) SetSize(width, height int)                  { p.common.SetSize(width, height) }
func (p *sessionPanel) SetFocused(focused bool)                    { p.focused = focused }
func (p *sessionPanel) Title() string                              { return "Session" }
func (p *sessionPanel) ShortHelp() []key.Binding                   { return nil }
func (p *sessionPanel) FullHelp() [][]key.Binding                  { return nil }

// Lines builds the panel's rows, one line each, and keeps them for the
// View that follows in the same frame.
func (p *sessionPanel) Lines(width int) int {
	p.cache.store(width, p.rows(width))
	return len(p.cache.rows)
}

// View fits the rows to the panel, wrapping long ones when the panel
// has rows to spare.
func (p *sessionPanel) View() string {
	height := max(p.common.Height, 1)
	lines := fitRows(p.cache.take(p.common.Width, p.rows), p.common.Width, height)
	return strings.Join(lines[:min(len(lines), height)], "\n")
}

func (p *sessionPanel) rows(width int) []textRow {
	st := p.common.Styles
	now := p.common.Now()
	e := p.event

	extra := p.consumer
	if extra == "" {
		extra = "no trading consumer"
	}
	rows := []textRow{fixedRow(titleLine(st, p.Title(), p.focused, extra))}

	flags := textRow{indent: "  ", spans: []span{sessionBadge(st, e.State, p.seen)}}
	flags.spans = append(flags.spans, flag(st, "authenticated", e.Authenticated, true)...)
	flags.spans = append(flags.spans, flag(st, "connected", e.Connected, true)...)
	flags.spans = append(flags.spans, flag(st, "competing", e.Competing, false)...)
	rows = append(rows, flags)

	account := e.Account
	if account == "" {
		account = "—"
	}
	lst := "—"
	if !e.LSTExpires.IsZero() {
		lst = "in " + common.Countdown(now, e.LSTExpires)
	}
	rows = append(rows,
		fixedRow(fitPairs(st, width, pair{"account", account}, pair{"last tickle", common.Ago(now, e.LastTickle)})),
		fixedRow(fitPairs(st, width, pair{"LST expires", lst})))

	if e.Message != "" {
		rows = append(rows, styledRow(st.Muted, e.Message))
	}
	for _, r := range nextResets(now) {
		rows = append(rows, fixedRow(p.resetLine(r, now, width)))
	}
	return rows
}

func (p *sessionPanel) resetLine(r resetWindow, now time.Time, width int) string {
	st := p.common.Styles
	if !now.Before(r.start) && now.Before(r.end) {
		text := fmt.Sprintf("%s now, until %s (in %s)", r.name, eastern(r.end), common.Countdown(now, r.end))
		return st.Warn.Render(common.Truncate(text, width))
	}
	when := " (" + eastern(r.start) + ")"
	text := fmt.Sprintf("%s in %s", r.name, common.Countdown(now, r.start))
	return st.Label.Render(common.Truncate(text, width-len(when))) + st.Muted.Render(when)
}

func (p *sessionPanel) Summary(width int) string {
	e := p.event
	text := p.Title() + ": " + e.State.String()
	if !p.seen {
		text = p.Title() + ": not started"
	}
	if e.Account != "" {
		text += " · " + e.Account
	}
	if !e.LSTExpires.IsZero() {
		text += " · LST " + common.Countdown(p.common.Now(), e.LSTExpires)
	}
	return p.common.Styles.Summary.Render(common.Truncate(text, width))
}

func sessionBadge(st *common.Styles, s ibclient.SessionState, seen bool) span {
	if !seen {
		return span{"NOT STARTED", st.Muted}
	}
	tone := common.ToneInfo
	switch s {
	case ibclient.SessionReady:
		tone = common.ToneOK
	case ibclient.SessionDegraded:
		tone = common.ToneWarn
	case ibclient.SessionFailed, ibclient.SessionStopped:
		tone = common.ToneBad
	}
	return span{strings.ToUpper(s.String()), st.ByTone(tone)}
}

// flag returns the spans of "  name yes" or "  name no", the word toned
// by whether the value is the healthy one.
func flag(st *common.Styles, name string, value, healthy bool) []span {
	word := "no"
	if value {
		word = "yes"
	}
	tone := common.ToneOK
	if value != healthy {
		tone = common.ToneBad
	}
	return []span{{"  " + name + " ", st.Label}, {word, st.ByTone(tone)}}
}

// pair is a label and its value on one line.
type pair struct{ label, value string }

// fitPairs joins label/value pairs on one line, leaving out the last ones
// whole when they do not fit in width.
func fitPairs(st *common.Styles, width int, pairs ...pair) string {
	var b strings.Builder
	used := 0
	for i, pr := range pairs {
		n := len([]rune(pr.label)) + 1 + len([]rune(pr.value))
		if i > 0 {
			n += 3
		}
		if used+n > width {
			break
		}
		if i > 0 {
			b.WriteString("   ")
		}
		b.WriteString(st.Label.Render(pr.label) + " " + st.Value.Render(pr.value))
		used += n
	}
	return b.String()
}
