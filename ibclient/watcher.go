package ibclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Default check intervals of the key watcher.
const (
	DefaultPendingInterval = 15 * time.Minute
	DefaultActiveInterval  = time.Hour
	// defaultErrorBackoff is the first pause after an unreachable check;
	// it doubles up to the pending interval.
	defaultErrorBackoff = time.Minute
	// activationGrace is how long after the expected activation (the end
	// of IB's weekend maintenance) a pending key is tried again.
	activationGrace = 2 * time.Minute
)

// WatchedConsumer is one consumer key for the watcher. Load reads its key
// files each time it is checked, so a fixed file is picked up without a
// restart; a Load error makes the key KeyMisconfigured.
type WatchedConsumer struct {
	ConsumerKey string
	Load        func() (*Consumer, error)
}

// WatcherConfig configures a Watcher. Zero fields take the defaults.
type WatcherConfig struct {
	BaseURL *url.URL
	HTTP    *http.Client // default a client with ibclient's transport settings
	Agent   string

	// PendingInterval is the pause between checks of a key that is not
	// yet activated, or whose LST failed.
	PendingInterval time.Duration
	// ActiveInterval is the pause between checks of an active key.
	ActiveInterval time.Duration
	// ErrorBackoff is the first pause after an unreachable check.
	ErrorBackoff time.Duration
	// CheckTimeout bounds one LST request. Default 30 s.
	CheckTimeout time.Duration
	// Buffer is the capacity of the Statuses channel. Default 64.
	Buffer int

	Now    func() time.Time
	Logger *slog.Logger
}

// Watcher tries the LST handshake of every configured consumer key on a
// schedule and reports each finding as a KeyStatus.
type Watcher struct {
	cfg       WatcherConfig
	consumers map[string]WatchedConsumer
	order     []string

	mu       sync.Mutex
	statuses map[string]KeyStatus
	failures map[string]int // consecutive unreachable or failed checks
	wake     map[string]chan struct{}

	out     chan KeyStatus
	emitMu  sync.Mutex
	dropped int
}

// NewWatcher returns a watcher for consumers; Run starts it.
func NewWatcher(cfg WatcherConfig, consumers []WatchedConsumer) (*Watcher, error) {
	if cfg.BaseURL == nil {
		return nil, errors.New("ibclient: WatcherConfig.BaseURL is missing")
	}
	for _, d := range []*time.Duration{&cfg.PendingInterval, &cfg.ActiveInterval, &cfg.ErrorBackoff, &cfg.CheckTimeout} {
		if *d < 0 {
			return nil, fmt.Errorf("ibclient: watcher interval %s is negative", *d)
		}
	}
	cfg.PendingInterval = orDefault(cfg.PendingInterval, DefaultPendingInterval)
	cfg.ActiveInterval = orDefault(cfg.ActiveInterval, DefaultActiveInterval)
	cfg.ErrorBackoff = orDefault(cfg.ErrorBackoff, defaultErrorBackoff)
	cfg.CheckTimeout = orDefault(cfg.CheckTimeout, 30*time.Second)
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: newTransport(), CheckRedirect: stopAtRedirect}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 64
	}

	w := &Watcher{
		cfg:       cfg,
		consumers: map[string]WatchedConsumer{},
		statuses:  map[string]KeyStatus{},
		failures:  map[string]int{},
		wake:      map[string]chan struct{}{},
		out:       make(chan KeyStatus, cfg.Buffer),
	}
	for _, c := range consumers {
		if c.ConsumerKey == "" || c.Load == nil {
			return nil, errors.New("ibclient: every watched consumer needs ConsumerKey and Load")
		}
		if _, dup := w.consumers[c.ConsumerKey]; dup {
			return nil, fmt.Errorf("ibclient: consumer %s is listed twice", c.ConsumerKey)
		}
		w.consumers[c.ConsumerKey] = c
		w.order = append(w.order, c.ConsumerKey)
		w.statuses[c.ConsumerKey] = KeyStatus{ConsumerKey: c.ConsumerKey, State: KeyUnchecked}
		w.wake[c.ConsumerKey] = make(chan struct{}, 1)
	}
	return w, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Statuses returns the channel of findings. When the reader falls behind,
// the oldest findings are dropped; Status always has the latest.
func (w *Watcher) Statuses() <-chan KeyStatus { return w.out }

// Status returns the latest finding for key.
func (w *Watcher) Status(key string) (KeyStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.statuses[key]
	return s, ok
}

// Recheck requests an immediate check of key while Run is running.
func (w *Watcher) Recheck(key string) error {
	w.mu.Lock()
	wake, ok := w.wake[key]
	w.mu.Unlock()
	if !ok {
		return fmt.Errorf("ibclient: consumer %s is not watched; check consumer_key in the config", key)
	}
	select {
	case wake <- struct{}{}:
	default:
	}
	return nil
}

// Observe records the outcome of an LST request made elsewhere, such as
// the trading session's, as a check of key. Unknown keys are ignored.
func (w *Watcher) Observe(key string, err error) {
	if _, ok := w.consumers[key]; !ok {
		return
	}
	w.record(key, err)
}

// Run checks every key at once, then on its schedule, until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, key := range w.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watch(ctx, key)
		}()
	}
	wg.Wait()
	return nil
}

// watch is the loop of one key: check, wait until the next check time or
// a Recheck, repeat.
func (w *Watcher) watch(ctx context.Context, key string) {
	w.mu.Lock()
	wake := w.wake[key]
	w.mu.Unlock()
	for {
		status := w.Check(ctx, key)
		if ctx.Err() != nil {
			return
		}
		timer := time.NewTimer(max(status.NextCheck.Sub(w.cfg.Now()), 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Check tries the LST of key once, records and emits the finding, and
// returns it.
func (w *Watcher) Check(ctx context.Context, key string) KeyStatus {
	consumer, ok := w.consumers[key]
	if !ok {
		return KeyStatus{ConsumerKey: key, State: KeyMisconfigured,
			Err: fmt.Errorf("ibclient: consumer %s is not watched; check consumer_key in the config", key)}
	}
	return w.record(key, w.tryLST(ctx, consumer))
}

func (w *Watcher) tryLST(ctx context.Context, consumer WatchedConsumer) error {
	loaded, err := consumer.Load()
	if err != nil {
		return &loadError{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CheckTimeout)
	defer cancel()
	auth := &Authenticator{Consumer: loaded, BaseURL: w.cfg.BaseURL, HTTP: w.cfg.HTTP, Now: w.cfg.Now, Agent: w.cfg.Agent}
	_, err = auth.LiveSessionToken(ctx)
	return err
}

// loadError marks a failure to load the consumer's files or config.
type loadError struct{ err error }

func (e *loadError) Error() string { return e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// record classifies err, schedules the next check and emits the status.
func (w *Watcher) record(key string, err error) KeyStatus {
	now := w.cfg.Now()
	state := ClassifyKeyError(err)
	if le, ok := err.(*loadError); ok {
		err = le.err
	}

	w.mu.Lock()
	previous := w.statuses[key]
	failures := w.failures[key]
	if state == KeyUnreachable || state == KeyLSTFailed {
		failures++
	} else {
		failures = 0
	}
	w.failures[key] = failures

	status := KeyStatus{ConsumerKey: key, State: state, CheckedAt: now, Err: err}
	status.NextCheck = now.Add(w.nextInterval(state, failures))
	if state == KeyPending {
		status.ExpectedActivation = NextWeekendMaintenance(now).End
		if retry := status.ExpectedActivation.Add(activationGrace); retry.After(now) && retry.Before(status.NextCheck) {
			status.NextCheck = retry
		}
	}
	w.statuses[key] = status
	w.mu.Unlock()

	if previous.State != state {
		w.cfg.Logger.Info("ibclient: consumer key state changed", "consumer", key, "from", previous.State, "to", state, "err", err)
	}
	w.emit(status)
	return status
}

// nextInterval is the pause after a finding: hourly when active or
// misconfigured, PendingInterval while pending, and a doubling back-off
// after failures.
func (w *Watcher) nextInterval(state KeyState, failures int) time.Duration {
	switch state {
	case KeyActive, KeyMisconfigured:
		return w.cfg.ActiveInterval
	case KeyUnreachable:
		return backoff(w.cfg.ErrorBackoff, failures, w.cfg.PendingInterval)
	case KeyLSTFailed:
		return backoff(w.cfg.PendingInterval, failures, w.cfg.ActiveInterval)
	default:
		return w.cfg.PendingInterval
	}
}

// backoff returns base doubled for each failure after the first, capped.
func backoff(base time.Duration, failures int, cap time.Duration) time.Duration {
	d := base
	for i := 1; i < failures && d < cap; i++ {
		d *= 2
	}
	return min(d, max(cap, base))
}

func (w *Watcher) emit(status KeyStatus) {
	w.emitMu.Lock()
	defer w.emitMu.Unlock()
	for {
		select {
		case w.out <- status:
			return
		default:
		}
		select {
		case <-w.out:
			w.dropped++
		default:
		}
	}
}

// ClassifyKeyError maps the outcome of an LST request to a key state. nil
// is active and "invalid consumer" is pending. A local key or config
// problem (*CredentialError) is misconfigured. That includes invalid
// consumer for a key with lower-case letters, which LiveSessionToken
// returns as a *CredentialError. Network errors, 5xx, 429 and unreadable
// responses are unreachable, because they reveal nothing about the key.
// Every other rejection by IB is LST failed.
func ClassifyKeyError(err error) KeyState {
	if err == nil {
		return KeyActive
	}
	var le *loadError
	var credErr *CredentialError
	if errors.As(err, &le) || errors.As(err, &credErr) {
		return KeyMisconfigured
	}
	var netErr *NetworkError
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return KeyUnreachable
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Kind {
		case KindInvalidConsumer:
			return KeyPending
		case KindServer, KindMalformed, KindRateLimited:
			return KeyUnreachable
		}
		return KeyLSTFailed
	}
	var penalty *PenaltyError
	if errors.As(err, &penalty) {
		return KeyUnreachable
	}
	return KeyLSTFailed
}

// NextStep returns what the user should do about a key status, from the
// decoded error where there is one.
func (s KeyStatus) NextStep() string {
	var apiErr *APIError
	var credErr *CredentialError
	switch {
	case s.State == KeyActive:
		return ""
	case errors.As(s.Err, &credErr) && credErr.Fix != "":
		return "A local key file or config value cannot be used: " + credErr.Fix + ", then recheck the key."
	case errors.As(s.Err, &apiErr):
		return apiErr.Explanation()
	case s.State == KeyUnreachable:
		return "IB could not be reached: check the network and base_url; ibdash retries with back-off."
	case s.State == KeyMisconfigured:
		return "Fix the key file or config value named in the error, then recheck the key."
	}
	return ""
}
