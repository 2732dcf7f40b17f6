//go:build !unix

package leaky

import (
	"errors"
	"syscall"
)

func setReusePort(network, address string, c syscall.RawConn) error {
	return errors.New("leaky: SO_REUSEPORT is not available on this system")
}
