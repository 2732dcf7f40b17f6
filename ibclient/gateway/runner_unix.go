//go:build unix

package gateway

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in a new process group and makes the
// context's cancel kill that whole group, so a restart script that
// forks (or a shell in the command) cannot outlive its timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
