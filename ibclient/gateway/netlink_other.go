//go:build !linux

package gateway

import "errors"

type socketVisitor func(port uint16, state TCPState, inode uint32)

// Placeholders for the Linux address families, since no request is sent
// here.
const (
	familyIPv4 = 2
	familyIPv6 = 10
)

func familyUnsupported(err error) bool { return false }

type netlinkDiag struct{}

func openNetlinkDiag() (*netlinkDiag, error) {
	return nil, errors.New("NETLINK_SOCK_DIAG exists only on Linux")
}

func (d *netlinkDiag) Close() error { return nil }

func portBytecode(ports []int) []byte { return nil }

func (d *netlinkDiag) dump(family uint8, bytecode []byte, visit socketVisitor) error {
	return errors.New("NETLINK_SOCK_DIAG exists only on Linux")
}
