package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// procReadBufferLen is the read buffer for the /proc tables. A line is
// about 150 bytes (IPv4) or 180 bytes (IPv6), so a line always fits.
const procReadBufferLen = 64 << 10

// scanProcNet reads a /proc/net/tcp or /proc/net/tcp6 table through r
// and calls visit for each socket whose local port is in ports. The
// kernel prints one socket a line after a header:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//
// with the address as hex "ADDR:PORT", the state st in hex and the inode
// in decimal. Unlike netlink, the kernel formats every socket of the
// namespace, so this is the slow path. The table is read line by line,
// because it can be tens of megabytes with many sockets.
func scanProcNet(path string, r *bufio.Reader, ports map[uint16]int, visit socketVisitor) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r.Reset(f)

	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%s line %d: longer than %d bytes, which is not a TCP socket table line", path, lineNo, r.Size())
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", path, err)
		}

		// The first line is the header.
		if lineNo > 1 && len(bytes.TrimSpace(line)) > 0 {
			port, state, inode, parseErr := parseProcNetLine(line)
			if parseErr != nil {
				return fmt.Errorf("%s line %d: %w", path, lineNo, parseErr)
			}
			if _, ok := ports[port]; ok {
				visit(port, state, inode)
			}
		}
		if err != nil {
			return nil
		}
	}
}

// parseProcNetLine returns the local port, state and inode of one line.
func parseProcNetLine(line []byte) (uint16, TCPState, uint32, error) {
	var fields [10][]byte
	n := 0
	for i := 0; i < len(line) && n < len(fields); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		start := i
		for i < len(line) && line[i] != ' ' {
			i++
		}
		if start < i {
			fields[n] = line[start:i]
			n++
		}
	}
	if n < len(fields) {
		return 0, 0, 0, fmt.Errorf("%d fields, expected at least %d", n, len(fields))
	}

	local := fields[1]
	colon := bytes.LastIndexByte(local, ':')
	if colon < 0 {
		return 0, 0, 0, fmt.Errorf("local address %q has no port", local)
	}
	port, err := strconv.ParseUint(string(local[colon+1:]), 16, 16)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("local port %q is not hex", local[colon+1:])
	}
	state, err := strconv.ParseUint(string(fields[3]), 16, 8)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("state %q is not hex", fields[3])
	}
	inode, err := strconv.ParseUint(string(fields[9]), 10, 32)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("inode %q is not a number", fields[9])
	}
	return uint16(port), TCPState(state), uint32(inode), nil
}
