//go:build !unix

package gateway

import "os/exec"

// setProcessGroup leaves cmd as it is; without process groups a timeout
// kills only the command itself.
func setProcessGroup(cmd *exec.Cmd) {}
