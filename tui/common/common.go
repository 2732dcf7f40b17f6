package common

import (
	"log/slog"
	"time"
)

// Common is the value every component receives: the size it may use and
// the pieces of the program that must be the same everywhere. It is
// passed by value, so a component keeps its own copy of the size.
type Common struct {
	Width, Height int

	Styles *Styles
	KeyMap *KeyMap
	// Clock returns the current time; tests fix it so countdowns and
	// golden screens do not change from run to run.
	Clock  func() time.Time
	Logger *slog.Logger
}

// New returns a Common with the default theme for a dark background, the
// default key map, the wall clock and a logger that drops everything.
func New() Common {
	return Common{
		Styles: NewStyles(DefaultTheme(true)),
		KeyMap: DefaultKeyMap(),
		Clock:  time.Now,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// SetSize sets the width and height of the box, in terminal cells.
func (c *Common) SetSize(width, height int) {
	c.Width = width
	c.Height = height
}

// Now returns the time from Clock, or the wall clock when Clock is nil.
func (c Common) Now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock()
}
