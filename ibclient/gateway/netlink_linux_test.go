package gateway

import (
	"testing"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
	"golang.org/x/sys/unix"
)

func TestPortBytecodeLayout(t *testing.T) {
	bc := portBytecode([]int{4001, 4002})
	// Two 16-byte port blocks joined by one 4-byte JMP.
	if len(bc) != 36 {
		t.Fatalf("bytecode is %d bytes, want 36", len(bc))
	}
	if bc[16] != bcJump || bc[17] != 4 {
		t.Errorf("op at byte 16 = code %d yes %d, want JMP with yes 4", bc[16], bc[17])
	}
}

// TestNetlinkFilterRunsInKernel calls the dump without the scanner's
// port lookup, so every socket the visitor receives is one the kernel's
// bytecode filter passed.
func TestNetlinkFilterRunsInKernel(t *testing.T) {
	a := startLeaky(t, leaky.Options{})
	b := startLeaky(t, leaky.Options{})
	c := startLeaky(t, leaky.Options{})
	leak(t, a.Addr(), 3)
	leak(t, b.Addr(), 40)
	leak(t, c.Addr(), 5)
	s := newTestScanner(t, ScanOptions{Ports: []int{a.Port(), b.Port(), c.Port()}, Source: SourceNetlink})
	waitForCloseWait(t, s, a.Port(), 3)
	waitForCloseWait(t, s, b.Port(), 40)
	waitForCloseWait(t, s, c.Port(), 5)

	diag, err := openNetlinkDiag()
	if err != nil {
		t.Skipf("NETLINK_SOCK_DIAG is not available here: %v", err)
	}
	defer diag.Close()
	dump := func(ports ...int) map[uint16]int {
		t.Helper()
		seen := map[uint16]int{}
		if err := diag.dump(unix.AF_INET, portBytecode(ports), func(port uint16, state TCPState, inode uint32) {
			if state == StateCloseWait {
				seen[port]++
			}
		}); err != nil {
			t.Fatalf("dump of ports %v: %v", ports, err)
		}
		return seen
	}

	got := dump(a.Port(), c.Port())
	if got[uint16(a.Port())] != 3 {
		t.Errorf("port %d: %d CLOSE_WAIT from the kernel, want 3", a.Port(), got[uint16(a.Port())])
	}
	if got[uint16(c.Port())] != 5 {
		t.Errorf("port %d: %d CLOSE_WAIT from the kernel, want 5", c.Port(), got[uint16(c.Port())])
	}
	if len(got) != 2 {
		t.Errorf("the kernel sent CLOSE_WAIT sockets of ports %v for a filter on %d and %d", got, a.Port(), c.Port())
	}

	got = dump(b.Port())
	if got[uint16(b.Port())] != 40 || len(got) != 1 {
		t.Errorf("filter on port %d: kernel sent %v, want only that port with 40", b.Port(), got)
	}
}
