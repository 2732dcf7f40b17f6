package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient/gateway"
	"github.com/ibdash/ibdash/tui/common"
)

// restartInfo is the last gateway restart as the panel shows it.
type restartInfo struct {
	time   time.Time
	ports  []int
	reason string // the rule that fired, as the watchdog words it
	ok     bool
	dryRun bool
	result string // exit status or error, in a few words
}

// portList formats ports as ":4001, :4002".
func portList(ports []int) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf(":%d", p)
	}
	return strings.Join(parts, ", ")
}

// gatewayPanel shows, per gateway port, whether it listens, the probe,
// the socket counts by state and a CLOSE_WAIT sparkline against the
// threshold, then the last restart.
type gatewayPanel struct {
	common    common.Common
	focused   bool
	ports     []int
	threshold int
	snap      gateway.Snapshot
	seen      bool
	restart   *restartInfo
	cache     rowCache
}

func newGatewayPanel(c common.Common, ports []int, threshold int) *gatewayPanel {
	return &gatewayPanel{common: c, ports: ports, threshold: threshold}
}

func (p *gatewayPanel) setSnapshot(s gateway.Snapshot) {
	p.snap, p.seen = s, true
	for _, ps := range s.Ports {
		if !slices.Contains(p.ports, ps.Port) {
			p.ports = append(p.ports, ps.Port)
		}
	}
}

func (p *gatewayPanel) Init() tea.Cmd                              { return nil }
func (p *gatewayPanel) Update(tea.Msg) (common.Component, tea.Cmd) { return p, nil }
func (p *gatewayPanel) SetSize(width, height int)                  { p.common.SetSize(width, height) }
func (p *gatewayPanel) SetFocused(focused bool)                    { p.focused = focused }
func (p *gatewayPanel) Title() string                              { return "Gateway sockets" }
func (p *gatewayPanel) ShortHelp() []key.Binding                   { return nil }
func (p *gatewayPanel) FullHelp() [][]key.Binding                  { return nil }

// Lines builds the panel's rows, one line each, and keeps them for the
// View that follows in the same frame.
func (p *gatewayPanel) Lines(width int) int {
	p.cache.store(width, p.rows(width))
	return len(p.cache.rows)
}

// View fits the rows to the panel, wrapping long ones when the panel
// has rows to spare.
func (p *gatewayPanel) View() string {
	height := max(p.common.Height, 1)
	lines := fitRows(p.cache.take(p.common.Width, p.rows), p.common.Width, height)
	return strings.Join(lines[:min(len(lines), height)], "\n")
}

func (p *gatewayPanel) rows(width int) []textRow {
	st := p.common.Styles
	extra := fmt.Sprintf("CLOSE_WAIT threshold %d", p.threshold)
	rows := []textRow{fixedRow(titleLine(st, p.Title(), p.focused, extra))}
	if len(p.ports) == 0 {
		return append(rows, styledRow(st.Muted, "No [gateway] ports configured."))
	}
	if !p.seen {
		rows = append(rows, styledRow(st.Muted, "Waiting for the first scan…"))
		return append(rows, p.restartRows()...)
	}
	if p.snap.Error != "" {
		rows = append(rows, styledRow(st.Bad, "scan failed: "+p.snap.Error))
	}
	for _, port := range p.ports {
		ps, ok := p.snap.Port(port)
		if !ok {
			rows = append(rows, styledRow(st.Muted, fmt.Sprintf(":%d not scanned", port)))
			continue
		}
		rows = append(rows, p.portRows(ps, width)...)
	}
	return append(rows, p.restartRows()...)
}

func (p *gatewayPanel) portRows(ps *gateway.PortStats, width int) []textRow {
	st := p.common.Styles
	head := textRow{indent: "  ", spans: []span{{fmt.Sprintf(":%d ", ps.Port), st.Value}}}
	if ps.Listening {
		head.spans = append(head.spans, span{"LISTENING", st.OK})
	} else {
		head.spans = append(head.spans, span{"NOT LISTENING", st.Bad})
	}
	if ps.Probe != nil {
		head.spans = append(head.spans, probeSpan(st, ps.Probe))
	}

	cwTone := common.ToneOK
	switch {
	case ps.CloseWait >= p.threshold:
		cwTone = common.ToneBad
	case ps.CloseWait*4 >= p.threshold*3:
		cwTone = common.ToneWarn
	}
	counts := textRow{first: "  ", indent: "  ", spans: []span{
		{"established ", st.Label}, {fmt.Sprint(ps.Established), st.Value},
		{"  close_wait ", st.Label}, {fmt.Sprintf("%d/%d", ps.CloseWait, p.threshold), st.ByTone(cwTone)},
		{"  time_wait ", st.Label}, {fmt.Sprint(ps.TimeWait), st.Value},
		{"  other ", st.Label}, {fmt.Sprint(ps.Other), st.Value},
	}}

	strikes := ""
	if ps.CloseWaitStrikes > 0 || ps.ProbeStrikes > 0 {
		strikes = fmt.Sprintf("  strikes %d", max(ps.CloseWaitStrikes, ps.ProbeStrikes))
	}
	sparkWidth := max(width-len("  CLOSE_WAIT ")-len(strikes), 4)
	spark := "  " + st.Label.Render("CLOSE_WAIT ") + sparkline(st, ps.CloseWaitHistory, p.threshold, sparkWidth)
	if strikes != "" {
		spark += st.Warn.Render(strikes)
	}
	return []textRow{head, counts, fixedRow(spark)}
}

func (p *gatewayPanel) restartRows() []textRow {
	st := p.common.Styles
	var rows []textRow
	if r := p.restart; r != nil {
		text := fmt.Sprintf("last restart %s %s: %s", r.time.Format("15:04:05"), portList(r.ports), r.result)
		tone := common.ToneOK
		if !r.ok {
			tone = common.ToneBad
		}
		rows = append(rows, textRow{indent: "  ", spans: []span{{text, st.ByTone(tone)}}})
		if r.reason != "" {
			rows = append(rows, textRow{first: "  ", indent: "  ", spans: []span{{r.reason, st.Muted}}})
		}
	} else {
		rows = append(rows, styledRow(st.Muted, "no restart yet"))
	}
	if p.snap.HeldBack != "" {
		text := "restart held back: " + p.snap.HeldBack
		if !p.snap.NextRestartAllowed.IsZero() {
			// The countdown goes first, since a panel without rows to
			// spare cuts the end.
			text = "restart held back for " + common.Countdown(p.common.Now(), p.snap.NextRestartAllowed) +
				": " + p.snap.HeldBack
		}
		rows = append(rows, textRow{indent: "  ", spans: []span{{text, st.Warn}}})
	}
	return rows
}

func (p *gatewayPanel) Summary(width int) string {
	var parts []string
	for _, port := range p.ports {
		ps, ok := p.snap.Port(port)
		switch {
		case !p.seen || !ok:
			parts = append(parts, fmt.Sprintf(":%d unscanned", port))
		case !ps.Listening:
			parts = append(parts, fmt.Sprintf(":%d NOT LISTENING", port))
		default:
			parts = append(parts, fmt.Sprintf(":%d close_wait %d/%d", port, ps.CloseWait, p.threshold))
		}
	}
	text := p.Title() + ": " + strings.Join(parts, " · ")
	if len(p.ports) == 0 {
		text = p.Title() + ": none configured"
	}
	return p.common.Styles.Summary.Render(common.Truncate(text, width))
}

// probeSpan describes the TWS API probe, after two spaces.
func probeSpan(st *common.Styles, pr *gateway.ProbeResult) span {
	if pr.OK {
		latency := "<1ms"
		if pr.Latency >= time.Millisecond {
			latency = pr.Latency.Round(time.Millisecond).String()
		}
		return span{fmt.Sprintf("  probe ok (v%d, %s)", pr.ServerVersion, latency), st.OK}
	}
	return span{"  probe failed: " + pr.Error, st.Bad}
}

// sparkLevels are the bar heights of a sparkline, from empty to full.
var sparkLevels = []rune(" ▁▂▃▄▅▆▇█")

// sparkline draws the last width values of history as bars scaled to the
// larger of the threshold and the highest value; bars at or over the
// threshold are drawn in the bad tone.
func sparkline(st *common.Styles, history []int, threshold, width int) string {
	if len(history) > width {
		history = history[len(history)-width:]
	}
	top := max(threshold, 1)
	for _, v := range history {
		top = max(top, v)
	}
	// Bars of one tone are styled as one run, which keeps the styling
	// cost per tone change rather than per bar.
	var b, run strings.Builder
	runOver := false
	flush := func() {
		if run.Len() == 0 {
			return
		}
		style := st.OK
		if runOver {
			style = st.Bad
		}
		b.WriteString(style.Render(run.String()))
		run.Reset()
	}
	for _, v := range history {
		level := (v*(len(sparkLevels)-1) + top - 1) / top
		if over := v >= threshold; over != runOver {
			flush()
			runOver = over
		}
		run.WriteRune(sparkLevels[min(max(level, 0), len(sparkLevels)-1)])
	}
	flush()
	if len(history) == 0 {
		b.WriteString(st.Muted.Render("no history yet"))
	}
	return b.String()
}
