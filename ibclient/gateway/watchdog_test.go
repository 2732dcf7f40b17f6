package gateway

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	armed   chan struct{} // receives when After is called
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), armed: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	c.armed <- struct{}{}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// scriptedScanner returns one port whose CLOSE_WAIT count is set by the
// test, and optionally a probe result.
type scriptedScanner struct {
	mu        sync.Mutex
	port      int
	closeWait int
	probe     *ProbeResult
	err       error
	scans     int
}

func (s *scriptedScanner) set(closeWait int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeWait = closeWait
}

func (s *scriptedScanner) Scan(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans++
	if s.err != nil {
		return Snapshot{Error: s.err.Error()}, s.err
	}
	stats := PortStats{Port: s.port, Listening: true, Counts: Counts{CloseWait: s.closeWait}}
	if s.probe != nil {
		p := *s.probe
		stats.Probe = &p
	}
	return Snapshot{Source: "netlink", Ports: []PortStats{stats}}, nil
}

// countingRunner records every command it is asked to run and returns
// the configured error.
type countingRunner struct {
	mu    sync.Mutex
	calls [][]string
	err   error
}

func (r *countingRunner) Run(ctx context.Context, argv []string) RunResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, argv)
	if r.err != nil {
		return RunResult{ExitStatus: 3, Output: []byte("restart failed\n"), Err: r.err}
	}
	return RunResult{Output: []byte("restarted\n")}
}

func (r *countingRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

type watchdogRig struct {
	clock   *fakeClock
	scanner *scriptedScanner
	runner  *countingRunner
	dog     *Watchdog
}

func newRig(t *testing.T, opts Options) *watchdogRig {
	t.Helper()
	rig := &watchdogRig{
		clock:   newFakeClock(),
		scanner: &scriptedScanner{port: 4001},
		runner:  &countingRunner{},
	}
	opts.Ports = []int{4001}
	opts.Clock = rig.clock
	opts.Scanner = rig.scanner
	if opts.Runner == nil {
		opts.Runner = rig.runner
	}
	if opts.RestartCommand == nil {
		opts.RestartCommand = []string{"systemctl", "restart", "ib-gateway"}
	}
	dog, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rig.dog = dog
	return rig
}

// steps runs n scans, advancing the clock by interval after each, and
// returns the restart records they produced.
func (rig *watchdogRig) steps(n int, interval time.Duration) []Restart {
	var restarts []Restart
	for range n {
		if _, r := rig.dog.Step(context.Background()); r != nil {
			restarts = append(restarts, *r)
		}
		rig.clock.Advance(interval)
	}
	return restarts
}

func TestWatchdogNeedsConsecutiveScans(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 3, Cooldown: time.Minute, MaxRestartsPerHour: 10})

	// Over, over, under, over, over: never three in a row.
	for _, cw := range []int{25, 30, 5, 21, 20} {
		rig.scanner.set(cw)
		rig.steps(1, 5*time.Second)
	}
	if n := rig.runner.count(); n != 0 {
		t.Fatalf("restarts after an interrupted run of bad scans = %d, want 0", n)
	}

	rig.scanner.set(40)
	restarts := rig.steps(1, 5*time.Second)
	if len(restarts) != 1 {
		t.Fatalf("restarts after the third bad scan in a row = %d, want 1", len(restarts))
	}
	r := restarts[0]
	if r.Ports[0].CloseWait != 40 {
		t.Errorf("recorded CLOSE_WAIT = %d, want 40", r.Ports[0].CloseWait)
	}
	if !strings.Contains(r.Reason, "port 4001: CLOSE_WAIT 40 >= 20 for 3 scans") {
		t.Errorf("reason = %q, want the port, count, threshold and scans", r.Reason)
	}
	if r.ExitStatus != 0 || r.Error != "" {
		t.Errorf("exit status %d, error %q, want 0 and none", r.ExitStatus, r.Error)
	}
	if r.Output != "restarted\n" {
		t.Errorf("output = %q, want the runner's output", r.Output)
	}
	if got := strings.Join(r.Command, " "); got != "systemctl restart ib-gateway" {
		t.Errorf("command = %q", got)
	}
}

func TestWatchdogRestartsOncePerCooldown(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, Cooldown: 5 * time.Minute, MaxRestartsPerHour: 100})
	rig.scanner.set(50)

	// 20 minutes of scans every 5 s, CLOSE_WAIT never clearing. The
	// runner takes no fake time, so restarts start at 0, 5, 10 and 15 min.
	restarts := rig.steps(20*60/5, 5*time.Second)

	if len(restarts) != 4 {
		t.Fatalf("restarts in 20 minutes with a 5 minute cooldown = %d, want 4", len(restarts))
	}
	for i := 1; i < len(restarts); i++ {
		if gap := restarts[i].Time.Sub(restarts[i-1].Finished); gap < 5*time.Minute {
			t.Errorf("restart %d started %s after the previous one ended, want at least 5m", i, gap)
		}
	}
	if rig.runner.count() != 4 {
		t.Errorf("runner calls = %d, want 4", rig.runner.count())
	}
}

func TestWatchdogReportsCooldownHoldBack(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, Cooldown: 5 * time.Minute, MaxRestartsPerHour: 100})
	rig.scanner.set(50)
	rig.steps(1, 5*time.Second)

	snap, r := rig.dog.Step(context.Background())
	if r != nil {
		t.Fatal("a restart ran inside the cooldown")
	}
	if !strings.Contains(snap.HeldBack, "cooldown") {
		t.Errorf("HeldBack = %q, want the cooldown named", snap.HeldBack)
	}
	want := newFakeClock().now.Add(5 * time.Minute)
	if !snap.NextRestartAllowed.Equal(want) {
		t.Errorf("NextRestartAllowed = %s, want %s", snap.NextRestartAllowed, want)
	}
}

func TestWatchdogHourlyCapHolds(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, Cooldown: time.Minute, MaxRestartsPerHour: 3})
	rig.scanner.set(50)

	// Scans every 10 s for two hours less one scan. The cooldown alone
	// would allow a restart every minute, but the cap allows 3 in any
	// hour. So they run at 0, 1 and 2 minutes and at 60, 61 and 62.
	restarts := rig.steps(2*60*6-1, 10*time.Second)

	for i, r := range restarts {
		inHour := 0
		for _, other := range restarts[:i+1] {
			if r.Time.Sub(other.Time) < time.Hour {
				inHour++
			}
		}
		if inHour > 3 {
			t.Errorf("restart %d at %s is number %d within an hour, cap is 3", i, r.Time.Format(time.TimeOnly), inHour)
		}
	}
	if len(restarts) != 6 {
		t.Errorf("restarts in two hours with a cap of 3 an hour = %d, want 6", len(restarts))
	}

	snap, _ := rig.dog.Step(context.Background())
	if !strings.Contains(snap.HeldBack, "hourly cap of 3") {
		t.Errorf("HeldBack = %q, want the hourly cap named", snap.HeldBack)
	}
}

func TestWatchdogHistoryPersists(t *testing.T) {
	path := tempStateFile(t)
	opts := Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, Cooldown: 10 * time.Minute, MaxRestartsPerHour: 2, StateFile: path}

	first := newRig(t, opts)
	first.scanner.set(50)
	first.steps(1, time.Second)
	first.clock.Advance(10 * time.Minute)
	first.steps(1, time.Second)
	if first.runner.count() != 2 {
		t.Fatalf("first watchdog ran %d restarts, want 2", first.runner.count())
	}

	// A new watchdog, as after a restart of ibdash, 20 minutes after the
	// first restart: the cooldown is over but the cap of 2 an hour holds.
	second := newRig(t, opts)
	second.clock.Advance(20*time.Minute + 2*time.Second)
	second.scanner.set(50)
	if got := len(second.dog.Restarts()); got != 2 {
		t.Fatalf("the new watchdog loaded %d restarts, want 2", got)
	}
	snap, r := second.dog.Step(context.Background())
	if r != nil {
		t.Fatal("the new watchdog restarted although the hourly cap was reached before it started")
	}
	if !strings.Contains(snap.HeldBack, "hourly cap") {
		t.Errorf("HeldBack = %q, want the hourly cap named", snap.HeldBack)
	}

	// An hour after the first restart the cap lets one through, and
	// the file then holds all three.
	second.clock.Advance(40 * time.Minute)
	if _, r := second.dog.Step(context.Background()); r == nil {
		t.Fatal("no restart an hour after the first one")
	}
	stored, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 3 {
		t.Errorf("state file holds %d restarts, want 3", len(stored))
	}
}

func TestWatchdogSavesRestartBeforeCommand(t *testing.T) {
	path := tempStateFile(t)
	started := make(chan struct{})
	release := make(chan struct{})
	blocking := FuncRunner(func(ctx context.Context, argv []string) ([]byte, error) {
		close(started)
		<-release
		return []byte("restarted\n"), nil
	})
	opts := Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, Cooldown: 10 * time.Minute, MaxRestartsPerHour: 5, StateFile: path}
	firstOpts := opts
	firstOpts.Runner = blocking
	first := newRig(t, firstOpts)
	first.scanner.set(50)
	done := make(chan *Restart, 1)
	go func() {
		_, r := first.dog.Step(context.Background())
		done <- r
	}()
	<-started

	// ibdash could be killed now, by the restart command itself.
	stored, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("state file holds %d records while the command runs, want 1", len(stored))
	}
	if !stored[0].Finished.IsZero() {
		t.Errorf("Finished = %s while the command runs, want zero", stored[0].Finished)
	}
	if stored[0].Error != interruptedError {
		t.Errorf("loaded Error = %q, want %q", stored[0].Error, interruptedError)
	}

	// A watchdog started from that file, as after a crash, counts the
	// unfinished restart in the cooldown.
	second := newRig(t, opts)
	second.clock.Advance(time.Minute)
	second.scanner.set(50)
	snap, r := second.dog.Step(context.Background())
	if r != nil {
		t.Fatal("the new watchdog restarted inside the cooldown of an unfinished restart")
	}
	if !strings.Contains(snap.HeldBack, "cooldown") {
		t.Errorf("HeldBack = %q, want the cooldown named", snap.HeldBack)
	}
	if want := newFakeClock().now.Add(10 * time.Minute); !snap.NextRestartAllowed.Equal(want) {
		t.Errorf("NextRestartAllowed = %s, want %s (the cooldown from the start)", snap.NextRestartAllowed, want)
	}
	if second.runner.count() != 0 {
		t.Errorf("the new watchdog ran the command %d times, want 0", second.runner.count())
	}

	close(release)
	finished := <-done
	if finished == nil {
		t.Fatal("no restart record from the first watchdog")
	}
	stored, err = loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("state file holds %d records after the command, want 1 (the saved one completed)", len(stored))
	}
	if stored[0].Finished.IsZero() || stored[0].Error != "" {
		t.Errorf("record after the command: Finished %s, Error %q; want a finish time and no error", stored[0].Finished, stored[0].Error)
	}
	if stored[0].Output != "restarted\n" {
		t.Errorf("output = %q, want the command's output", stored[0].Output)
	}
}

func TestWatchdogDryRunRecordsOnly(t *testing.T) {
	path := tempStateFile(t)
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 2, Cooldown: time.Minute, MaxRestartsPerHour: 5, DryRun: true, StateFile: path})
	rig.scanner.set(99)
	restarts := rig.steps(2, 5*time.Second)

	if rig.runner.count() != 0 {
		t.Errorf("runner called %d times in dry-run mode", rig.runner.count())
	}
	if len(restarts) != 1 || !restarts[0].DryRun {
		t.Fatalf("restarts = %+v, want one dry-run record", restarts)
	}
	if restarts[0].ExitStatus != -1 {
		t.Errorf("dry-run exit status = %d, want -1", restarts[0].ExitStatus)
	}
	stored, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || !stored[0].DryRun {
		t.Errorf("state file = %+v, want one dry-run record", stored)
	}
}

func TestWatchdogProbeFailuresRestart(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 2, Cooldown: time.Minute, MaxRestartsPerHour: 5})
	rig.scanner.probe = &ProbeResult{Error: "probe 127.0.0.1:4001: no version reply within 5s"}

	snap, r := rig.dog.Step(context.Background())
	if r != nil {
		t.Fatal("restart after one failed probe, want two")
	}
	if snap.Ports[0].ProbeStrikes != 1 {
		t.Errorf("ProbeStrikes = %d, want 1", snap.Ports[0].ProbeStrikes)
	}
	_, r = rig.dog.Step(context.Background())
	if r == nil {
		t.Fatal("no restart after two failed probes")
	}
	if !strings.Contains(r.Reason, "probe failed 2 times") {
		t.Errorf("reason = %q, want the probe named", r.Reason)
	}
	if r.Ports[0].ProbeError == "" {
		t.Error("restart record has no probe error")
	}
}

func TestWatchdogRecordsFailedRestart(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, MaxRestartsPerHour: 5})
	rig.runner.err = errors.New("unit ib-gateway not found")
	rig.scanner.set(30)
	_, r := rig.dog.Step(context.Background())
	if r == nil {
		t.Fatal("no restart record")
	}
	if r.ExitStatus != 3 {
		t.Errorf("exit status = %d, want 3", r.ExitStatus)
	}
	if !strings.Contains(r.Error, "unit ib-gateway not found") {
		t.Errorf("error = %q", r.Error)
	}
	if !r.Failed() || !rig.dog.RestartFailed() {
		t.Error("the failed restart is not reported as failed")
	}
}

func TestWatchdogWithoutCommandOnlyReports(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 20, ConsecutiveScans: 1, RestartCommand: []string{}})
	rig.scanner.set(30)
	snap, r := rig.dog.Step(context.Background())
	if r != nil {
		t.Fatal("a restart ran with no command configured")
	}
	if !strings.Contains(snap.HeldBack, "no restart command") {
		t.Errorf("HeldBack = %q", snap.HeldBack)
	}
}

func TestWatchdogHistoryRing(t *testing.T) {
	rig := newRig(t, Options{CloseWaitThreshold: 1000, HistoryLen: 4})
	var snap Snapshot
	for i := 1; i <= 6; i++ {
		rig.scanner.set(i)
		snap, _ = rig.dog.Step(context.Background())
	}
	got := snap.Ports[0].CloseWaitHistory
	want := []int{3, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("history = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history = %v, want %v", got, want)
		}
	}
}

func TestWatchdogReportsScanError(t *testing.T) {
	rig := newRig(t, Options{})
	rig.scanner.err = errors.New("gateway: read socket table: permission denied")
	snap, _ := rig.dog.Step(context.Background())
	if snap.Error == "" {
		t.Error("snapshot of a failed scan has no error")
	}
}

func TestWatchdogRunScansOnInterval(t *testing.T) {
	rig := newRig(t, Options{Interval: 5 * time.Second})
	snaps := make(chan Snapshot, 10)
	rig.dog.opts.OnSnapshot = func(s Snapshot) { snaps <- s }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rig.dog.Run(ctx) }()

	for i := range 3 {
		snap := <-snaps
		want := newFakeClock().now.Add(time.Duration(i) * 5 * time.Second)
		if !snap.Time.Equal(want) {
			t.Errorf("scan %d at %s, want %s", i, snap.Time, want)
		}
		<-rig.clock.armed
		rig.clock.Advance(5 * time.Second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

func TestNewWatchdogRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no port", Options{}, "no port"},
		{"negative threshold", Options{Ports: []int{4001}, CloseWaitThreshold: -1}, "threshold -1"},
		{"negative cooldown", Options{Ports: []int{4001}, Cooldown: -time.Second}, "cooldown -1s"},
		{"empty program", Options{Ports: []int{4001}, RestartCommand: []string{""}}, "program name is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestNewWatchdogRejectsCorruptState(t *testing.T) {
	path := tempStateFile(t)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{Ports: []int{4001}, StateFile: path})
	if err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("error = %v, want one that says to move the file aside", err)
	}
}

// TestWatchdogRestartsLeakyFixture runs the real scanner against a
// fixture and restarts it in-process, which must clear CLOSE_WAIT.
func TestWatchdogRestartsLeakyFixture(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	var restarted []Restart
	dog, err := New(Options{
		Ports:              []int{g.Port()},
		CloseWaitThreshold: 10,
		ConsecutiveScans:   2,
		Cooldown:           time.Hour,
		RestartCommand:     []string{"restart-fixture"},
		Runner: FuncRunner(func(ctx context.Context, argv []string) ([]byte, error) {
			return []byte("fixture restarted"), g.Restart()
		}),
		OnRestart: func(r Restart) { restarted = append(restarted, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dog.Close() })

	leak(t, g.Addr(), 12)
	waitForCloseWait(t, dog.scanner, g.Port(), 12)
	dog.Step(context.Background())
	_, r := dog.Step(context.Background())
	if r == nil {
		t.Fatal("no restart after two scans over the threshold")
	}
	if len(restarted) != 1 {
		t.Errorf("OnRestart called %d times, want 1", len(restarted))
	}
	if r.Ports[0].CloseWait != 12 {
		t.Errorf("recorded CLOSE_WAIT = %d, want 12", r.Ports[0].CloseWait)
	}

	// The fixture closed its sockets; the kernel moves them out of
	// CLOSE_WAIT, and the port listens again.
	deadline := time.Now().Add(kernelDeadline)
	for {
		snap, _ := dog.Step(context.Background())
		if snap.Ports[0].CloseWait == 0 && snap.Ports[0].Listening {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: CLOSE_WAIT %d, listening %v; want 0 and true", snap.Ports[0].CloseWait, snap.Ports[0].Listening)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
