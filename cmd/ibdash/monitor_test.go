package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient/gateway"
	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

// syncBuffer is a bytes.Buffer that a running command and the test may
// use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leakyFixture starts a fixture holding closeWait CLOSE_WAIT sockets and
// waits until the kernel shows them all.
func leakyFixture(t *testing.T, closeWait int) *leaky.Gateway {
	t.Helper()
	g, err := leaky.Listen(leaky.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if err := leaky.Leak(context.Background(), g.Addr(), closeWait); err != nil {
		t.Fatal(err)
	}

	s, err := gateway.NewScanner(gateway.ScanOptions{Ports: []int{g.Port()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Ports[0].CloseWait >= closeWait {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("CLOSE_WAIT = %d after 20s, want %d", snap.Ports[0].CloseWait, closeWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// emptyConfig writes a config file with no consumers and no [gateway]
// ports, so that tests do not read the user's own config.
func emptyConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMonitorOnceJSON(t *testing.T) {
	g := leakyFixture(t, 3)
	cfg := emptyConfig(t, "")
	code, stdout, stderr := runCommand(t, "--config", cfg, "monitor", "--once", "--json", "--port", strconv.Itoa(g.Port()), "--threshold", "5")
	if code != exitOK {
		t.Fatalf("exit %d, want 0: %s", code, stderr)
	}
	var out struct {
		gateway.Snapshot
		Threshold int  `json:"close_wait_threshold"`
		Healthy   bool `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if len(out.Ports) != 1 || out.Ports[0].CloseWait != 3 || !out.Ports[0].Listening {
		t.Errorf("ports = %+v, want one listening port with CLOSE_WAIT 3", out.Ports)
	}
	if !out.Healthy || out.Threshold != 5 {
		t.Errorf("healthy = %v, threshold = %d; want true and 5", out.Healthy, out.Threshold)
	}
}

func TestMonitorOnceOverThreshold(t *testing.T) {
	g := leakyFixture(t, 6)
	cfg := emptyConfig(t, "")
	code, stdout, _ := runCommand(t, "--config", cfg, "monitor", "--once", "--port", strconv.Itoa(g.Port()), "--threshold", "6")
	if code != exitFailure {
		t.Errorf("exit %d, want 1 for CLOSE_WAIT at the threshold", code)
	}
	for _, want := range []string{"port " + strconv.Itoa(g.Port()), "listening", "CLOSE_WAIT 6", "OVER threshold 6"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestMonitorOnceProbeFailure(t *testing.T) {
	g := leakyFixture(t, 0)
	cfg := emptyConfig(t, "")
	code, stdout, _ := runCommand(t, "--config", cfg, "monitor", "--once", "--probe", "--probe-timeout", "200ms", "--port", strconv.Itoa(g.Port()))
	if code != exitFailure {
		t.Errorf("exit %d, want 1 for a failed probe", code)
	}
	if !strings.Contains(stdout, "probe FAILED") {
		t.Errorf("output lacks the probe failure:\n%s", stdout)
	}

	g.SetAnswer(true)
	code, stdout, _ = runCommand(t, "--config", cfg, "monitor", "--once", "--probe", "--port", strconv.Itoa(g.Port()))
	if code != exitOK {
		t.Errorf("exit %d, want 0 for a passing probe:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "probe ok: server version 176") {
		t.Errorf("output lacks the probe result:\n%s", stdout)
	}
}

func TestMonitorFlagsOverrideConfig(t *testing.T) {
	g := leakyFixture(t, 4)
	cfg := emptyConfig(t, "[gateway]\nports = ["+strconv.Itoa(g.Port())+"]\nclose_wait_threshold = 100\n")

	code, stdout, stderr := runCommand(t, "--config", cfg, "monitor", "--once")
	if code != exitOK {
		t.Fatalf("with the config's threshold of 100: exit %d, want 0: %s%s", code, stdout, stderr)
	}
	code, _, _ = runCommand(t, "--config", cfg, "monitor", "--once", "--threshold", "4")
	if code != exitFailure {
		t.Errorf("with --threshold 4 over the config's 100: exit %d, want 1", code)
	}
}

func TestMonitorWithoutConfigFile(t *testing.T) {
	if os.Getenv(config.EnvPath) != "" {
		t.Skipf("%s is set, so the default config path is not used", config.EnvPath)
	}
	if _, err := os.Stat(config.DefaultPath("")); err == nil {
		t.Skipf("%s exists on this machine; the case without a config file cannot run", config.DefaultPath(""))
	}
	g := leakyFixture(t, 0)
	code, _, stderr := runCommand(t, "monitor", "--once", "--port", strconv.Itoa(g.Port()))
	if code != exitOK {
		t.Errorf("exit %d, want 0 from flags alone: %s", code, stderr)
	}
}

func TestMonitorUsageErrors(t *testing.T) {
	cfg := emptyConfig(t, "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no port", []string{"--once"}, "no port to watch"},
		{"bad port", []string{"--port", "99999"}, "not a TCP port"},
		{"zero threshold", []string{"--port", "4001", "--threshold", "0"}, "--threshold 0 must be at least 1"},
		{"unterminated quote", []string{"--port", "4001", "--restart-command", "systemctl 'restart"}, "unterminated single quote"},
		{"pipe", []string{"--port", "4001", "--restart-command", "systemctl restart gw | tee log"}, "needs a shell"},
		{"json without once", []string{"--port", "4001", "--json"}, "--json needs --once"},
		{"bad source", []string{"--port", "4001", "--source", "lsof"}, "not auto, netlink or proc"},
		{"zero interval", []string{"--port", "4001", "--interval", "0s"}, "--interval 0s must be positive"},
		{"unexpected argument", []string{"--port", "4001", "extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--config", cfg, "monitor"}, c.args...)
			code, _, stderr := runCommand(t, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
		})
	}
}

func TestMonitorMissingExplicitConfig(t *testing.T) {
	code, _, stderr := runCommand(t, "--config", filepath.Join(t.TempDir(), "none.toml"), "monitor", "--once", "--port", "4001")
	if code != exitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr, "does not exist") {
		t.Errorf("stderr lacks the missing file:\n%s", stderr)
	}
}

// runMonitorUntil runs the watchdog in the background until the state
// file holds a restart record, then stops it as a signal would.
func runMonitorUntil(t *testing.T, args ...string) (code int, stderr string, restarts []gateway.Restart) {
	t.Helper()
	stateFile := filepath.Join(t.TempDir(), "restarts.json")
	args = append(args, "--state-file", stateFile)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &errOut)
	}()

	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(stateFile)
		if err == nil {
			var state struct{ Restarts []gateway.Restart }
			if err := json.Unmarshal(data, &state); err != nil {
				t.Fatalf("state file is not JSON: %v", err)
			}
			restarts = state.Restarts
			break
		}
		select {
		case code := <-done:
			t.Fatalf("monitor exited with %d before any restart: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no restart after 20s: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	return <-done, errOut.String(), restarts
}

func TestMonitorFailedRestartExitsOne(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "8:12345")
	g := leakyFixture(t, 2)
	cfg := emptyConfig(t, "")
	code, stderr, restarts := runMonitorUntil(t, "--config", cfg, "monitor",
		"--port", strconv.Itoa(g.Port()), "--threshold", "2", "--consecutive", "1", "--interval", "100ms",
		"--restart-command", `sh -c "echo 'gateway unit not found' >&2; exit 1"`)

	if code != exitFailure {
		t.Errorf("exit %d, want 1 after a failed restart command", code)
	}
	if len(restarts) != 1 {
		t.Fatalf("restarts = %d, want 1", len(restarts))
	}
	r := restarts[0]
	if r.ExitStatus != 1 || !strings.Contains(r.Output, "gateway unit not found") {
		t.Errorf("record = exit %d output %q, want exit 1 and the stderr", r.ExitStatus, r.Output)
	}
	if got := strings.Join(r.Command, "|"); got != "sh|-c|echo 'gateway unit not found' >&2; exit 1" {
		t.Errorf("argv = %q, want the quoted script as one argument", got)
	}
	for _, want := range []string{"msg=\"restart command failed\"", "exit_status=1", "msg=\"watchdog started\""} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "time=") {
		t.Errorf("log has timestamps although JOURNAL_STREAM is set:\n%s", stderr)
	}
}

func TestMonitorDryRun(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	g := leakyFixture(t, 3)
	cfg := emptyConfig(t, "")
	marker := filepath.Join(t.TempDir(), "ran")
	code, stderr, restarts := runMonitorUntil(t, "--config", cfg, "monitor", "--dry-run",
		"--port", strconv.Itoa(g.Port()), "--threshold", "3", "--consecutive", "2", "--interval", "100ms",
		"--restart-command", "touch "+marker)

	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	if len(restarts) != 1 || !restarts[0].DryRun {
		t.Fatalf("restarts = %+v, want one dry-run record", restarts)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the restart command ran in dry-run mode")
	}
	if !strings.Contains(stderr, "dry run") || !strings.Contains(stderr, "time=") {
		t.Errorf("log lacks the dry-run line or its timestamp:\n%s", stderr)
	}
}

func TestSplitCommand(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"systemctl restart ib-gateway", []string{"systemctl", "restart", "ib-gateway"}},
		{"  docker   restart\tib-gateway  ", []string{"docker", "restart", "ib-gateway"}},
		{`/opt/ibc/restart.sh 'paper account' "live \"A\""`, []string{"/opt/ibc/restart.sh", "paper account", `live "A"`}},
		{`sh -c 'echo $HOME | wc -c'`, []string{"sh", "-c", "echo $HOME | wc -c"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`x''y ""`, []string{"xy", ""}},
		{`"a\nb"`, []string{`a\nb`}},
	}
	for _, c := range cases {
		got, err := splitCommand(c.in)
		if err != nil {
			t.Errorf("splitCommand(%q): %v", c.in, err)
			continue
		}
		if strings.Join(got, "\x00") != strings.Join(c.want, "\x00") || len(got) != len(c.want) {
			t.Errorf("splitCommand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSplitCommandRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "empty",
		"   ":                   "empty",
		`restart "unterminated`: "unterminated double quote",
		`restart 'unterminated`: "unterminated single quote",
		`restart \`:             "lone backslash",
		"restart; reboot":       "needs a shell",
		"restart > /tmp/log":    "needs a shell",
		"restart $GATEWAY":      "needs a shell",
		"restart `hostname`":    "needs a shell",
		"restart && echo done":  "needs a shell",
	} {
		_, err := splitCommand(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("splitCommand(%q) error = %v, want one containing %q", in, err, want)
		}
	}
}
