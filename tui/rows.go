package tui

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// span is a piece of plain text in one style.
type span struct {
	text  string
	style lipgloss.Style
}

// textRow is one line of a panel before it is fitted to the panel's
// width. A row too wide for the panel wraps at spaces onto further
// lines while the panel has rows to spare, and its last line is cut at
// a word boundary with an ellipsis.
type textRow struct {
	// fixed, when not empty, is a styled line that already fits and is
	// used as it is; the fields below are then ignored.
	fixed string

	first  string // styled prefix of the first line, such as a selection mark
	indent string // prefix of every further line, in spaces
	spans  []span
}

// fixedRow returns a row of a styled line that needs no fitting.
func fixedRow(line string) textRow { return textRow{fixed: line} }

// styledRow returns a row of one span of plain text.
func styledRow(style lipgloss.Style, text string) textRow {
	return textRow{spans: []span{{text, style}}}
}

// fitRows fits rows into width cells. A row that does not fit takes
// more lines only while the total stays within height, so rows near
// the top wrap first. Any other row that does not fit is cut.
func fitRows(rows []textRow, width, height int) []string {
	spare := height - len(rows)
	lines := make([]string, 0, max(height, len(rows)))
	for _, r := range rows {
		fitted := r.fit(width, 1+max(spare, 0))
		spare -= len(fitted) - 1
		lines = append(lines, fitted...)
	}
	return lines
}

// plainWidth is the width of the row's text on one line.
func (r textRow) plainWidth() int {
	n := common.Width(r.first)
	for _, s := range r.spans {
		n += common.Width(s.text)
	}
	return n
}

// fit returns the row as at most maxLines lines of width cells.
func (r textRow) fit(width, maxLines int) []string {
	if r.fixed != "" {
		return []string{r.fixed}
	}
	if r.plainWidth() <= width {
		// The common case, styled one span at a time.
		var b strings.Builder
		b.WriteString(r.first)
		for _, s := range r.spans {
			if s.text != "" {
				b.WriteString(s.style.Render(s.text))
			}
		}
		return []string{b.String()}
	}

	words := r.words()
	firstWidth := max(width-common.Width(r.first), 1)
	restWidth := max(width-common.Width(r.indent), 1)
	var lines [][]word
	var line []word
	used, room := 0, firstWidth
	for i, w := range words {
		need := w.gap + common.Width(w.text)
		if len(line) == 0 {
			need = common.Width(w.text)
		}
		if len(line) > 0 && used+need > room {
			if len(lines)+2 > maxLines {
				// No line left: the rest goes on this one, to be cut.
				line = append(line, words[i:]...)
				break
			}
			lines = append(lines, line)
			line, used, room = nil, 0, restWidth
			need = common.Width(w.text)
		}
		line = append(line, w)
		used += need
	}
	lines = append(lines, line)

	out := make([]string, len(lines))
	for i, l := range lines {
		prefix, room := r.indent, restWidth
		if i == 0 {
			prefix, room = r.first, firstWidth
		}
		out[i] = prefix + r.renderWords(l, room)
	}
	return out
}

// word is one word of a row: its text, the spaces before it and the
// index of the span whose style it takes.
type word struct {
	text string
	gap  int
	span int
}

// words splits the spans at spaces. The spaces before each word are its
// gap, which a word that starts a line drops.
func (r textRow) words() []word {
	var words []word
	gap := 0
	for i, s := range r.spans {
		for j, field := range strings.Split(s.text, " ") {
			if j > 0 {
				gap++ // the space strings.Split cut out
			}
			if field == "" {
				continue
			}
			words = append(words, word{text: field, gap: gap, span: i})
			gap = 0
		}
	}
	return words
}

// renderWords renders one line of words in width cells, styling each
// run of words from one span at once. A line too wide is cut at a word
// boundary and ends with an ellipsis.
func (r textRow) renderWords(words []word, width int) string {
	if len(words) == 0 {
		return ""
	}
	var plain strings.Builder
	for i, w := range words {
		if i > 0 {
			plain.WriteString(strings.Repeat(" ", w.gap))
		}
		plain.WriteString(w.text)
	}
	text := plain.String()
	ellipsis := ""
	if common.Width(text) > width {
		// Truncate keeps a prefix of text and appends the ellipsis.
		text = strings.TrimSuffix(common.Truncate(text, width), common.Ellipsis)
		ellipsis = common.Ellipsis
	}

	// Walk the words again and take from text what is left of each, so
	// a cut line keeps the styles of the words it kept.
	var b, run strings.Builder
	span := words[0].span
	flush := func() {
		if run.Len() > 0 {
			b.WriteString(r.spans[span].style.Render(run.String()))
			run.Reset()
		}
	}
	take := func(n int, pos *int) string {
		end := min(*pos+n, len(text))
		part := text[*pos:end]
		*pos = end
		return part
	}
	pos := 0
	for i, w := range words {
		if pos >= len(text) {
			break
		}
		gap := ""
		if i > 0 {
			gap = take(w.gap, &pos)
		}
		if w.span != span {
			// Spaces between spans stay unstyled.
			flush()
			b.WriteString(gap)
			gap = ""
			if pos >= len(text) {
				break
			}
			span = w.span
		}
		run.WriteString(gap)
		run.WriteString(take(len(w.text), &pos))
	}
	run.WriteString(ellipsis)
	flush()
	return b.String()
}
