package ticket

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/orderform"
)

// The commands capture the values they need when they are made, never
// the model, because they run on their own goroutines.

// loadChain waits for the desk, then loads the symbol's expiries and the
// underlying's price, which centres the strike lists.
func (m *Model) loadChain() tea.Cmd {
	id, getDesk, timeout := m.id, m.opts.Desk, m.opts.RequestTimeout
	symbol := m.fields.input().Symbol
	return func() tea.Msg {
		if getDesk == nil {
			return chainMsg{ticket: id, err: errors.New("this dashboard has no trading session; mark one consumer trading = true in the config")}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
		defer cancel()
		desk, err := getDesk(ctx)
		if err != nil {
			return chainMsg{ticket: id, err: fmt.Errorf("the trading session is not ready: %w", err)}
		}
		sym, err := orderform.ParseSymbol(symbol)
		if err != nil {
			return chainMsg{ticket: id, err: err}
		}
		chain, err := desk.LoadChain(ctx, sym)
		if err != nil {
			return chainMsg{ticket: id, err: err}
		}
		price, err := desk.UnderlyingPrice(ctx, chain)
		if err != nil {
			return chainMsg{ticket: id, err: err}
		}
		return chainMsg{ticket: id, desk: desk, chain: chain, underlying: price}
	}
}

// loadStrikes lists the strikes that exist for one expiry and right.
func (m *Model) loadStrikes(key orderform.StrikeKey) tea.Cmd {
	m.strikesVersion++
	m.pendingStrikes = key
	m.status = "Loading the strikes of " + key.Expiry.Format(orderform.DateLayout) + "…"
	id, version, desk, chain, center, timeout := m.id, m.strikesVersion, m.desk, m.chain, m.under, m.opts.RequestTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		strikes, err := desk.ListedStrikes(ctx, chain, key.Expiry, key.Right, center, 0)
		return strikesMsg{ticket: id, version: version, key: key, strikes: strikes, err: err}
	}
}

// loadContract finds the option, its quote and its tick rule.
func (m *Model) loadContract(want contractKey) tea.Cmd {
	m.contractVersion++
	id, version, desk, chain, timeout := m.id, m.contractVersion, m.desk, m.chain, m.opts.RequestTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		msg := contractMsg{ticket: id, version: version}
		contract, found, err := desk.Contract(ctx, chain, want.expiry, want.strike, want.right)
		if err == nil && !found {
			err = fmt.Errorf("IB lists no %s option for %s, strike %s", want.right, want.expiry.Format(orderform.DateLayout), orderform.FormatStrike(want.strike))
		}
		if err != nil {
			msg.err = err
			return msg
		}
		msg.contract = contract
		msg.quote, msg.err = desk.Quote(ctx, int64(contract.Conid))
		msg.tick, msg.tickErr = desk.TickRule(ctx, int64(contract.Conid))
		return msg
	}
}

// startPreview gives the ticket its cOID, prices it with a fresh quote,
// checks it again and requests IB's what-if.
func (m *Model) startPreview() tea.Cmd {
	m.step = stepPreparing
	m.status = "Taking a fresh quote and asking IB for the what-if…"
	id, desk, in, market, contract, tickNote, timeout := m.id, m.desk, m.fields.input(), m.market, *m.contract, m.tickNote, m.opts.RequestTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		plan, err := desk.NewPlan(ctx, in, market, contract)
		if err != nil {
			return previewMsg{ticket: id, err: err}
		}
		plan.TickNote = tickNote
		preview, err := desk.Preview(ctx, plan)
		if err != nil {
			return previewMsg{ticket: id, err: fmt.Errorf("what-if preview: %w", err)}
		}
		return previewMsg{ticket: id, plan: plan, preview: preview}
	}
}

// startPlace sends the order once the gate is free. IB's questions come
// back on a channel that waitQuestion reads, one at a time, and the
// answer goes back to the placement on the question's reply channel.
func (m *Model) startPlace() tea.Cmd {
	if holder, ok := m.opts.Gate.Acquire(m.plan.COID); !ok {
		m.status = "Submit is disabled: order " + holder + " from another ticket is still being placed. Wait for IB's answer to it."
		return nil
	}
	m.placing = m.plan.COID
	m.step = stepPlacing
	m.status = ""
	m.questions = make(chan questionMsg)
	id, desk, plan, questions, gate, wait := m.id, m.desk, m.plan, m.questions, m.opts.Gate, m.opts.QuestionTimeout

	place := func() tea.Msg {
		// The gate is released here, not when the result reaches the
		// model: a viewer whose program ended (an SSH session that
		// dropped) would otherwise hold it for good.
		defer gate.Release(plan.COID)
		defer close(questions)
		ask := func(ctx context.Context, q ibclient.Question) (bool, error) {
			timeout := time.NewTimer(wait)
			defer timeout.Stop()
			reply := make(chan bool, 1)
			select {
			case questions <- questionMsg{ticket: id, question: q, reply: reply}:
			case <-timeout.C:
				return false, fmt.Errorf("IB's question %v was not answered within %s, so it was declined", q.MessageIDs, wait)
			}
			select {
			case ok := <-reply:
				return ok, nil
			case <-timeout.C:
				return false, fmt.Errorf("IB's question %v was not answered within %s, so it was declined", q.MessageIDs, wait)
			}
		}
		placement, err := desk.Place(context.Background(), plan, ask, audit.AnsweredByUser)
		return placedMsg{ticket: id, placement: placement, err: err}
	}
	return tea.Batch(place, waitQuestion(questions))
}

// waitQuestion delivers the next of IB's questions; it returns nothing
// once the placement has ended and closed the channel.
func waitQuestion(questions <-chan questionMsg) tea.Cmd {
	return func() tea.Msg {
		q, ok := <-questions
		if !ok {
			return nil
		}
		return q
	}
}

// refreshStatus requests the status of each leg.
func (m *Model) refreshStatus() tea.Cmd {
	id, desk, plan, ids, timeout := m.id, m.desk, m.plan, orderform.OrderIDs(m.placement), m.opts.RequestTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return statusMsg{ticket: id, legs: desk.Status(ctx, plan, ids)}
	}
}

// statusDue schedules the next status refresh.
func (m *Model) statusDue() tea.Cmd {
	id := m.id
	return tea.Tick(m.opts.StatusInterval, func(_ time.Time) tea.Msg { return statusDueMsg{ticket: id} })
}
