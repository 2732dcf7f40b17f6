package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/gateway/leaky"
)

func TestProbePassesAnsweringFixture(t *testing.T) {
	g := startLeaky(t, leaky.Options{Answer: true, ServerVersion: 176})
	r := Probe(context.Background(), g.Addr(), 5*time.Second)
	if !r.OK {
		t.Fatalf("probe failed: %s", r.Error)
	}
	if r.ServerVersion != 176 {
		t.Errorf("server version = %d, want 176", r.ServerVersion)
	}
	if r.ConnectionTime == "" {
		t.Error("no connection time in the reply")
	}
}

func TestProbeSendsTWSHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			received <- "accept: " + err.Error()
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))

		// "API\x00", a 4-byte length and that many bytes of version range.
		head := make([]byte, 8)
		if _, err := io.ReadFull(conn, head); err != nil {
			received <- "read: " + err.Error()
			return
		}
		body := make([]byte, min(binary.BigEndian.Uint32(head[4:]), 1024))
		if _, err := io.ReadFull(conn, body); err != nil {
			received <- "read: " + err.Error()
			return
		}
		received <- string(head) + string(body)

		reply := "151\x0020260302 09:30:00 EST\x00"
		conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(reply))), reply...))
	}()

	r := Probe(context.Background(), ln.Addr().String(), 5*time.Second)
	if got, want := <-received, "API\x00\x00\x00\x00\x09v100..176"; got != want {
		t.Errorf("handshake sent = %q, want %q", got, want)
	}
	if !r.OK {
		t.Fatalf("probe failed: %s", r.Error)
	}
	if r.ServerVersion != 151 {
		t.Errorf("server version = %d, want 151", r.ServerVersion)
	}
	if r.ConnectionTime != "20260302 09:30:00 EST" {
		t.Errorf("connection time = %q, want the reply's second field", r.ConnectionTime)
	}
}

func TestProbeFailsSilentFixture(t *testing.T) {
	g := startLeaky(t, leaky.Options{Answer: false})
	r := Probe(context.Background(), g.Addr(), 300*time.Millisecond)
	if r.OK {
		t.Fatal("probe passed against a fixture that never answers")
	}
	if !strings.Contains(r.Error, "no version reply within 300ms") {
		t.Errorf("error = %q, want the missing reply named", r.Error)
	}
}

func TestProbeFailsClosedPort(t *testing.T) {
	g := startLeaky(t, leaky.Options{})
	addr := g.Addr()
	g.Close()
	r := Probe(context.Background(), addr, time.Second)
	if r.OK {
		t.Fatal("probe passed against a closed port")
	}
	if !strings.Contains(r.Error, "connect") {
		t.Errorf("error = %q, want the connect step named", r.Error)
	}
}

func TestProbeRejectsNonTWSServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	}()

	r := Probe(context.Background(), ln.Addr().String(), time.Second)
	if r.OK {
		t.Fatal("probe passed against an HTTP server")
	}
	if !strings.Contains(r.Error, "not a TWS API reply") {
		t.Errorf("error = %q", r.Error)
	}
}

func TestProbeFollowsSetAnswer(t *testing.T) {
	g := startLeaky(t, leaky.Options{Answer: true})
	if r := Probe(context.Background(), g.Addr(), time.Second); !r.OK {
		t.Fatalf("probe failed while answering: %s", r.Error)
	}
	g.SetAnswer(false)
	if r := Probe(context.Background(), g.Addr(), 200*time.Millisecond); r.OK {
		t.Fatal("probe passed after SetAnswer(false)")
	}
}

func TestScanWithProbe(t *testing.T) {
	good := startLeaky(t, leaky.Options{Answer: true})
	silent := startLeaky(t, leaky.Options{})
	s := newTestScanner(t, ScanOptions{Ports: []int{good.Port(), silent.Port()}, Probe: true, ProbeTimeout: 300 * time.Millisecond})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := snap.Ports[0].Probe; p == nil || !p.OK {
		t.Errorf("probe of the answering fixture = %+v, want OK", p)
	}
	if p := snap.Ports[1].Probe; p == nil || p.OK {
		t.Errorf("probe of the silent fixture = %+v, want a failure", p)
	}
}

func TestScanProbeOverIPv6(t *testing.T) {
	requireIPv6(t)
	g := startLeaky(t, leaky.Options{Addr: "[::1]:0", Answer: true})
	s := newTestScanner(t, ScanOptions{Ports: []int{g.Port()}, Probe: true, ProbeHost: "::1"})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := snap.Ports[0].Probe; p == nil || !p.OK {
		t.Errorf("probe over [::1] = %+v, want OK", p)
	}
}
