package gateway

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

// kernelDeadline bounds how long a test waits for the kernel to move
// sockets into the expected state.
const kernelDeadline = 20 * time.Second

// startLeaky starts a fixture on addr and closes it when the test ends.
func startLeaky(t testing.TB, opts leaky.Options) *leaky.Gateway {
	t.Helper()
	g, err := leaky.Listen(opts)
	if err != nil {
		t.Fatalf("start fixture: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// requireIPv6 skips the test when this machine cannot listen on [::1].
func requireIPv6(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback is not available on this machine (%v); skipping the [::1] case", err)
	}
	ln.Close()
}

// leak leaves n CLOSE_WAIT sockets on the fixture at addr.
func leak(t testing.TB, addr string, n int) {
	t.Helper()
	if err := leaky.Leak(context.Background(), addr, n); err != nil {
		t.Fatal(err)
	}
}

// waitForCloseWait scans until the port's CLOSE_WAIT count reaches at
// least want, or the deadline passes, and returns the last stats.
func waitForCloseWait(t testing.TB, s Scanner, port, want int) PortStats {
	t.Helper()
	return waitForState(t, s, port, func(p PortStats) bool { return p.CloseWait >= want })
}

// waitForState scans until done accepts the port's stats, or the
// deadline passes, and returns the last stats.
func waitForState(t testing.TB, s Scanner, port int, done func(PortStats) bool) PortStats {
	t.Helper()
	deadline := time.Now().Add(kernelDeadline)
	for {
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		stats, ok := snap.Port(port)
		if !ok {
			t.Fatalf("scan has no entry for port %d: %+v", port, snap)
		}
		if done(*stats) || time.Now().After(deadline) {
			return *stats
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestScanner(t testing.TB, opts ScanOptions) *SocketScanner {
	t.Helper()
	s, err := NewScanner(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tempStateFile(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	return dir + string(os.PathSeparator) + "restarts.json"
}

func dialNoKeepAlive(addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1}
	return d.Dial("tcp", addr)
}

// waitForHeld waits until the fixture has accepted n connections since
// its last start, so each socket has an inode.
func waitForHeld(t testing.TB, g *leaky.Gateway, n int) {
	t.Helper()
	deadline := time.Now().Add(kernelDeadline)
	for g.Held() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the fixture holds %d connections after %s, want %d", g.Held(), kernelDeadline, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
