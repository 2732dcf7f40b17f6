package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/orderform"
)

func init() {
	commands["order"] = command{
		summary: "preview and place one option order with its attached stop-loss",
		run:     runOrder,
	}
}

// Time limits of `ibdash order`.
const (
	orderStartTimeout  = 60 * time.Second
	orderLogoutTimeout = 10 * time.Second
)

// orderRequestTimeout bounds each request of `ibdash order`. A placement
// whose response does not come in time is settled by looking its cOID
// up, never by sending it again. Tests shorten it.
var orderRequestTimeout = 30 * time.Second

// demoAuditLog is the audit log of --demo orders, kept apart from the
// record of real ones.
const demoAuditLog = "demo-orders.jsonl"

// stdinIsTerminal reports whether r is an interactive terminal, the only
// place ibdash prompts for confirmations. Tests replace it.
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// orderOptions are the flags of `ibdash order`.
type orderOptions struct {
	in          orderform.Input
	market      bool
	previewOnly bool
	yes         bool
	json        bool
}

func (o *orderOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.in.Symbol, "symbol", "SPY", "underlying stock `symbol`")
	fs.StringVar(&o.in.Expiry, "expiry", "", "option expiry `date` as YYYY-MM-DD; it must be listed")
	fs.StringVar(&o.in.Strike, "strike", "", "strike `price` in dollars; it must be listed for the expiry")
	fs.StringVar(&o.in.Right, "right", "P", "option right: P (put) or C (call)")
	fs.StringVar(&o.in.Side, "side", "SELL", "entry side: BUY or SELL")
	fs.StringVar(&o.in.Quantity, "quantity", "", "number of `contracts`, from 1 to orders.max_quantity")
	fs.StringVar(&o.in.Limit, "limit", "", "limit `price` in dollars; default: the mid of a fresh quote")
	fs.BoolVar(&o.market, "market", false, "enter at market (MKT) instead of a limit")
	fs.StringVar(&o.in.StopLoss, "stop-loss", "", "attached stop: a `price` in dollars, or a multiple of the entry price such as 3x")
	fs.StringVar(&o.in.TIF, "tif", "DAY", "time in force of the entry: DAY or GTC (the stop is GTC)")
	fs.BoolVar(&o.previewOnly, "preview-only", false, "show the what-if preview and stop without placing")
	fs.BoolVar(&o.yes, "yes", false, "place without a prompt and answer every IB question with yes (recorded as such)")
	fs.BoolVar(&o.json, "json", false, "write the result as one JSON object on stdout; prompts go to stderr")
}

func runOrder(ctx context.Context, env *environment, args []string) int {
	var opts orderOptions
	fs := env.newFlagSet("order", "order --expiry YYYY-MM-DD --strike PRICE --quantity N --stop-loss PRICE|Nx [flags]")
	opts.define(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if opts.market {
		if opts.in.Limit != "" {
			return env.usageError(fs, "order: --limit and --market exclude each other; keep one")
		}
		opts.in.OrderType = string(ibclient.Market)
	}

	cfg, closeDemo, err := env.loadConfig()
	if err != nil {
		env.errorf("order: %v", err)
		return exitUsage
	}
	defer closeDemo()
	maxQuantity := cfg.Orders.MaxQuantity
	if maxQuantity <= 0 {
		maxQuantity = orderform.DefaultMaxQuantity
	}

	r := &orderRun{env: env, opts: opts, report: &orderReport{}}
	if opts.json {
		r.out = env.stderr
	} else {
		r.out = env.stdout
	}
	code := r.run(ctx, cfg, maxQuantity)
	if opts.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.report); err != nil {
			env.errorf("order: writing JSON: %v", err)
		}
	}
	return code
}

// orderRun is one run of `ibdash order`: what it prints to and reads from,
// and the report it fills in.
type orderRun struct {
	env    *environment
	opts   orderOptions
	out    io.Writer // text output: stdout, or stderr with --json
	input  *bufio.Reader
	report *orderReport
}

func (r *orderRun) run(ctx context.Context, cfg *config.Config, maxQuantity int) int {
	// A malformed ticket is rejected before anything is sent. An expiry
	// in the past goes on to Prepare, whose message lists the nearest
	// listed expiries.
	if err := orderform.CheckSyntax(r.opts.in, orderform.NewYorkDate(time.Now()), maxQuantity); err != nil && !orderform.OnlyPastExpiry(err) {
		return r.invalid(err)
	}
	if !r.opts.previewOnly && !r.opts.yes && !stdinIsTerminal(r.env.stdin) {
		return r.fail(exitUsage, errors.New("stdin is not a terminal, so ibdash cannot ask before placing; pass --yes to place and answer IB's questions with yes, or --preview-only"))
	}
	r.input = bufio.NewReader(r.env.stdin)

	log, err := audit.Open(auditPath(cfg, r.env.demo))
	if err != nil {
		return r.fail(exitFailure, err)
	}
	defer log.Close()
	r.report.AuditLog = log.Path()

	session, err := startTradingSession(ctx, r.env, cfg, log)
	if err != nil {
		return r.fail(exitFailure, err)
	}
	// NOTE: logging out also ends the brokerage session of a dashboard
	// running for the same user; IB has one such session per username.
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orderLogoutTimeout)
		defer cancel()
		if err := session.Close(closeCtx); err != nil {
			r.env.logger.Warn("order: logout failed", "err", err)
		}
	}()

	desk := &orderform.Desk{
		Client:      session.Client(),
		Account:     session.Account(),
		Audit:       log,
		Suppress:    cfg.Orders.SuppressQuestions,
		MaxQuantity: maxQuantity,
	}
	return r.trade(ctx, desk)
}

// trade prepares, previews and, unless --preview-only is set, places the order.
func (r *orderRun) trade(ctx context.Context, desk *orderform.Desk) int {
	plan, err := desk.Prepare(ctx, r.opts.in)
	if err != nil {
		var errs orderform.Errors
		if errors.As(err, &errs) {
			return r.invalid(errs)
		}
		return r.fail(exitFailure, err)
	}
	preview, err := desk.Preview(ctx, plan)
	if err != nil {
		return r.fail(exitFailure, fmt.Errorf("what-if preview failed: %w", err))
	}
	r.report.setPlan(plan, preview)
	printPreview(r.out, plan, preview)

	if preview.Error != "" {
		return r.fail(exitFailure, fmt.Errorf("IB's preview rejects the order: %s", preview.Error))
	}
	if r.opts.previewOnly {
		fmt.Fprintln(r.out, "Preview only; nothing was placed.")
		return exitOK
	}

	by := audit.AnsweredByFlag
	if !r.opts.yes {
		by = audit.AnsweredByUser
		place, err := r.confirm("Place this order?")
		if err != nil || !place {
			fmt.Fprintln(r.out, "Not placed.")
			r.report.Outcome = "not placed"
			_ = desk.Audit.Event(plan.COID, "the user did not place the order after the preview")
			return exitFailure
		}
	}

	placement, err := desk.Place(ctx, plan, r.answer, by)
	if placement == nil {
		return r.fail(exitFailure, err)
	}
	return r.result(ctx, desk, plan, placement, err)
}

// answer puts one of IB's questions to the user, or answers yes with
// --yes; the desk records the answer either way.
func (r *orderRun) answer(_ context.Context, q ibclient.Question) (bool, error) {
	fmt.Fprintf(r.out, "\nIB asks (%s, question %s):\n", strings.Join(q.MessageIDs, ", "), q.ID)
	for _, m := range q.Messages {
		fmt.Fprintf(r.out, "  %s\n", m)
	}
	if r.opts.yes {
		fmt.Fprintln(r.out, "Confirmed by --yes.")
		r.report.addQuestion(q, true)
		return true, nil
	}
	ok, err := r.confirm("Confirm?")
	r.report.addQuestion(q, ok)
	return ok, err
}

// confirm prints prompt and reads a line; only y or yes confirms.
func (r *orderRun) confirm(prompt string) (bool, error) {
	fmt.Fprintf(r.out, "%s [y/N] ", prompt)
	line, err := r.input.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(r.out)
		return false, fmt.Errorf("reading the reply failed (%v), so it counts as no", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// result prints the outcome per leg and returns the exit code.
func (r *orderRun) result(ctx context.Context, desk *orderform.Desk, plan *orderform.Plan, p *ibclient.Placement, err error) int {
	r.report.Outcome = p.Outcome.String()
	fmt.Fprintln(r.out)
	switch p.Outcome {
	case ibclient.OutcomePlaced, ibclient.OutcomeFound:
		if p.Outcome == ibclient.OutcomeFound {
			fmt.Fprintf(r.out, "IB's answer was lost, so ibdash looked cOID %s up instead of sending again: the order exists.\n", plan.COID)
		} else {
			fmt.Fprintln(r.out, "Placed.")
		}
		legs := desk.Status(ctx, plan, orderform.OrderIDs(p))
		r.report.setLegs(legs)
		for _, leg := range legs {
			printLeg(r.out, plan, leg)
		}
		return exitOK
	case ibclient.OutcomeDeclined:
		fmt.Fprintln(r.out, "Declined; IB discarded the order and nothing was placed.")
		if err != nil {
			r.report.Error = err.Error()
			fmt.Fprintf(r.out, "  reason: %v\n", err)
		}
		return exitFailure
	case ibclient.OutcomeNotFound:
		fmt.Fprintf(r.out, "IB's answer was lost and cOID %s is not among the live orders: the order was not placed, so it is safe to send again.\n", plan.COID)
	case ibclient.OutcomeUnknown:
		fmt.Fprintf(r.out, "IB's answer was lost and the lookup of cOID %s failed too: check the live orders before sending the order again.\n", plan.COID)
	default:
		fmt.Fprintln(r.out, "Rejected.")
	}
	if err != nil {
		r.report.Error = err.Error()
		printDecodedError(r.out, "  ", err)
	}
	return exitFailure
}

// invalid prints the field errors of a ticket and returns exitUsage.
func (r *orderRun) invalid(err error) int {
	var errs orderform.Errors
	if !errors.As(err, &errs) {
		return r.fail(exitUsage, err)
	}
	fields := "fields"
	if len(errs) == 1 {
		fields = "field"
	}
	r.env.errorf("order: the ticket has %d invalid %s; nothing was sent", len(errs), fields)
	for _, fe := range errs {
		fmt.Fprintf(r.env.stderr, "  %s\n", fe.Error())
		r.report.Invalid = append(r.report.Invalid, fieldReport{Field: string(fe.Field), Value: fe.Value, Message: fe.Message})
	}
	return exitUsage
}

// fail prints err with its decoded IB details and returns code.
func (r *orderRun) fail(code int, err error) int {
	r.report.Error = err.Error()
	r.env.errorf("order: %v", err)
	var apiErr *ibclient.APIError
	var netErr *ibclient.NetworkError
	if errors.As(err, &apiErr) || errors.As(err, &netErr) {
		printDecodedError(r.env.stderr, "  ", err)
	}
	return code
}

// auditPath returns the audit log of the run: orders.audit_log, or its
// default, and for --demo a file of its own.
func auditPath(cfg *config.Config, demo bool) string {
	if demo {
		return config.DefaultStatePath(demoAuditLog)
	}
	if cfg.Orders.AuditLog != "" {
		return cfg.Orders.AuditLog
	}
	return config.DefaultStatePath("orders.jsonl")
}

// startTradingSession starts the brokerage session of the trading
// consumer with its HTTP traffic going through the audit transport.
func startTradingSession(ctx context.Context, env *environment, cfg *config.Config, log *audit.Log) (*ibclient.Session, error) {
	cons, ok := cfg.TradingConsumer()
	if !ok {
		return nil, fmt.Errorf("no trading consumer in the config; mark the one whose session places orders with trading = true")
	}
	consumer, warnings, err := cons.Load()
	for _, w := range warnings {
		fmt.Fprintf(env.stderr, "ibdash: warning: %s\n", w)
	}
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base_url %q: %w", cfg.BaseURL, err)
	}
	hc, err := audit.NewHTTPClient(log, nil)
	if err != nil {
		return nil, err
	}
	session, err := ibclient.NewSession(
		&ibclient.Authenticator{Consumer: consumer, BaseURL: base},
		ibclient.SessionConfig{Compete: cfg.CompeteValue(), AccountID: cfg.AccountID},
		ibclient.WithHTTPClient(hc),
		ibclient.WithLogger(env.logger.With("component", "order")),
		ibclient.WithSignQuery(cfg.SignQueryParams),
		ibclient.WithRequestTimeout(orderRequestTimeout),
	)
	if err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, orderStartTimeout)
	defer cancel()
	if err := session.Start(startCtx); err != nil {
		return nil, fmt.Errorf("starting the session of %s: %w", cons.ConsumerKey, err)
	}
	return session, nil
}

// printPreview writes the order, its contract and quote, and IB's
// what-if figures.
func printPreview(w io.Writer, p *orderform.Plan, preview *ibclient.Preview) {
	q := p.Quote
	fmt.Fprintf(w, "Order     %s\n", p.Order)
	fmt.Fprintf(w, "Contract  %s %s (conid %d)\n", p.Contract.Symbol, p.Contract.Description, p.Contract.Conid)
	fmt.Fprintf(w, "Quote     bid %s  ask %s  last %s  delta %s", q.Bid, q.Ask, q.Last, q.Delta)
	if q.Availability != "" {
		fmt.Fprintf(w, "  (market data %s)", q.Availability)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "What-if   amount %s, commission %s, total %s\n", orderform.FormatMoney(preview.Amount), orderform.FormatMoney(preview.Commission), orderform.FormatMoney(preview.Total))
	fmt.Fprintf(w, "          equity %s, initial margin %s, maintenance margin %s\n",
		orderform.FormatChange(preview.Equity), orderform.FormatChange(preview.Initial), orderform.FormatChange(preview.Maintenance))
	if preview.Warning != "" {
		fmt.Fprintf(w, "          warning: %s\n", preview.Warning)
	}
	if preview.Error != "" {
		fmt.Fprintf(w, "          error: %s\n", preview.Error)
	}
	if p.TickNote != "" {
		fmt.Fprintf(w, "Tick      %s\n", strings.TrimPrefix(p.TickNote, "tick "))
	}
	fmt.Fprintf(w, "cOID      %s\n", p.COID)
}

// printLeg writes one leg of a placed order: its order, id and status.
func printLeg(w io.Writer, p *orderform.Plan, leg orderform.LegStatus) {
	desc := string(p.Order.Side) + " " + string(p.Order.Type)
	if leg.Leg == "stop" {
		desc = string(p.Order.Side.Opposite()) + " STP " + orderform.FormatPrice(p.Order.Stop)
	} else if p.Order.Type == ibclient.Limit {
		desc += " " + orderform.FormatPrice(p.Order.Limit)
	}
	status := leg.Status
	if leg.Err != nil {
		status = "status unknown: " + leg.Err.Error()
	}
	fmt.Fprintf(w, "  %-5s  %-18s  order %s  %s\n", leg.Leg, desc, leg.OrderID, status)
}

// orderReport is the --json output of `ibdash order`.
type orderReport struct {
	Order     string           `json:"order,omitempty"`
	COID      string           `json:"coid,omitempty"`
	Conid     int64            `json:"conid,omitempty"`
	Contract  string           `json:"contract,omitempty"`
	Limit     float64          `json:"limit,omitempty"`
	Stop      float64          `json:"stop,omitempty"`
	Quote     *quoteReport     `json:"quote,omitempty"`
	Preview   *previewReport   `json:"preview,omitempty"`
	Tick      string           `json:"tick,omitempty"`
	Questions []questionReport `json:"questions,omitempty"`
	Outcome   string           `json:"outcome,omitempty"`
	Legs      []legReport      `json:"legs,omitempty"`
	Invalid   []fieldReport    `json:"invalid,omitempty"`
	Error     string           `json:"error,omitempty"`
	AuditLog  string           `json:"audit_log,omitempty"`
}

type quoteReport struct {
	Bid   *float64 `json:"bid"`
	Ask   *float64 `json:"ask"`
	Last  *float64 `json:"last"`
	Delta *float64 `json:"delta"`
}

type previewReport struct {
	Currency          string   `json:"currency,omitempty"`
	Amount            *float64 `json:"amount"`
	Commission        *float64 `json:"commission"`
	Total             *float64 `json:"total"`
	EquityChange      *float64 `json:"equity_change"`
	InitialChange     *float64 `json:"initial_margin_change"`
	MaintenanceChange *float64 `json:"maintenance_margin_change"`
	Warning           string   `json:"warning,omitempty"`
	Error             string   `json:"error,omitempty"`
}

type questionReport struct {
	ID         string   `json:"id"`
	MessageIDs []string `json:"message_ids"`
	Messages   []string `json:"messages"`
	Confirmed  bool     `json:"confirmed"`
}

type legReport struct {
	Leg     string `json:"leg"`
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
}

type fieldReport struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

func number(n ibclient.Number) *float64 {
	if !n.Valid {
		return nil
	}
	v := n.Value
	return &v
}

func (r *orderReport) setPlan(p *orderform.Plan, preview *ibclient.Preview) {
	r.Order = p.Order.String()
	r.COID = p.COID
	r.Conid = int64(p.Contract.Conid)
	r.Contract = p.Contract.Description
	r.Limit = p.Order.Limit
	r.Stop = p.Order.Stop
	r.Quote = &quoteReport{Bid: number(p.Quote.Bid), Ask: number(p.Quote.Ask), Last: number(p.Quote.Last), Delta: number(p.Quote.Delta)}
	r.Preview = &previewReport{
		Currency:          preview.Total.Currency,
		Amount:            number(preview.Amount.Number),
		Commission:        number(preview.Commission.Number),
		Total:             number(preview.Total.Number),
		EquityChange:      number(preview.Equity.Change),
		InitialChange:     number(preview.Initial.Change),
		MaintenanceChange: number(preview.Maintenance.Change),
		Warning:           preview.Warning,
		Error:             preview.Error,
	}
	r.Tick = p.TickNote
}

func (r *orderReport) addQuestion(q ibclient.Question, confirmed bool) {
	r.Questions = append(r.Questions, questionReport{ID: q.ID, MessageIDs: q.MessageIDs, Messages: q.Messages, Confirmed: confirmed})
}

func (r *orderReport) setLegs(legs []orderform.LegStatus) {
	for _, leg := range legs {
		status := leg.Status
		if leg.Err != nil {
			status = "unknown: " + leg.Err.Error()
		}
		r.Legs = append(r.Legs, legReport{Leg: leg.Leg, OrderID: leg.OrderID, Status: status})
	}
}
