package common

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Theme is the set of semantic colors the styles are built from. The
// program downsamples them to the terminal's color profile, and drops
// them under NO_COLOR, so every state also carries a word, never a color
// alone.
type Theme struct {
	IsDark bool

	Text   color.Color // body text
	Muted  color.Color // labels, timestamps, help
	Accent color.Color // titles, the focused border, the selection
	Border color.Color // borders of panels without focus
	OK     color.Color // active, listening, authenticated
	Warn   color.Color // pending, degraded, near a threshold
	Bad    color.Color // failed, over a threshold, errors
	Info   color.Color // running tasks, notices
}

// DefaultTheme returns ibdash's colors for a dark or a light background.
func DefaultTheme(isDark bool) Theme {
	pick := lipgloss.LightDark(isDark)
	return Theme{
		IsDark: isDark,
		Text:   pick(lipgloss.Color("#1F2328"), lipgloss.Color("#E6E6E6")),
		Muted:  pick(lipgloss.Color("#6E7781"), lipgloss.Color("#8B949E")),
		Accent: pick(lipgloss.Color("#0550AE"), lipgloss.Color("#79C0FF")),
		Border: pick(lipgloss.Color("#AFB8C1"), lipgloss.Color("#484F58")),
		OK:     pick(lipgloss.Color("#1A7F37"), lipgloss.Color("#3FB950")),
		Warn:   pick(lipgloss.Color("#9A6700"), lipgloss.Color("#D29922")),
		Bad:    pick(lipgloss.Color("#CF222E"), lipgloss.Color("#F85149")),
		Info:   pick(lipgloss.Color("#8250DF"), lipgloss.Color("#D2A8FF")),
	}
}

// Styles is the one set of lipgloss styles the dashboard renders with,
// built from a Theme by NewStyles.
type Styles struct {
	Theme Theme

	App    lipgloss.Style
	Header lipgloss.Style
	Title  lipgloss.Style
	Label  lipgloss.Style
	Value  lipgloss.Style
	Muted  lipgloss.Style

	Panel        lipgloss.Style // border of a panel without focus
	PanelFocused lipgloss.Style // border of the focused panel
	Border       lipgloss.Style // color of the border runes of a panel without focus
	BorderFocus  lipgloss.Style // color of the border runes of the focused panel
	PanelTitle   lipgloss.Style
	Summary      lipgloss.Style // one-line form of a collapsed panel
	Selected     lipgloss.Style // the selected row of a list

	OK   lipgloss.Style
	Warn lipgloss.Style
	Bad  lipgloss.Style
	Info lipgloss.Style

	Notice  lipgloss.Style
	Task    lipgloss.Style
	Dialog  lipgloss.Style
	Help    help.Styles
	KeyHint lipgloss.Style
}

// NewStyles builds the styles from a theme.
func NewStyles(t Theme) *Styles {
	base := lipgloss.NewStyle().Foreground(t.Text)
	border := lipgloss.NewStyle().
		Border(lipgloss.RoundedBorder()).
		BorderForeground(t.Border).
		Padding(0, 1)

	s := &Styles{
		Theme:  t,
		App:    base,
		Header: lipgloss.NewStyle().Bold(true).Foreground(t.Accent),
		Title:  lipgloss.NewStyle().Bold(true).Foreground(t.Accent),
		Label:  lipgloss.NewStyle().Foreground(t.Muted),
		Value:  base,
		Muted:  lipgloss.NewStyle().Foreground(t.Muted),

		Panel:        border,
		PanelFocused: border.BorderForeground(t.Accent),
		Border:       lipgloss.NewStyle().Foreground(t.Border),
		BorderFocus:  lipgloss.NewStyle().Foreground(t.Accent),
		PanelTitle:   lipgloss.NewStyle().Bold(true).Foreground(t.Accent),
		Summary:      base,
		Selected:     lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(t.Accent),

		OK:   lipgloss.NewStyle().Foreground(t.OK).Bold(true),
		Warn: lipgloss.NewStyle().Foreground(t.Warn).Bold(true),
		Bad:  lipgloss.NewStyle().Foreground(t.Bad).Bold(true),
		Info: lipgloss.NewStyle().Foreground(t.Info),

		Notice: lipgloss.NewStyle().Bold(true).Foreground(t.Info),
		Task:   lipgloss.NewStyle().Foreground(t.Info),
		Dialog: lipgloss.NewStyle().
			Border(lipgloss.DoubleBorder()).
			BorderForeground(t.Warn).
			Padding(0, 1),
		KeyHint: lipgloss.NewStyle().Foreground(t.Muted),
	}

	s.Help = help.DefaultStyles(t.IsDark)
	s.Help.ShortKey = lipgloss.NewStyle().Foreground(t.Accent)
	s.Help.FullKey = lipgloss.NewStyle().Foreground(t.Accent)
	return s
}

// Tone names the meaning of a value, which picks its style.
type Tone int

// The tones, from neutral to alarming.
const (
	ToneNone Tone = iota
	ToneOK
	ToneInfo
	ToneWarn
	ToneBad
)

// ByTone returns the style for a tone.
func (s *Styles) ByTone(t Tone) lipgloss.Style {
	switch t {
	case ToneOK:
		return s.OK
	case ToneInfo:
		return s.Info
	case ToneWarn:
		return s.Warn
	case ToneBad:
		return s.Bad
	}
	return s.Value
}
