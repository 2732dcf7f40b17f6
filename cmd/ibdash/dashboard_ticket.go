package main

import (
	"context"
	"errors"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/tui/common"
	"github.com/ibdash/ibdash/tui/ticket"
)

// deskPoll is how often a ticket opened before the session is ready
// checks it again.
const deskPoll = 250 * time.Millisecond

// orderDesk is the state the dashboard's tickets share: the audit log that
// the trading session's traffic goes through, the order limits of the
// config, and the gate that lets one placement run at a time.
type orderDesk struct {
	log         *audit.Log
	gate        ticket.Gate
	maxQuantity int
	suppress    []string
}

// openOrderDesk opens the audit log of the dashboard's orders: the
// config's orders.audit_log, or for --demo a file of its own.
func openOrderDesk(cfg *config.Config, demo bool) (*orderDesk, error) {
	log, err := audit.Open(auditPath(cfg, demo))
	if err != nil {
		return nil, err
	}
	maxQuantity := cfg.Orders.MaxQuantity
	if maxQuantity <= 0 {
		maxQuantity = orderform.DefaultMaxQuantity
	}
	return &orderDesk{log: log, maxQuantity: maxQuantity, suppress: cfg.Orders.SuppressQuestions}, nil
}

// newTicket builds the order ticket that n opens.
func (d *dashboard) newTicket(c common.Common) common.Component {
	return ticket.New(c, ticket.Options{
		Desk:     d.desk,
		Gate:     &d.orderGate,
		OnPlaced: d.refreshOrders,
	})
}

// desk waits until the trading session has an account, then returns a
// desk on it.
func (d *dashboard) desk(ctx context.Context) (*orderform.Desk, error) {
	if err := d.await(ctx); err != nil {
		return nil, err
	}
	if d.session == nil {
		return nil, errors.New("no trading session; mark one consumer trading = true in the config")
	}
	if d.orders == nil {
		return nil, errors.New("the order audit log could not be opened, so ibdash places no orders; see the errors panel")
	}
	for d.session.Account() == "" {
		select {
		case <-ctx.Done():
			return nil, errors.New("the trading session has not queried its accounts yet; see the session panel")
		case <-time.After(deskPoll):
		}
	}
	return &orderform.Desk{
		Client:      d.session.Client(),
		Account:     d.session.Account(),
		Audit:       d.orders.log,
		Suppress:    d.orders.suppress,
		MaxQuantity: d.orders.maxQuantity,
	}, nil
}

// refreshOrders requests an early refresh of the orders panel.
func (d *dashboard) refreshOrders() {
	if d.refresh == nil {
		return
	}
	select {
	case d.refresh <- struct{}{}:
	default:
	}
}
