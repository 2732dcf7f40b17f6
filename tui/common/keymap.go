package common

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the dashboard. Components match keys
// against these bindings, never against raw key strings, and pick the
// ones they list in ShortHelp and FullHelp.
type KeyMap struct {
	// Global keys.
	Quit      key.Binding
	ForceQuit key.Binding
	Help      key.Binding
	NextPanel key.Binding
	PrevPanel key.Binding

	// Movement inside a panel or a list. Move is Up and Down together,
	// for the short help only.
	Move   key.Binding
	Up     key.Binding
	Down   key.Binding
	Top    key.Binding
	Bottom key.Binding

	// Panel actions.
	Recheck  key.Binding
	NewOrder key.Binding
	Cancel   key.Binding
	Dismiss  key.Binding

	// Answers to a confirmation question.
	Yes key.Binding
	No  key.Binding

	// Keys inside a form such as the order ticket.
	Submit key.Binding
	Back   key.Binding
}

// DefaultKeyMap returns the standard bindings: arrows and vim keys to
// move, tab and shift+tab between panels, q and ctrl+c to quit.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		NextPanel: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next panel")),
		PrevPanel: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous panel")),

		Move:   key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑↓/jk", "move")),
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Top:    key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		Bottom: key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),

		Recheck:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "recheck key")),
		NewOrder: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new order")),
		Cancel:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel order")),
		Dismiss:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "dismiss notice")),

		Yes: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:  key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n/esc", "no")),

		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "submit")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
	}
}
