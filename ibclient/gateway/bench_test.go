package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

// benchmarkScan measures one scan of a port holding n CLOSE_WAIT
// sockets, read from src.
func benchmarkScan(b *testing.B, src Source, n int) {
	g := startLeaky(b, leaky.Options{})
	s := newTestScanner(b, ScanOptions{Ports: []int{g.Port()}, Source: src})
	leak(b, g.Addr(), n)
	if got := waitForCloseWait(b, s, g.Port(), n).CloseWait; got != n {
		b.Fatalf("CLOSE_WAIT = %d, want %d", got, n)
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Scan(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanNetlink0(b *testing.B)   { benchmarkScan(b, SourceNetlink, 0) }
func BenchmarkScanNetlink500(b *testing.B) { benchmarkScan(b, SourceNetlink, 500) }
func BenchmarkScanProc0(b *testing.B)      { benchmarkScan(b, SourceProc, 0) }
func BenchmarkScanProc500(b *testing.B)    { benchmarkScan(b, SourceProc, 500) }

// Environment of the fixture helper process that BenchmarkScan20000
// starts from this test binary.
const (
	envHelperAddr = "GATEWAY_TEST_LEAKY_ADDR"
	envHelperLeak = "GATEWAY_TEST_LEAKY_LEAK"
	// envBench20000 enables BenchmarkScan20000, which needs two helper
	// processes and 20000 file descriptors.
	envBench20000 = "IBDASH_BENCH_20000"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envHelperAddr); addr != "" {
		os.Exit(runLeakyHelper(addr, os.Getenv(envHelperLeak)))
	}
	os.Exit(m.Run())
}

// runLeakyHelper is the helper process: a fixture sharing addr through
// SO_REUSEPORT, which optionally leaks connections and then runs until
// its standard input closes, so it ends with the benchmark even if the
// benchmark is killed.
func runLeakyHelper(addr, leakCount string) int {
	g, err := leaky.Listen(leaky.Options{Addr: addr, ReusePort: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer g.Close()
	fmt.Printf("listening %s\n", g.Addr())
	if n, _ := strconv.Atoi(leakCount); n > 0 {
		if err := leaky.Leak(context.Background(), g.Addr(), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startHelper starts a helper process and returns the address it
// listens on once it prints "ready".
func startHelper(b *testing.B, addr string, leakCount int) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelperAddr+"="+addr, envHelperLeak+"="+strconv.Itoa(leakCount))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// Closing stdin ends the helper; the kill by pid is for one
		// that does not exit in time.
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})

	lines := bufio.NewScanner(stdout)
	var listening string
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "listening "); ok {
			listening = rest
		}
		if line == "ready" {
			return listening
		}
	}
	b.Fatalf("helper for %s exited before it was ready", addr)
	return ""
}

// BenchmarkScan20000 measures one netlink scan of a port with 20000
// CLOSE_WAIT sockets, held by two helper processes because one process
// may not hold that many here (the open file limit is 20000).
func BenchmarkScan20000(b *testing.B) {
	if os.Getenv(envBench20000) == "" {
		b.Skipf("set %s=1 to run; it starts two helper processes holding 20000 sockets", envBench20000)
	}
	const n = 20000
	addr := startHelper(b, "127.0.0.1:0", 0)
	startHelper(b, addr, n)

	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	for _, src := range sources {
		b.Run(src.name, func(b *testing.B) {
			s := newTestScanner(b, ScanOptions{Ports: []int{port}, Source: src.source})
			got := waitForCloseWait(b, s, port, n).CloseWait
			b.Logf("CLOSE_WAIT = %d", got)
			if got < n-10 {
				b.Fatalf("CLOSE_WAIT = %d, want about %d", got, n)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Scan(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
