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
	cache     lineCache
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

// Lines renders the panel and keeps the lines for the View that follows
// in the same frame.
func (p *gatewayPanel) Lines(width int) int {
	p.cache.store(width, p.lines(width))
	return len(p.cache.lines)
}

func (p *gatewayPanel) View() string {
	lines := p.cache.take(p.common.Width, p.lines)
	return strings.Join(lines[:min(len(lines), max(p.common.Height, 1))], "\n")
}

func (p *gatewayPanel) lines(width int) []string {
	st := p.common.Styles
	extra := fmt.Sprintf("CLOSE_WAIT threshold %d", p.threshold)
	lines := []string{titleLine(st, p.Title(), p.focused, extra)}
	if len(p.ports) == 0 {
		return append(lines, st.Muted.Render(common.Truncate("No [gateway] ports configured.", width)))
	}
	if !p.seen {
		lines = append(lines, st.Muted.Render(common.Truncate("Waiting for the first scan…", width)))
		return append(lines, p.restartLines(width)...)
	}
	if p.snap.Error != "" {
		lines = append(lines, st.Bad.Render(common.Truncate("scan failed: "+p.snap.Error, width)))
	}
	for _, port := range p.ports {
		ps, ok := p.snap.Port(port)
		if !ok {
			lines = append(lines, st.Muted.Render(fmt.Sprintf(":%d not scanned", port)))
			continue
		}
		lines = append(lines, p.portLines(ps, width)...)
	}
	return append(lines, p.restartLines(width)...)
}

func (p *gatewayPanel) portLines(ps *gateway.PortStats, width int) []string {
	st := p.common.Styles
	head := st.Value.Render(fmt.Sprintf(":%d ", ps.Port))
	if ps.Listening {
		head += st.OK.Render("LISTENING")
	} else {
		head += st.Bad.Render("NOT LISTENING")
	}
	if ps.Probe != nil {
		head += "  " + probeText(st, ps.Probe, width-30)
	}

	cwTone := common.ToneOK
	switch {
	case ps.CloseWait >= p.threshold:
		cwTone = common.ToneBad
	case ps.CloseWait*4 >= p.threshold*3:
		cwTone = common.ToneWarn
	}
	counts := st.Label.Render("established ") + st.Value.Render(fmt.Sprint(ps.Established)) +
		st.Label.Render("  close_wait ") + st.ByTone(cwTone).Render(fmt.Sprintf("%d/%d", ps.CloseWait, p.threshold)) +
		st.Label.Render("  time_wait ") + st.Value.Render(fmt.Sprint(ps.TimeWait)) +
		st.Label.Render("  other ") + st.Value.Render(fmt.Sprint(ps.Other))

	strikes := ""
	if ps.CloseWaitStrikes > 0 || ps.ProbeStrikes > 0 {
		strikes = fmt.Sprintf("  strikes %d", max(ps.CloseWaitStrikes, ps.ProbeStrikes))
	}
	sparkWidth := max(width-len("  CLOSE_WAIT ")-len(strikes), 4)
	spark := "  " + st.Label.Render("CLOSE_WAIT ") + sparkline(st, ps.CloseWaitHistory, p.threshold, sparkWidth)
	if strikes != "" {
		spark += st.Warn.Render(strikes)
	}
	return []string{head, "  " + counts, spark}
}

func (p *gatewayPanel) restartLines(width int) []string {
	st := p.common.Styles
	var lines []string
	if r := p.restart; r != nil {
		text := fmt.Sprintf("last restart %s %s: %s", r.time.Format("15:04:05"), portList(r.ports), r.result)
		tone := common.ToneOK
		if !r.ok {
			tone = common.ToneBad
		}
		lines = append(lines, st.ByTone(tone).Render(common.Truncate(text, width)))
		if r.reason != "" {
			lines = append(lines, st.Muted.Render(common.Truncate("  "+r.reason, width)))
		}
	} else {
		lines = append(lines, st.Muted.Render("no restart yet"))
	}
	if p.snap.HeldBack != "" {
		text := "restart held back: " + p.snap.HeldBack
		if !p.snap.NextRestartAllowed.IsZero() {
			// The countdown goes first, since a narrow panel cuts the end.
			text = "restart held back for " + common.Countdown(p.common.Now(), p.snap.NextRestartAllowed) +
				": " + p.snap.HeldBack
		}
		lines = append(lines, st.Warn.Render(common.Truncate(text, width)))
	}
	return lines
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

func probeText(st *common.Styles, pr *gateway.ProbeResult, width int) string {
	if pr.OK {
		latency := "<1ms"
		if pr.Latency >= time.Millisecond {
			latency = pr.Latency.Round(time.Millisecond).String()
		}
		return st.OK.Render(common.Truncate(fmt.Sprintf("probe ok (v%d, %s)", pr.ServerVersion, latency), max(width, 8)))
	}
	return st.Bad.Render(common.Truncate("probe failed: "+pr.Error, max(width, 12)))
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
