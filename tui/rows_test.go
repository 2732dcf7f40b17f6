package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ibdash/ibdash/tui/common"
)

func testRow() textRow {
	st := common.NewStyles(common.DefaultTheme(true))
	return textRow{first: "› ", indent: "  ", spans: []span{
		{"restart held back for 12s:", st.Warn},
		{" cooldown of 45s after the last restart", st.Muted},
	}}
}

func TestRowFitsOnOneLine(t *testing.T) {
	lines := testRow().fit(80, 3)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), lines)
	}
	if got, want := ansi.Strip(lines[0]), "› restart held back for 12s: cooldown of 45s after the last restart"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestRowWrapsWhenLinesAllowed(t *testing.T) {
	lines := testRow().fit(30, 3)
	want := []string{
		"› restart held back for 12s:",
		"  cooldown of 45s after the",
		"  last restart",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d: %q", len(lines), len(want), lines)
	}
	for i, line := range lines {
		if got := ansi.Strip(line); got != want[i] {
			t.Errorf("line %d = %q, want %q", i, got, want[i])
		}
		if w := ansi.StringWidth(line); w > 30 {
			t.Errorf("line %d is %d wide, over 30", i, w)
		}
	}
}

func TestRowCutAtWordWithEllipsis(t *testing.T) {
	lines := testRow().fit(30, 2)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), lines)
	}
	if got, want := ansi.Strip(lines[1]), "  cooldown of 45s after the…"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}

	one := testRow().fit(20, 1)
	if got, want := ansi.Strip(one[0]), "› restart held back…"; got != want {
		t.Errorf("single line = %q, want %q", got, want)
	}
}

func TestRowCutKeepsStyles(t *testing.T) {
	st := common.NewStyles(common.DefaultTheme(true))
	r := textRow{spans: []span{{"alpha beta", st.Bad}, {" gamma delta", st.OK}}}

	if got, want := r.fit(16, 1)[0], st.Bad.Render("alpha beta…"); got != want {
		t.Errorf("cut in the first span = %q, want %q", got, want)
	}
	if got, want := r.fit(20, 1)[0], st.Bad.Render("alpha beta")+" "+st.OK.Render("gamma…"); got != want {
		t.Errorf("cut in the second span = %q, want %q", got, want)
	}
}

func TestFitRowsSharesSpareRows(t *testing.T) {
	rows := []textRow{testRow(), testRow(), fixedRow("end")}
	lines := fitRows(rows, 30, 4)
	if len(lines) != 4 {
		t.Fatalf("got %d lines for a height of 4: %q", len(lines), lines)
	}
	if got := ansi.Strip(lines[1]); got != "  cooldown of 45s after the…" {
		t.Errorf("first row's second line = %q, want it cut after one spare row", got)
	}
	if got := ansi.Strip(lines[2]); got != "› restart held back for 12s…" {
		t.Errorf("second row = %q, want it cut to one line", got)
	}
}

// heldBack is a gateway scan whose restart the cooldown holds back, with
// the watchdog's own wording.
func heldBack() GatewayMsg {
	msg := sampleData()[4].(GatewayMsg)
	msg.Snapshot.HeldBack = "cooldown of 45s after the last restart"
	msg.Snapshot.NextRestartAllowed = fixedNow.Add(30 * time.Second)
	return msg
}

func TestGatewayHeldBackWrapsWithRoom(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	feed(m, sampleData()...)
	feed(m, heldBack())
	got := screen(m)
	if strings.Contains(got, "after the…") {
		t.Errorf("held-back reason cut next to empty rows:\n%s", got)
	}
	if !strings.Contains(got, "restart held back for 30s: cooldown of 45s after the") || !strings.Contains(got, "│   last restart ") {
		t.Errorf("held-back reason not wrapped onto a second line:\n%s", got)
	}
}

func TestOrderDescriptionWrapsWithRoom(t *testing.T) {
	m := newSized(t, testOptions(), 120, 40)
	o := liveBracket()
	o.ID, o.Legs[0].OrderID = "1800000001", "1800000001"
	o.Description = "SPY DEC 18 '26 599 Put · Sell 1 Limit 8.15, DAY"
	feed(m, OrdersMsg{Orders: []Order{o}})
	got := screen(m)
	if strings.Contains(got, "Limit…") {
		t.Errorf("description cut next to empty rows:\n%s", got)
	}
	if !strings.Contains(got, "8.15, DAY") {
		t.Errorf("description not wrapped whole:\n%s", got)
	}
}

// TestSessionFlagsNeverClipped renders the session panel at widths where
// its flags do not fit on one line: they wrap when the panel has a row
// to spare and otherwise end with an ellipsis, at every height.
func TestSessionFlagsNeverClipped(t *testing.T) {
	m := New(testOptions())
	feed(m, sampleData()...)
	for _, width := range []int{100, 90} {
		for height := 16; height <= 40; height++ {
			feed(m, tea.WindowSizeMsg{Width: width, Height: height})
			for _, line := range strings.Split(screen(m), "\n") {
				i := strings.Index(line, "READY  authenticated")
				if i < 0 {
					continue
				}
				flags := strings.TrimRight(line[i:strings.Index(line[i:], "│")+i], " ")
				if !strings.HasSuffix(flags, "competing no") && !strings.HasSuffix(flags, "yes") && !strings.HasSuffix(flags, "…") {
					t.Errorf("%dx%d: flags line clipped without an ellipsis: %q", width, height, flags)
				}
			}
		}
	}

	// The held-back restart makes the gateway panel too tall for 100x30,
	// so it collapses and the session panel gets its rows.
	m = newSized(t, testOptions(), 100, 30)
	feed(m, sampleData()...)
	feed(m, heldBack())
	if got := screen(m); !strings.Contains(got, "│   competing no ") {
		t.Errorf("100x30: the competing flag is not wrapped although the session panel has rows to spare:\n%s", got)
	}
}

// TestPanelTitleCutEndsWithEllipsis checks the fallback for a line a
// panel does not fit itself, a title too wide for a narrow terminal.
func TestPanelTitleCutEndsWithEllipsis(t *testing.T) {
	m := newSized(t, testOptions(), 40, 30)
	feed(m, sampleData()...)
	for m.panels[m.focus] != m.gateway {
		press(m, keyTab)
	}
	found := false
	for _, line := range strings.Split(screen(m), "\n") {
		if !strings.Contains(line, "Gateway sockets") || strings.Contains(line, "Gateway sockets:") {
			continue
		}
		found = true
		if strings.Contains(line, "threshold 20") {
			t.Fatalf("title fits at 40 columns, so nothing is cut: %q", line)
		}
		if !strings.HasSuffix(strings.TrimSuffix(line, " │"), "…") {
			t.Errorf("title cut without an ellipsis: %q", line)
		}
	}
	if !found {
		t.Errorf("gateway panel not shown whole at 40x30:\n%s", screen(m))
	}
}
