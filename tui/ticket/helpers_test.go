package ticket

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/internal/simtest"
	"github.com/ibdash/ibdash/tui/common"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simtest.Cleanup()
	os.Exit(code)
}

// simEnv is the simulator with a desk on its trading session.
type simEnv struct{ *simtest.Env }

func newSimEnv(t testing.TB) *simEnv { return &simEnv{simtest.New(t)} }

// options returns ticket options on the env's desk.
func (e *simEnv) options(gate *Gate) Options {
	return Options{
		Desk:           func(context.Context) (*orderform.Desk, error) { return e.Desk, nil },
		Gate:           gate,
		RequestTimeout: 20 * time.Second,
		StatusInterval: 50 * time.Millisecond,
	}
}

// driver runs a ticket as Bubble Tea would: each command on its own
// goroutine, each message back through Update on the test's goroutine.
type driver struct {
	t    testing.TB
	m    *Model
	msgs chan tea.Msg
}

func newDriver(t testing.TB, e *simEnv, opts Options) *driver {
	t.Helper()
	c := common.New()
	c.Clock = e.Clock.Now
	c.SetSize(100, 30)
	d := &driver{t: t, m: New(c, opts), msgs: make(chan tea.Msg, 64)}
	d.run(d.m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { d.msgs <- cmd() }()
}

func (d *driver) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, cmd := range msg {
			d.run(cmd)
		}
	default:
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// waitFor delivers messages until cond holds, failing after a while.
func (d *driver) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case msg := <-d.msgs:
			d.deliver(msg)
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s; screen:\n%s", what, d.screen())
		}
	}
}

// settle delivers the messages that arrive within a short pause, for
// steps that start no visible change.
func (d *driver) settle() {
	for {
		select {
		case msg := <-d.msgs:
			d.deliver(msg)
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

// press sends keys: a named key such as "enter", "tab" or "ctrl+s", or
// text typed one rune at a time.
func (d *driver) press(keys ...string) {
	for _, k := range keys {
		for _, msg := range keyMsgs(k) {
			d.deliver(msg)
		}
	}
}

var namedKeys = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"tab":       {Code: tea.KeyTab},
	"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"left":      {Code: tea.KeyLeft},
	"right":     {Code: tea.KeyRight},
	"space":     {Code: tea.KeySpace, Text: " "},
	"esc":       {Code: tea.KeyEscape},
	"backspace": {Code: tea.KeyBackspace},
	"ctrl+s":    {Code: 's', Mod: tea.ModCtrl},
	"ctrl+u":    {Code: 'u', Mod: tea.ModCtrl},
	"ctrl+r":    {Code: 'r', Mod: tea.ModCtrl},
}

func keyMsgs(k string) []tea.Msg {
	if msg, ok := namedKeys[k]; ok {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for _, r := range k {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// focusField moves the focus to field id with tab and shift+tab.
func (d *driver) focusField(id orderform.Field) {
	d.t.Helper()
	for range len(d.m.fields.list) {
		if d.m.fields.focused().id == id {
			return
		}
		d.press("shift+tab")
	}
	for range len(d.m.fields.list) {
		if d.m.fields.focused().id == id {
			return
		}
		d.press("tab")
	}
	d.t.Fatalf("cannot focus %s", id)
}

// set types value into field id, replacing what it held.
func (d *driver) set(id orderform.Field, value string) {
	d.t.Helper()
	d.focusField(id)
	d.press("ctrl+u", value)
}

func (d *driver) screen() string { return ansi.Strip(d.m.View()) }

func (d *driver) screenHas(text string) bool { return strings.Contains(d.screen(), text) }
