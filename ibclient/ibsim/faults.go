package ibsim

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind is a failure the simulator can inject.
type FaultKind int

// Fault kinds. The response faults (malformed JSON, truncated body,
// connection reset, slow response) act after the endpoint ran, so the
// request took effect even though the client cannot tell: the case of an
// order sent twice after a timeout.
const (
	// FaultLatency holds the request back by Fault.Latency of wall time
	// before the endpoint runs; a client that gives up meanwhile leaves
	// no effect.
	FaultLatency FaultKind = iota + 1
	// FaultServerError responds with Fault.Status (default 503) and an
	// HTML page, without running the endpoint.
	FaultServerError
	// FaultMalformedJSON sends a complete body that is not valid JSON.
	FaultMalformedJSON
	// FaultTruncatedBody announces the full Content-Length, sends half
	// the body and closes the connection.
	FaultTruncatedBody
	// FaultConnectionReset closes the connection with a TCP reset
	// instead of responding.
	FaultConnectionReset
	// FaultLSTExpired expires the caller's LST, so the request gets 401.
	FaultLSTExpired
	// FaultSessionDropped drops the caller's brokerage session before
	// the endpoint runs.
	FaultSessionDropped
	// FaultSlowResponse runs the endpoint, then holds the response back
	// by Fault.Latency of wall time. A client that times out meanwhile
	// never receives the response, but the request took effect.
	FaultSlowResponse

	lastFaultKind = FaultSlowResponse
)

var faultNames = map[FaultKind]string{
	FaultLatency:         "latency",
	FaultServerError:     "server-error",
	FaultMalformedJSON:   "malformed-json",
	FaultTruncatedBody:   "truncated-body",
	FaultConnectionReset: "connection-reset",
	FaultLSTExpired:      "lst-expired",
	FaultSessionDropped:  "session-dropped",
	FaultSlowResponse:    "slow-response",
}

func (k FaultKind) String() string {
	if name, ok := faultNames[k]; ok {
		return name
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// ParseFaultKind returns the kind named as String names it.
func ParseFaultKind(name string) (FaultKind, error) {
	for k, n := range faultNames {
		if n == name {
			return k, nil
		}
	}
	names := make([]string, 0, len(faultNames))
	for k := FaultLatency; k <= lastFaultKind; k++ {
		names = append(names, faultNames[k])
	}
	return 0, fmt.Errorf("ibsim: unknown fault %q; use one of %s", name, strings.Join(names, ", "))
}

// Fault is one injected failure.
type Fault struct {
	Kind FaultKind
	// PathPrefix limits the fault to request paths below the API prefix
	// that start with it, such as "/iserver/marketdata"; "" matches all.
	PathPrefix string
	// Count is how many matching requests the fault hits; 0 means every
	// one until it is removed.
	Count   int
	Latency time.Duration // for FaultLatency and FaultSlowResponse
	Status  int           // for FaultServerError; default 503
}

type activeFault struct {
	id        int
	fault     Fault
	remaining int // -1: unlimited
}

type faultSet struct {
	nextID int
	active []*activeFault
}

func (fs *faultSet) add(f Fault) int {
	if f.Kind == FaultServerError && f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	remaining := f.Count
	if remaining <= 0 {
		remaining = -1
	}
	fs.nextID++
	fs.active = append(fs.active, &activeFault{id: fs.nextID, fault: f, remaining: remaining})
	return fs.nextID
}

// AddFault switches a fault on and returns its id for RemoveFault.
func (s *Server) AddFault(f Fault) (int, error) {
	if f.Kind < FaultLatency || f.Kind > lastFaultKind {
		return 0, fmt.Errorf("ibsim: fault kind %d is not defined", f.Kind)
	}
	if f.Kind == FaultServerError && f.Status != 0 && (f.Status < 500 || f.Status > 599) {
		return 0, fmt.Errorf("ibsim: server error status %d is not a 5xx status", f.Status)
	}
	if (f.Kind == FaultLatency || f.Kind == FaultSlowResponse) && f.Latency <= 0 {
		return 0, fmt.Errorf("ibsim: %s fault needs a positive Latency, got %s", f.Kind, f.Latency)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.add(f), nil
}

// RemoveFault switches off the fault with the given id.
func (s *Server) RemoveFault(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults.active[:0]
	for _, a := range s.faults.active {
		if a.id != id {
			kept = append(kept, a)
		}
	}
	s.faults.active = kept
}

// ClearFaults switches every fault off.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.active = nil
}

// takeFaults returns the faults that hit this request and uses up one of
// each one's count.
func (s *Server) takeFaults(r *http.Request) []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, ok := s.apiPath(r.URL.Path)
	if !ok {
		return nil
	}
	var hit []Fault
	kept := s.faults.active[:0]
	for _, a := range s.faults.active {
		// The LST and session faults act on a signed protected request, so
		// an LST request must not use up their count.
		stateFault := a.fault.Kind == FaultLSTExpired || a.fault.Kind == FaultSessionDropped
		if strings.HasPrefix(rest, a.fault.PathPrefix) && !(stateFault && rest == lstPath) {
			hit = append(hit, a.fault)
			if a.remaining > 0 {
				a.remaining--
			}
		}
		if a.remaining != 0 {
			kept = append(kept, a)
		}
	}
	s.faults.active = kept
	return hit
}

// latencyOf returns the total Latency of the faults of the given kind.
func latencyOf(faults []Fault, kind FaultKind) time.Duration {
	var d time.Duration
	for _, f := range faults {
		if f.Kind == kind {
			d += f.Latency
		}
	}
	return d
}

func serverErrorOf(faults []Fault) int {
	for _, f := range faults {
		if f.Kind == FaultServerError {
			return f.Status
		}
	}
	return 0
}

func hasFault(faults []Fault, kind FaultKind) bool {
	for _, f := range faults {
		if f.Kind == kind {
			return true
		}
	}
	return false
}

// deliver writes the recorded response, damaged as the response faults
// select.
func (s *Server) deliver(w http.ResponseWriter, rec *recorder, faults []Fault, info *requestInfo) {
	body := rec.body.Bytes()
	switch {
	case hasFault(faults, FaultConnectionReset):
		if err := resetConnection(w); err != nil {
			s.log.Error("injecting connection reset", "path", info.path, "error", err)
			rec.writeTo(w, body)
		}
	case hasFault(faults, FaultTruncatedBody):
		if err := truncateResponse(w, rec, body); err != nil {
			s.log.Error("injecting truncated body", "path", info.path, "error", err)
			rec.writeTo(w, body)
		}
	case hasFault(faults, FaultMalformedJSON):
		rec.writeTo(w, malform(body))
	default:
		rec.writeTo(w, body)
	}
}

// malform returns a body that starts like JSON but does not parse: the
// first half of the real body followed by a stray token.
func malform(body []byte) []byte {
	out := append([]byte(nil), body[:len(body)/2]...)
	return append(out, []byte(`<<ibsim: malformed>>`)...)
}

// resetConnection closes the client's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) error {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // linger 0 turns the close into a reset
	}
	return conn.Close()
}

// truncateResponse writes the status line and headers with the full
// Content-Length, half the body, and closes the connection.
func truncateResponse(w http.ResponseWriter, rec *recorder, body []byte) error {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer conn.Close()

	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	rec.header.Set("Content-Length", strconv.Itoa(len(body)))
	rec.header.Set("Connection", "close")
	if err := rec.header.Write(&head); err != nil {
		return err
	}
	head.WriteString("\r\n")
	head.Write(body[:len(body)/2])
	if _, err := buf.Write(head.Bytes()); err != nil {
		return err
	}
	return buf.Flush()
}
