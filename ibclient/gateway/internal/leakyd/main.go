// Command leakyd runs a leaky gateway fixture in its own process, for
// benchmarks that need more CLOSE_WAIT sockets than one process may hold
// open (each one costs the fixture a file descriptor).
//
// Two processes can share a port with -reuseport; the kernel spreads the
// connections over them:
//
//	leakyd -reuseport &                        # prints "listening 127.0.0.1:PORT"
//	leakyd -reuseport -listen 127.0.0.1:PORT -leak 20000 &
//
// The second one opens and closes 20000 connections, which leaves 20000
// CLOSE_WAIT sockets split between the two. Each process runs until
// SIGINT or SIGTERM, or until its standard input closes with -stdin.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

func main() {
	os.Exit(run())
}

func run() int {
	listen := flag.String("listen", "127.0.0.1:0", "listen `address`; loopback only")
	reusePort := flag.Bool("reuseport", false, "set SO_REUSEPORT so another leakyd can listen on the same port")
	answer := flag.Bool("answer", false, "answer the TWS API handshake")
	leakCount := flag.Int("leak", 0, "open and close this many connections to the listen address")
	untilStdin := flag.Bool("stdin", false, "also exit when standard input closes")
	flag.Parse()

	// The fixture is for this machine's tests and benchmarks only.
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "leakyd: -listen %q is not a loopback address; use 127.0.0.1:PORT or [::1]:PORT\n", *listen)
		return 2
	}

	g, err := leaky.Listen(leaky.Options{Addr: *listen, Answer: *answer, ReusePort: *reusePort})
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakyd:", err)
		return 2
	}
	defer g.Close()
	fmt.Printf("listening %s\n", g.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *leakCount > 0 {
		if err := leaky.Leak(ctx, g.Addr(), *leakCount); err != nil {
			fmt.Fprintln(os.Stderr, "leakyd:", err)
			return 1
		}
		fmt.Printf("leaked %d\n", *leakCount)
	}
	if *untilStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	<-ctx.Done()
	fmt.Printf("held %d\n", g.Held())
	return 0
}
