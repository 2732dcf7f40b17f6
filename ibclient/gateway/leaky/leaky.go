// Package leaky is a TCP server that behaves like an IB Gateway whose
// sockets leak. It accepts connections and never closes them, so every
// connection the peer closes stays in CLOSE_WAIT on the server side, in
// the real kernel socket table. It can reply to the TWS API handshake or
// stay silent, and Restart clears the leak the way restarting the
// gateway does. Tests, benchmarks and the dashboard's demo mode use it.
package leaky

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultServerVersion is the TWS API server version the fixture sends
// in its handshake reply.
const DefaultServerVersion = 176

// handshakeTimeout bounds how long a replying fixture waits for a
// client's handshake before it stops reading (it still holds the socket).
const handshakeTimeout = 10 * time.Second

// Options configures a Gateway.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0", a free port.
	Addr string
	// Answer makes the fixture reply to the TWS API handshake; false
	// leaves it silent, like a hung gateway. SetAnswer changes it later.
	Answer bool
	// ServerVersion is the version sent in the reply; default 176.
	ServerVersion int
	// ReusePort sets SO_REUSEPORT, so several processes can listen on
	// one port and share the connections (each process is limited by
	// its own open file limit).
	ReusePort bool
}

// Gateway is a running leaky server.
type Gateway struct {
	opts   Options
	addr   string
	answer atomic.Bool

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
	closed   bool
	accepted int
	loop     sync.WaitGroup // the accept loop
	readers  sync.WaitGroup // handshake readers
}

// Listen starts a fixture.
func Listen(opts Options) (*Gateway, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.ServerVersion == 0 {
		opts.ServerVersion = DefaultServerVersion
	}
	g := &Gateway{opts: opts, conns: make(map[net.Conn]struct{})}
	g.answer.Store(opts.Answer)

	ln, err := g.listen(opts.Addr)
	if err != nil {
		return nil, err
	}
	// Restart listens again on this exact address, port included.
	g.addr = ln.Addr().String()
	g.start(ln)
	return g, nil
}

func (g *Gateway) listen(addr string) (net.Listener, error) {
	// Go turns TCP keepalive on for accepted connections. A keepalive
	// probe to a peer that has gone would reset the socket and end the
	// CLOSE_WAIT that this fixture exists to keep.
	lc := net.ListenConfig{KeepAlive: -1}
	if g.opts.ReusePort {
		lc.Control = setReusePort
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("leaky: listen on %s: %w", addr, err)
	}
	return ln, nil
}

func (g *Gateway) start(ln net.Listener) {
	g.listener = ln
	g.loop.Add(1)
	go g.acceptLoop(ln)
}

func (g *Gateway) acceptLoop(ln net.Listener) {
	defer g.loop.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			// A closed listener ends the loop; anything else (such as
			// EMFILE when the file limit is reached) is retried after a
			// pause, as net/http does.
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}

		g.mu.Lock()
		if g.closed || g.listener != ln {
			g.mu.Unlock()
			conn.Close()
			return
		}
		g.conns[conn] = struct{}{}
		g.accepted++
		if g.answer.Load() {
			g.readers.Add(1)
			go g.answerHandshake(conn)
		}
		g.mu.Unlock()
	}
}

// answerHandshake reads the client's "API\x00" and version range and
// sends the version reply. The connection stays open either way.
func (g *Gateway) answerHandshake(conn net.Conn) {
	defer g.readers.Done()
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))

	var prefix [8]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil || string(prefix[:4]) != "API\x00" {
		return
	}
	n := binary.BigEndian.Uint32(prefix[4:])
	if n > 1024 {
		return
	}
	if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
		return
	}

	body := strconv.Itoa(g.opts.ServerVersion) + "\x00" + time.Now().Format("20060102 15:04:05 MST") + "\x00"
	reply := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	reply = append(reply, body...)
	conn.Write(reply)
}

// Addr returns the listen address, such as "127.0.0.1:40123".
func (g *Gateway) Addr() string { return g.addr }

// Port returns the listen port.
func (g *Gateway) Port() int {
	_, port, _ := net.SplitHostPort(g.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// SetAnswer switches the handshake reply on or off for connections
// accepted from now on.
func (g *Gateway) SetAnswer(on bool) { g.answer.Store(on) }

// Held returns the number of connections held open now.
func (g *Gateway) Held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Accepted returns the number of connections accepted since Listen,
// across restarts.
func (g *Gateway) Accepted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted
}

// Restart closes the listener and every held connection, which moves
// the CLOSE_WAIT sockets on to LAST_ACK and closed, then listens again
// on the same address.
func (g *Gateway) Restart() error {
	if err := g.stop(); err != nil {
		return err
	}
	ln, err := g.listen(g.addr)
	if err != nil {
		return err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		ln.Close()
		return errors.New("leaky: restart: the fixture was closed meanwhile")
	}
	g.start(ln)
	return nil
}

// stop closes the listener and the held connections and waits for the
// accept loop and the handshake readers to end.
func (g *Gateway) stop() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errors.New("leaky: the fixture is closed")
	}
	// The listener is nil when an earlier Restart could not listen again.
	if g.listener != nil {
		g.listener.Close()
		g.listener = nil
	}
	for conn := range g.conns {
		conn.Close()
	}
	clear(g.conns)
	g.mu.Unlock()

	g.loop.Wait()
	g.readers.Wait()
	return nil
}

// Close stops the fixture for good and closes every connection.
func (g *Gateway) Close() error {
	if err := g.stop(); err != nil {
		return nil
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return nil
}

// Leak opens n connections to addr and closes each at once, which
// leaves n sockets in CLOSE_WAIT on a fixture listening there. The
// client side passes through FIN_WAIT2 and is gone after the kernel's
// tcp_fin_timeout (60 s by default).
func Leak(ctx context.Context, addr string, n int) error {
	dialer := net.Dialer{KeepAlive: -1}
	for i := range n {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("leaky: connection %d of %d to %s: %w", i+1, n, addr, err)
		}
		conn.Close()
	}
	return nil
}
