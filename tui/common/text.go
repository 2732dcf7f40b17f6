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
	if ansi.StringWidth(s) <= width {
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
	gap := width - lipgloss.Width(s)
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
