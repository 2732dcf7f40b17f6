package tui

import (
	"strings"

	"charm.land/lipgloss/v2"

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
// height cells, in the color of style. Lines are expected to fit already
// (panels shorten text at word boundaries); any that do not are cut with
// an ellipsis, so the layout never breaks. The border is drawn here rather than by
// lipgloss, which measures every line again and costs most of a frame.
func renderBox(style lipgloss.Style, width, height int, lines []string) []string {
	innerW := max(width-borderCols, 0)
	innerH := max(height-borderRows, 0)
	rule := strings.Repeat("─", max(width-2, 0))
	left, right := style.Render("│")+" ", " "+style.Render("│")
	blank := strings.Repeat(" ", innerW)

	out := make([]string, 0, height)
	out = append(out, style.Render("╭"+rule+"╮"))
	for i := range innerH {
		line := blank
		if i < len(lines) {
			line = common.FitWidth(lines[i], innerW)
		}
		out = append(out, left+line+right)
	}
	return append(out, style.Render("╰"+rule+"╯"))
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

// rowCache hands the rows a panel built for Lines to the View call
// right after it, so a frame builds each panel once. View takes the
// rows out, so a later frame never sees stale ones.
type rowCache struct {
	width int
	rows  []textRow
	valid bool
}

func (c *rowCache) store(width int, rows []textRow) {
	c.width, c.rows, c.valid = width, rows, true
}

// take returns the stored rows when they were built for width, or
// builds them anew.
func (c *rowCache) take(width int, build func(int) []textRow) []textRow {
	if c.valid && c.width == width {
		c.valid = false
		return c.rows
	}
	c.valid = false
	return build(width)
}
