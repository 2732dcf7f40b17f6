package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

var sources = []struct {
	name   string
	source Source
}{
	{"netlink", SourceNetlink},
	{"proc", SourceProc},
}

func TestScanCountsCloseWait(t *testing.T) {
	for _, src := range sources {
		for _, network := range []string{"ipv4", "ipv6"} {
			for _, n := range []int{0, 1, 500} {
				t.Run(fmt.Sprintf("%s/%s/%d", src.name, network, n), func(t *testing.T) {
					addr := "127.0.0.1:0"
					if network == "ipv6" {
						requireIPv6(t)
						addr = "[::1]:0"
					}
					g := startLeaky(t, leaky.Options{Addr: addr})
					s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Source: src.source})

					leak(t, g.Addr(), n)
					stats := waitForCloseWait(t, s, g.Port(), n)

					if stats.CloseWait != n {
						t.Errorf("CLOSE_WAIT = %d, want %d", stats.CloseWait, n)
					}
					if !stats.Listening {
						t.Error("Listening = false for a listening fixture")
					}
					if stats.Established != 0 {
						t.Errorf("ESTABLISHED = %d, want 0", stats.Established)
					}
				})
			}
		}
	}
}

func TestScanReportsSource(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	for _, src := range sources {
		s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Source: src.source})
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Source != src.name {
			t.Errorf("Source = %q, want %q", snap.Source, src.name)
		}
	}
}

func TestScanFallsBackToProc(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Source: SourceAuto})
	s.openDiag = func() (*netlinkDiag, error) {
		return nil, errors.New("open NETLINK_SOCK_DIAG socket: protocol not supported")
	}
	leak(t, g.Addr(), 3)
	stats := waitForCloseWait(t, s, g.Port(), 3)
	if stats.CloseWait != 3 {
		t.Errorf("CLOSE_WAIT = %d, want 3", stats.CloseWait)
	}

	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != "proc" {
		t.Errorf("Source = %q, want proc", snap.Source)
	}
	if !strings.Contains(snap.Fallback, "protocol not supported") {
		t.Errorf("Fallback = %q, want the netlink error", snap.Fallback)
	}
}

func TestScanNetlinkOnlyReportsFailure(t *testing.T) {
	s := newTestScanner(t, ScanOptions{Ports: []int{4001}, Source: SourceNetlink})
	s.openDiag = func() (*netlinkDiag, error) {
		return nil, errors.New("open NETLINK_SOCK_DIAG socket: permission denied")
	}
	snap, err := s.Scan(context.Background())
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("error = %v, want the netlink error", err)
	}
	if snap.Error == "" {
		t.Error("Snapshot.Error is empty for a failed scan")
	}
}

func TestScanCountsEstablished(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			g := startLeaky(t, leaky.Options{})
			s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Source: src.source})

			// Three open connections and two closed ones.
			for range 3 {
				conn, err := dialNoKeepAlive(g.Addr())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
			}
			leak(t, g.Addr(), 2)
			stats := waitForCloseWait(t, s, g.Port(), 2)

			if stats.CloseWait != 2 {
				t.Errorf("CLOSE_WAIT = %d, want 2", stats.CloseWait)
			}
			if stats.Established != 3 {
				t.Errorf("ESTABLISHED = %d, want 3", stats.Established)
			}
		})
	}
}

func TestScanSeparatesPorts(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			a := startLeaky(t, leaky.Options{})
			b := startLeaky(t, leaky.Options{})
			c := startLeaky(t, leaky.Options{})
			s := newTestScanner(t, ScanOptions{Ports: []int{a.Port(), b.Port(), c.Port()}, Source: src.source})

			leak(t, a.Addr(), 4)
			leak(t, b.Addr(), 7)
			waitForCloseWait(t, s, a.Port(), 4)
			waitForCloseWait(t, s, b.Port(), 7)
			snap, err := s.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			for port, want := range map[int]int{a.Port(): 4, b.Port(): 7, c.Port(): 0} {
				stats, _ := snap.Port(port)
				if stats.CloseWait != want {
					t.Errorf("port %d: CLOSE_WAIT = %d, want %d", port, stats.CloseWait, want)
				}
			}
		})
	}
}

func TestScanPortNotListening(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	port := g.Port()
	g.Close()

	for _, src := range sources {
		s := newTestScanner(t, ScanOptions{Ports: []int{port}, Source: src.source})
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Ports[0].Listening {
			t.Errorf("%s: Listening = true for a closed port", src.name)
		}
	}
}

func TestScanCountsPerProcess(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc/self/comm on this machine: %v", err)
	}
	byName := strings.TrimSpace(string(comm))

	for _, src := range sources {
		for _, opts := range []ScanOptions{{PID: os.Getpid()}, {Process: byName}} {
			t.Run(fmt.Sprintf("%s/pid=%d/name=%q", src.name, opts.PID, opts.Process), func(t *testing.T) {
				g := startLeaky(t, leaky.Options{})
				opts.Ports = []int{g.Port()}
				opts.Source = src.source
				s := newTestScanner(t, opts)

				// The first scan builds the map before any socket is
				// accepted, so the leaked ones stay unmapped until the
				// map is rebuilt.
				if _, err := s.Scan(context.Background()); err != nil {
					t.Fatal(err)
				}
				leak(t, g.Addr(), 5)
				waitForHeld(t, g, 5)
				stats := waitForCloseWait(t, s, g.Port(), 5)
				if stats.Unmapped != 5 {
					t.Errorf("Unmapped before the map refresh = %d, want 5", stats.Unmapped)
				}

				// A restart gives the fixture a new listening socket,
				// and a new listening inode forces a rebuild. A socket
				// still in the accept queue has no inode yet, so the
				// scan waits until the fixture has accepted all five.
				if err := g.Restart(); err != nil {
					t.Fatal(err)
				}
				leak(t, g.Addr(), 5)
				waitForHeld(t, g, 5)
				stats = waitForCloseWait(t, s, g.Port(), 5)

				var mine *ProcessCounts
				for i, p := range stats.Processes {
					if p.PID == os.Getpid() {
						mine = &stats.Processes[i]
					}
				}
				if mine == nil {
					t.Fatalf("no entry for this process (pid %d) in %+v", os.Getpid(), stats.Processes)
				}
				if mine.CloseWait != 5 {
					t.Errorf("process CLOSE_WAIT = %d, want 5", mine.CloseWait)
				}
				if !mine.Listening {
					t.Error("process Listening = false for the fixture's own process")
				}
				if mine.Name != byName {
					t.Errorf("process name = %q, want %q", mine.Name, byName)
				}
				if stats.Unmapped != 0 {
					t.Errorf("Unmapped after the map refresh = %d, want 0", stats.Unmapped)
				}
			})
		}
	}
}

func TestScanRefreshesProcessMapOnTimer(t *testing.T) {
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	g := startLeaky(t, leaky.Options{})
	s := newTestScanner(t, ScanOptions{
		Ports:          []int{g.Port()},
		PID:            os.Getpid(),
		ProcessRefresh: time.Minute,
		Now:            func() time.Time { return now },
	})
	if _, err := s.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	leak(t, g.Addr(), 4)
	waitForHeld(t, g, 4)

	stats := waitForCloseWait(t, s, g.Port(), 4)
	if stats.Unmapped != 4 {
		t.Errorf("Unmapped right after the first build = %d, want 4", stats.Unmapped)
	}
	now = now.Add(59 * time.Second)
	stats = waitForCloseWait(t, s, g.Port(), 4)
	if stats.Unmapped != 4 {
		t.Errorf("Unmapped 59s after the build = %d, want 4 (no rebuild before 1m)", stats.Unmapped)
	}

	now = now.Add(time.Second)
	stats = waitForCloseWait(t, s, g.Port(), 4)
	if stats.Unmapped != 0 {
		t.Errorf("Unmapped 1m after the build = %d, want 0", stats.Unmapped)
	}
	if len(stats.Processes) != 1 || stats.Processes[0].CloseWait != 4 {
		t.Errorf("Processes = %+v, want this process with CLOSE_WAIT 4", stats.Processes)
	}
}

func TestScanWithoutProcessSkipsMap(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}})
	leak(t, g.Addr(), 1)
	stats := waitForCloseWait(t, s, g.Port(), 1)
	if stats.Processes != nil {
		t.Errorf("Processes = %+v without a configured process, want nil", stats.Processes)
	}
	if s.procs != nil {
		t.Error("the scanner built a process map without a configured process")
	}
}

func TestNewScannerRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts ScanOptions
		want string
	}{
		{"no port", ScanOptions{}, "no port"},
		{"port zero", ScanOptions{Ports: []int{0}}, "port 0"},
		{"port too high", ScanOptions{Ports: []int{70000}}, "port 70000"},
		{"duplicate port", ScanOptions{Ports: []int{4001, 4001}}, "listed twice"},
		{"negative pid", ScanOptions{Ports: []int{4001}, PID: -3}, "pid -3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewScanner(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseProcNetLine(t *testing.T) {
	line := "   3: 0100007F:0FA1 0100007F:D2C4 08 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 20 4 0 10 -1"
	port, state, inode, err := parseProcNetLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if port != 4001 {
		t.Errorf("port = %d, want 4001", port)
	}
	if state != StateCloseWait {
		t.Errorf("state = %v, want CLOSE_WAIT", state)
	}
	if inode != 123456 {
		t.Errorf("inode = %d, want 123456", inode)
	}
}

func TestParseProcNetLineRejectsGarbage(t *testing.T) {
	for _, line := range []string{
		"0: 0100007F:0FA1",
		"0: 0100007F 0100007F:D2C4 08 0:0 0:0 0 0 0 1 1",
		"0: 0100007F:ZZZZ 0100007F:D2C4 08 0:0 0:0 0 0 0 1 1",
		"0: 0100007F:0FA1 0100007F:D2C4 XY 0:0 0:0 0 0 0 1 1",
		"0: 0100007F:0FA1 0100007F:D2C4 08 0:0 0:0 0 0 0 abc 1",
	} {
		if _, _, _, err := parseProcNetLine([]byte(line)); err == nil {
			t.Errorf("parseProcNetLine(%q) returned no error", line)
		}
	}
}

func TestScanProcNetFile(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0FA1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0
   1: 0100007F:0FA1 0100007F:9C40 08 00000000:00000000 00:00000000 00000000     0        0 101 1 0 20 4 0 10 -1
   2: 0100007F:0FA2 0100007F:9C41 08 00000000:00000000 00:00000000 00000000     0        0 102 1 0 20 4 0 10 -1
   3: 0100007F:9C42 0100007F:0FA1 05 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 0 10 -1
`
	path := filepath.Join(t.TempDir(), "tcp")
	if err := os.WriteFile(path, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := scanProcNet(path, bufio.NewReader(nil), map[uint16]int{4001: 0}, func(port uint16, state TCPState, inode uint32) {
		got = append(got, fmt.Sprintf("%d %v %d", port, state, inode))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"4001 LISTEN 100", "4001 CLOSE_WAIT 101"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("visited %q, want %q", got, want)
	}
}

func TestScanCountsTimeWaitAndOther(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			g := startLeaky(t, leaky.Options{})
			s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Source: src.source})
			var conns []net.Conn
			for range 2 {
				conn, err := dialNoKeepAlive(g.Addr())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				conns = append(conns, conn)
			}
			waitForHeld(t, g, 2)

			// The server closes first: its two sockets go to FIN_WAIT2,
			// counted as other, while the clients stay open.
			if err := g.Restart(); err != nil {
				t.Fatal(err)
			}
			stats := waitForState(t, s, g.Port(), func(p PortStats) bool { return p.Other >= 2 })
			if stats.Other != 2 || stats.Established != 0 {
				t.Errorf("after the server closed: other %d, ESTABLISHED %d; want 2 and 0", stats.Other, stats.Established)
			}

			// The clients close too, which moves the server side into
			// TIME_WAIT for 60 s.
			for _, conn := range conns {
				conn.Close()
			}
			stats = waitForState(t, s, g.Port(), func(p PortStats) bool { return p.TimeWait >= 2 })
			if stats.TimeWait != 2 || stats.Other != 0 || stats.CloseWait != 0 {
				t.Errorf("after both sides closed: TIME_WAIT %d, other %d, CLOSE_WAIT %d; want 2, 0, 0", stats.TimeWait, stats.Other, stats.CloseWait)
			}
			if !stats.Listening {
				t.Error("Listening = false after the fixture listened again")
			}
		})
	}
}

func TestRecordSocketDropsRepeats(t *testing.T) {
	s := newTestScanner(t, ScanOptions{Ports: []int{4001, 4002}})
	shown := []struct {
		port  uint16
		state TCPState
		inode uint32
	}{
		{4001, StateListen, 50},
		{4001, StateEstablished, 71},
		{4001, StateCloseWait, 70},
		{4001, StateTimeWait, 0},
		{9999, StateCloseWait, 80}, // not a gateway port
		// The kernel shows inode 71 again, now in CLOSE_WAIT, and a
		// second TIME_WAIT socket, which has no inode.
		{4001, StateCloseWait, 71},
		{4001, StateTimeWait, 0},
		{4002, StateCloseWait, 90},
	}
	var records []socketRecord
	for _, socket := range shown {
		records = s.recordSocket(records, socket.port, socket.state, socket.inode)
	}

	var got []string
	for _, r := range records {
		got = append(got, fmt.Sprintf("%d:%v:%d", r.portIndex, r.state, r.inode))
	}
	want := []string{
		"0:LISTEN:50", "0:CLOSE_WAIT:71", "0:CLOSE_WAIT:70",
		"0:TIME_WAIT:0", "0:TIME_WAIT:0", "1:CLOSE_WAIT:90",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records = %q, want %q", got, want)
	}
}
