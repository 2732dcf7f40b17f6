package ticket

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient/orderform"
)

// fieldKind is the editing mode of a field.
type fieldKind int

const (
	// kindText is free text.
	kindText fieldKind = iota
	// kindPicker is free text with a list of IB's listed values under it,
	// filtered by what is typed; enter takes the highlighted value.
	kindPicker
	// kindChoice cycles through a fixed set with space or the arrows.
	kindChoice
)

// field is one input of the ticket.
type field struct {
	id    orderform.Field
	label string
	kind  fieldKind
	input textinput.Model

	// options are a choice field's values, or a picker's listed values in
	// the order they are offered (strikes nearest the money first).
	options []string
	choice  int // selected option of a choice field
	pick    int // highlighted match of a picker

	// prefix makes a picker match options that start with the typed text
	// (strikes); otherwise options that contain it match (dates).
	prefix bool
	// touched is set once the user has left the field, after which its
	// error is shown.
	touched bool
}

func newTextField(id orderform.Field, label, value string, limit int) *field {
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = limit
	in.SetValue(value)
	st := in.Styles()
	st.Cursor.Blink = false // a blinking cursor would redraw twice a second
	in.SetStyles(st)
	return &field{id: id, label: label, kind: kindText, input: in}
}

func newPickerField(id orderform.Field, label string, prefix bool) *field {
	f := newTextField(id, label, "", 12)
	f.kind = kindPicker
	f.prefix = prefix
	return f
}

func newChoiceField(id orderform.Field, label string, options []string, value string) *field {
	f := &field{id: id, label: label, kind: kindChoice, options: options}
	f.setValue(value)
	return f
}

// value returns the field as typed or chosen.
func (f *field) value() string {
	if f.kind == kindChoice {
		return f.options[f.choice]
	}
	return f.input.Value()
}

func (f *field) setValue(v string) {
	if f.kind == kindChoice {
		if i := slices.Index(f.options, strings.ToUpper(v)); i >= 0 {
			f.choice = i
		}
		return
	}
	f.input.SetValue(v)
	f.input.CursorEnd()
	f.pick = 0
}

func (f *field) focus() tea.Cmd {
	if f.kind == kindChoice {
		return nil
	}
	return f.input.Focus()
}

func (f *field) blur() {
	f.touched = true
	if f.kind != kindChoice {
		f.input.Blur()
	}
}

// cycle moves a choice field by step, wrapping around.
func (f *field) cycle(step int) {
	n := len(f.options)
	f.choice = ((f.choice+step)%n + n) % n
}

// chooseByLetter selects the option that starts with the typed letter,
// so that p, c, b, s, l, m, d and g pick the right, side, type and time
// in force directly. It reports whether one matched.
func (f *field) chooseByLetter(text string) bool {
	if len(text) != 1 {
		return false
	}
	letter := strings.ToUpper(text)
	for i, o := range f.options {
		if strings.HasPrefix(o, letter) {
			f.choice = i
			return true
		}
	}
	return false
}

// matches returns the picker's options that fit the typed text, an
// exact match first, then in listing order.
func (f *field) matches() []string {
	typed := strings.TrimSpace(f.input.Value())
	if typed == "" {
		return f.options
	}
	var exact, rest []string
	for _, o := range f.options {
		switch {
		case o == typed:
			exact = append(exact, o)
		case f.prefix && strings.HasPrefix(o, typed), !f.prefix && strings.Contains(o, typed):
			rest = append(rest, o)
		}
	}
	return append(exact, rest...)
}

// movePick moves the highlight of a picker by step inside its matches.
func (f *field) movePick(step int) {
	n := len(f.matches())
	if n == 0 {
		f.pick = 0
		return
	}
	f.pick = min(max(f.pick+step, 0), n-1)
}

// acceptPick copies the highlighted match into the field. It reports
// false when nothing matches, which leaves the typed text for the checks
// to judge.
func (f *field) acceptPick() bool {
	ms := f.matches()
	if len(ms) == 0 {
		return false
	}
	f.setValue(ms[min(f.pick, len(ms)-1)])
	return true
}

// setOptions replaces a picker's listed values and resets the highlight.
func (f *field) setOptions(options []string) {
	f.options = options
	f.pick = 0
}

// update passes a key to a text or picker field's input and reports
// whether the text changed.
func (f *field) update(msg tea.Msg) (tea.Cmd, bool) {
	before := f.input.Value()
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	changed := f.input.Value() != before
	if changed {
		f.pick = 0
	}
	return cmd, changed
}

// fieldSet is the ticket's fields in form order.
type fieldSet struct {
	list  []*field
	focus int
}

func newFieldSet(in orderform.Input) *fieldSet {
	s := &fieldSet{list: []*field{
		newTextField(orderform.FieldSymbol, "Symbol", in.Symbol, 10),
		newPickerField(orderform.FieldExpiry, "Expiry", false),
		newPickerField(orderform.FieldStrike, "Strike", true),
		newChoiceField(orderform.FieldRight, "Right", []string{"P", "C"}, in.Right),
		newChoiceField(orderform.FieldSide, "Side", []string{"SELL", "BUY"}, in.Side),
		newTextField(orderform.FieldQuantity, "Quantity", in.Quantity, 9),
		newChoiceField(orderform.FieldOrderType, "Type", []string{"LMT", "MKT"}, in.OrderType),
		newTextField(orderform.FieldLimit, "Limit", in.Limit, 12),
		newTextField(orderform.FieldStopLoss, "Stop-loss", in.StopLoss, 12),
		newChoiceField(orderform.FieldTIF, "TIF", []string{"DAY", "GTC"}, in.TIF),
	}}
	s.get(orderform.FieldExpiry).setValue(in.Expiry)
	s.get(orderform.FieldStrike).setValue(in.Strike)
	// The symbol is SPY nearly always, so typing starts at the expiry.
	s.focus = 1
	return s
}

// get returns the field with id; every id of orderform.Fields exists.
func (s *fieldSet) get(id orderform.Field) *field {
	for _, f := range s.list {
		if f.id == id {
			return f
		}
	}
	panic("ticket: no field " + string(id))
}

func (s *fieldSet) focused() *field { return s.list[s.focus] }

// move moves the focus by step, staying inside the form, and returns the
// command of the newly focused input.
func (s *fieldSet) move(step int) tea.Cmd {
	next := min(max(s.focus+step, 0), len(s.list)-1)
	if next == s.focus {
		return nil
	}
	s.list[s.focus].blur()
	s.focus = next
	return s.list[s.focus].focus()
}

func (s *fieldSet) last() bool { return s.focus == len(s.list)-1 }

// blurAll takes the focus off every input.
func (s *fieldSet) blurAll() {
	for _, f := range s.list {
		if f.kind != kindChoice {
			f.input.Blur()
		}
	}
}

// touchAll marks every field as visited, so that all errors show.
func (s *fieldSet) touchAll() {
	for _, f := range s.list {
		f.touched = true
	}
}

// input returns the ticket as typed.
func (s *fieldSet) input() orderform.Input {
	return orderform.Input{
		Symbol:    s.get(orderform.FieldSymbol).value(),
		Expiry:    s.get(orderform.FieldExpiry).value(),
		Strike:    s.get(orderform.FieldStrike).value(),
		Right:     s.get(orderform.FieldRight).value(),
		Side:      s.get(orderform.FieldSide).value(),
		Quantity:  s.get(orderform.FieldQuantity).value(),
		OrderType: s.get(orderform.FieldOrderType).value(),
		Limit:     s.get(orderform.FieldLimit).value(),
		StopLoss:  s.get(orderform.FieldStopLoss).value(),
		TIF:       s.get(orderform.FieldTIF).value(),
	}
}
