package gateway

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// MaxOutputTail is how many bytes of a restart command's output, the
// last ones, are kept in a Restart record.
const MaxOutputTail = 4 << 10

// waitDelay is how long ExecRunner waits for the output pipes to close
// after killing a timed-out command.
const waitDelay = 5 * time.Second

// Runner runs the restart command. ExecRunner is the default;
// FuncRunner restarts something in-process, such as a leaky fixture.
type Runner interface {
	// Run runs argv until it exits or ctx ends, which kills it.
	Run(ctx context.Context, argv []string) RunResult
}

// RunResult is the outcome of one restart command.
type RunResult struct {
	// ExitStatus is the command's exit code, or -1 when it did not exit
	// by itself: it was not found, timed out or was killed by a signal.
	ExitStatus int
	// Output is the tail of stdout and stderr together, at most
	// MaxOutputTail bytes. Truncated is true when earlier bytes were cut.
	Output    []byte
	Truncated bool
	// Err is nil for exit status 0.
	Err error
}

// ExecRunner runs the command with os/exec, without a shell, in its own
// process group so that a timeout kills its children too.
type ExecRunner struct{}

// Run runs argv[0] with the arguments argv[1:].
func (ExecRunner) Run(ctx context.Context, argv []string) RunResult {
	if len(argv) == 0 {
		return RunResult{ExitStatus: -1, Err: errors.New("empty restart command")}
	}
	var out tailBuffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)

	err := cmd.Run()
	result := RunResult{ExitStatus: -1, Output: out.Bytes(), Truncated: out.truncated}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		result.ExitStatus = 0
	case ctx.Err() != nil:
		result.Err = fmt.Errorf("%s was killed: %w", argv[0], context.Cause(ctx))
	case errors.As(err, &exitErr):
		result.ExitStatus = exitErr.ExitCode()
		result.Err = fmt.Errorf("%s failed: %w", argv[0], err)
	default:
		result.Err = err
	}
	return result
}

// FuncRunner runs a Go function as the restart command. A nil error is
// exit status 0, any other is 1.
type FuncRunner func(ctx context.Context, argv []string) (output []byte, err error)

// Run calls f.
func (f FuncRunner) Run(ctx context.Context, argv []string) RunResult {
	output, err := f(ctx, argv)
	var out tailBuffer
	out.Write(output)
	result := RunResult{Output: out.Bytes(), Truncated: out.truncated, Err: err}
	if err != nil {
		result.ExitStatus = 1
	}
	return result
}

// tailBuffer keeps the last MaxOutputTail bytes written to it. The
// command writes from two goroutines (stdout and stderr), hence the lock.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= MaxOutputTail {
		b.truncated = b.truncated || len(b.buf) > 0 || len(p) > MaxOutputTail
		b.buf = append(b.buf[:0], p[len(p)-MaxOutputTail:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - MaxOutputTail; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
