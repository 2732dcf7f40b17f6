package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/audit"
)

// tmuxScreen drives one ibdash process in a tmux session on a private
// socket, so the test never touches the user's own tmux server.
type tmuxScreen struct {
	t       testing.TB
	socket  string
	session string
	// stderrPath and statusPath receive the program's stderr and, once
	// it ends, its exit status, written by the shell that runs it.
	stderrPath string
	statusPath string
}

func (s *tmuxScreen) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxScreen) capture() string {
	out, err := s.tmux("capture-pane", "-p", "-t", s.session)
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

func (s *tmuxScreen) keys(keys ...string) {
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.session}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %q: %v: %s", keys, err, out)
	}
}

// waitFor polls the screen until every text is on it or the deadline
// passes; the poll interval is only a pause between looks, never the
// assertion.
func (s *tmuxScreen) waitFor(timeout time.Duration, texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		screen := s.capture()
		missing := ""
		for _, text := range texts {
			if !strings.Contains(screen, text) {
				missing = text
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%q not on screen after %s; screen:\n%s", missing, timeout, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// paneExit waits for the program to exit and returns its exit status
// as the shell that ran it wrote it down. tmux 3.3 sometimes marks a pane
// dead without recording the status, so the pane's own is not used.
func (s *tmuxScreen) paneExit(timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if data, err := os.ReadFile(s.statusPath); err == nil && strings.HasSuffix(string(data), "\n") {
			return strings.TrimSpace(string(data))
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ibdash still running %s after q; screen:\n%s", timeout, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// programPID returns the process id of the program in the pane: the one
// child of the shell that runs it.
func (s *tmuxScreen) programPID() string {
	s.t.Helper()
	out, err := s.tmux("display-message", "-p", "-t", s.session, "#{pane_pid}")
	if err != nil {
		s.t.Fatalf("tmux display-message: %v: %s", err, out)
	}
	shell := strings.TrimSpace(out)
	children, err := os.ReadFile("/proc/" + shell + "/task/" + shell + "/children")
	if err != nil {
		s.t.Fatal(err)
	}
	pids := strings.Fields(string(children))
	if len(pids) != 1 {
		s.t.Fatalf("the pane's shell %s has children %q, want one", shell, pids)
	}
	return pids[0]
}

func buildIbdash(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ibdash")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startDemoInTmux runs `ibdash --demo --debug home/debug.log` in a new
// 120x40 tmux session with its own cache, config and state folders under
// home.
func startDemoInTmux(t testing.TB, bin, home string) *tmuxScreen {
	t.Helper()
	return startInTmux(t, home, bin, "--demo", "--debug", filepath.Join(home, "debug.log"))
}

// startInTmux runs argv in a new 120x40 tmux session on a private
// socket, with the XDG folders under home. A shell runs it with stderr
// going to home/stderr, so a test can check what it printed outside the
// screen, and writes its exit status to home/status.
func startInTmux(t testing.TB, home string, argv ...string) *tmuxScreen {
	t.Helper()
	s := &tmuxScreen{t: t, socket: fmt.Sprintf("ibdash-e2e-%d", os.Getpid()), session: "ibdash",
		stderrPath: filepath.Join(home, "stderr"), statusPath: filepath.Join(home, "status")}
	args := []string{"new-session", "-d", "-x", "120", "-y", "40", "-s", s.session,
		"-e", "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"-e", "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"-e", "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"-e", "TERM=xterm-256color",
		"sh", "-c", `err=$1 status=$2; shift 2; "$@" 2>"$err"; echo $? >"$status"`, "sh", s.stderrPath, s.statusPath}
	if out, err := s.tmux(append(args, argv...)...); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(s.kill)
	return s
}

// kill ends only this test's session, on this test's private server.
func (s *tmuxScreen) kill() {
	_, _ = s.tmux("kill-session", "-t", s.session)
	_, _ = s.tmux("kill-server")
}

func TestDemoInTmux(t *testing.T) {
	requireTmux(t)
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary; skipped with -short")
	}
	home := t.TempDir()
	s := startDemoInTmux(t, buildIbdash(t), home)

	// The first run generates the demo keys, which takes a few seconds.
	s.waitFor(60*time.Second, "ibdash DEMO (simulator)", "DEMOTRADE      ACTIVE", "DEMOWAITS      PENDING",
		"READY  authenticated yes", "LISTENING  probe ok", "invalid consumer")

	// Focus moves with tab and shift+tab; the marker shows which panel.
	s.keys("Tab")
	s.waitFor(5*time.Second, "▸ Session")
	s.keys("Tab", "Tab")
	s.waitFor(5*time.Second, "▸ IB errors")
	s.keys("BTab")
	s.waitFor(5*time.Second, "▸ Gateway sockets")

	// r on a key is a visible task with its result.
	s.keys("BTab", "BTab", "j", "r")
	s.waitFor(20*time.Second, "recheck DEMOWAITS: not yet activated")

	s.keys("?")
	s.waitFor(5*time.Second, "shift+tab previous panel")
	s.keys("Escape")
	s.waitFor(5*time.Second, "▸ Consumer keys")

	orderID := placeDemoOrder(t, s)
	checkDemoAudit(t, filepath.Join(home, "state", "ibdash", demoAuditLog))

	// The entry's limit is far from the market, so it is still working
	// and c cancels it with its stop.
	s.keys("Tab", "Tab", "Tab", "Tab")
	s.waitFor(10*time.Second, "▸ Orders", "#"+orderID)
	s.keys("c")
	s.waitFor(5*time.Second, "Cancel order "+orderID)
	s.keys("y")
	s.waitFor(20*time.Second, "✓ cancel order "+orderID)

	// The leaky gateway piles up CLOSE_WAIT until the watchdog restarts it.
	s.waitFor(60*time.Second, "was restarted (exit 0)")

	s.keys("q")
	if status := s.paneExit(10 * time.Second); status != "0" {
		t.Errorf("ibdash exited with status %s, want 0", status)
	}
	checkDebugOutput(t, home)
}

// placeDemoOrder opens the ticket with n, takes the first listed expiry
// and the strike nearest the money, sells at a limit half again above the
// mid with a 3x stop, previews, submits and confirms IB's two questions.
// It returns the entry's order id.
func placeDemoOrder(t *testing.T, s *tmuxScreen) string {
	t.Helper()
	s.keys("n")
	s.waitFor(30*time.Second, "Order ticket", "expiries listed")
	s.keys("Enter")
	s.waitFor(20*time.Second, "strikes listed for")
	s.keys("Enter")
	screen := s.waitFor(20*time.Second, "delta", "Limit      mid ")
	m := regexp.MustCompile(`Limit +mid (\d+\.\d+)`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no mid on the limit line:\n%s", screen)
	}
	mid, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	// A multiple of $0.05 is on the tick at any price, and 50% over the
	// mid makes IB ask o163 before o10331 for the stop.
	limit := fmt.Sprintf("%.2f", math.Ceil(mid*1.5*20)/20)

	// The focus is on the right after the strike; the limit is 4 below.
	s.keys("Tab", "Tab", "Tab", "Tab", limit, "Tab", "3x", "C-s")
	s.waitFor(20*time.Second, "What-if", "commission", "enter submits this order")
	s.keys("Enter")
	s.waitFor(20*time.Second, "IB asks (o163")

	// ctrl+c while a question is open asks first, and n goes back to it.
	s.keys("C-c")
	s.waitFor(5*time.Second, "Quit anyway?")
	s.keys("n")
	s.waitFor(5*time.Second, "IB asks (o163")

	s.keys("y")
	s.waitFor(20*time.Second, "IB asks (o10331")
	s.keys("y")
	screen = s.waitFor(20*time.Second, "Placed: order", "SELL LMT "+limit)
	placed := regexp.MustCompile(`Placed: order (\d+) with stop (\d+)`).FindStringSubmatch(screen)
	if placed == nil {
		t.Fatalf("no order ids in the result:\n%s", screen)
	}

	s.keys("Escape")
	s.waitFor(10*time.Second, "▸ Consumer keys", "» Placed: order "+placed[1])
	return placed[1]
}

// checkDemoAudit reads the demo's audit log: the placement's request and
// response and both answers, given by the user, must be in it.
func checkDemoAudit(t *testing.T, path string) {
	t.Helper()
	records, warnings, err := audit.ReadFile(path)
	if err != nil {
		t.Fatalf("demo audit log: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("demo audit log warnings: %v", warnings)
	}
	var kinds = map[audit.Kind]int{}
	var answered []string
	for _, r := range records {
		kinds[r.Kind]++
		if r.Kind == audit.KindAnswer {
			answered = append(answered, r.MessageIDs...)
			if r.AnsweredBy != audit.AnsweredByUser || r.Confirmed == nil || !*r.Confirmed {
				t.Errorf("answer %+v, want confirmed by the user", r)
			}
		}
	}
	if kinds[audit.KindRequest] == 0 || kinds[audit.KindResponse] == 0 {
		t.Errorf("audit log has %d requests and %d responses, want both", kinds[audit.KindRequest], kinds[audit.KindResponse])
	}
	if strings.Join(answered, ",") != "o163,o10331" {
		t.Errorf("answers in the audit log = %v, want o163 then o10331", answered)
	}
}

// checkDebugOutput checks what --debug promises: the path of the log on
// stderr and nothing else there, and a log file with the run in it and
// no key material.
func checkDebugOutput(t *testing.T, home string) {
	t.Helper()
	logPath := filepath.Join(home, "debug.log")
	stderr, err := os.ReadFile(filepath.Join(home, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ibdash: debug log: " + logPath + "\n"; string(stderr) != want {
		t.Errorf("stderr = %q, want only %q", stderr, want)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"component=tui", "component=session", "component=gateway"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("debug log has no line with %s", want)
		}
	}
	for _, secret := range []string{"PRIVATE KEY", "access_token_secret", "oauth_signature="} {
		if strings.Contains(string(log), secret) {
			t.Errorf("debug log contains %q", secret)
		}
	}
}

func requireTmux(tb testing.TB) {
	if _, err := exec.LookPath("tmux"); err != nil {
		tb.Skip("tmux is not installed; .ci/run installs it (apt-get install tmux)")
	}
}

// BenchmarkDemoFirstFrame measures from starting `ibdash --demo` in tmux
// to its first frame on screen, with the demo keys already cached (a
// first run generates them before the timed runs). The time includes
// tmux starting the shell and the process, and the poll of the screen,
// which runs tmux capture-pane back to back (a few ms each). It reports
// the median and the slowest run; run it with -benchtime 10x or more.
func BenchmarkDemoFirstFrame(b *testing.B) {
	requireTmux(b)
	bin, home := buildIbdash(b), b.TempDir()
	warm := startDemoInTmux(b, bin, home)
	warm.waitFor(60*time.Second, "READY")
	warm.kill()

	var runs []time.Duration
	for b.Loop() {
		start := time.Now()
		s := startDemoInTmux(b, bin, home)
		for !strings.Contains(s.capture(), "Consumer keys") {
		}
		runs = append(runs, time.Since(start))
		s.kill()
	}
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(runs[len(runs)-1].Microseconds())/1000, "ms-max")
}

// TestDemoIdleCost reports the CPU time and memory of an idle dashboard
// over IBDASH_IDLE_SECONDS (it skips when unset): the demo, with the
// simulator, leaky gateway and watchdog in the same process; the demo
// with the order ticket open; and the dashboard alone against `ibdash
// sim` in another process. It asserts nothing about the numbers, which
// belong in docs/benchmarks.md.
func TestDemoIdleCost(t *testing.T) {
	seconds, _ := strconv.Atoi(os.Getenv("IBDASH_IDLE_SECONDS"))
	if seconds <= 0 {
		t.Skip("set IBDASH_IDLE_SECONDS=60 to measure the idle CPU and memory")
	}
	requireTmux(t)
	bin := buildIbdash(t)

	t.Run("demo", func(t *testing.T) {
		s := startDemoInTmux(t, bin, t.TempDir())
		s.waitFor(60*time.Second, "READY", "LISTENING")
		reportIdle(t, s, time.Duration(seconds)*time.Second)
	})
	t.Run("ticket", func(t *testing.T) {
		s := startDemoInTmux(t, bin, t.TempDir())
		s.waitFor(60*time.Second, "READY", "LISTENING")
		s.keys("n")
		s.waitFor(30*time.Second, "expiries listed")
		reportIdle(t, s, time.Duration(seconds)*time.Second)
	})
	t.Run("config", func(t *testing.T) {
		configPath := startSimProcess(t, bin)
		home := t.TempDir()
		s := startInTmux(t, home, bin, "--config", configPath)
		s.waitFor(60*time.Second, "READY")
		reportIdle(t, s, time.Duration(seconds)*time.Second)
	})
}

// startSimProcess runs `ibdash sim` with a written config and returns the
// config's path; the process is ended when the test ends.
func startSimProcess(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "sim", "--listen", "127.0.0.1:0", "--write-config", t.TempDir())
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	written := regexp.MustCompile(`config written to (\S+)`)
	scanner := bufio.NewScanner(out)
	for scanner.Scan() {
		if m := written.FindStringSubmatch(scanner.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return m[1]
		}
	}
	t.Fatalf("ibdash sim printed no config path: %v", scanner.Err())
	return ""
}

// reportIdle waits a few seconds for start-up work to finish, then logs
// the CPU share of the process in the pane over d and its memory.
func reportIdle(t *testing.T, s *tmuxScreen, d time.Duration) {
	pid := s.programPID()
	time.Sleep(5 * time.Second)
	before := cpuTicks(t, pid)
	time.Sleep(d)
	used := time.Duration(cpuTicks(t, pid)-before) * time.Second / clockTicks
	t.Logf("CPU %.2f%% of one core over %s (%s of CPU time); %s", 100*used.Seconds()/d.Seconds(), d, used, memory(t, pid))
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; Linux fixes it
// at 100 on the architectures Go supports.
const clockTicks = 100

// cpuTicks returns utime plus stime of a process, in clock ticks.
func cpuTicks(t *testing.T, pid string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}

func memory(t *testing.T, pid string) string {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
			parts = append(parts, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(parts, ", ")
}
