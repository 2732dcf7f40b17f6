package common

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Ellipsis marks text that was shortened to fit.
const Ellipsis = "…"

// Truncate shortens plain text to at most width cells. It cuts at the
// last space that fits and appends an ellipsis, so no word is cut in the
// middle; a single word longer than width is the one exception, and is
// cut with an ellipsis since there is no space to break at.
func Truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if Width(s) <= width {
		return s
	}
	if width == 1 {
		return Ellipsis
	}

	cut := ansi.Truncate(s, width-1, "")
	next, _ := utf8.DecodeRuneInString(s[len(cut):])
	if isWordRune(next) {
		// The cut falls inside a word: go back to the space before it.
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, " ,;:") + Ellipsis
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.' || r == '/'
}

// Wrap breaks plain text into lines of at most width cells at spaces.
func Wrap(s string, width int) []string {
	if width <= 0 {
		return nil
	}
	wrapped := lipgloss.Wrap(s, width, "")
	return strings.Split(wrapped, "\n")
}

// PadRight pads plain or styled text with spaces to width cells.
func PadRight(s string, width int) string {
	gap := width - Width(s)
	if gap <= 0 {
		return s
	}
	return s + strings.Repeat(" ", gap)
}

// Countdown formats the time left until t from now, in the largest two
// units ("2d 4h", "3h 05m", "4m 09s", "12s"); a time in the past gives
// "now".
func Countdown(now, t time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "now"
	}
	return Duration(d)
}

// Duration formats a positive duration in its largest two units, rounded
// down to whole seconds.
func Duration(d time.Duration) string {
	d = d.Truncate(time.Second)
	days := int(d / (24 * time.Hour))
	hours := int(d/time.Hour) % 24
	minutes := int(d/time.Minute) % 60
	seconds := int(d/time.Second) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %02dm", hours, minutes)
	case minutes > 0:
		return fmt.Sprintf("%dm %02ds", minutes, seconds)
	}
	return fmt.Sprintf("%ds", seconds)
}

// Ago formats how long before now t was ("12s ago"), or "never" for the
// zero time.
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return Duration(d) + " ago"
}

// Width returns the width of s in terminal cells, skipping escape
// sequences. Text of ASCII and the one-cell symbols the dashboard draws
// (Latin letters, punctuation, arrows, box drawing, blocks, shapes) is
// measured in one pass; anything else, such as CJK or emoji, goes
// through ansi.StringWidth, which measures grapheme clusters and is
// several times slower.
func Width(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			i = skipEscape(s, i)
			continue
		case c < 0x80:
			if c >= 0x20 && c != 0x7f {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !oneCell(r) {
			return ansi.StringWidth(s)
		}
		n++
		i += size
	}
	return n
}

// oneCell reports whether r is a single-cell rune that needs no grapheme
// analysis: no combining mark, no wide or ambiguous-emoji range.
func oneCell(r rune) bool {
	switch {
	case r >= 0xa0 && r <= 0x2ff: // Latin-1 and Latin Extended, IPA
		return true
	case r >= 0x2010 && r <= 0x205e: // general punctuation, without zero-width ones
		return true
	case r >= 0x2190 && r <= 0x21ff, r >= 0x2200 && r <= 0x22ff: // arrows, math
		return true
	case r >= 0x2500 && r <= 0x25fc: // box drawing, blocks, geometric shapes (◽◾ are wide)
		return true
	case r >= 0x27f0 && r <= 0x27ff: // supplemental arrows such as ⟳
		return true
	}
	return false
}

// skipEscape returns the index after the escape sequence at s[i]: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ST) or a two-byte one.
func skipEscape(s string, i int) int {
	if i+1 >= len(s) {
		return len(s)
	}
	switch s[i+1] {
	case '[':
		for j := i + 2; j < len(s); j++ {
			if s[j] >= 0x40 && s[j] <= 0x7e {
				return j + 1
			}
		}
		return len(s)
	case ']':
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return i + 2
}

// FitWidth pads or cuts styled text to exactly width cells. Cutting is
// the fallback for a line a panel failed to shorten at a word boundary,
// and ends the line with an ellipsis, so a cut never passes for the
// whole text.
func FitWidth(s string, width int) string {
	w := Width(s)
	if w > width {
		s = ansi.Truncate(s, width, Ellipsis)
		w = Width(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}
