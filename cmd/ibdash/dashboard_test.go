package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/adrg/xdg"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui"
)

func TestDashboardMissingConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	code, _, stderr := runCommand(t, "--config", path)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, path+" does not exist") || !strings.Contains(stderr, "--demo") {
		t.Errorf("stderr does not name the file and the demo: %q", stderr)
	}
}

func TestDashboardRejectsArguments(t *testing.T) {
	code, _, stderr := runCommand(t, "dashboard", "extra")
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestLSTStatusClassifies(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // a Wednesday
	active := lstStatus("KEY", nil, now)
	if active.State != ibclient.KeyActive || !active.CheckedAt.Equal(now) {
		t.Errorf("nil error gave %+v, want active checked now", active)
	}
	pending := lstStatus("KEY", &ibclient.APIError{StatusCode: 401, Message: "invalid consumer", Kind: ibclient.KindInvalidConsumer}, now)
	if pending.State != ibclient.KeyPending {
		t.Errorf("invalid consumer gave state %s, want pending", pending.State)
	}
	want := ibclient.NextWeekendMaintenance(now).End
	if !pending.ExpectedActivation.Equal(want) {
		t.Errorf("expected activation %s, want %s", pending.ExpectedActivation, want)
	}
	unreachable := lstStatus("KEY", &ibclient.NetworkError{Op: "POST", Err: errors.New("refused")}, now)
	if unreachable.State != ibclient.KeyUnreachable || !unreachable.ExpectedActivation.IsZero() {
		t.Errorf("network error gave %+v, want unreachable without activation", unreachable)
	}
}

// TestDemoWiringInProcess runs the demo's data sources against the real
// model in-process: the simulator, the key watcher, the session and the
// leaky gateway's watchdog must all reach the screen, and the actions
// must reach the simulator.
func TestDemoWiringInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs the simulator; skipped with -short")
	}
	t.Cleanup(xdg.Reload)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	xdg.Reload()

	var logBuf bytes.Buffer
	env := &environment{demo: true, logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	d := &dashboard{env: env, logger: env.logger, ready: make(chan struct{})}
	tm := teatest.NewTestModel(t, tui.New(d.options(nil)), teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	d.program = tm.GetProgram()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.start(ctx, nil)
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		text := ansi.Strip(string(out))
		return strings.Contains(text, "READY") && strings.Contains(text, "LISTENING") && strings.Contains(text, "PENDING")
	}, teatest.WithDuration(60*time.Second), teatest.WithCheckInterval(100*time.Millisecond))

	actx, acancel := context.WithTimeout(ctx, 20*time.Second)
	defer acancel()
	if err := d.recheck(actx, "DEMOWAITS"); err != nil {
		t.Errorf("recheck of the pending key: %v", err)
	}
	if err := d.recheck(actx, "DEMOTRADE"); err != nil {
		t.Errorf("recheck of the trading key: %v", err)
	}
	_, err := d.cancelOrder(actx, tui.Order{ID: "999999"})
	var apiErr *ibclient.APIError
	if !errors.As(err, &apiErr) {
		t.Errorf("cancel of an unknown order returned %v, want IB's error", err)
	}

	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*tui.Model)
	screen := ansi.Strip(final.View().Content)
	for _, want := range []string{"DEMOTRADE      ACTIVE", "DEMOWAITS      PENDING", "TESTCONS       ACTIVE", "account DU"} {
		if !strings.Contains(screen, want) {
			t.Errorf("final screen lacks %q:\n%s", want, screen)
		}
	}
	cancel()
	d.stop()
	for _, secret := range []string{"BEGIN RSA", "BEGIN PRIVATE", "access_token_secret="} {
		if strings.Contains(logBuf.String(), secret) {
			t.Errorf("debug log contains %q", secret)
		}
	}
}
