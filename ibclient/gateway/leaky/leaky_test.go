package leaky

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func waitHeld(t *testing.T, g *Gateway, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held = %d after 10s, want %d", g.Held(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGatewayHoldsClosedConnections(t *testing.T) {
	g, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := Leak(context.Background(), g.Addr(), 7); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, g, 7)
}

func TestRestartKeepsPortAndDropsConnections(t *testing.T) {
	g, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	port := g.Port()
	if err := Leak(context.Background(), g.Addr(), 3); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, g, 3)

	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	if g.Held() != 0 {
		t.Errorf("held after restart = %d, want 0", g.Held())
	}
	if g.Port() != port {
		t.Errorf("port after restart = %d, want %d", g.Port(), port)
	}
	conn, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatalf("dial after restart: %v", err)
	}
	conn.Close()
	waitHeld(t, g, 1)
	if g.Accepted() != 4 {
		t.Errorf("accepted = %d, want 4 across the restart", g.Accepted())
	}
}

func TestRestartAfterCloseFails(t *testing.T) {
	g, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := g.Restart(); err == nil {
		t.Error("Restart of a closed fixture returned no error")
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReusePortSharesConnections(t *testing.T) {
	a, err := Listen(Options{ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Listen(Options{Addr: a.Addr(), ReusePort: true})
	if err != nil {
		t.Fatalf("second listener on %s: %v", a.Addr(), err)
	}
	defer b.Close()

	if err := Leak(context.Background(), a.Addr(), 200); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Held()+b.Held() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("held %d + %d after 10s, want 200", a.Held(), b.Held())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if a.Held() == 0 || b.Held() == 0 {
		t.Errorf("held %d and %d; the kernel should spread 200 connections over both", a.Held(), b.Held())
	}
}

// TestAcceptedConnectionsHaveNoKeepAlive guards the CLOSE_WAIT sockets: a
// keepalive probe to a departed peer would reset them.
func TestAcceptedConnectionsHaveNoKeepAlive(t *testing.T) {
	g, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	client, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	waitHeld(t, g, 1)

	g.mu.Lock()
	defer g.mu.Unlock()
	for accepted := range g.conns {
		raw, err := accepted.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var keepAlive int
		var optErr error
		if err := raw.Control(func(fd uintptr) {
			keepAlive, optErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		}); err != nil {
			t.Fatal(err)
		}
		if optErr != nil {
			t.Fatal(optErr)
		}
		if keepAlive != 0 {
			t.Errorf("SO_KEEPALIVE = %d on an accepted connection, want 0", keepAlive)
		}
	}
}
