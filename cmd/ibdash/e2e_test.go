package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tmuxScreen drives one ibdash process in a tmux session on a private
// socket, so the test never touches the user's own tmux server.
type tmuxScreen struct {
	t       *testing.T
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

func buildIbdash(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ibdash")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startDemoInTmux runs `ibdash --demo` in a new 120x40 tmux session with its
// own cache, config and state folders.
func startDemoInTmux(t *testing.T, bin string) *tmuxScreen {
	t.Helper()
	home := t.TempDir()
	s := &tmuxScreen{t: t, socket: fmt.Sprintf("ibdash-e2e-%d", os.Getpid()), session: "ibdash"}
	args := []string{"new-session", "-d", "-x", "120", "-y", "40", "-s", s.session,
		"-e", "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"-e", "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"-e", "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"-e", "TERM=xterm-256color",
		bin, "--demo", "--debug", filepath.Join(home, "debug.log")}
	if out, err := s.tmux(args...); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Only this test's session, on this test's private server.
		_, _ = s.tmux("kill-session", "-t", s.session)
		_, _ = s.tmux("kill-server")
	})
	if out, err := s.tmux("set-option", "-t", s.session, "remain-on-exit", "on"); err != nil {
		t.Fatalf("tmux set-option: %v: %s", err, out)
	}
	return s
}

func TestDemoInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; .ci/run installs it (apt-get install tmux)")
	}
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary; skipped with -short")
	}
	s := startDemoInTmux(t, buildIbdash(t))

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
