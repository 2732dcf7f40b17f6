package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Layout of the sock_diag messages, from the kernel's
// include/uapi/linux/inet_diag.h and netlink.h.
const (
	nlmsgHeaderLen   = 16 // struct nlmsghdr
	inetDiagReqV2Len = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	nlattrHeaderLen  = 4  // struct nlattr

	inetDiagReqBytecode = 1 // INET_DIAG_REQ_BYTECODE attribute type

	// inet_diag_bc_op codes.
	bcJump  = 1 // INET_DIAG_BC_JMP
	bcSrcGE = 2 // INET_DIAG_BC_S_GE
	bcSrcLE = 3 // INET_DIAG_BC_S_LE

	// Offsets inside struct inet_diag_msg.
	diagMsgState = 1
	diagMsgSport = 4  // big-endian, first field of inet_diag_sockid
	diagMsgInode = 68 // host order

	// netlinkRecvTimeout bounds a read from the kernel, so a scan cannot
	// hang if the dump stalls.
	netlinkRecvTimeout = 5 * time.Second

	// netlinkBufferLen is larger than the 32 KiB the kernel puts in one
	// dump message batch, so a read never truncates a batch.
	netlinkBufferLen = 64 << 10
)

// The address families of a sock_diag request.
const (
	familyIPv4 = unix.AF_INET
	familyIPv6 = unix.AF_INET6
)

// familyUnsupported reports whether err is the kernel's rejection of an
// address family, which a kernel built without IPv6 returns.
func familyUnsupported(err error) bool {
	return errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT)
}

// socketVisitor receives one socket: its local port, state and inode
// (0 when no file descriptor refers to it, as in TIME_WAIT).
type socketVisitor func(port uint16, state TCPState, inode uint32)

// netlinkDiag is an open NETLINK_SOCK_DIAG socket. It is not safe for
// concurrent use; SocketScanner serializes its scans.
type netlinkDiag struct {
	fd  int
	seq uint32
	buf []byte
	req []byte
}

func openNetlinkDiag() (*netlinkDiag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open NETLINK_SOCK_DIAG socket: %w", err)
	}
	tv := unix.NsecToTimeval(netlinkRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set netlink receive timeout: %w", err)
	}
	return &netlinkDiag{fd: fd, buf: make([]byte, netlinkBufferLen)}, nil
}

func (d *netlinkDiag) Close() error { return unix.Close(d.fd) }

// portBytecode builds an inet_diag filter program that accepts a socket
// whose local port is any of ports. Each port is the pair "sport >= p"
// and "sport <= p", which every kernel with the bytecode filter supports
// (S_EQ would be shorter but is newer). The ports are joined by OR the
// way iproute2's ss joins them, with a JMP op between two blocks. Its
// "yes" offset of 4 keeps every block start reachable by the kernel's
// bytecode audit, and its "no" offset jumps to the end, which accepts.
// A failed comparison jumps to the next block, or 4 bytes past the end
// after the last one, which rejects.
func portBytecode(ports []int) []byte {
	var bc []byte
	op := func(code, yes uint8, no uint16) {
		bc = append(bc, code, yes)
		bc = binary.NativeEndian.AppendUint16(bc, no)
	}
	total := 20*len(ports) - 4
	for i, p := range ports {
		// Both comparisons jump to the next block on failure: 20 bytes
		// from the first op, 12 from the second.
		op(bcSrcGE, 8, 20)
		op(0, 0, uint16(p))
		op(bcSrcLE, 8, 12)
		op(0, 0, uint16(p))
		if i < len(ports)-1 {
			end := total - len(bc)
			op(bcJump, 4, uint16(end))
		}
	}
	return bc
}

// dump requests from the kernel the TCP sockets of one address family whose
// local port passes bytecode, in every state, and calls visit for each.
func (d *netlinkDiag) dump(family uint8, bytecode []byte, visit socketVisitor) error {
	d.seq++
	attrLen := nlattrHeaderLen + len(bytecode)
	total := nlmsgHeaderLen + inetDiagReqV2Len + attrLen
	req := d.req[:0]
	ne := binary.NativeEndian

	// struct nlmsghdr
	req = ne.AppendUint32(req, uint32(total))
	req = ne.AppendUint16(req, unix.SOCK_DIAG_BY_FAMILY)
	req = ne.AppendUint16(req, unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req = ne.AppendUint32(req, d.seq)
	req = ne.AppendUint32(req, 0)

	// struct inet_diag_req_v2: family, protocol, ext, pad, states, then
	// a zero inet_diag_sockid (48 bytes), since the filter is bytecode.
	req = append(req, family, unix.IPPROTO_TCP, 0, 0)
	req = ne.AppendUint32(req, allStatesMask)
	req = append(req, make([]byte, 48)...)

	// struct nlattr with the filter program.
	req = ne.AppendUint16(req, uint16(attrLen))
	req = ne.AppendUint16(req, inetDiagReqBytecode)
	req = append(req, bytecode...)
	d.req = req

	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send sock_diag request: %w", err)
	}

	for {
		n, err := unix.Read(d.fd, d.buf)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return fmt.Errorf("read sock_diag reply: no reply from the kernel within %s", netlinkRecvTimeout)
			}
			return fmt.Errorf("read sock_diag reply: %w", err)
		}
		done, err := d.parse(d.buf[:n], visit)
		if err != nil || done {
			return err
		}
	}
}

// parse walks one batch of netlink messages. It returns true at
// NLMSG_DONE.
func (d *netlinkDiag) parse(b []byte, visit socketVisitor) (bool, error) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHeaderLen {
		msgLen := int(ne.Uint32(b[0:4]))
		msgType := ne.Uint16(b[4:6])
		seq := ne.Uint32(b[8:12])
		if msgLen < nlmsgHeaderLen || msgLen > len(b) {
			return false, fmt.Errorf("read sock_diag reply: invalid message length %d in a %d-byte batch", msgLen, len(b))
		}
		payload := b[nlmsgHeaderLen:msgLen]

		// A reply to an earlier, abandoned request is skipped.
		if seq == d.seq {
			switch msgType {
			case unix.NLMSG_DONE:
				if len(payload) >= 4 {
					if errno := int32(ne.Uint32(payload)); errno < 0 {
						return true, fmt.Errorf("sock_diag dump: %w", unix.Errno(-errno))
					}
				}
				return true, nil
			case unix.NLMSG_ERROR:
				if len(payload) >= 4 {
					if errno := int32(ne.Uint32(payload)); errno < 0 {
						return true, fmt.Errorf("sock_diag request: %w", unix.Errno(-errno))
					}
				}
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(payload) < inetDiagMsgLen {
					return false, fmt.Errorf("read sock_diag reply: inet_diag_msg of %d bytes, expected %d", len(payload), inetDiagMsgLen)
				}
				port := binary.BigEndian.Uint16(payload[diagMsgSport:])
				inode := ne.Uint32(payload[diagMsgInode:])
				visit(port, TCPState(payload[diagMsgState]), inode)
			}
		}

		next := (msgLen + 3) &^ 3
		if next > len(b) {
			break
		}
		b = b[next:]
	}
	return false, nil
}
