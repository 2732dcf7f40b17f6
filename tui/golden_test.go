package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// The golden screens run the real program through teatest at a fixed
// size, color profile and clock, then compare the final frame. Run
// `go test ./tui -run TestGolden -update` to rewrite testdata/*.golden
// after a deliberate change of the layout.

// downsample renders content as a terminal of the given profile would
// receive it.
func downsample(t *testing.T, content string, profile colorprofile.Profile) string {
	t.Helper()
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: profile}
	if _, err := w.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestGoldenScreens(t *testing.T) {
	tab := tea.KeyPressMsg{Code: tea.KeyTab}
	cases := []struct {
		name          string
		width, height int
		keys          []tea.KeyPressMsg
		waitFor       string
	}{
		{"keys_80x24", 80, 24, nil, "Consumer keys"},
		{"errors_80x24", 80, 24, []tea.KeyPressMsg{tab, tab, tab}, "retries ssodh/init"},
		{"help_80x24", 80, 24, []tea.KeyPressMsg{{Code: '?', Text: "?"}}, "previous panel"},
		{"dashboard_120x40", 120, 40, nil, "Orders"},
		{"orders_120x40", 120, 40, []tea.KeyPressMsg{{Code: tea.KeyTab, Mod: tea.ModShift}}, "Orders"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm := teatest.NewTestModel(t, New(testOptions()),
				teatest.WithInitialTermSize(c.width, c.height),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ANSI)))
			for _, msg := range sampleData() {
				tm.Send(msg)
			}
			for _, k := range c.keys {
				tm.Send(k)
			}
			teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
				return bytes.Contains(out, []byte(c.waitFor))
			}, teatest.WithDuration(5*time.Second))
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
			final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
			content := final.View().Content

			t.Run("plain", func(t *testing.T) { golden.RequireEqual(t, ansi.Strip(content)) })
			t.Run("ansi16", func(t *testing.T) { golden.RequireEqual(t, downsample(t, content, colorprofile.ANSI)) })
		})
	}
}

// TestNoColorKeepsWords checks what NO_COLOR users get: the program
// detects the ASCII profile, which drops every color, and each state
// still reads as a word.
func TestNoColorKeepsWords(t *testing.T) {
	if p := colorprofile.Env([]string{"NO_COLOR=1", "TERM=xterm-256color", "COLORTERM=truecolor"}); p != colorprofile.ASCII {
		t.Fatalf("NO_COLOR detected as %v, want ASCII", p)
	}
	m := newSized(t, testOptions(), 120, 40)
	feed(m, sampleData()...)
	out := downsample(t, m.View().Content, colorprofile.ASCII)
	for _, sgr := range []string{"[38;", "[48;", "[3", "[9"} {
		for _, seq := range strings.Split(out, "\x1b")[1:] {
			if strings.HasPrefix(seq, sgr) && strings.Contains(seq[:min(len(seq), 12)], "m") {
				t.Fatalf("ASCII output still sets a color: %q", "\\x1b"+seq[:min(len(seq), 12)])
			}
		}
	}
	for _, word := range []string{"ACTIVE", "PENDING", "READY", "LISTENING", "close_wait 14/20"} {
		if !strings.Contains(ansi.Strip(out), word) {
			t.Errorf("ASCII output lacks %q", word)
		}
	}
}
