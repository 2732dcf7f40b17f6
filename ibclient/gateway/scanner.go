package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Scanner takes one Snapshot of the gateway ports. SocketScanner is the
// one production uses; tests may put a scripted one in a Watchdog.
type Scanner interface {
	Scan(ctx context.Context) (Snapshot, error)
}

// Source selects where a SocketScanner reads the socket table.
type Source int

// The socket table sources.
const (
	// SourceAuto uses netlink and switches to /proc for good when
	// netlink fails.
	SourceAuto Source = iota
	// SourceNetlink uses only NETLINK_SOCK_DIAG.
	SourceNetlink
	// SourceProc uses only /proc/net/tcp and /proc/net/tcp6.
	SourceProc
)

// Defaults for ScanOptions fields left zero.
const (
	DefaultProcessRefresh = time.Minute
	DefaultProbeTimeout   = 5 * time.Second
	DefaultProbeHost      = "127.0.0.1"
)

// ScanOptions configures a SocketScanner.
type ScanOptions struct {
	// Ports are the gateway's listening ports, such as 4001 and 4002.
	Ports  []int
	Source Source

	// Process (a comm or program name, such as java) and PID select
	// the processes whose sockets are counted apart. Both empty: no
	// per-process counts, and /proc/PID/fd is never read.
	Process string
	PID     int
	// ProcessRefresh is how often the inode-to-process map is rebuilt
	// when the listening sockets stay the same; default 1m.
	ProcessRefresh time.Duration

	// Probe runs the TWS API handshake against ProbeHost on every port
	// in each scan, with ProbeTimeout (default 5s) as the limit.
	Probe        bool
	ProbeHost    string
	ProbeTimeout time.Duration

	// Now is the clock for the process map refresh; default time.Now.
	Now func() time.Time
}

// SocketScanner counts the TCP sockets on the gateway ports. It is safe
// for concurrent use, and scans run one at a time.
type SocketScanner struct {
	opts     ScanOptions
	portSet  map[uint16]int // port -> index in opts.Ports
	bytecode []byte

	// openDiag opens the netlink socket; tests replace it to make
	// netlink fail.
	openDiag func() (*netlinkDiag, error)

	mu         sync.Mutex
	diag       *netlinkDiag
	useProc    bool
	fallback   string
	procReader *bufio.Reader // reused by every /proc scan

	// records and recordIndex are reused by every scan. recordIndex maps
	// an inode to its record. Both /proc/net/tcp (one page per read) and
	// the sock_diag dump (one batch per read) come in pieces, and the
	// kernel starts each piece at a bucket of its hash table and a
	// position in it. A socket added to that bucket in between shifts
	// the position, so one socket is shown again. Sockets are identified
	// by inode, so one without a file, such as a TIME_WAIT socket, may
	// still count twice.
	records     []socketRecord
	recordIndex map[uint32]int

	procs *processMap
}

// NewScanner checks opts and returns a scanner. The netlink socket is
// opened at the first scan.
func NewScanner(opts ScanOptions) (*SocketScanner, error) {
	if len(opts.Ports) == 0 {
		return nil, errors.New("gateway: no port to scan; configure at least one, such as 4001")
	}
	opts.Ports = slices.Clone(opts.Ports)
	portSet := make(map[uint16]int, len(opts.Ports))
	for i, p := range opts.Ports {
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("gateway: port %d is not a TCP port; use 1 to 65535", p)
		}
		if _, dup := portSet[uint16(p)]; dup {
			return nil, fmt.Errorf("gateway: port %d is listed twice", p)
		}
		portSet[uint16(p)] = i
	}
	if opts.PID < 0 {
		return nil, fmt.Errorf("gateway: pid %d is negative; use 0 for none", opts.PID)
	}
	if opts.ProcessRefresh <= 0 {
		opts.ProcessRefresh = DefaultProcessRefresh
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	if opts.ProbeHost == "" {
		opts.ProbeHost = DefaultProbeHost
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	s := &SocketScanner{
		opts:        opts,
		portSet:     portSet,
		bytecode:    portBytecode(opts.Ports),
		useProc:     opts.Source == SourceProc,
		openDiag:    openNetlinkDiag,
		recordIndex: make(map[uint32]int),
	}
	if opts.Process != "" || opts.PID > 0 {
		s.procs = newProcessMap(opts.Process, opts.PID, opts.ProcessRefresh, opts.Now)
	}
	return s, nil
}

// Close releases the netlink socket.
func (s *SocketScanner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.diag == nil {
		return nil
	}
	err := s.diag.Close()
	s.diag = nil
	return err
}

// socketRecord is one socket on a gateway port, as the kernel showed it.
type socketRecord struct {
	portIndex int
	state     TCPState
	inode     uint32
}

// Scan counts the sockets on every port and, when configured, probes
// them. A failed probe is reported in the port's ProbeResult, not as an
// error; the error is for a socket table that could not be read.
func (s *SocketScanner) Scan(ctx context.Context) (Snapshot, error) {
	start := time.Now()
	snap := Snapshot{Time: start, Ports: make([]PortStats, len(s.opts.Ports))}
	for i, p := range s.opts.Ports {
		snap.Ports[i].Port = p
	}

	// The probes run while the socket table is read; each writes only
	// its own element of results.
	var probes sync.WaitGroup
	results := make([]ProbeResult, len(s.opts.Ports))
	if s.opts.Probe {
		for i, p := range s.opts.Ports {
			probes.Go(func() {
				addr := net.JoinHostPort(s.opts.ProbeHost, strconv.Itoa(p))
				results[i] = Probe(ctx, addr, s.opts.ProbeTimeout)
			})
		}
	}

	err := s.count(&snap)
	probes.Wait()
	if s.opts.Probe {
		for i := range snap.Ports {
			snap.Ports[i].Probe = &results[i]
		}
	}
	snap.Duration = time.Since(start)
	if err != nil {
		snap.Ports = nil
		snap.Error = err.Error()
		return snap, err
	}
	return snap, nil
}

// count fills in the socket counts of snap.Ports under s.mu.
func (s *SocketScanner) count(snap *Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	// The sockets are recorded during the read and counted after it, so
	// that a socket the kernel showed twice counts once, in the state it
	// was last shown in.
	records := s.records[:0]
	clear(s.recordIndex)
	visit := func(port uint16, state TCPState, inode uint32) {
		records = s.recordSocket(records, port, state, inode)
	}

	// In SourceAuto a netlink failure, even halfway through the dump,
	// discards what was recorded and reads /proc instead.
	if !s.useProc {
		err := s.readNetlink(visit)
		switch {
		case err == nil:
			snap.Source = "netlink"
		case s.opts.Source == SourceNetlink:
			return fmt.Errorf("gateway: %w", err)
		default:
			s.useProc = true
			s.fallback = err.Error()
			records = records[:0]
			clear(s.recordIndex)
		}
	}
	if s.useProc {
		snap.Source = "proc"
		snap.Fallback = s.fallback
		if s.procReader == nil {
			s.procReader = bufio.NewReaderSize(nil, procReadBufferLen)
		}
		if err := readProcTables(s.procReader, s.portSet, visit); err != nil {
			return err
		}
	}
	s.records = records

	var listening []uint32
	for _, r := range records {
		stats := &snap.Ports[r.portIndex]
		if r.state == StateListen {
			stats.Listening = true
			listening = append(listening, r.inode)
		} else {
			stats.add(r.state)
		}
	}
	if s.procs != nil {
		slices.Sort(listening)
		s.procs.update(listening)
		s.attribute(snap, records)
	}
	return nil
}

// recordSocket appends a socket on a gateway port to records, or, when
// the kernel shows a socket again, replaces the record with its inode.
func (s *SocketScanner) recordSocket(records []socketRecord, port uint16, state TCPState, inode uint32) []socketRecord {
	i, ok := s.portSet[port]
	if !ok {
		return records
	}
	r := socketRecord{portIndex: i, state: state, inode: inode}
	if inode != 0 {
		if at, seen := s.recordIndex[inode]; seen {
			records[at] = r
			return records
		}
		s.recordIndex[inode] = len(records)
	}
	return append(records, r)
}

// readProcTables reads the IPv4 and IPv6 tables. A kernel without IPv6
// has no /proc/net/tcp6.
func readProcTables(r *bufio.Reader, ports map[uint16]int, visit socketVisitor) error {
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		err := scanProcNet(path, r, ports, visit)
		if err != nil && !(path == "/proc/net/tcp6" && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("gateway: read socket table: %w", err)
		}
	}
	return nil
}

// readNetlink dumps the IPv4 and then the IPv6 sockets. An IPv4
// connection to a dual-stack listener shows up once, as IPv6 with a
// v4-mapped address, so nothing is counted twice.
func (s *SocketScanner) readNetlink(visit socketVisitor) error {
	if s.diag == nil {
		diag, err := s.openDiag()
		if err != nil {
			return err
		}
		s.diag = diag
	}
	if err := s.diag.dump(familyIPv4, s.bytecode, visit); err != nil {
		s.diag.Close()
		s.diag = nil
		return err
	}
	if err := s.diag.dump(familyIPv6, s.bytecode, visit); err != nil {
		// A kernel built without IPv6 rejects the family; there are no
		// IPv6 sockets to count then.
		if familyUnsupported(err) {
			return nil
		}
		s.diag.Close()
		s.diag = nil
		return err
	}
	return nil
}

// attribute counts the recorded sockets per configured process.
func (s *SocketScanner) attribute(snap *Snapshot, records []socketRecord) {
	for i := range snap.Ports {
		procs := make([]ProcessCounts, len(s.procs.procs))
		for j, p := range s.procs.procs {
			procs[j] = ProcessCounts{PID: p.pid, Name: p.name}
		}
		snap.Ports[i].Processes = procs
	}
	for _, r := range records {
		stats := &snap.Ports[r.portIndex]
		j, ok := s.procs.lookup(r.inode)
		switch {
		case ok && r.state == StateListen:
			stats.Processes[j].Listening = true
		case ok:
			stats.Processes[j].add(r.state)
		case r.inode != 0 && r.state != StateListen:
			stats.Unmapped++
		}
	}
}
