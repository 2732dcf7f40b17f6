package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// ProbeVersionRange is the TWS API client version range the probe
// offers. The server replies with the highest version both support.
const ProbeVersionRange = "v100..176"

// maxProbeReplyLen caps the server's version reply. A real one is a few
// dozen bytes, so a larger length means the peer does not speak the TWS
// API.
const maxProbeReplyLen = 4096

// Probe connects to addr, sends the TWS API handshake and waits up to
// timeout for the server's reply. The handshake is "API\x00", then a
// 4-byte big-endian length and the version range. The reply is one
// length-prefixed message whose NUL-terminated fields are the server
// version and the connection time. Probe closes the connection right
// after the reply, before startApi, so the gateway sees no client id.
func Probe(ctx context.Context, addr string, timeout time.Duration) ProbeResult {
	start := time.Now()
	result := probe(ctx, addr, timeout)
	result.Latency = time.Since(start)
	return result
}

func probe(ctx context.Context, addr string, timeout time.Duration) ProbeResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dialer := net.Dialer{KeepAlive: -1}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return probeFailure(addr, "connect", err, timeout)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}

	hello := make([]byte, 0, 8+len(ProbeVersionRange))
	hello = append(hello, "API\x00"...)
	hello = binary.BigEndian.AppendUint32(hello, uint32(len(ProbeVersionRange)))
	hello = append(hello, ProbeVersionRange...)
	if _, err := conn.Write(hello); err != nil {
		return probeFailure(addr, "send handshake", err, timeout)
	}

	var header [4]byte
	if _, err := io.ReadFull(conn, header[:]); err != nil {
		return probeFailure(addr, "read version reply", err, timeout)
	}
	n := binary.BigEndian.Uint32(header[:])
	if n == 0 || n > maxProbeReplyLen {
		return ProbeResult{Error: fmt.Sprintf("probe %s: version reply of %d bytes is not a TWS API reply (expected 1 to %d); check that the port belongs to IB Gateway", addr, n, maxProbeReplyLen)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return probeFailure(addr, "read version reply", err, timeout)
	}

	fields := bytes.Split(bytes.TrimSuffix(body, []byte{0}), []byte{0})
	version, err := strconv.Atoi(string(fields[0]))
	if err != nil || version <= 0 {
		return ProbeResult{Error: fmt.Sprintf("probe %s: server version %q is not a positive number; check that the port belongs to IB Gateway", addr, fields[0])}
	}
	result := ProbeResult{OK: true, ServerVersion: version}
	if len(fields) > 1 {
		result.ConnectionTime = string(fields[1])
	}
	return result
}

func probeFailure(addr, step string, err error, timeout time.Duration) ProbeResult {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		if step == "connect" {
			return ProbeResult{Error: fmt.Sprintf("probe %s: connect timed out after %s", addr, timeout)}
		}
		return ProbeResult{Error: fmt.Sprintf("probe %s: no version reply within %s; the port accepts TCP but the API does not respond", addr, timeout)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return ProbeResult{Error: fmt.Sprintf("probe %s: %s: the server closed the connection before replying", addr, step)}
	}
	return ProbeResult{Error: fmt.Sprintf("probe %s: %s: %v", addr, step, err)}
}
