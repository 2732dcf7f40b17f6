package tui

import (
	"bytes"
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/internal/simtest"
	"github.com/ibdash/ibdash/tui/common"
	"github.com/ibdash/ibdash/tui/ticket"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simtest.Cleanup()
	os.Exit(code)
}

// simTicketOptions are dashboard options whose n opens the real ticket on
// a desk of the simulator, with the simulator's clock.
func simTicketOptions(e *simtest.Env) Options {
	opts := testOptions()
	opts.Clock = e.Clock.Now
	opts.NewTicket = func(c common.Common) common.Component {
		return ticket.New(c, ticket.Options{
			Desk:           func(context.Context) (*orderform.Desk, error) { return e.Desk, nil },
			StatusInterval: 100 * time.Millisecond,
		})
	}
	return opts
}

// typeText sends text as key presses, one rune each.
func typeText(tm *teatest.TestModel, text string) {
	for _, r := range text {
		tm.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// waitScreen waits until the program's output contains every one of
// texts. The output is read once, so texts that one frame draws must
// be waited for in one call.
func waitScreen(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		for _, text := range texts {
			if !bytes.Contains(out, []byte(text)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(30*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

var (
	enterKey = tea.KeyPressMsg{Code: tea.KeyEnter}
	tabKey   = tea.KeyPressMsg{Code: tea.KeyTab}
	ctrlS    = tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}
)

// TestTicketFlowInDashboard places a SPY put with its stop through the
// dashboard: n opens the ticket, the pickers take a listed expiry and
// strike, the preview shows IB's what-if, two questions are confirmed,
// and the orders panel is back with the placed order, which waits for
// IB's order list until a refresh includes it.
func TestTicketFlowInDashboard(t *testing.T) {
	e := simtest.New(t)
	put := e.NearPut(t, "20250815")
	bid, ask, err := e.Server.Quote(put.Conid)
	if err != nil {
		t.Fatal(err)
	}

	tm := teatest.NewTestModel(t, New(simTicketOptions(e)),
		teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	tm.Send(tea.KeyPressMsg{Code: 'n', Text: "n"})
	waitScreen(t, tm, "expiries listed")

	typeText(tm, "2025-08-15")
	tm.Send(enterKey)
	waitScreen(t, tm, "strikes listed for 2025-08-15")
	typeText(tm, orderform.FormatStrike(put.Strike))
	tm.Send(enterKey)
	waitScreen(t, tm, "delta")

	// Right, side, quantity and type keep their defaults; a limit 50%
	// over the mid raises o163 besides the stop's o10331.
	for range 4 {
		tm.Send(tabKey)
	}
	typeText(tm, orderform.FormatPrice(math.Round((bid+ask)/2*1.5*20)/20))
	tm.Send(tabKey)
	typeText(tm, "3x")
	tm.Send(ctrlS)
	waitScreen(t, tm, "What-if")

	tm.Send(enterKey)
	waitScreen(t, tm, "IB asks (o163")
	tm.Send(tea.KeyPressMsg{Code: 'y', Text: "y"})
	waitScreen(t, tm, "IB asks (o10331")
	tm.Send(tea.KeyPressMsg{Code: 'y', Text: "y"})
	waitScreen(t, tm, "Placed: order")
	waitScreen(t, tm, "stop   BUY STP")

	book := e.Server.Orders()
	if len(book) != 2 || book[1].ParentID != book[0].COID {
		t.Fatalf("book = %+v, want an entry and its stop linked by parentId", book)
	}
	entryID, stopID := strconv.FormatInt(book[0].OrderID, 10), strconv.FormatInt(book[1].OrderID, 10)

	// No orders refresh runs in this test, so only the ticket's report
	// of the placement can put the order in the panel.
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, tm, "#"+entryID+" SELL 1 SPY", placedStatus)

	live, err := e.Desk.Client.LiveOrders(context.Background(), e.Desk.Account)
	if err != nil {
		t.Fatal(err)
	}
	tm.Send(OrdersMsg{Orders: OrdersFromLive(live)})
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if final.ticket != nil || final.mode != modeDashboard {
		t.Errorf("ticket still open after esc (mode %d)", final.mode)
	}
	got := screen(final)
	if strings.Contains(got, "waiting for IB's order list") {
		t.Errorf("order still waits after IB's order list included it:\n%s", got)
	}
	if !strings.Contains(got, "parent #"+entryID) || !strings.Contains(got, "stop   #"+stopID) {
		t.Errorf("orders panel lacks IB's legs %s and %s:\n%s", entryID, stopID, got)
	}
}

// TestGoldenTicket compares the ticket's form, with a listed expiry and
// strike taken and the quote loaded, at both standard sizes.
func TestGoldenTicket(t *testing.T) {
	for _, size := range []struct {
		name          string
		width, height int
	}{{"ticket_80x24", 80, 24}, {"ticket_120x40", 120, 40}} {
		t.Run(size.name, func(t *testing.T) {
			e := simtest.New(t)
			put := e.NearPut(t, "20250815")
			tm := teatest.NewTestModel(t, New(simTicketOptions(e)),
				teatest.WithInitialTermSize(size.width, size.height),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ANSI)))
			tm.Send(tea.KeyPressMsg{Code: 'n', Text: "n"})
			waitScreen(t, tm, "expiries listed")
			typeText(tm, "2025-08-15")
			tm.Send(enterKey)
			waitScreen(t, tm, "strikes listed for")
			typeText(tm, orderform.FormatStrike(put.Strike))
			tm.Send(enterKey)
			waitScreen(t, tm, "delta")
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
