package gateway

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// scanProcNet reads a /proc/net/tcp or /proc/net/tcp6 table and calls
// visit for each socket whose local port is in ports. The kernel prints
// one socket a line after a header:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//
// with the address as hex "ADDR:PORT", the state st in hex and the inode
// in decimal. Unlike netlink, the kernel formats every socket of the
// namespace, so this is the slow path.
func scanProcNet(path string, ports map[uint16]int, visit socketVisitor) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}

	// Skip the header line.
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	} else {
		return nil
	}

	for lineNo := 2; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		port, state, inode, err := parseProcNetLine(line)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", path, lineNo, err)
		}
		if _, ok := ports[port]; ok {
			visit(port, state, inode)
		}
	}
	return nil
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
