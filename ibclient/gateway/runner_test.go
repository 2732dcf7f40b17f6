package gateway

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExecRunnerSuccess(t *testing.T) {
	r := ExecRunner{}.Run(context.Background(), []string{"sh", "-c", "echo restarted; echo warning >&2"})
	if r.Err != nil {
		t.Fatalf("error = %v", r.Err)
	}
	if r.ExitStatus != 0 {
		t.Errorf("exit status = %d, want 0", r.ExitStatus)
	}
	if got := string(r.Output); !strings.Contains(got, "restarted") || !strings.Contains(got, "warning") {
		t.Errorf("output = %q, want stdout and stderr", got)
	}
}

func TestExecRunnerExitOne(t *testing.T) {
	r := ExecRunner{}.Run(context.Background(), []string{"sh", "-c", "echo 'unit ib-gateway.service not found' >&2; exit 1"})
	if r.ExitStatus != 1 {
		t.Errorf("exit status = %d, want 1", r.ExitStatus)
	}
	if r.Err == nil || !strings.Contains(r.Err.Error(), "exit status 1") {
		t.Errorf("error = %v, want one naming exit status 1", r.Err)
	}
	if !strings.Contains(string(r.Output), "not found") {
		t.Errorf("output = %q, want the command's stderr", r.Output)
	}
}

func TestExecRunnerMissingProgram(t *testing.T) {
	r := ExecRunner{}.Run(context.Background(), []string{"/nonexistent/ib-gateway-restart", "now"})
	if r.ExitStatus != -1 {
		t.Errorf("exit status = %d, want -1", r.ExitStatus)
	}
	if r.Err == nil || !strings.Contains(r.Err.Error(), "no such file") {
		t.Errorf("error = %v, want one saying the file does not exist", r.Err)
	}
}

func TestExecRunnerTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, errors.New("timed out after 200ms"))
	defer cancel()
	// The shell forks sleep, which holds the output pipe open: killing
	// only the shell would leave Run waiting for sleep.
	r := ExecRunner{}.Run(ctx, []string{"sh", "-c", "echo starting; sleep 30; echo never"})
	if r.ExitStatus != -1 {
		t.Errorf("exit status = %d, want -1", r.ExitStatus)
	}
	if r.Err == nil || !strings.Contains(r.Err.Error(), "timed out after 200ms") {
		t.Errorf("error = %v, want the timeout", r.Err)
	}
	if got := string(r.Output); !strings.Contains(got, "starting") || strings.Contains(got, "never") {
		t.Errorf("output = %q, want the output before the kill only", got)
	}
}

func TestExecRunnerKeepsOutputTail(t *testing.T) {
	r := ExecRunner{}.Run(context.Background(), []string{"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; echo END"})
	if len(r.Output) != MaxOutputTail {
		t.Errorf("output is %d bytes, want %d", len(r.Output), MaxOutputTail)
	}
	if !r.Truncated {
		t.Error("Truncated = false for an output over the cap")
	}
	if !bytes.HasSuffix(r.Output, []byte("line1999\nEND\n")) {
		t.Errorf("output does not end with the last lines: %q", r.Output[len(r.Output)-40:])
	}
}

func TestFuncRunnerReportsError(t *testing.T) {
	f := FuncRunner(func(ctx context.Context, argv []string) ([]byte, error) {
		return []byte("listen: address in use"), errors.New("restart failed")
	})
	r := f.Run(context.Background(), []string{"demo"})
	if r.ExitStatus != 1 {
		t.Errorf("exit status = %d, want 1", r.ExitStatus)
	}
	if r.Err == nil || string(r.Output) != "listen: address in use" {
		t.Errorf("result = %+v", r)
	}
}

func TestTailBufferAcrossWrites(t *testing.T) {
	var b tailBuffer
	b.Write(bytes.Repeat([]byte("a"), MaxOutputTail-2))
	if b.truncated {
		t.Fatal("truncated before the cap was reached")
	}
	b.Write([]byte("bcd"))
	got := b.Bytes()
	if len(got) != MaxOutputTail || !bytes.HasSuffix(got, []byte("abcd")) {
		t.Errorf("tail is %d bytes ending %q", len(got), got[len(got)-4:])
	}
	if !b.truncated {
		t.Error("truncated = false after the cap was passed")
	}
}

// TestWatchdogReportsExecFailures runs the three failing commands
// through a watchdog and checks the restart records.
func TestWatchdogReportsExecFailures(t *testing.T) {
	cases := []struct {
		name       string
		command    []string
		timeout    time.Duration
		wantStatus int
		wantError  string
		wantOutput string
	}{
		{"exit 1", []string{"sh", "-c", "echo cannot restart >&2; exit 1"}, time.Minute, 1, "exit status 1", "cannot restart"},
		{"missing program", []string{"/nonexistent/restart-gateway"}, time.Minute, -1, "no such file", ""},
		{"timeout", []string{"sh", "-c", "echo waiting; sleep 30"}, 300 * time.Millisecond, -1, "timed out after 300ms", "waiting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := tempStateFile(t)
			rig := newRig(t, Options{
				CloseWaitThreshold: 20, ConsecutiveScans: 1, MaxRestartsPerHour: 5,
				RestartCommand: c.command, RestartTimeout: c.timeout, Runner: ExecRunner{}, StateFile: path,
			})
			rig.scanner.set(25)
			_, r := rig.dog.Step(context.Background())
			if r == nil {
				t.Fatal("no restart record")
			}
			if r.ExitStatus != c.wantStatus {
				t.Errorf("exit status = %d, want %d", r.ExitStatus, c.wantStatus)
			}
			if !strings.Contains(r.Error, c.wantError) {
				t.Errorf("error = %q, want it to contain %q", r.Error, c.wantError)
			}
			if !strings.Contains(r.Output, c.wantOutput) {
				t.Errorf("output = %q, want it to contain %q", r.Output, c.wantOutput)
			}
			stored, err := loadState(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 || stored[0].Error != r.Error || stored[0].ExitStatus != r.ExitStatus {
				t.Errorf("state file = %+v, want the failed record", stored)
			}
		})
	}
}
