package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// closedPort returns a loopback port that nothing listens on: one the
// kernel just handed out and that was closed again.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestMonitorOnceNotListening(t *testing.T) {
	port := strconv.Itoa(closedPort(t))
	cfg := emptyConfig(t, "")

	code, stdout, stderr := runCommand(t, "--config", cfg, "monitor", "--once", "--port", port)
	if code != exitFailure {
		t.Errorf("exit %d, want 1 for a port that is not listening: %s", code, stderr)
	}
	if !strings.Contains(stdout, "port "+port+"  NOT LISTENING") {
		t.Errorf("output does not mark the port as not listening:\n%s", stdout)
	}

	code, stdout, _ = runCommand(t, "--config", cfg, "monitor", "--once", "--json", "--port", port)
	if code != exitFailure {
		t.Errorf("--json: exit %d, want 1", code)
	}
	var out struct {
		Healthy *bool `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if out.Healthy == nil || *out.Healthy {
		t.Errorf("--json: healthy = %v, want false:\n%s", out.Healthy, stdout)
	}
}

// TestMonitorWarnsNotListening runs the watchdog on a port that nothing
// listens on: its log must carry the port as a warning.
func TestMonitorWarnsNotListening(t *testing.T) {
	port := strconv.Itoa(closedPort(t))
	args := []string{"--config", emptyConfig(t, ""), "monitor", "--port", port, "--interval", "100ms",
		"--state-file", filepath.Join(t.TempDir(), "restarts.json")}
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &stderr) }()

	deadline := time.Now().Add(20 * time.Second)
	var line string
	for line == "" {
		line = logLine(stderr.String(), "port is not listening")
		select {
		case code := <-done:
			t.Fatalf("monitor exited with %d before logging the port: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning for the port after 20s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done

	if !strings.Contains(line, "level=WARN") {
		t.Errorf("not-listening line is not a warning: %s", line)
	}
	if !strings.Contains(line, "port="+port) {
		t.Errorf("not-listening line does not name port %s: %s", port, line)
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
// file holds a finished restart record, then stops it as a signal would.
// Its stderr is a real file. With journal set, JOURNAL_STREAM names that
// file, as systemd sets it for a unit whose stderr is the journal.
func runMonitorUntil(t *testing.T, journal bool, args ...string) (code int, stderr string, restarts []gateway.Restart) {
	t.Helper()
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "restarts.json")
	args = append(args, "--state-file", stateFile)
	errFile := createStderrFile(t, filepath.Join(dir, "stderr"), journal)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, errFile)
	}()

	deadline := time.Now().Add(20 * time.Second)
	for {
		restarts = readRestarts(t, stateFile)
		if len(restarts) > 0 && !restarts[len(restarts)-1].Finished.IsZero() {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("monitor exited with %d before any restart: %s", code, readFile(t, errFile.Name()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished restart after 20s: %s", readFile(t, errFile.Name()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	code = <-done
	return code, readFile(t, errFile.Name()), restarts
}

// createStderrFile creates the file a monitor logs to. With journal set,
// JOURNAL_STREAM is set to its device and inode for the rest of the test.
func createStderrFile(t *testing.T, path string, journal bool) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if journal {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	}
	return f
}

// readRestarts returns the records in a state file, or none when the
// file does not exist yet.
func readRestarts(t *testing.T, path string) []gateway.Restart {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var state struct{ Restarts []gateway.Restart }
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatalf("state file is not JSON: %v", err)
	}
	return state.Restarts
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// logLine returns the first line of log that contains text.
func logLine(log, text string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, text) {
			return line
		}
	}
	return ""
}

func TestMonitorFailedRestartExitsOne(t *testing.T) {
	g := leakyFixture(t, 2)
	cfg := emptyConfig(t, "")
	code, stderr, restarts := runMonitorUntil(t, true, "--config", cfg, "monitor",
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

	// On the journal stream every line starts with its syslog priority.
	for text, priority := range map[string]string{
		`msg="restart command failed"`: "<3>",
		`msg="restarting gateway"`:     "<4>",
		`msg="watchdog started"`:       "<6>",
	} {
		line := logLine(stderr, text)
		if line == "" {
			t.Errorf("log lacks %s:\n%s", text, stderr)
			continue
		}
		if !strings.HasPrefix(line, priority) {
			t.Errorf("line %q starts without priority %s", line, priority)
		}
	}
	if !strings.Contains(logLine(stderr, "restart command failed"), "exit_status=1") {
		t.Errorf("the failure line lacks exit_status=1:\n%s", stderr)
	}
	if strings.Contains(stderr, "time=") {
		t.Errorf("log has timestamps although stderr is the journal stream:\n%s", stderr)
	}
}

func TestMonitorDryRun(t *testing.T) {
	// A JOURNAL_STREAM inherited from a parent whose stderr was the
	// journal names another file, on the same device as this stderr, so
	// plain lines are expected.
	createStderrFile(t, filepath.Join(t.TempDir(), "parent-stderr"), true)
	g := leakyFixture(t, 3)
	cfg := emptyConfig(t, "")
	marker := filepath.Join(t.TempDir(), "ran")
	code, stderr, restarts := runMonitorUntil(t, false, "--config", cfg, "monitor", "--dry-run",
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
	line := logLine(stderr, "dry run")
	if line == "" {
		t.Fatalf("log lacks the dry-run line:\n%s", stderr)
	}
	if !strings.HasPrefix(line, "time=") {
		t.Errorf("dry-run line %q does not start with its timestamp", line)
	}
}

func TestParseJournalStream(t *testing.T) {
	dev, ino, ok := parseJournalStream("8:306630")
	if !ok || dev != 8 || ino != 306630 {
		t.Errorf("parseJournalStream(8:306630) = %d, %d, %v; want 8, 306630, true", dev, ino, ok)
	}
	for _, bad := range []string{"", "8", "8:", ":5", "a:5", "8:5x", "-1:5"} {
		if _, _, ok := parseJournalStream(bad); ok {
			t.Errorf("parseJournalStream(%q) accepted an invalid value", bad)
		}
	}
}

// TestMonitorKilledDuringRestart kills a real ibdash process while its
// restart command runs. The next ibdash must find the restart in the
// state file and hold the cooldown.
func TestMonitorKilledDuringRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	g := leakyFixture(t, 2)
	cfg := emptyConfig(t, "")
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "restarts.json")
	pidFile := filepath.Join(dir, "command.pid")
	port := strconv.Itoa(g.Port())
	restartCommand := "sh -c 'echo $$ > " + pidFile + ".tmp; mv " + pidFile + ".tmp " + pidFile + "; exec sleep 60'"

	monitor := exec.Command(buildIbdash(t), "--config", cfg, "monitor", "--port", port,
		"--threshold", "2", "--consecutive", "1", "--interval", "100ms", "--cooldown", "1h",
		"--state-file", stateFile, "--restart-command", restartCommand)
	var firstLog syncBuffer
	monitor.Stderr = &firstLog
	if err := monitor.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			monitor.Process.Kill()
			monitor.Wait()
		}
	})

	commandPID := waitForPIDFile(t, pidFile, &firstLog)
	// The restart command runs in its own process group, which outlives
	// the killed monitor, so the test ends it by its pid.
	t.Cleanup(func() { syscall.Kill(commandPID, syscall.SIGKILL) })
	if err := monitor.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	monitor.Wait()
	waited = true

	restarts := readRestarts(t, stateFile)
	if len(restarts) != 1 {
		t.Fatalf("state file holds %d records after the kill, want 1:\n%s", len(restarts), firstLog.String())
	}
	if !restarts[0].Finished.IsZero() {
		t.Errorf("Finished = %s for a command that never finished", restarts[0].Finished)
	}
	if got := strings.Join(restarts[0].Command, " "); !strings.Contains(got, "exec sleep 60") {
		t.Errorf("command = %q, want the configured one", got)
	}

	// The second monitor runs in this process and stops at the first
	// held-back restart.
	errFile := createStderrFile(t, filepath.Join(dir, "stderr"), false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config", cfg, "monitor", "--port", port,
			"--threshold", "2", "--consecutive", "1", "--interval", "100ms", "--cooldown", "1h",
			"--state-file", stateFile, "--restart-command", "touch " + filepath.Join(dir, "ran")},
			strings.NewReader(""), &bytes.Buffer{}, errFile)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readFile(t, errFile.Name()), "restart due but held back") {
		if time.Now().After(deadline) {
			t.Fatalf("no held-back restart after 20s:\n%s", readFile(t, errFile.Name()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("second monitor exit %d, want 0", code)
	}

	log := readFile(t, errFile.Name())
	if !strings.Contains(logLine(log, "restart due but held back"), "cooldown") {
		t.Errorf("the held-back line does not name the cooldown:\n%s", log)
	}
	if logLine(log, "was still running when ibdash stopped") == "" {
		t.Errorf("log does not report the interrupted restart:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the second monitor ran the restart command inside the cooldown")
	}
	if n := len(readRestarts(t, stateFile)); n != 1 {
		t.Errorf("state file holds %d records after the second monitor, want 1", n)
	}
}

// waitForPIDFile waits until the restart command has written its pid.
func waitForPIDFile(t *testing.T, path string, log *syncBuffer) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("pid file %s holds %q", path, data)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restart command did not start within 20s:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
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
