package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/adrg/xdg"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/audit"
	"github.com/ibdash/ibdash/ibclient/gateway"
	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
	"github.com/ibdash/ibdash/ibclient/ibsim"
	"github.com/ibdash/ibdash/tui"
	"github.com/ibdash/ibdash/tui/common"
	"github.com/ibdash/ibdash/tui/ticket"
)

func init() {
	commands["dashboard"] = command{
		summary: "the dashboard (the default command); with --demo, against the built-in simulator",
		run:     runDashboard,
	}
}

// ordersInterval is how often the orders panel is refreshed; IB allows
// one GET iserver/account/orders per 5 s.
const ordersInterval = 5 * time.Second

// The demo's gateway watchdog is tuned so a restart happens within the
// first half minute and then about once a minute.
const (
	demoThreshold    = 8
	demoScanInterval = 2 * time.Second
	demoLeakInterval = 1500 * time.Millisecond
	demoCooldown     = 45 * time.Second
)

// demoDir is where --demo keeps its generated keys between runs.
func demoDir() string { return filepath.Join(xdg.CacheHome, "ibdash", "demo") }

func runDashboard(ctx context.Context, env *environment, args []string) int {
	fs := env.newFlagSet("dashboard", "[--demo] [--config PATH] [--debug FILE]")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}

	var cfg *config.Config
	if !env.demo {
		var err error
		cfg, err = config.Load(config.DefaultPath(env.configPath))
		if err != nil {
			env.errorf("%v", err)
			return exitUsage
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &dashboard{env: env, logger: env.logger, ready: make(chan struct{})}
	p := tea.NewProgram(tui.New(d.options(cfg)), tea.WithContext(ctx),
		tea.WithInput(env.stdin), tea.WithOutput(env.stdout), tea.WithFPS(tui.FrameRate))
	d.program = p

	// Everything slow (key generation on the first demo run, the LST
	// handshakes) happens after the first frame.
	go d.start(ctx, cfg)
	_, err := p.Run()
	cancel()
	d.stop()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		env.errorf("dashboard: %v", err)
		return exitFailure
	}
	return exitOK
}

// dashboard wires the IB client, the key watcher, the session and the
// gateway watchdog to the TUI. Data flows one way, into program.Send;
// the model's actions (recheck, cancel) call back through the funcs in
// tui.Options, which wait until start has built what they need.
type dashboard struct {
	env     *environment
	logger  *slog.Logger
	program sender

	ready   chan struct{} // closed when the fields below are set
	watcher *ibclient.Watcher
	session *ibclient.Session
	trading string
	refresh chan struct{} // asks for an early orders refresh
	orders  *orderDesk    // nil when the audit log could not be opened

	orderGate ticket.Gate

	wg      sync.WaitGroup
	closers []func() error
}

// options builds the TUI options; in demo mode the consumer keys are the
// simulator's and the gateway port is known only once the fixture runs,
// so the panel learns it from the first snapshot.
func (d *dashboard) options(cfg *config.Config) tui.Options {
	opts := tui.Options{
		Demo:        d.env.demo,
		Logger:      d.logger.With("component", "tui"),
		Recheck:     d.recheck,
		CancelOrder: d.cancelOrder,
		NewTicket:   d.newTicket,
	}
	if d.env.demo {
		opts.Consumers = []string{ibsim.DemoTradingKey, ibsim.DemoPendingKey, ibsim.DemoTestKey}
		opts.TradingConsumer = ibsim.DemoTradingKey
		opts.CloseWaitThreshold = demoThreshold
		return opts
	}
	for _, c := range cfg.Consumers {
		opts.Consumers = append(opts.Consumers, c.ConsumerKey)
	}
	if c, ok := cfg.TradingConsumer(); ok {
		opts.TradingConsumer = c.ConsumerKey
	}
	opts.GatewayPorts = cfg.Gateway.Ports
	opts.CloseWaitThreshold = cfg.Gateway.CloseWaitThreshold
	return opts
}

// sender receives the data side's messages: the one *tea.Program of the
// dashboard command, or serve's broadcaster to every SSH viewer.
type sender interface{ Send(tea.Msg) }

// send delivers a message to the TUI; it returns at once when the
// program has ended.
func (d *dashboard) send(msg tea.Msg) { d.program.Send(msg) }

func (d *dashboard) fail(source string, err error) {
	d.logger.Error("dashboard", "source", source, "err", err)
	d.send(common.ErrorMsg{Source: source, Err: err})
}

// start builds and runs the data sources. A failure is shown in the
// errors panel; the dashboard keeps running with what did start.
func (d *dashboard) start(ctx context.Context, cfg *config.Config) {
	defer close(d.ready)
	if d.env.demo {
		var err error
		cfg, err = d.startDemo(ctx)
		if err != nil {
			d.fail("demo", err)
			return
		}
	}
	if !d.env.demo && len(cfg.Gateway.Ports) > 0 {
		d.startWatchdog(ctx, gatewayOptions(cfg.Gateway))
	}
	if orders, err := openOrderDesk(cfg, d.env.demo); err != nil {
		d.fail("orders", err)
	} else {
		d.orders = orders
		d.closers = append(d.closers, orders.log.Close)
	}
	if err := d.startKeys(ctx, cfg); err != nil {
		d.fail("config", err)
		return
	}
	d.startOrders(ctx)
}

// stop waits for start (a first demo run may still be generating keys)
// and for every goroutine, then closes what start opened, newest first.
func (d *dashboard) stop() {
	<-d.ready
	d.wg.Wait()
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			d.logger.Warn("dashboard: shutdown", "err", err)
		}
	}
}

// goRun runs fn on its own goroutine, which stop waits for.
func (d *dashboard) goRun(fn func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		fn()
	}()
}

// startKeys starts the key watcher for every consumer but the trading
// one, and the session for the trading one. The trading key is left to
// the session because a new LST replaces the previous one for the same
// access token, so a watcher check would end the session's LST; the
// session's own LST requests report that key instead.
func (d *dashboard) startKeys(ctx context.Context, cfg *config.Config) error {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return fmt.Errorf("base_url %q: %w", cfg.BaseURL, err)
	}
	trading, hasTrading := cfg.TradingConsumer()

	var watched []ibclient.WatchedConsumer
	for _, c := range cfg.Consumers {
		if hasTrading && c.ConsumerKey == trading.ConsumerKey {
			continue
		}
		watched = append(watched, ibclient.WatchedConsumer{ConsumerKey: c.ConsumerKey, Load: d.loader(c)})
	}
	watcher, err := ibclient.NewWatcher(ibclient.WatcherConfig{
		BaseURL: base,
		Logger:  d.logger.With("component", "watcher"),
	}, watched)
	if err != nil {
		return err
	}
	d.watcher = watcher
	d.goRun(func() { _ = watcher.Run(ctx) })
	d.goRun(func() { forward(ctx, watcher.Statuses(), d.sendKeyStatus) })

	if hasTrading {
		d.trading = trading.ConsumerKey
		d.startSession(ctx, cfg, base, *trading)
	}
	return nil
}

func (d *dashboard) sendKeyStatus(s ibclient.KeyStatus) { d.send(tui.KeyStatusMsg{Status: s}) }

// loader returns the Load func of one consumer, which reads its key
// files at every check so a fixed file is picked up without a restart.
func (d *dashboard) loader(c config.Consumer) func() (*ibclient.Consumer, error) {
	return func() (*ibclient.Consumer, error) {
		consumer, warnings, err := c.Load()
		for _, w := range warnings {
			d.logger.Warn("consumer key files", "consumer", c.ConsumerKey, "warning", w)
		}
		return consumer, err
	}
}

// startSession runs the brokerage session of the trading consumer and
// reports its LST requests as checks of that key.
func (d *dashboard) startSession(ctx context.Context, cfg *config.Config, base *url.URL, c config.Consumer) {
	consumer, err := d.loader(c)()
	if err != nil {
		d.sendKeyStatus(ibclient.KeyStatus{ConsumerKey: c.ConsumerKey, State: ibclient.ClassifyKeyError(err),
			CheckedAt: time.Now(), Err: err})
		return
	}
	opts := []ibclient.Option{
		ibclient.WithLogger(d.logger.With("component", "session")),
		ibclient.WithSignQuery(cfg.SignQueryParams),
	}
	if d.orders != nil {
		// Only the tickets' requests and order actions are recorded.
		hc, err := audit.NewHTTPClient(d.orders.log, nil)
		if err != nil {
			d.fail("orders", err)
			return
		}
		opts = append(opts, ibclient.WithHTTPClient(hc))
	}
	session, err := ibclient.NewSession(
		&ibclient.Authenticator{Consumer: consumer, BaseURL: base},
		ibclient.SessionConfig{
			Compete:   cfg.CompeteValue(),
			AccountID: cfg.AccountID,
			OnLST:     func(key string, err error) { d.sendKeyStatus(lstStatus(key, err, time.Now())) },
		},
		opts...,
	)
	if err != nil {
		d.fail("session", err)
		return
	}
	d.session = session
	d.goRun(func() {
		if err := session.Run(ctx); err != nil {
			d.logger.Error("session stopped", "err", err)
		}
	})
	d.goRun(func() {
		forward(ctx, session.Events(), func(e ibclient.SessionEvent) { d.send(tui.SessionMsg{Event: e}) })
	})
}

// lstStatus turns the outcome of the session's LST request into a key
// status, as the watcher would have found it.
func lstStatus(key string, err error, now time.Time) ibclient.KeyStatus {
	s := ibclient.KeyStatus{ConsumerKey: key, State: ibclient.ClassifyKeyError(err), CheckedAt: now, Err: err}
	if s.State == ibclient.KeyPending {
		s.ExpectedActivation = ibclient.NextWeekendMaintenance(now).End
	}
	return s
}

// forward sends every value of ch to send until ctx ends or ch closes.
func forward[T any](ctx context.Context, ch <-chan T, send func(T)) {
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			send(v)
		}
	}
}

// startWatchdog runs the gateway watchdog, whose callbacks send each
// snapshot and restart to the TUI.
func (d *dashboard) startWatchdog(ctx context.Context, opts gateway.Options) {
	opts.Logger = d.logger.With("component", "gateway")
	opts.OnSnapshot = func(s gateway.Snapshot) { d.send(tui.GatewayMsg{Snapshot: s}) }
	opts.OnRestart = func(r gateway.Restart) { d.send(tui.GatewayRestartMsg{Restart: r}) }
	w, err := gateway.New(opts)
	if err != nil {
		d.fail("gateway", err)
		return
	}
	d.closers = append(d.closers, w.Close)
	d.goRun(func() { _ = w.Run(ctx) })
}

// startOrders refreshes the orders panel every ordersInterval while the
// session is up, and soon after a cancel or a placement. The client's
// rate limiter spaces the requests by IB's limit of one per 5 s, so an
// early refresh waits there rather than earning a 429.
func (d *dashboard) startOrders(ctx context.Context) {
	if d.session == nil {
		return
	}
	d.refresh = make(chan struct{}, 1)
	client := d.session.Client()
	d.goRun(func() {
		ticker := time.NewTicker(ordersInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			case <-d.refresh:
			}
			if d.session.State().State != ibclient.SessionReady {
				continue
			}

			live, err := client.LiveOrders(ctx, d.session.Account())
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				d.send(tui.OrdersMsg{Err: err})
				continue
			}
			d.send(tui.OrdersMsg{Orders: tui.OrdersFromLive(live)})
		}
	})
}

// errStarting is returned by an action taken before start is done.
var errStarting = errors.New("still starting; try again in a moment")

// await waits until start is done or ctx ends.
func (d *dashboard) await(ctx context.Context) error {
	select {
	case <-d.ready:
		return nil
	case <-ctx.Done():
		return errStarting
	}
}

// recheck checks one key now. The trading key is checked through the
// session with a signed auth status call, which tests its LST without
// replacing it; the others go to the watcher.
func (d *dashboard) recheck(ctx context.Context, key string) error {
	if err := d.await(ctx); err != nil {
		return err
	}
	if key == d.trading && d.session != nil {
		_, err := d.session.Client().AuthStatus(ctx)
		d.sendKeyStatus(lstStatus(key, err, time.Now()))
		return nil
	}
	if d.watcher == nil {
		return errors.New("the key watcher did not start; see the errors panel")
	}
	return d.watcher.Recheck(key)
}

// cancelOrder cancels an order (IB cancels its attached stop with it)
// and asks for an orders refresh.
func (d *dashboard) cancelOrder(ctx context.Context, o tui.Order) (string, error) {
	if err := d.await(ctx); err != nil {
		return "", err
	}
	if d.session == nil {
		return "", errors.New("no trading session; mark one consumer trading = true")
	}
	ack, err := d.session.Client().CancelOrder(ctx, d.session.Account(), o.ID)
	if err != nil {
		return "", err
	}
	d.refreshOrders()
	if ack.Message == "" {
		return "cancel sent", nil
	}
	return ack.Message, nil
}

// startDemo starts the simulator with the demo consumers and a leaky
// gateway with a little client traffic, so CLOSE_WAIT grows and the
// watchdog restarts the fixture in-process about once a minute.
func (d *dashboard) startDemo(ctx context.Context) (*config.Config, error) {
	demo, err := ibsim.StartDemo(demoDir(), ibsim.Options{Logger: d.logger.With("component", "ibsim")})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, demo.Close)

	gw, err := leaky.Listen(leaky.Options{Answer: true})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, gw.Close)
	d.goRun(func() { leakSlowly(ctx, gw.Addr(), d.logger) })

	port := gw.Port()
	opts := gatewayOptions(config.Gateway{
		Ports:              []int{port},
		CloseWaitThreshold: demoThreshold,
		ConsecutiveScans:   2,
		Interval:           config.Duration{Duration: demoScanInterval},
		Cooldown:           config.Duration{Duration: demoCooldown},
		MaxRestartsPerHour: 60,
		RestartCommand:     []string{"restart-leaky-gateway", strconv.Itoa(port)},
		RestartTimeout:     config.Duration{Duration: 10 * time.Second},
		Probe:              true,
		ProbeTimeout:       config.Duration{Duration: 2 * time.Second},
	})
	opts.Runner = gateway.FuncRunner(func(context.Context, []string) ([]byte, error) {
		return []byte("leaky gateway restarted in-process\n"), gw.Restart()
	})
	d.startWatchdog(ctx, opts)
	return demo.Config, nil
}

// leakSlowly opens and closes one connection to addr every
// demoLeakInterval, each of which the fixture keeps in CLOSE_WAIT.
func leakSlowly(ctx context.Context, addr string, logger *slog.Logger) {
	ticker := time.NewTicker(demoLeakInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := leaky.Leak(ctx, addr, 1); err != nil && ctx.Err() == nil {
				logger.Debug("demo traffic", "err", err)
			}
		}
	}
}
