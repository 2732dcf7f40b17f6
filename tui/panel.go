package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ibdash/ibdash/tui/common"
)

// panel is one box of the dashboard. Besides the component contract it
// has a title, a one-line summary for when the layout collapses it, and
// the number of content lines it would like at a given width.
type panel interface {
	common.Component

	Title() string
	Summary(width int) string
	Lines(width int) int
	SetFocused(focused bool)
}

// borderCells is how many columns and rows a panel's border and padding
// take: one border cell each side plus one cell of padding left and
// right.
const (
	borderCols = 4
	borderRows = 2
)

// renderBox draws lines inside a rounded border of exactly width by
// height cells. Lines are expected to fit already (panels shorten text at
// word boundaries); any that do not are cut, so the layout never breaks.
func renderBox(style lipgloss.Style, width, height int, lines []string) string {
	innerW := max(width-borderCols, 0)
	innerH := max(height-borderRows, 0)
	out := make([]string, innerH)
	for i := range out {
		if i < len(lines) {
			out[i] = common.PadRight(ansi.Truncate(lines[i], innerW, ""), innerW)
		} else {
			out[i] = strings.Repeat(" ", innerW)
		}
	}
	return style.Width(width).Render(strings.Join(out, "\n"))
}

// titleLine renders a panel title, marked when the panel has focus so the
// focus shows without color too.
func titleLine(st *common.Styles, title string, focused bool, extra string) string {
	mark := "  "
	if focused {
		mark = "▸ "
	}
	line := st.PanelTitle.Render(mark + title)
	if extra != "" {
		line += "  " + st.Muted.Render(extra)
	}
	return line
}

// scrollWindow returns the first row to show so that the selected row is
// visible in a window of height rows out of total.
func scrollWindow(selected, total, height int) int {
	if height <= 0 || total <= height {
		return 0
	}
	first := selected - height/2
	return min(max(first, 0), total-height)
}
