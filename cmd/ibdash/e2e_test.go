package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxScreen drives one ibdash process in a tmux session on a private
// socket, so the test never touches the user's own tmux server.
type tmuxScreen struct {
	t       testing.TB
	socket  string
	session string
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

// paneExit waits for the program to exit and returns its exit status.
func (s *tmuxScreen) paneExit(timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := s.tmux("display-message", "-p", "-t", s.session, "#{pane_dead} #{pane_dead_status}")
		if err != nil {
			s.t.Fatalf("tmux display-message: %v: %s", err, out)
		}
		if dead, status, _ := strings.Cut(strings.TrimSpace(out), " "); dead == "1" {
			return status
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ibdash still running %s after q; screen:\n%s", timeout, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// startDemoInTmux runs `ibdash --demo` in a new 120x40 tmux session with its
// own cache, config and state folders under home.
func startDemoInTmux(t testing.TB, bin, home string) *tmuxScreen {
	t.Helper()
	return startInTmux(t, home, bin, "--demo", "--debug", filepath.Join(home, "debug.log"))
}

// startInTmux runs argv in a new 120x40 tmux session on a private
// socket, with the XDG folders under home; the session stays after the
// program exits so its exit status can be read.
func startInTmux(t testing.TB, home string, argv ...string) *tmuxScreen {
	t.Helper()
	s := &tmuxScreen{t: t, socket: fmt.Sprintf("ibdash-e2e-%d", os.Getpid()), session: "ibdash"}
	args := []string{"new-session", "-d", "-x", "120", "-y", "40", "-s", s.session,
		"-e", "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"-e", "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"-e", "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"-e", "TERM=xterm-256color"}
	if out, err := s.tmux(append(args, argv...)...); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(s.kill)
	if out, err := s.tmux("set-option", "-t", s.session, "remain-on-exit", "on"); err != nil {
		t.Fatalf("tmux set-option: %v: %s", err, out)
	}
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
	s := startDemoInTmux(t, buildIbdash(t), t.TempDir())

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

	// The leaky gateway piles up CLOSE_WAIT until the watchdog restarts it.
	s.waitFor(60*time.Second, "was restarted (exit 0)")

	s.keys("q")
	if status := s.paneExit(10 * time.Second); status != "0" {
		t.Errorf("ibdash exited with status %s, want 0", status)
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
// tmux starting the process and the 1 ms poll of the screen.
func BenchmarkDemoFirstFrame(b *testing.B) {
	requireTmux(b)
	bin, home := buildIbdash(b), b.TempDir()
	warm := startDemoInTmux(b, bin, home)
	warm.waitFor(60*time.Second, "READY")
	warm.kill()

	var total time.Duration
	for b.Loop() {
		start := time.Now()
		s := startDemoInTmux(b, bin, home)
		for !strings.Contains(s.capture(), "Consumer keys") {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		s.kill()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-frame")
}

// TestDemoIdleCost reports the CPU time and memory of an idle dashboard
// over IBDASH_IDLE_SECONDS (it skips when unset): the demo, with the
// simulator, leaky gateway and watchdog in the same process, and the
// dashboard alone against `ibdash sim` in another process. It asserts
// nothing about the numbers, which belong in docs/benchmarks.md.
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
	out, err := s.tmux("display-message", "-p", "-t", s.session, "#{pane_pid}")
	if err != nil {
		t.Fatalf("tmux display-message: %v: %s", err, out)
	}
	pid := strings.TrimSpace(out)
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
