package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for Options fields left zero. Cooldown has none, because a
// zero cooldown is a valid setting.
const (
	DefaultCloseWaitThreshold = 20
	DefaultConsecutiveScans   = 3
	DefaultInterval           = 5 * time.Second
	DefaultMaxRestartsPerHour = 3
	DefaultRestartTimeout     = 2 * time.Minute
	DefaultHistoryLen         = 60
)

// Clock is the watchdog's time source; tests drive a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configures a Watchdog.
type Options struct {
	Ports []int
	// A restart is due when a port has CLOSE_WAIT at or over
	// CloseWaitThreshold, or fails the probe, in ConsecutiveScans scans
	// in a row.
	CloseWaitThreshold int
	ConsecutiveScans   int
	Interval           time.Duration
	// Cooldown is the least time from the end of one restart to the
	// start of the next.
	Cooldown           time.Duration
	MaxRestartsPerHour int
	// RestartCommand is the argv of the restart command, run without a
	// shell. Empty: the watchdog only reports that a restart is due.
	RestartCommand []string
	// RestartTimeout is how long the command may run before it is
	// killed; default 2m.
	RestartTimeout time.Duration
	// DryRun records restarts without running the command. Dry-run
	// records count toward the cooldown and the hourly cap, so a dry run
	// shows what a real run would do.
	DryRun bool
	// StateFile keeps the restart history across restarts of ibdash;
	// empty keeps it in memory only.
	StateFile string
	// HistoryLen is how many CLOSE_WAIT counts per port are kept for
	// the sparkline; default 60.
	HistoryLen int

	// Scan configures the SocketScanner built when Scanner is nil; its
	// Ports default to Ports.
	Scan    ScanOptions
	Scanner Scanner
	// Runner runs the restart command; default ExecRunner.
	Runner Runner
	// Clock defaults to SystemClock.
	Clock Clock
	// Logger receives one record per event (threshold crossed, probe
	// failed, restart run or held back, scan failed); default none.
	Logger *slog.Logger

	// OnSnapshot and OnRestart, when set, are called on the goroutine of
	// Run (or Step) after every scan and every restart record. They must
	// return quickly, because the next scan waits for them; a Bubble Tea
	// program can pass a function that calls p.Send.
	OnSnapshot func(Snapshot)
	OnRestart  func(Restart)
}

// Watchdog scans the gateway ports on an interval and restarts the
// gateway when its sockets stay unhealthy. Run (or Step) must not be
// called from two goroutines at once; Restarts may be called anytime.
type Watchdog struct {
	opts       Options
	scanner    Scanner
	ownScanner *SocketScanner

	mu       sync.Mutex
	restarts []Restart
	failed   bool

	ports      map[int]*portWatch
	heldBack   string
	scanErr    string
	scanErrs   int
	lastSource string
}

// portWatch is the per-port state that lives across scans.
type portWatch struct {
	history      []int // ring of CLOSE_WAIT counts
	next         int   // next write position in history
	filled       bool
	cwStrikes    int
	probeStrikes int
	seen         bool
	listening    bool
	probeFailing bool
}

func (p *portWatch) push(v int) {
	p.history[p.next] = v
	p.next = (p.next + 1) % len(p.history)
	if p.next == 0 {
		p.filled = true
	}
}

func (p *portWatch) values() []int {
	if !p.filled {
		return slices.Clone(p.history[:p.next])
	}
	return append(slices.Clone(p.history[p.next:]), p.history[:p.next]...)
}

// New checks opts, loads the restart history from the state file and
// returns a watchdog.
func New(opts Options) (*Watchdog, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	w := &Watchdog{opts: opts, scanner: opts.Scanner, ports: make(map[int]*portWatch)}
	for _, p := range opts.Ports {
		w.ports[p] = &portWatch{history: make([]int, opts.HistoryLen)}
	}

	if opts.StateFile != "" {
		restarts, err := loadState(opts.StateFile)
		if err != nil {
			return nil, err
		}
		w.restarts = restarts
		if n := len(restarts); n > 0 && restarts[n-1].Error == interruptedError {
			last := restarts[n-1]
			opts.Logger.Warn("the last restart command was still running when ibdash stopped; its result is unknown",
				"started", last.Time.Format(time.RFC3339), "command", strings.Join(last.Command, " "), "state_file", opts.StateFile)
		}
	}

	if w.scanner == nil {
		scan := opts.Scan
		if len(scan.Ports) == 0 {
			scan.Ports = opts.Ports
		}
		s, err := NewScanner(scan)
		if err != nil {
			return nil, err
		}
		w.scanner, w.ownScanner = s, s
	}
	return w, nil
}

func (o *Options) applyDefaults() error {
	if len(o.Ports) == 0 {
		return errors.New("gateway: no port to watch; configure at least one, such as 4001")
	}
	o.Ports = slices.Clone(o.Ports)
	o.RestartCommand = slices.Clone(o.RestartCommand)
	defaultInt(&o.CloseWaitThreshold, DefaultCloseWaitThreshold)
	defaultInt(&o.ConsecutiveScans, DefaultConsecutiveScans)
	defaultInt(&o.MaxRestartsPerHour, DefaultMaxRestartsPerHour)
	defaultInt(&o.HistoryLen, DefaultHistoryLen)
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.RestartTimeout == 0 {
		o.RestartTimeout = DefaultRestartTimeout
	}

	switch {
	case o.CloseWaitThreshold < 1:
		return fmt.Errorf("gateway: CLOSE_WAIT threshold %d must be at least 1", o.CloseWaitThreshold)
	case o.ConsecutiveScans < 1:
		return fmt.Errorf("gateway: consecutive scans %d must be at least 1", o.ConsecutiveScans)
	case o.MaxRestartsPerHour < 1:
		return fmt.Errorf("gateway: max restarts per hour %d must be at least 1", o.MaxRestartsPerHour)
	case o.HistoryLen < 1:
		return fmt.Errorf("gateway: history length %d must be at least 1", o.HistoryLen)
	case o.Interval < 0:
		return fmt.Errorf("gateway: interval %s is negative; use a positive duration such as 5s", o.Interval)
	case o.Cooldown < 0:
		return fmt.Errorf("gateway: cooldown %s is negative; use 0 or a positive duration such as 5m", o.Cooldown)
	case o.RestartTimeout < 0:
		return fmt.Errorf("gateway: restart timeout %s is negative; use a positive duration such as 2m", o.RestartTimeout)
	}
	if len(o.RestartCommand) > 0 && o.RestartCommand[0] == "" {
		return errors.New("gateway: the restart command's program name is empty")
	}

	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func defaultInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// Close releases the scanner that New built.
func (w *Watchdog) Close() error {
	if w.ownScanner != nil {
		return w.ownScanner.Close()
	}
	return nil
}

// Restarts returns a copy of the restart history, oldest first,
// including the records loaded from the state file. While a restart
// command runs, the newest record has a zero Finished.
func (w *Watchdog) Restarts() []Restart {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.restarts)
}

// RestartFailed reports whether a restart command run by this watchdog
// failed (records loaded from the state file do not count).
func (w *Watchdog) RestartFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// Run scans every Interval until ctx ends, then returns nil. Snapshots
// and restarts reach the caller through OnSnapshot and OnRestart.
func (w *Watchdog) Run(ctx context.Context) error {
	o := w.opts
	w.opts.Logger.Info("watchdog started",
		"ports", o.Ports, "close_wait_threshold", o.CloseWaitThreshold,
		"consecutive_scans", o.ConsecutiveScans, "interval", o.Interval,
		"cooldown", o.Cooldown, "max_restarts_per_hour", o.MaxRestartsPerHour,
		"restart_command", strings.Join(o.RestartCommand, " "), "dry_run", o.DryRun,
		"state_file", o.StateFile, "restarts_loaded", len(w.Restarts()))
	defer w.opts.Logger.Info("watchdog stopped")

	for {
		w.Step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-w.opts.Clock.After(o.Interval):
		}
	}
}

// Step runs one scan, updates the strikes and history, runs the restart
// command when one is due and allowed, and calls the callbacks. It
// returns the snapshot and the restart record, if there was one.
func (w *Watchdog) Step(ctx context.Context) (Snapshot, *Restart) {
	snap, err := w.scanner.Scan(ctx)
	snap.Time = w.opts.Clock.Now()
	if err != nil {
		w.logScanError(err)
		w.notifySnapshot(snap)
		return snap, nil
	}
	w.logScanRecovery(snap)

	var due []string
	for i := range snap.Ports {
		if reason := w.observe(&snap.Ports[i]); reason != "" {
			due = append(due, reason)
		}
	}

	var restart *Restart
	now := snap.Time
	next := w.nextAllowed(now)
	if next.After(now) {
		snap.NextRestartAllowed = next
	}
	if len(due) > 0 {
		reason := strings.Join(due, "; ")
		switch {
		case len(w.opts.RestartCommand) == 0:
			w.holdBack(&snap, "no restart command is configured", reason)
		case next.After(now):
			w.holdBack(&snap, w.holdReason(now), reason)
		default:
			w.heldBack = ""
			r := w.restart(ctx, snap, reason)
			restart = &r
			w.resetStrikes(&snap)
			snap.NextRestartAllowed = w.nextAllowed(w.opts.Clock.Now())
		}
	} else {
		w.heldBack = ""
	}

	w.notifySnapshot(snap)
	if restart != nil && w.opts.OnRestart != nil {
		w.opts.OnRestart(*restart)
	}
	return snap, restart
}

// observe adds one port's stats to its history and strikes, logs the
// changes a reader of the log needs, and returns the reason a restart
// is due for this port, or "".
func (w *Watchdog) observe(stats *PortStats) string {
	pw, ok := w.ports[stats.Port]
	if !ok {
		pw = &portWatch{history: make([]int, w.opts.HistoryLen)}
		w.ports[stats.Port] = pw
	}
	log := w.opts.Logger.With("port", stats.Port)
	threshold := w.opts.CloseWaitThreshold

	pw.push(stats.CloseWait)
	stats.CloseWaitHistory = pw.values()

	if stats.CloseWait >= threshold {
		if pw.cwStrikes == 0 {
			log.Warn("CLOSE_WAIT at or over threshold", "close_wait", stats.CloseWait, "threshold", threshold, "established", stats.Established)
		}
		pw.cwStrikes++
	} else {
		if pw.cwStrikes > 0 {
			log.Info("CLOSE_WAIT back under threshold", "close_wait", stats.CloseWait, "threshold", threshold)
		}
		pw.cwStrikes = 0
	}

	switch {
	case stats.Probe == nil:
		pw.probeStrikes = 0
	case !stats.Probe.OK:
		if !pw.probeFailing {
			log.Warn("probe failed", "error", stats.Probe.Error)
		}
		pw.probeFailing = true
		pw.probeStrikes++
	default:
		if pw.probeFailing {
			log.Info("probe passed again", "server_version", stats.Probe.ServerVersion, "latency", stats.Probe.Latency)
		}
		pw.probeFailing = false
		pw.probeStrikes = 0
	}

	if stats.Listening != pw.listening || !pw.seen {
		switch {
		case !stats.Listening:
			log.Warn("port is not listening")
		case pw.seen:
			log.Info("port is listening again")
		}
		pw.listening = stats.Listening
		pw.seen = true
	}

	stats.CloseWaitStrikes = pw.cwStrikes
	stats.ProbeStrikes = pw.probeStrikes

	n := w.opts.ConsecutiveScans
	switch {
	case pw.cwStrikes >= n:
		return fmt.Sprintf("port %d: CLOSE_WAIT %d >= %d for %d scans", stats.Port, stats.CloseWait, threshold, pw.cwStrikes)
	case pw.probeStrikes >= n:
		return fmt.Sprintf("port %d: probe failed %d times in a row: %s", stats.Port, pw.probeStrikes, stats.Probe.Error)
	}
	return ""
}

func (w *Watchdog) resetStrikes(snap *Snapshot) {
	for i := range snap.Ports {
		if pw, ok := w.ports[snap.Ports[i].Port]; ok {
			pw.cwStrikes, pw.probeStrikes = 0, 0
		}
		snap.Ports[i].CloseWaitStrikes, snap.Ports[i].ProbeStrikes = 0, 0
	}
}

// nextAllowed returns the earliest time at which both the cooldown and
// the hourly cap allow a restart, judged from the history as of now. A
// time not after now means a restart is allowed now.
func (w *Watchdog) nextAllowed(now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()

	var next time.Time
	if n := len(w.restarts); n > 0 {
		next = w.restarts[n-1].cooldownStart().Add(w.opts.Cooldown)
	}

	// The cap allows a restart once fewer than MaxRestartsPerHour
	// started in the hour before: when the one that is MaxRestartsPerHour
	// back from the newest leaves the window.
	var inWindow []time.Time
	for _, r := range w.restarts {
		if r.Time.After(now.Add(-time.Hour)) {
			inWindow = append(inWindow, r.Time)
		}
	}
	if limit := w.opts.MaxRestartsPerHour; len(inWindow) >= limit {
		slices.SortFunc(inWindow, time.Time.Compare)
		if capEnd := inWindow[len(inWindow)-limit].Add(time.Hour); capEnd.After(next) {
			next = capEnd
		}
	}
	return next
}

// holdReason names the limit that holds a due restart back at now.
func (w *Watchdog) holdReason(now time.Time) string {
	w.mu.Lock()
	n := len(w.restarts)
	var cooldownEnd time.Time
	if n > 0 {
		cooldownEnd = w.restarts[n-1].cooldownStart().Add(w.opts.Cooldown)
	}
	w.mu.Unlock()

	if cooldownEnd.After(now) {
		return fmt.Sprintf("cooldown of %s after the last restart", w.opts.Cooldown)
	}
	return fmt.Sprintf("hourly cap of %d restarts reached", w.opts.MaxRestartsPerHour)
}

// holdBack records why a due restart did not run, logging it once per
// change of reason.
func (w *Watchdog) holdBack(snap *Snapshot, reason, due string) {
	snap.HeldBack = reason
	if w.heldBack == reason {
		return
	}
	w.heldBack = reason
	attrs := []any{"held_back", reason, "due", due}
	if !snap.NextRestartAllowed.IsZero() {
		attrs = append(attrs, "next_restart_allowed", snap.NextRestartAllowed.Format(time.RFC3339))
	}
	w.opts.Logger.Warn("restart due but held back", attrs...)
}

// restart runs (or in dry-run mode records) the restart command, and
// appends the record to the history and the state file.
func (w *Watchdog) restart(ctx context.Context, snap Snapshot, reason string) Restart {
	o := w.opts
	rec := Restart{
		Time:       snap.Time,
		Reason:     reason,
		Command:    slices.Clone(o.RestartCommand),
		DryRun:     o.DryRun,
		ExitStatus: -1,
	}
	for _, p := range snap.Ports {
		pc := PortCounts{Port: p.Port, Listening: p.Listening, Counts: p.Counts}
		if p.Probe != nil && !p.Probe.OK {
			pc.ProbeError = p.Probe.Error
		}
		rec.Ports = append(rec.Ports, pc)
	}
	command := strings.Join(o.RestartCommand, " ")

	if o.DryRun {
		rec.Finished = rec.Time
		o.Logger.Warn("dry run: restart command not run", "reason", reason, "command", command)
	} else {
		// The record goes to the state file before the command starts.
		// A restart command may stop ibdash itself, such as a container
		// restart, and the next ibdash must still see this restart in the
		// cooldown and the hourly cap.
		w.saveHistory(w.appendRestart(rec))
		o.Logger.Warn("restarting gateway", "reason", reason, "command", command, "timeout", o.RestartTimeout)
		runCtx, cancel := context.WithTimeoutCause(ctx, o.RestartTimeout, fmt.Errorf("timed out after %s", o.RestartTimeout))
		result := o.Runner.Run(runCtx, o.RestartCommand)
		cancel()

		rec.Finished = o.Clock.Now()
		rec.ExitStatus = result.ExitStatus
		rec.Output = string(result.Output)
		rec.OutputTruncated = result.Truncated
		if result.Err != nil {
			rec.Error = result.Err.Error()
			o.Logger.Error("restart command failed", "command", command, "exit_status", rec.ExitStatus, "error", rec.Error, "output_tail", lastLine(rec.Output))
		} else {
			o.Logger.Info("restart command succeeded", "command", command, "duration", rec.Finished.Sub(rec.Time))
		}
	}

	var history []Restart
	if o.DryRun {
		history = w.appendRestart(rec)
	} else {
		history = w.finishRestart(rec)
	}
	w.saveHistory(history)
	return rec
}

// appendRestart adds rec to the history and returns a copy of it.
func (w *Watchdog) appendRestart(rec Restart) []Restart {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restarts = append(w.restarts, rec)
	if len(w.restarts) > maxStoredRestarts {
		w.restarts = slices.Clone(w.restarts[len(w.restarts)-maxStoredRestarts:])
	}
	return slices.Clone(w.restarts)
}

// finishRestart replaces the newest record, the one appended before the
// command ran, with rec and returns a copy of the history.
func (w *Watchdog) finishRestart(rec Restart) []Restart {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restarts[len(w.restarts)-1] = rec
	if rec.Failed() {
		w.failed = true
	}
	return slices.Clone(w.restarts)
}

// saveHistory writes history to the state file, if one is configured.
func (w *Watchdog) saveHistory(history []Restart) {
	if w.opts.StateFile == "" {
		return
	}
	if err := saveState(w.opts.StateFile, history); err != nil {
		w.opts.Logger.Error("could not save the restart history; the hourly cap will not hold across a restart of ibdash", "state_file", w.opts.StateFile, "error", err)
	}
}

// lastLine returns the last non-empty line of output, for a log record
// that must stay on one line.
func lastLine(output string) string {
	output = strings.TrimRight(output, "\n")
	if i := strings.LastIndexByte(output, '\n'); i >= 0 {
		return output[i+1:]
	}
	return output
}

func (w *Watchdog) notifySnapshot(snap Snapshot) {
	if w.opts.OnSnapshot != nil {
		w.opts.OnSnapshot(snap)
	}
}

// logScanError logs the first failure and every change of message, and
// counts the repeats.
func (w *Watchdog) logScanError(err error) {
	w.scanErrs++
	if msg := err.Error(); msg != w.scanErr {
		w.scanErr = msg
		w.opts.Logger.Error("scan failed", "error", msg, "failures", w.scanErrs)
	}
}

func (w *Watchdog) logScanRecovery(snap Snapshot) {
	if w.scanErrs > 0 {
		w.opts.Logger.Info("scan works again", "failures", w.scanErrs)
		w.scanErrs, w.scanErr = 0, ""
	}
	if snap.Source != w.lastSource {
		if snap.Fallback != "" {
			w.opts.Logger.Warn("reading /proc/net/tcp because netlink failed", "error", snap.Fallback)
		}
		w.lastSource = snap.Source
	}
}
